"""Quality charts are built from stored results: each cell, series and bin shows exactly what
was stored, with a title, named axes and exact values in the hover, as validated plain JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitoring.charts import (
    OUTCOME_COLOURS,
    STATES,
    check_grid_figure,
    failing_values_figure,
    metric_trend_figure,
)


def titles(figure: dict[str, Any]) -> tuple[str, str, str]:
    layout = figure["layout"]
    return (
        layout["title"]["text"],
        layout["xaxis"]["title"]["text"],
        layout["yaxis"]["title"]["text"],
    )


def cell(check: str, version: int, outcome: str, **extra: Any) -> dict[str, Any]:
    return {
        "check": check,
        "version": version,
        "outcome": outcome,
        "severity": extra.pop("severity", "fail"),
        "message": extra.pop("message", ""),
        "failing_fraction": extra.pop("failing_fraction", None),
        **extra,
    }


# --- check grid ----------------------------------------------------------------------------


@pytest.fixture
def grid_cells() -> list[dict[str, Any]]:
    return [
        cell(
            "range:total_value",
            3,
            "failed",
            message="600 values out of range.",
            failing_fraction=0.03,
        ),
        cell(
            "range:total_value",
            1,
            "passed",
            message="All 20,000 values in range.",
            failing_fraction=0.0,
        ),
        cell("not_null:customer_age", 1, "failed", severity="warn", failing_fraction=0.061),
        cell("not_null:customer_age", 2, "passed", failing_fraction=0.0),
        cell("expression:a > b", 2, "errored", message="Cannot compare text with a number."),
        cell("row_count", 3, "passed", severity="warn"),
    ]


def state_at(figure: dict[str, Any], check: str, version: str) -> str:
    [heatmap] = figure["data"]
    row, column = heatmap["y"].index(check), heatmap["x"].index(version)
    return STATES[heatmap["z"][row][column]]


def test_the_grid_has_checks_in_first_seen_order_and_versions_ascending(
    grid_cells: list[dict[str, Any]],
) -> None:
    figure = check_grid_figure(grid_cells)

    assert figure is not None
    [heatmap] = figure["data"]
    assert heatmap["type"] == "heatmap"
    assert heatmap["y"] == [
        "range:total_value",
        "not_null:customer_age",
        "expression:a > b",
        "row_count",
    ]
    assert heatmap["x"] == ["v1", "v2", "v3"]
    assert titles(figure) == ("Checks across dataset versions", "dataset version", "check")
    assert figure["layout"]["yaxis"]["autorange"] == "reversed"


def test_each_cell_shows_its_state_and_missing_cells_are_not_run(
    grid_cells: list[dict[str, Any]],
) -> None:
    figure = check_grid_figure(grid_cells)

    assert figure is not None
    assert state_at(figure, "range:total_value", "v1") == "passed"
    assert state_at(figure, "range:total_value", "v3") == "failed"
    assert state_at(figure, "range:total_value", "v2") == "not run"
    assert state_at(figure, "not_null:customer_age", "v1") == "warning"
    assert state_at(figure, "not_null:customer_age", "v3") == "not run"
    assert state_at(figure, "expression:a > b", "v2") == "errored"
    assert state_at(figure, "row_count", "v3") == "passed"


def test_the_colour_scale_gives_each_state_its_colour_and_word(
    grid_cells: list[dict[str, Any]],
) -> None:
    figure = check_grid_figure(grid_cells)

    assert figure is not None
    [heatmap] = figure["data"]
    scale = heatmap["colorscale"]
    low, high = heatmap["zmin"], heatmap["zmax"]
    for index, state in enumerate(STATES):
        position = (index - low) / (high - low)
        # The stops either side of this state's z value are both the state's colour.
        below = [colour for stop, colour in scale if stop <= position][-1]
        above = next(colour for stop, colour in scale if stop >= position)
        assert below == above == OUTCOME_COLOURS[state]
    assert heatmap["colorbar"]["ticktext"] == list(STATES)
    assert heatmap["colorbar"]["tickvals"] == list(range(len(STATES)))
    # One meaning per colour: no two states share one.
    assert len(set(OUTCOME_COLOURS.values())) == len(STATES)


def test_the_hover_names_check_version_state_message_and_failing_share(
    grid_cells: list[dict[str, Any]],
) -> None:
    figure = check_grid_figure(grid_cells)

    assert figure is not None
    [heatmap] = figure["data"]
    hover = heatmap["text"][0][2]  # range:total_value on v3
    assert "range:total_value" in hover
    assert "v3: failed" in hover
    assert "600 values out of range." in hover
    assert "failing: 3% of rows" in hover
    assert heatmap["hovertemplate"] == "%{text}<extra></extra>"
    assert "v2: not run" in heatmap["text"][0][1]
    assert "failing" not in heatmap["text"][3][2]  # table-level: nothing to count


def test_a_later_result_for_the_same_cell_wins() -> None:
    figure = check_grid_figure([cell("unique:id", 1, "failed"), cell("unique:id", 1, "passed")])

    assert figure is not None
    assert state_at(figure, "unique:id", "v1") == "passed"


def test_the_grid_grows_with_the_number_of_checks() -> None:
    few = check_grid_figure([cell(f"check {n}", 1, "passed") for n in range(3)])
    many = check_grid_figure([cell(f"check {n}", 1, "passed") for n in range(40)])

    assert few is not None and many is not None
    assert many["layout"]["height"] > few["layout"]["height"]


def test_check_names_are_escaped_in_the_hover() -> None:
    figure = check_grid_figure([cell("expression:a < b", 1, "failed", message="<b>x</b>")])

    assert figure is not None
    hover = figure["data"][0]["text"][0][0]
    assert "a &lt; b" in hover
    assert "&lt;b&gt;x&lt;/b&gt;" in hover


def test_no_cells_no_grid() -> None:
    assert check_grid_figure([]) is None


# --- metric trend --------------------------------------------------------------------------


@pytest.fixture
def trend_points() -> list[dict[str, Any]]:
    return [
        {"check": "range:total_value", "metric": "max", "version": 2, "value": 1979.02},
        {"check": "range:total_value", "metric": "max", "version": 1, "value": 1926.8},
        {"check": "range:total_value", "metric": "min", "version": 1, "value": 0.82},
        {"check": "not_null:customer_age", "metric": "null_fraction", "version": 3, "value": 0.03},
        {
            "check": "not_null:customer_age",
            "metric": "null_fraction",
            "version": 1,
            "value": 0.0294,
        },
        {"check": "range:total_value", "metric": "min", "version": 3, "value": None},
    ]


def test_one_series_per_check_and_metric_with_only_the_first_shown(
    trend_points: list[dict[str, Any]],
) -> None:
    figure = metric_trend_figure(trend_points)

    assert figure is not None
    names = [trace["name"] for trace in figure["data"]]
    assert names == [
        "range:total_value · max",
        "range:total_value · min",
        "not_null:customer_age · null_fraction",
    ]
    assert [trace["visible"] for trace in figure["data"]] == [True, False, False]
    first = figure["data"][0]
    assert first["x"] == ["v1", "v2"]
    assert first["y"] == [1926.8, 1979.02]
    assert figure["data"][1]["x"] == ["v1"]  # the None value is left out
    assert figure["data"][2]["x"] == ["v1", "v3"]
    assert figure["layout"]["title"]["text"] == "Observed values over versions"
    assert figure["layout"]["xaxis"]["title"]["text"] == "dataset version"
    assert figure["layout"]["xaxis"]["categoryarray"] == ["v1", "v2", "v3"]
    assert "%{y" in first["hovertemplate"]


def test_the_dropdown_shows_one_series_at_a_time(trend_points: list[dict[str, Any]]) -> None:
    figure = metric_trend_figure(trend_points)

    assert figure is not None
    [menu] = figure["layout"]["updatemenus"]
    buttons = menu["buttons"]
    assert [button["label"] for button in buttons] == [trace["name"] for trace in figure["data"]]
    for index, button in enumerate(buttons):
        visible = button["args"][0]["visible"]
        assert visible == [position == index for position in range(3)]
    assert buttons[2]["args"][1]["yaxis.title.text"].startswith("null_fraction")


def test_no_numbers_no_trend() -> None:
    assert metric_trend_figure([]) is None
    assert (
        metric_trend_figure([{"check": "c", "metric": "m", "version": 1, "value": "n/a"}]) is None
    )


# --- failing values ------------------------------------------------------------------------


def test_failing_counts_land_in_their_bins() -> None:
    distribution = {
        "kind": "numeric",
        "edges": [-1.0, 0.0, 10.0, 20.0],
        "all_counts": [600, 12_000, 7_400],
        "failing_counts": [600, 0, 0],
    }

    figure = failing_values_figure(
        distribution, column="total_value", check_name="range:total_value"
    )

    assert figure is not None
    everything, failing = figure["data"]
    assert (everything["name"], failing["name"]) == ("all rows", "failing rows")
    assert everything["x"] == [-0.5, 5.0, 15.0]
    assert everything["width"] == [1.0, 10.0, 10.0]
    assert everything["y"] == [600, 12_000, 7_400]
    assert failing["y"] == [600, 0, 0]
    assert failing["x"] == everything["x"]
    assert failing["customdata"][0] == "-1 to 0"
    assert failing["marker"]["color"] == OUTCOME_COLOURS["failed"]
    assert figure["layout"]["barmode"] == "overlay"
    assert titles(figure) == (
        "Where range:total_value fails in total_value",
        "total_value (column units)",
        "rows",
    )
    assert "yaxis" not in figure["layout"] or figure["layout"]["yaxis"].get("type") != "log"


def test_categorical_values_are_grouped_bars() -> None:
    distribution = {
        "kind": "categorical",
        "values": ["XX", "-1", "FR", "DE"],
        "all_counts": [40, 3, 11_000, 2_000],
        "failing_counts": [40, 3, 0, 0],
    }

    figure = failing_values_figure(
        distribution, column="country", check_name="allowed_values:country"
    )

    assert figure is not None
    everything, failing = figure["data"]
    assert everything["x"] == ["XX", "-1", "FR", "DE"]
    assert failing["y"] == [40, 3, 0, 0]
    assert figure["layout"]["barmode"] == "group"
    assert figure["layout"]["xaxis"]["type"] == "category"


def test_counts_over_more_than_three_decades_get_a_log_axis() -> None:
    distribution = {
        "kind": "numeric",
        "edges": [0.0, 1.0, 2.0],
        "all_counts": [5, 900_000],
        "failing_counts": [5, 0],
    }

    figure = failing_values_figure(distribution, column="amount", check_name="range:amount")

    assert figure is not None
    assert figure["layout"]["yaxis"]["type"] == "log"
    [menu] = figure["layout"]["updatemenus"]
    assert [button["args"][0]["yaxis.type"] for button in menu["buttons"]] == ["log", "linear"]


@pytest.mark.parametrize(
    "distribution",
    [
        None,
        {},
        {"kind": "numeric", "edges": [], "all_counts": [], "failing_counts": []},
        {"kind": "numeric", "edges": [0.0, 1.0], "all_counts": [1, 2], "failing_counts": [0, 1]},
        {"kind": "mystery", "all_counts": [1], "failing_counts": [1]},
    ],
)
def test_nothing_to_draw_is_none(distribution: dict[str, Any] | None) -> None:
    assert failing_values_figure(distribution, column="c", check_name="range:c") is None


def test_every_figure_is_plain_json(
    grid_cells: list[dict[str, Any]], trend_points: list[dict[str, Any]]
) -> None:
    figures = [
        check_grid_figure(grid_cells),
        metric_trend_figure(trend_points),
        failing_values_figure(
            {"kind": "numeric", "edges": [0.0, 1.0], "all_counts": [3], "failing_counts": [1]},
            column="x",
            check_name="range:x",
        ),
    ]

    for figure in figures:
        assert figure is not None
        assert set(figure) == {"data", "layout"}
        assert json.loads(json.dumps(figure, allow_nan=False)) == figure
        assert figure["layout"]["title"]["text"]
