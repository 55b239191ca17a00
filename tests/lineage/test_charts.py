"""Plotly figures are built from stored profiles and metrics: each has a title, labelled axes
and exactly the numbers of what it draws, as plain JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from lineage.charts import column_figure, metric_history_figure, null_rate_figure
from lineage.profiling import profile_table


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    start = datetime(2024, 3, 1)
    table = pa.table(
        {
            "amount": [12.5, 80.0, 33.1, None, 150.0, 7.25, 60.0, 45.5],
            "merchant": ["grocer", "fuel", "grocer", "online", None, "grocer", "fuel", "travel"],
            "booked_at": [start + timedelta(hours=6 * n) for n in range(8)],
            "empty": pa.array([None] * 8, type=pa.float64()),
        }
    )
    return profile_table(table, histogram_bins=4, top_values=2)


def column(profile: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in profile["columns"] if item["name"] == name)


def titles(figure: dict[str, Any]) -> tuple[str, str, str]:
    layout = figure["layout"]
    return (
        layout["title"]["text"],
        layout["xaxis"]["title"]["text"],
        layout["yaxis"]["title"]["text"],
    )


def test_a_numeric_column_is_a_histogram_of_its_profile(profile: dict[str, Any]) -> None:
    amount = column(profile, "amount")

    figure = column_figure(amount)

    assert figure is not None
    assert titles(figure) == ("Distribution of amount", "amount", "rows")
    [bars] = figure["data"]
    assert bars["type"] == "bar"
    assert bars["y"] == amount["histogram"]["counts"]
    assert sum(bars["y"]) == 7
    edges = amount["histogram"]["edges"]
    assert bars["x"] == [(edges[i] + edges[i + 1]) / 2 for i in range(4)]
    assert bars["width"] == pytest.approx([edges[i + 1] - edges[i] for i in range(4)])
    assert len(bars["customdata"]) == 4
    assert "rows" in bars["hovertemplate"]


def test_a_categorical_column_shows_its_most_frequent_values_and_the_rest(
    profile: dict[str, Any],
) -> None:
    merchant = column(profile, "merchant")

    figure = column_figure(merchant)

    assert figure is not None
    assert titles(figure) == ("Most frequent values of merchant", "rows", "merchant")
    [bars] = figure["data"]
    assert bars["orientation"] == "h"
    assert bars["y"] == ["grocer", "fuel", "(other values)"]
    assert bars["x"] == [3, 2, 2]
    assert figure["layout"]["yaxis"]["autorange"] == "reversed"


def test_a_datetime_column_is_a_histogram_over_time(profile: dict[str, Any]) -> None:
    booked = column(profile, "booked_at")

    figure = column_figure(booked)

    assert figure is not None
    assert titles(figure) == ("Distribution of booked_at", "booked_at", "rows")
    [bars] = figure["data"]
    assert bars["x"] == booked["histogram"]["edges"][:-1]
    assert sum(bars["y"]) == 8


def test_a_column_with_nothing_to_draw_has_no_figure(profile: dict[str, Any]) -> None:
    assert column_figure(column(profile, "empty")) is None
    assert column_figure({"name": "tags", "kind": "categorical", "top_values": []}) is None


def test_null_rates_are_percentages_per_column(profile: dict[str, Any]) -> None:
    figure = null_rate_figure(profile)

    assert titles(figure) == ("Missing values per column", "column", "missing (% of rows)")
    [bars] = figure["data"]
    assert bars["x"] == ["amount", "merchant", "booked_at", "empty"]
    assert bars["y"] == [12.5, 12.5, 0.0, 100.0]
    assert bars["customdata"] == [1, 1, 0, 8]
    assert figure["layout"]["yaxis"]["ticksuffix"] == "%"


def test_metrics_are_one_line_per_metric_across_versions() -> None:
    figure = metric_history_figure(
        [
            (3, {"roc_auc": 0.93, "f1": 0.74}),
            (1, {"roc_auc": 0.88}),
            (2, {"roc_auc": 0.9, "f1": 0.7, "note": "not a number"}),
            (4, {}),
        ]
    )

    assert figure is not None
    assert titles(figure) == ("Metrics across versions", "model version", "metric value")
    lines = {trace["name"]: trace for trace in figure["data"]}
    assert sorted(lines) == ["f1", "roc_auc"]
    assert lines["roc_auc"]["x"] == [1, 2, 3]
    assert lines["roc_auc"]["y"] == [0.88, 0.9, 0.93]
    assert lines["f1"]["x"] == [2, 3]
    assert lines["f1"]["y"] == [0.7, 0.74]
    assert figure["layout"]["xaxis"]["dtick"] == 1


def test_no_metrics_means_no_metrics_chart() -> None:
    assert metric_history_figure([]) is None
    assert metric_history_figure([(1, {}), (2, {"note": "text only"})]) is None


def test_figures_are_plain_json_without_a_bundled_template(profile: dict[str, Any]) -> None:
    figures = [
        column_figure(column(profile, "amount")),
        column_figure(column(profile, "merchant")),
        null_rate_figure(profile),
        metric_history_figure([(1, {"f1": 0.5})]),
    ]

    for figure in figures:
        assert figure is not None
        assert json.loads(json.dumps(figure, allow_nan=False)) == figure
        assert "template" not in figure["layout"]
