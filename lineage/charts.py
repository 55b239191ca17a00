"""Plotly figures built from stored results (profiles, metrics), never from raw data.

Each function returns a plain JSON-able dict `{"data": [...], "layout": {...}}` that the
template embeds with `json_script` and static/js/portal.js draws with Plotly.newPlot.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

COLOURS = {"primary": "#2f5d8a", "muted": "#9aa9b8", "warning": "#c27c0e", "failed": "#b3261e"}


STATUS_RINGS = {
    ("quality_status", "failed"): ("Quality failed", "#b3261e"),
    ("quality_status", "warning"): ("Quality warning", "#c27c0e"),
    ("drift_status", "drifted"): ("Data drifted", "#6b3fa0"),
}


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
    result: dict[str, Any] = json.loads(as_json)
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


# Lineage graph ---------------------------------------------------------------------------

NODE_COLOURS = {
    "dataset": "#0072b2",
    "dataset_version": "#56b4e9",
    "job": "#e69f00",
    "run": "#cc79a7",
    "model_version": "#009e73",
    "deployment": "#3b3b3b",
}
NODE_KIND_NAMES = {
    "dataset": "Dataset",
    "dataset_version": "Dataset version",
    "job": "Job",
    "run": "Run",
    "model_version": "Model version",
    "deployment": "Deployment",
}
# Restricted data gets a diamond with a coloured outline: the shape says it without colour.
SENSITIVE_OUTLINES = {
    "pii": ("PII data", COLOURS["failed"]),
    "confidential": ("Confidential data", COLOURS["warning"]),
}
SENSITIVITY_NAMES = {"pii": "PII", "confidential": "confidential", "internal": "internal"}
LABELS_UP_TO = 60  # nodes; beyond this, names are in the hover only


def lineage_graph_figure(
    nodes: Iterable[Any],
    edges: Iterable[Any],
    positions: Mapping[int, tuple[float, float]],
    root_ids: Iterable[int],
    title: str,
) -> dict[str, Any]:
    """The lineage around a node, drawn left to right as `positions` lay it out.

    `nodes` have `id`, `kind`, `label`, `project_slug`, `sensitivity`, `depth` and `url`
    (lineage.graph.ListedNode); `edges` have `source_id`, `target_id` and `kind`. Nodes are
    coloured by kind, PII and confidential data are diamonds with a red or amber outline,
    the start nodes are larger, and each point carries its page's URL in `customdata` so a
    click can open it (static/js/lineage.js).
    """
    nodes = [node for node in nodes if node.id in positions]
    by_id = {node.id: node for node in nodes}
    roots = set(root_ids)
    edges = [edge for edge in edges if edge.source_id in by_id and edge.target_id in by_id]
    line_x: list[float | None] = []
    line_y: list[float | None] = []
    middle_x, middle_y, middle_text = [], [], []
    for edge in edges:
        (x0, y0), (x1, y1) = positions[edge.source_id], positions[edge.target_id]
        line_x += [x0, x1, None]
        line_y += [y0, y1, None]
        middle_x.append((x0 + x1) / 2)
        middle_y.append((y0 + y1) / 2)
        middle_text.append(
            f"{by_id[edge.source_id].label} → {by_id[edge.target_id].label}"
            f"<br>{edge.kind.replace('_', ' ')}"
        )
    traces: list[Any] = [
        go.Scatter(
            x=line_x,
            y=line_y,
            mode="lines",
            line={"color": "#b8c2cc", "width": 1},
            hoverinfo="skip",
            showlegend=False,
        ),
        go.Scatter(
            x=middle_x,
            y=middle_y,
            mode="markers",
            marker={"size": 8, "color": "rgba(0,0,0,0)"},
            hovertext=middle_text,
            hovertemplate="%{hovertext}<extra>edge</extra>",
            showlegend=False,
        ),
    ]
    show_labels = len(nodes) <= LABELS_UP_TO
    for kind, colour in NODE_COLOURS.items():
        members = [node for node in nodes if node.kind == kind]
        if not members:
            continue
        outlines = [SENSITIVE_OUTLINES.get(node.sensitivity or "") for node in members]
        # The legend shows a plain marker of the kind (Plotly would copy the first point's,
        # which may be a restricted diamond); clicking it still hides the kind's nodes.
        traces.append(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name=NODE_KIND_NAMES[kind],
                legendgroup=kind,
                marker={"color": colour, "size": 12, "symbol": "circle"},
            )
        )
        traces.append(
            go.Scatter(
                x=[positions[node.id][0] for node in members],
                y=[positions[node.id][1] for node in members],
                mode="markers+text" if show_labels else "markers",
                name=NODE_KIND_NAMES[kind],
                legendgroup=kind,
                showlegend=False,
                text=[_short(node.label) for node in members] if show_labels else None,
                textposition="bottom center",
                textfont={"size": 10},
                marker={
                    "color": colour,
                    "size": [20 if node.id in roots else 12 for node in members],
                    "symbol": ["diamond" if outline else "circle" for outline in outlines],
                    "line": {
                        "color": [outline[1] if outline else "#ffffff" for outline in outlines],
                        "width": [3 if outline else 1 for outline in outlines],
                    },
                },
                customdata=[node.url for node in members],
                hovertext=[_node_hover(node, node.id in roots) for node in members],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
    # A dataset version that failed (or warned on) its quality checks gets a ring, so a bad
    # version stands out wherever it sits in the flow.
    for (attribute, status), (name, ring) in STATUS_RINGS.items():
        flagged = [node for node in nodes if getattr(node, attribute, None) == status]
        if flagged:
            traces.append(
                go.Scatter(
                    x=[positions[node.id][0] for node in flagged],
                    y=[positions[node.id][1] for node in flagged],
                    mode="markers",
                    name=name,
                    hoverinfo="skip",
                    marker={
                        "symbol": "circle-open",
                        "size": [30 if node.id in roots else 22 for node in flagged],
                        "color": ring,
                        "line": {"width": 3},
                    },
                )
            )
    present = {node.sensitivity for node in nodes}
    for sensitivity, (name, outline) in SENSITIVE_OUTLINES.items():
        if sensitivity in present:
            traces.append(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="markers",
                    name=name,
                    marker={
                        "symbol": "diamond",
                        "size": 12,
                        "color": "#ffffff",
                        "line": {"color": outline, "width": 3},
                    },
                )
            )
    layer_sizes: dict[float, int] = {}
    for x, _ in positions.values():
        layer_sizes[x] = layer_sizes.get(x, 0) + 1
    tallest = max(layer_sizes.values(), default=1)
    height = min(1600, max(360, 160 + 34 * tallest))
    margin = {"l": 20, "r": 20, "t": 40, "b": 110}
    plot_height = height - margin["t"] - margin["b"]
    hidden_axis = {"showticklabels": False, "showgrid": False, "zeroline": False, "ticks": ""}
    figure = go.Figure(
        traces,
        layout={
            "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 14}},
            # Positions have no units: the x axis only names the direction, y nothing.
            "xaxis": {**hidden_axis, "title": {"text": "data flows left to right →"}},
            "yaxis": {**hidden_axis, "title": {"text": ""}},
            "margin": margin,
            "height": height,
            "template": "plotly_white",
            "hovermode": "closest",
            # Below the axis title, whatever the height.
            "legend": {"orientation": "h", "yanchor": "top", "y": -50 / plot_height},
            "dragmode": "pan",
        },
    )
    return _as_dict(figure)


def _short(label: str, length: int = 28) -> str:
    return label if len(label) <= length else label[: length - 1] + "…"


def _node_hover(node: Any, is_root: bool) -> str:
    if is_root or node.depth == 0:
        where = "starting point"
    else:
        steps = abs(node.depth)
        where = (
            f"{steps} step{'s' if steps != 1 else ''} {'up' if node.depth < 0 else 'down'}stream"
        )
    lines = [
        f"<b>{html.escape(node.label)}</b>",
        f"{NODE_KIND_NAMES.get(node.kind, node.kind)} · {where}",
        f"project {node.project_slug}" if node.project_slug else "no project",
    ]
    if node.sensitivity:
        lines.append(f"sensitivity: {SENSITIVITY_NAMES.get(node.sensitivity, node.sensitivity)}")
    quality = getattr(node, "quality_status", None)
    if quality:
        lines.append(f"quality: {quality.replace('_', ' ')}")
    drift_status = getattr(node, "drift_status", None)
    if drift_status:
        lines.append(f"drift: {drift_status.replace('_', ' ')}")
    lines.append("click to open")
    return "<br>".join(lines)
