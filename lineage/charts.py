"""Plotly figures built from stored results (profiles, metrics), never from raw data.

Each function returns a plain JSON-able dict `{"data": [...], "layout": {...}}` that the
template embeds with `json_script` and static/js/portal.js draws with Plotly.newPlot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

COLOURS = {"primary": "#2f5d8a", "muted": "#9aa9b8", "warning": "#c27c0e", "failed": "#b3261e"}


def _layout(title: str, x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}},
        "xaxis": {"title": {"text": x_title}, "automargin": True},
        "yaxis": {"title": {"text": y_title}, "automargin": True},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
        "height": 300,
        "template": "plotly_white",
        "bargap": 0.05,
        **extra,
    }


def _as_dict(figure: go.Figure) -> dict[str, Any]:
    # Plotly validates the figure; JSON turns numpy values into plain lists.
    as_json = pio.to_json(figure, validate=True, remove_uids=True)
    result = json.loads(as_json)
    result["layout"].pop("template", None)
    return result


def column_figure(column: Mapping[str, Any]) -> dict[str, Any] | None:
    """The distribution of one profiled column: a histogram for numbers and dates,
    bars of the most frequent values for categories. None when there is nothing to draw."""
    name = column["name"]
    histogram = column.get("histogram")
    if column.get("kind") in ("numeric", "datetime") and histogram and histogram.get("counts"):
        edges, counts = histogram["edges"], histogram["counts"]
        labels = [f"{edges[i]} – {edges[i + 1]}" for i in range(len(counts))]
        if column["kind"] == "numeric":
            centres = [(edges[i] + edges[i + 1]) / 2 for i in range(len(counts))]
            widths = [edges[i + 1] - edges[i] for i in range(len(counts))]
        else:
            centres, widths = edges[:-1], None
        figure = go.Figure(
            go.Bar(
                x=centres,
                y=counts,
                width=widths,
                offset=0 if widths is None else None,
                customdata=labels,
                marker_color=COLOURS["primary"],
                hovertemplate="%{customdata}<br>%{y:,} rows<extra></extra>",
                name=name,
            ),
            layout=_layout(f"Distribution of {name}", name, "rows"),
        )
        return _as_dict(figure)
    top_values = column.get("top_values") or []
    if top_values:
        values = [entry["value"] for entry in top_values]
        counts = [entry["count"] for entry in top_values]
        other = column.get("other_count") or 0
        if other:
            values.append("(other values)")
            counts.append(other)
        figure = go.Figure(
            go.Bar(
                x=counts,
                y=values,
                orientation="h",
                marker_color=[COLOURS["primary"]] * len(top_values)
                + [COLOURS["muted"]] * bool(other),
                hovertemplate="%{y}: %{x:,} rows<extra></extra>",
                name=name,
            ),
            layout=_layout(
                f"Most frequent values of {name}",
                "rows",
                name,
                yaxis={
                    "autorange": "reversed",
                    "type": "category",
                    "automargin": True,
                    "title": {"text": name},
                },
                height=max(220, 60 + 24 * len(values)),
            ),
        )
        return _as_dict(figure)
    return None


def null_rate_figure(profile: Mapping[str, Any]) -> dict[str, Any]:
    """Missing values per column, in percent of rows."""
    columns = profile.get("columns", [])
    names = [column["name"] for column in columns]
    rates = [round(100 * (column.get("null_fraction") or 0.0), 3) for column in columns]
    nulls = [column.get("nulls", 0) for column in columns]
    colours = [COLOURS["warning"] if rate > 0 else COLOURS["primary"] for rate in rates]
    figure = go.Figure(
        go.Bar(
            x=names,
            y=rates,
            customdata=nulls,
            marker_color=colours,
            hovertemplate="%{x}: %{y:.2f}% missing (%{customdata:,} rows)<extra></extra>",
        ),
        layout=_layout(
            "Missing values per column",
            "column",
            "missing (% of rows)",
            yaxis={
                "rangemode": "tozero",
                "ticksuffix": "%",
                "title": {"text": "missing (% of rows)"},
            },
        ),
    )
    return _as_dict(figure)


def metric_history_figure(
    versions: Iterable[tuple[int, Mapping[str, float]]],
) -> dict[str, Any] | None:
    """Each metric across model versions, one line per metric. None without metrics."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for version, metrics in sorted(versions, key=lambda item: item[0]):
        for name, value in (metrics or {}).items():
            if isinstance(value, int | float):
                xs, ys = series.setdefault(name, ([], []))
                xs.append(version)
                ys.append(value)
    if not series:
        return None
    figure = go.Figure(
        [
            go.Scatter(
                x=xs,
                y=ys,
                name=name,
                mode="lines+markers",
                hovertemplate=f"{name} v%{{x}}: %{{y:.4g}}<extra></extra>",
            )
            for name, (xs, ys) in sorted(series.items())
        ],
        layout=_layout(
            "Metrics across versions",
            "model version",
            "metric value",
            xaxis={"dtick": 1, "title": {"text": "model version"}},
            legend={"orientation": "h", "y": -0.25},
        ),
    )
    return _as_dict(figure)
