"""Drift charts are built from stored results: every cell, point and bar shows exactly what was
stored, drifted ones are marked, the hover carries the numbers, and the figure is validated
plain JSON (None, or no figure, when there is nothing to draw)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitoring.drift_charts import (
    DRIFTED_COLOUR,
    DRIFTED_MARK,
    EFFECT_CAP,
    auc_figure,
    confidence_trend_figure,
    drift_timeline_figure,
    feature_distribution_figure,
    feature_heatmap_figure,
    feature_trend_figure,
    importance_figure,
    prediction_figures,
)


def titles(figure: dict[str, Any]) -> tuple[str, str, str]:
    layout = figure["layout"]
    return (
        layout["title"]["text"],
        layout["xaxis"]["title"]["text"],
        layout["yaxis"]["title"]["text"],
    )


def assert_plain_json(figure: dict[str, Any]) -> None:
    assert json.loads(json.dumps(figure, allow_nan=False)) == figure
    assert "template" not in figure["layout"]


def window_feature(
    name: str,
    effect_size: float | None,
    *,
    threshold: float = 0.1,
    drifted: bool = False,
    p_value_adjusted: float | None = 0.5,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "effect_size": effect_size,
        "effect_threshold": threshold,
        "drifted": drifted,
        "p_value_adjusted": p_value_adjusted,
        **extra,
    }


# --- heatmap ---------------------------------------------------------------------------------


@pytest.fixture
def heatmap_columns() -> list[tuple[str, list[dict[str, Any]]]]:
    return [
        (
            "2026-11-01",
            [
                window_feature("age", 0.02),
                window_feature("income", 0.05, p_value_adjusted=0.2),
                window_feature("city", 0.01, threshold=0.1),
            ],
        ),
        (
            "2026-11-02",
            [
                window_feature("age", 0.03),
                window_feature(
                    "income",
                    0.25,
                    drifted=True,
                    p_value_adjusted=1.5e-12,
                    effect_measure="wasserstein",
                ),
                # city has no result in this window
            ],
        ),
    ]


def heatmap_cell(figure: dict[str, Any], feature: str, window: str) -> tuple[Any, str, str]:
    [heatmap] = figure["data"]
    row, column = heatmap["y"].index(feature), heatmap["x"].index(window)
    return (
        heatmap["z"][row][column],
        heatmap["text"][row][column],
        heatmap["hovertext"][row][column],
    )


def test_a_heatmap_cell_is_the_effect_size_in_thresholds(heatmap_columns: list[Any]) -> None:
    figure = feature_heatmap_figure(heatmap_columns)

    assert figure is not None
    [heatmap] = figure["data"]
    assert heatmap["type"] == "heatmap"
    assert heatmap["x"] == ["2026-11-01", "2026-11-02"]
    assert heatmap["z"][heatmap["y"].index("income")][1] == pytest.approx(2.5)
    assert heatmap_cell(figure, "age", "2026-11-01")[0] == pytest.approx(0.2)
    assert heatmap["zmin"] == 0 and heatmap["zmax"] == EFFECT_CAP
    assert titles(figure) == (
        "Effect size by feature and window (● drifted)",
        "time window",
        "feature",
    )
    assert_plain_json(figure)


def test_the_heatmap_puts_the_most_changed_feature_on_top(heatmap_columns: list[Any]) -> None:
    figure = feature_heatmap_figure(heatmap_columns)

    assert figure is not None
    assert figure["data"][0]["y"] == ["income", "age", "city"]
    assert figure["layout"]["yaxis"]["autorange"] == "reversed"


def test_drifted_cells_are_marked_and_others_are_not(heatmap_columns: list[Any]) -> None:
    figure = feature_heatmap_figure(heatmap_columns)

    assert figure is not None
    assert heatmap_cell(figure, "income", "2026-11-02")[1] == DRIFTED_MARK
    assert heatmap_cell(figure, "income", "2026-11-01")[1] == ""
    assert figure["data"][0]["texttemplate"] == "%{text}"


def test_the_heatmap_hover_gives_the_numbers_and_the_verdict(heatmap_columns: list[Any]) -> None:
    figure = feature_heatmap_figure(heatmap_columns)

    assert figure is not None
    _, _, hover = heatmap_cell(figure, "income", "2026-11-02")
    assert "<b>income</b>" in hover
    assert "2026-11-02" in hover
    assert "effect size (Wasserstein / spread) 0.25" in hover
    assert "threshold 0.1" in hover
    assert "2.50× threshold" in hover
    assert "adjusted p-value 1.5e-12" in hover
    assert "drifted: yes" in hover
    assert "drifted: no" in heatmap_cell(figure, "age", "2026-11-01")[2]


def test_a_missing_result_or_effect_size_is_a_blank_cell(heatmap_columns: list[Any]) -> None:
    heatmap_columns[1][1].append(
        window_feature(
            "zip",
            None,
            drifted=True,
            p_value_adjusted=None,
            status="missing_in_current",
            message="zip is missing from the current data.",
        )
    )
    figure = feature_heatmap_figure(heatmap_columns)

    assert figure is not None
    value, _, hover = heatmap_cell(figure, "city", "2026-11-02")
    assert value is None
    assert "no result" in hover
    value, mark, hover = heatmap_cell(figure, "zip", "2026-11-02")
    assert value is None
    assert mark == DRIFTED_MARK
    assert "zip is missing from the current data." in hover
    assert "effect size n/a" in hover


def test_repeated_column_labels_stay_separate_columns() -> None:
    figure = feature_heatmap_figure(
        [("2026-11-01", [window_feature("a", 0.1)]), ("2026-11-01", [window_feature("a", 0.2)])],
        x_title="analysis",
    )

    assert figure is not None
    assert figure["data"][0]["x"] == ["2026-11-01", "2026-11-01 (2)"]
    assert figure["layout"]["xaxis"]["title"]["text"] == "analysis"


def test_an_empty_heatmap_is_not_drawn() -> None:
    assert feature_heatmap_figure([]) is None
    assert feature_heatmap_figure([("2026-11-01", [])]) is None


# --- timeline --------------------------------------------------------------------------------


def analysis_point(label: str, score: float, drifted: bool, auc: float | None) -> dict[str, Any]:
    return {
        "label": label,
        "summary": {
            "score": score,
            "drifted": drifted,
            "drift_share": score,
            "drifted_features": ["income"] if drifted else [],
        },
        "domain_classifier": None
        if auc is None
        else {"auc": auc, "auc_low": auc - 0.01, "auc_high": auc + 0.01},
    }


def test_the_timeline_shows_scores_with_drifted_points_in_red() -> None:
    figure = drift_timeline_figure(
        [
            analysis_point("2026-11-01", 0.05, False, 0.51),
            analysis_point("2026-11-02", 0.4, True, 0.68),
        ]
    )

    assert figure is not None
    score = figure["data"][0]
    assert score["x"] == ["2026-11-01", "2026-11-02"]
    assert score["y"] == [0.05, 0.4]
    assert score["marker"]["color"][1] == DRIFTED_COLOUR
    assert score["marker"]["color"][0] != DRIFTED_COLOUR
    assert "drifted" in score["hovertext"][1] and "income" in score["hovertext"][1]
    assert "AUC 0.680 (95% CI 0.670–0.690)" in score["hovertext"][1]
    assert figure["layout"]["yaxis"]["range"] == [-0.02, 1.02]
    assert titles(figure) == ("Drift score over time", "window", "drift score (0–1)")
    assert_plain_json(figure)


def test_the_timeline_draws_the_auc_on_a_second_axis_only_when_there_is_one() -> None:
    with_auc = drift_timeline_figure([analysis_point("a", 0.1, False, 0.6)])
    without_auc = drift_timeline_figure([analysis_point("a", 0.1, False, None)])

    assert with_auc is not None and without_auc is not None
    [auc_trace] = [trace for trace in with_auc["data"] if trace.get("yaxis") == "y2"]
    assert auc_trace["y"] == [0.6]
    assert with_auc["layout"]["yaxis2"]["range"] == [0.5, 1.0]
    assert "0.5 = chance" in with_auc["layout"]["yaxis2"]["title"]["text"]
    assert not [trace for trace in without_auc["data"] if trace.get("yaxis") == "y2"]
    assert "yaxis2" not in without_auc["layout"]


def test_the_timeline_reads_flat_window_points() -> None:
    figure = drift_timeline_figure(
        [
            {"label": "w1", "drift_share": 0.0, "drifted": False, "current_rows": 1200},
            {"label": "w2", "drift_share": 0.25, "drifted": True, "current_rows": 900},
        ]
    )

    assert figure is not None
    assert figure["data"][0]["y"] == [0.0, 0.25]
    assert "900 current rows" in figure["data"][0]["hovertext"][1]


def test_an_empty_timeline_is_not_drawn() -> None:
    assert drift_timeline_figure([]) is None
    assert drift_timeline_figure([{"label": "w1", "summary": {"score": None}}]) is None


# --- confidence ------------------------------------------------------------------------------


def test_the_confidence_trend_has_the_means_and_the_band() -> None:
    figure = confidence_trend_figure(
        [
            {"label": "w1", "mean": 0.91, "p10": 0.7, "p90": 0.99},
            {"label": "w2", "mean": 0.83, "p10": 0.55, "p90": 0.98},
        ]
    )

    assert figure is not None
    upper, lower, mean = figure["data"]
    assert mean["y"] == [0.91, 0.83]
    assert upper["y"] == [0.99, 0.98] and lower["y"] == [0.7, 0.55]
    assert lower["fill"] == "tonexty"
    assert "0.55–0.98" in lower["hovertext"][1]
    assert "%{y:.4f}" in mean["hovertemplate"]
    assert "confidence" in titles(figure)[2]
    assert_plain_json(figure)


def test_the_confidence_trend_reads_window_means_without_a_band() -> None:
    figure = confidence_trend_figure(
        [{"label": "w1", "confidence_mean": 0.9}, {"label": "w2", "confidence_mean": None}]
    )

    assert figure is not None
    [mean] = figure["data"]
    assert mean["y"] == [0.9, None]


def test_no_confidence_means_no_figure() -> None:
    assert confidence_trend_figure([]) is None
    assert confidence_trend_figure([{"label": "w1", "confidence_mean": None}]) is None


# --- one feature -----------------------------------------------------------------------------


def numeric_feature(**extra: Any) -> dict[str, Any]:
    return {
        "name": "income",
        "kind": "numeric",
        "status": "ok",
        "drifted": True,
        "reference_missing_rate": 0.01,
        "current_missing_rate": 0.08,
        "histogram": {
            "kind": "numeric",
            "edges": [0.0, 10.0, 20.0, 30.0],
            "reference": [0.2, 0.5, 0.3],
            "current": [0.1, 0.3, 0.6],
        },
        **extra,
    }


def categorical_feature() -> dict[str, Any]:
    return {
        "name": "city",
        "kind": "categorical",
        "status": "ok",
        "drifted": False,
        "new_categories": ["Oslo"],
        "vanished_categories": ["Rome"],
        "histogram": {
            "kind": "categorical",
            "values": ["Paris", "Rome", "Oslo"],
            "reference": [0.7, 0.3, 0.0],
            "current": [0.8, 0.0, 0.2],
        },
    }


def test_a_numeric_distribution_overlays_reference_and_current_shares() -> None:
    figure = feature_distribution_figure(numeric_feature())

    assert figure is not None
    reference, current = figure["data"]
    assert reference["y"] == [0.2, 0.5, 0.3] and current["y"] == [0.1, 0.3, 0.6]
    assert reference["x"] == [5.0, 15.0, 25.0] and reference["width"] == [10.0, 10.0, 10.0]
    assert reference["opacity"] < 1 and reference["marker"]["color"] != current["marker"]["color"]
    assert figure["layout"]["barmode"] == "overlay"
    assert reference["customdata"][0] == "0 to 10 (and any values below)"
    assert reference["customdata"][2] == "20 to 30 (and any values above)"
    assert reference["name"] == "reference (1% missing)"
    assert current["name"] == "current (8% missing)"
    assert titles(figure) == (
        "income: reference vs current (drifted)",
        "income (column units)",
        "share of values (non-missing)",
    )
    assert_plain_json(figure)


def test_a_categorical_distribution_groups_bars_and_highlights_new_categories() -> None:
    figure = feature_distribution_figure(categorical_feature())

    assert figure is not None
    reference, current, new = figure["data"]
    assert reference["x"] == ["Paris", "Rome", "Oslo"] and reference["y"] == [0.7, 0.3, 0.0]
    assert current["x"] == ["Paris", "Rome"] and current["y"] == [0.8, 0.0]
    assert new["x"] == ["Oslo"] and new["y"] == [0.2]
    assert new["marker"]["color"] == DRIFTED_COLOUR
    assert new["offsetgroup"] == current["offsetgroup"]
    assert "new" in new["customdata"][0]
    assert figure["layout"]["barmode"] == "group"
    assert figure["layout"]["xaxis"]["categoryarray"] == ["Paris", "Rome", "Oslo"]
    assert titles(figure)[0] == "city: reference vs current (not drifted)"
    assert_plain_json(figure)


def test_the_values_not_listed_are_one_more_bar() -> None:
    feature = categorical_feature()
    feature["histogram"].update(other_reference=0.05, other_current=0.0)

    figure = feature_distribution_figure(feature)

    assert figure is not None
    reference = figure["data"][0]
    assert reference["x"][-1] == "(other values)" and reference["y"][-1] == 0.05


def test_a_feature_without_a_histogram_has_no_distribution() -> None:
    assert feature_distribution_figure({"name": "zip", "status": "missing_in_current"}) is None
    malformed = numeric_feature()
    malformed["histogram"]["reference"] = [0.5, 0.5]
    assert feature_distribution_figure(malformed) is None


def test_the_feature_trend_has_the_effect_and_the_threshold_line() -> None:
    figure = feature_trend_figure(
        [
            {"label": "w1", **window_feature("income", 0.04, effect_measure="jensen_shannon")},
            {"label": "w2", **window_feature("income", 0.22, drifted=True, p_value_adjusted=1e-6)},
            {"label": "w3", **window_feature("income", None, p_value_adjusted=None)},
        ]
    )

    assert figure is not None
    effect, threshold, legend = figure["data"]
    assert effect["y"] == [0.04, 0.22, None]
    assert threshold["y"] == [0.1, 0.1, 0.1] and threshold["line"]["dash"] == "dash"
    assert effect["marker"]["color"][1] == DRIFTED_COLOUR
    assert "adjusted p-value 1e-06" in effect["hovertext"][1]
    assert "drifted: yes" in effect["hovertext"][1]
    assert legend["name"] == "drifted"
    assert titles(figure) == (
        "Effect size of income over time",
        "window",
        "effect size (Jensen-Shannon)",
    )
    assert_plain_json(figure)


def test_no_effect_sizes_means_no_trend() -> None:
    assert feature_trend_figure([]) is None
    assert feature_trend_figure([{"label": "w1", "effect_size": None}]) is None


# --- domain classifier -----------------------------------------------------------------------


def test_importances_are_bars_with_the_biggest_on_top() -> None:
    figure = importance_figure(
        [
            {"feature": "a", "importance": 0.01},
            {"feature": "b", "importance": 0.12},
            {"feature": "c", "importance": -0.002},
        ]
    )

    assert figure is not None
    [bars] = figure["data"]
    assert bars["orientation"] == "h"
    assert bars["y"] == ["b", "a", "c"] and bars["x"] == [0.12, 0.01, -0.002]
    assert figure["layout"]["yaxis"]["autorange"] == "reversed"
    assert "AUC" in titles(figure)[1]
    assert_plain_json(figure)


def test_no_importances_no_figure() -> None:
    assert importance_figure([]) is None
    assert importance_figure([{"feature": "a", "importance": None}]) is None


def test_the_auc_is_a_point_with_its_interval_between_chance_and_threshold() -> None:
    figure = auc_figure(
        {
            "auc": 0.62,
            "auc_low": 0.6,
            "auc_high": 0.65,
            "p_value": 1e-9,
            "drifted": True,
            "rows_reference": 50_000,
            "rows_current": 40_000,
        },
        threshold=0.55,
    )

    assert figure is not None
    [point] = figure["data"]
    assert point["x"] == [0.62]
    assert point["error_x"]["array"] == [pytest.approx(0.03)]
    assert point["error_x"]["arrayminus"] == [pytest.approx(0.02)]
    assert point["marker"]["color"] == DRIFTED_COLOUR
    assert "95% CI 0.600–0.650" in point["hovertext"][0]
    assert "p-value vs chance 1e-09" in point["hovertext"][0]
    assert "50,000 reference / 40,000 current rows" in point["hovertext"][0]
    lines = sorted(shape["x0"] for shape in figure["layout"]["shapes"])
    assert lines == [0.5, 0.55]
    assert figure["layout"]["xaxis"]["range"][0] < 0.5
    assert figure["layout"]["xaxis"]["range"][1] == 1.0
    assert "drifted" in titles(figure)[0]
    assert_plain_json(figure)


def test_the_auc_without_a_known_threshold_draws_only_chance() -> None:
    figure = auc_figure({"auc": 0.51, "drifted": False})

    assert figure is not None
    assert [shape["x0"] for shape in figure["layout"]["shapes"]] == [0.5]
    assert figure["data"][0]["error_x"]["visible"] is False


def test_no_auc_no_figure() -> None:
    assert auc_figure({"auc": None, "message": "Too few rows to train the classifier."}) is None


# --- predictions -----------------------------------------------------------------------------


def test_classification_prediction_drift_has_class_shares_and_confidence() -> None:
    figures = prediction_figures(
        {
            "task": "classification",
            "predictions": {
                "test": "chi2",
                "p_value": 0.001,
                "effect": 0.21,
                "effect_name": "jensen_shannon",
                "effect_threshold": 0.1,
                "drifted": True,
                "new_classes": ["maybe"],
                "histogram": {
                    "kind": "categorical",
                    "values": ["no", "yes", "maybe"],
                    "reference": [0.7, 0.3, 0.0],
                    "current": [0.5, 0.4, 0.1],
                },
            },
            "confidence": {
                "test": "ks",
                "p_value": 0.2,
                "drifted": False,
                "reference_mean": 0.9,
                "current_mean": 0.85,
                "histogram": {
                    "edges": [0.0, 0.5, 1.0],
                    "reference": [0.1, 0.9],
                    "current": [0.2, 0.8],
                },
            },
            "drifted": True,
        }
    )

    classes, confidence = figures
    reference, current, new = classes["data"]
    assert reference["y"] == [0.7, 0.3, 0.0]
    assert current["x"] == ["no", "yes"] and current["y"] == [0.5, 0.4]
    assert new["x"] == ["maybe"] and new["marker"]["color"] == DRIFTED_COLOUR
    assert classes["layout"]["barmode"] == "group"
    assert classes["layout"]["title"]["text"] == "Predicted classes: reference vs current (drifted)"
    assert classes["layout"]["title"]["subtitle"]["text"] == "Jensen-Shannon 0.21 · p = 0.001"
    assert [trace["y"] for trace in confidence["data"]] == [[0.1, 0.9], [0.2, 0.8]]
    assert confidence["layout"]["barmode"] == "overlay"
    assert confidence["layout"]["title"]["text"] == "Confidence: reference vs current (not drifted)"
    assert (
        "mean 0.900 in the reference, 0.850 now"
        in confidence["layout"]["title"]["subtitle"]["text"]
    )
    # the confidence range is fixed to [0, 1]: no tails in the end bins
    assert confidence["data"][0]["customdata"] == ["0 to 0.5", "0.5 to 1"]
    for figure in figures:
        assert_plain_json(figure)


def test_regression_prediction_drift_has_a_value_histogram_and_counts_become_shares() -> None:
    [values] = prediction_figures(
        {
            "task": "regression",
            "predictions": {
                "histogram": {"edges": [0, 1, 2], "reference": [30, 70], "current": [50, 50]},
            },
            "confidence": None,
        }
    )

    assert values["data"][0]["y"] == [0.3, 0.7]
    assert values["layout"]["title"]["text"].startswith("Predicted values")
    assert "target units" in values["layout"]["xaxis"]["title"]["text"]


def test_no_prediction_result_no_figures() -> None:
    assert prediction_figures({}) == []
    assert prediction_figures({"task": "classification", "predictions": {}}) == []
