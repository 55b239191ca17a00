"""Plotly figures built from stored data quality results, never from raw data.

Each function returns a plain JSON-able dict ``{"data": [...], "layout": {...}}`` (validated by
Plotly) for the template to embed with ``json_script``, or None when there is nothing to draw.
The colours of check outcomes are the portal's status colours, always shown with a word.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from lineage.charts import COLOURS, _as_dict, _layout

__all__ = [
    "OUTCOME_COLOURS",
    "STATES",
    "check_grid_figure",
    "failing_values_figure",
    "metric_trend_figure",
]

#: The state of one check on one version, in the order of the grid's colour scale.
STATES: tuple[str, ...] = ("not run", "passed", "warning", "failed", "errored")
OUTCOME_COLOURS: dict[str, str] = {
    "passed": "#2e7d32",
    "warning": "#c27c0e",  # failed, with severity "warn"
    "failed": "#b3261e",  # failed, with severity "fail"
    "errored": "#6d4c41",
    "not run": "#e0e0e0",
}
#: Counts spanning more than this many powers of ten are drawn on a log axis by default.
LOG_AXIS_DECADES = 3


def _state(outcome: str | None, severity: str | None) -> str:
    if outcome == "failed":
        return "warning" if severity == "warn" else "failed"
    if outcome in ("passed", "errored"):
        return outcome
    return "not run"


def _discrete_colourscale() -> list[list[Any]]:
    """One flat band per state, so z = index of the state picks exactly its colour."""
    scale: list[list[Any]] = []
    for index, state in enumerate(STATES):
        scale.append([index / len(STATES), OUTCOME_COLOURS[state]])
        scale.append([(index + 1) / len(STATES), OUTCOME_COLOURS[state]])
    return scale


def _percent(fraction: float | None) -> str:
    if fraction is None or not math.isfinite(fraction):
        return "not measured"
    return f"{fraction * 100:.4g}% of rows"


# --------------------------------------------------------------------------------------------
# Checks x versions
# --------------------------------------------------------------------------------------------


def check_grid_figure(cells: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Each check's state on each dataset version: a grid of coloured cells.

    Rows are checks in first-seen order (top to bottom), columns versions ascending ("v1",
    "v2", ...). A failed warn-level check is a "warning"; a check with no result on a version
    is "not run". The colour bar names every state; the hover gives the check, the version,
    the state, the message and the share of failing rows.
    """
    if not cells:
        return None
    checks: list[str] = []
    index_of_check: dict[str, int] = {}
    for cell in cells:
        name = str(cell["check"])
        if name not in index_of_check:
            index_of_check[name] = len(checks)
            checks.append(name)
    versions = sorted({int(cell["version"]) for cell in cells})
    index_of_version = {version: column for column, version in enumerate(versions)}
    labels = [f"v{version}" for version in versions]

    not_run = STATES.index("not run")
    z = [[not_run] * len(versions) for _ in checks]
    hover = [
        [
            _grid_hover(check, label, "not run", "No result for this version.", None)
            for label in labels
        ]
        for check in checks
    ]
    for cell in cells:  # a later cell for the same check and version wins
        row, column = index_of_check[str(cell["check"])], index_of_version[int(cell["version"])]
        state = _state(cell.get("outcome"), cell.get("severity"))
        z[row][column] = STATES.index(state)
        hover[row][column] = _grid_hover(
            checks[row],
            labels[column],
            state,
            cell.get("message") or "",
            cell.get("failing_fraction"),
        )

    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=labels,
            y=checks,
            text=hover,
            hovertemplate="%{text}<extra></extra>",
            zmin=-0.5,
            zmax=len(STATES) - 0.5,
            colorscale=_discrete_colourscale(),
            xgap=2,
            ygap=2,
            colorbar={
                "title": {"text": "state"},
                "tickvals": list(range(len(STATES))),
                "ticktext": list(STATES),
                "thickness": 14,
                "len": 1 if len(checks) > 6 else 0.9,
            },
        ),
        layout=_layout(
            "Checks across dataset versions",
            "dataset version",
            "check",
            xaxis={
                "title": {"text": "dataset version"},
                "type": "category",
                "categoryorder": "array",
                "categoryarray": labels,
                "side": "top" if len(checks) > 15 else "bottom",
                "automargin": True,
            },
            yaxis={
                "title": {"text": "check"},
                "type": "category",
                "autorange": "reversed",
                "automargin": True,
            },
            height=min(3000, max(260, 120 + 26 * len(checks))),
            margin={"l": 60, "r": 20, "t": 60, "b": 50},
        ),
    )
    return _as_dict(figure)


def _grid_hover(
    check: str, version: str, state: str, message: str, failing_fraction: float | None
) -> str:
    lines = [f"<b>{html.escape(check)}</b>", f"{version}: {state}"]
    if message:
        lines.append(html.escape(message))
    if failing_fraction is not None and state != "not run":
        lines.append(f"failing: {_percent(failing_fraction)}")
    return "<br>".join(lines)


# --------------------------------------------------------------------------------------------
# Observed values over versions
# --------------------------------------------------------------------------------------------


def metric_trend_figure(points: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """What each check observed (a mean, a null fraction...) across versions, one series at a
    time: the first series is shown and a dropdown picks another."""
    series: dict[tuple[str, str], dict[int, float]] = {}
    for point in points:
        value = point.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if not math.isfinite(value):
            continue
        key = (str(point["check"]), str(point["metric"]))
        series.setdefault(key, {})[int(point["version"])] = float(value)
    if not series:
        return None
    versions = sorted({version for values in series.values() for version in values})
    labels = [f"v{version}" for version in versions]

    traces = []
    buttons = []
    for index, ((check, metric), values) in enumerate(series.items()):
        ordered = sorted(values)
        traces.append(
            go.Scatter(
                x=[f"v{version}" for version in ordered],
                y=[values[version] for version in ordered],
                name=f"{check} · {metric}",
                mode="lines+markers",
                visible=index == 0,
                line={"color": COLOURS["primary"]},
                hovertemplate=(
                    f"{html.escape(check)}<br>{html.escape(metric)} on %{{x}}: "
                    "%{y:.6g}<extra></extra>"
                ),
            )
        )
        buttons.append(
            {
                "label": f"{check} · {metric}",
                "method": "update",
                "args": [
                    {"visible": [other == index for other in range(len(series))]},
                    {"yaxis.title.text": _metric_title(metric)},
                ],
            }
        )
    first_metric = next(iter(series))[1]
    figure = go.Figure(
        traces,
        layout=_layout(
            "Observed values over versions",
            "dataset version",
            _metric_title(first_metric),
            xaxis={
                "title": {"text": "dataset version"},
                "type": "category",
                "categoryorder": "array",
                "categoryarray": labels,
                "automargin": True,
            },
            showlegend=False,
            height=340,
            margin={"l": 60, "r": 20, "t": 80, "b": 50},
            updatemenus=[
                {
                    "type": "dropdown",
                    "buttons": buttons,
                    "active": 0,
                    "showactive": True,
                    "x": 1,
                    "xanchor": "right",
                    "y": 1.02,
                    "yanchor": "bottom",
                }
            ],
        ),
    )
    return _as_dict(figure)


def _metric_title(metric: str) -> str:
    """The y axis names the value and its unit where the metric's name tells it."""
    if "fraction" in metric:
        return f"{metric} (share of rows, 0–1)"
    if metric in ("rows", "nulls", "duplicate_rows", "non_matching", "false_rows"):
        return f"{metric} (rows)"
    if metric == "age_hours":
        return f"{metric} (hours)"
    if metric.endswith("_length"):
        return f"{metric} (characters)"
    return f"{metric} (column units)"


# --------------------------------------------------------------------------------------------
# Where a check fails
# --------------------------------------------------------------------------------------------


def failing_values_figure(
    distribution: Mapping[str, Any] | None, *, column: str, check_name: str
) -> dict[str, Any] | None:
    """All values of a column against the failing ones, from a stored result's distribution.

    Numbers: overlaid bars per bin (all rows grey, failing rows red) with the bin's range in
    the hover. Other columns: grouped bars per value. A log count axis is the default when the
    counts span more than three powers of ten, with buttons to switch it.
    """
    if not distribution:
        return None
    all_counts = [int(count) for count in distribution.get("all_counts") or []]
    failing_counts = [int(count) for count in distribution.get("failing_counts") or []]
    if not all_counts or len(failing_counts) != len(all_counts):
        return None
    kind = distribution.get("kind")
    title = f"Where {check_name} fails in {column}"
    if kind == "numeric":
        edges = [float(edge) for edge in distribution.get("edges") or []]
        if len(edges) != len(all_counts) + 1:
            return None
        centres = [(edges[i] + edges[i + 1]) / 2 for i in range(len(all_counts))]
        widths = [edges[i + 1] - edges[i] for i in range(len(all_counts))]
        ranges = [f"{edges[i]:,.6g} to {edges[i + 1]:,.6g}" for i in range(len(all_counts))]
        common: dict[str, Any] = {"x": centres, "width": widths, "customdata": ranges}
        hover = "values %{customdata}<br>%{y:,} rows"
        x_axis: dict[str, Any] = {"title": {"text": f"{column} (column units)"}}
        barmode = "overlay"
    elif kind == "categorical":
        values = [str(value) for value in distribution.get("values") or []]
        if len(values) != len(all_counts):
            return None
        common = {"x": values}
        hover = "%{x}<br>%{y:,} rows"
        x_axis = {"title": {"text": f"{column} (value)"}, "type": "category"}
        barmode = "group"
    else:
        return None
    traces = [
        go.Bar(
            y=all_counts,
            name="all rows",
            marker_color=COLOURS["muted"],
            hovertemplate=f"{hover} in all<extra></extra>",
            **common,
        ),
        go.Bar(
            y=failing_counts,
            name="failing rows",
            marker_color=OUTCOME_COLOURS["failed"],
            hovertemplate=f"{hover} failing<extra></extra>",
            **common,
        ),
    ]
    log_axis = _spans_decades(all_counts + failing_counts, LOG_AXIS_DECADES)
    y_axis: dict[str, Any] = {"title": {"text": "rows"}, "automargin": True}
    extra: dict[str, Any] = {}
    if log_axis:
        y_axis["type"] = "log"
        extra["updatemenus"] = [
            {
                "type": "buttons",
                "direction": "left",
                "buttons": [
                    {"label": "log scale", "method": "relayout", "args": [{"yaxis.type": "log"}]},
                    {
                        "label": "linear scale",
                        "method": "relayout",
                        "args": [{"yaxis.type": "linear"}],
                    },
                ],
                "active": 0,
                "showactive": True,
                "x": 1,
                "xanchor": "right",
                "y": 1.02,
                "yanchor": "bottom",
            }
        ]
    figure = go.Figure(
        traces,
        layout=_layout(
            title,
            x_axis["title"]["text"],
            "rows",
            xaxis={**x_axis, "automargin": True},
            yaxis=y_axis,
            barmode=barmode,
            bargap=0.05 if kind == "numeric" else 0.2,
            legend={"orientation": "h", "x": 0, "y": -0.25},
            height=340,
            margin={"l": 60, "r": 20, "t": 60, "b": 50},
            **extra,
        ),
    )
    return _as_dict(figure)


def _spans_decades(counts: Sequence[int], decades: int) -> bool:
    positive = [count for count in counts if count > 0]
    return bool(positive) and max(positive) > min(positive) * 10**decades
