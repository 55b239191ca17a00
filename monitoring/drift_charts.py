"""Plotly figures built from stored drift results, never from raw data.

Each function takes the plain dicts that :mod:`monitoring.drift` and :mod:`monitoring.domain`
store (per-feature results, windows, the domain classifier, prediction drift) and returns a
JSON-able ``{"data": [...], "layout": {...}}`` validated by Plotly, or None when there is nothing
to draw. Drifted points are red (the portal's "failed"/"drifted" colour) and always say so in
words in the hover or the title. Reference and current data use the same two colours
everywhere (blue and orange, told apart without colour vision too by their legend and hover).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from lineage.charts import COLOURS, _as_dict, _layout

__all__ = [
    "DRIFTED_COLOUR",
    "EFFECT_CAP",
    "auc_figure",
    "confidence_trend_figure",
    "drift_timeline_figure",
    "feature_distribution_figure",
    "feature_heatmap_figure",
    "feature_trend_figure",
    "importance_figure",
    "prediction_figures",
]

DRIFTED_COLOUR = COLOURS["failed"]
REFERENCE_COLOUR = "#0072b2"
CURRENT_COLOUR = "#e69f00"
AUC_COLOUR = "#6a3d9a"
#: Heatmap cells are effect size / threshold; the colour scale stops at this many thresholds.
EFFECT_CAP = 3.0
#: Importance bars beyond this many features are left out (the table has them all).
IMPORTANCE_BARS = 30
#: From light (no effect) through amber (at the threshold, 1/3 of the way) to red (3x or more).
EFFECT_COLOURSCALE: list[list[Any]] = [
    [0.0, "#f3f6f9"],
    [1 / EFFECT_CAP, "#f6d58e"],
    [2 / EFFECT_CAP, "#de7b2c"],
    [1.0, DRIFTED_COLOUR],
]
DRIFTED_MARK = "●"
OTHER_VALUES = "(other values)"
EFFECT_NAMES = {
    "ks": "KS",
    "wasserstein": "Wasserstein / spread",
    "psi": "PSI",
    "jensen_shannon": "Jensen-Shannon",
}


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A finite float, or None for missing, non-numeric, NaN or infinite values."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _fmt(value: Any, digits: int = 4) -> str:
    number = _number(value)
    return "n/a" if number is None else f"{number:.{digits}g}"


def _p_value(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "n/a"
    return "< 1e-300" if number == 0 else f"{number:.3g}"


def _yes_no(flag: Any) -> str:
    return "yes" if flag else "no"


def _verdict(drifted: Any) -> str:
    return "drifted" if drifted else "not drifted"


def _unique_labels(labels: Sequence[Any]) -> list[str]:
    """Labels as strings, a repeated one suffixed " (2)", " (3)"... so no column is merged."""
    seen: dict[str, int] = {}
    result = []
    for label in labels:
        text = str(label)
        seen[text] = seen.get(text, 0) + 1
        result.append(text if seen[text] == 1 else f"{text} ({seen[text]})")
    return result


def _category_axis(title: str, labels: Sequence[str], **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "type": "category",
        "categoryorder": "array",
        "categoryarray": list(labels),
        "automargin": True,
        **extra,
    }


def _fractions(values: Any, length: int) -> list[float | None] | None:
    """Stored shares as floats (counts are turned into shares), or None when malformed."""
    if not isinstance(values, Sequence) or isinstance(values, str) or len(values) != length:
        return None
    numbers = [_number(value) for value in values]
    total = sum(number for number in numbers if number is not None)
    if total > 1.000001:  # counts rather than fractions
        return [None if number is None else number / total for number in numbers]
    return numbers


def _horizontal_legend() -> dict[str, Any]:
    return {"orientation": "h", "x": 0, "y": -0.28, "yanchor": "top"}


# --------------------------------------------------------------------------------------------
# Features x windows
# --------------------------------------------------------------------------------------------


def feature_heatmap_figure(
    columns: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
    *,
    x_title: str = "time window",
) -> dict[str, Any] | None:
    """Each feature's effect size in each window (or analysis), relative to its threshold.

    ``columns`` is ``[(label, features), ...]`` left to right; each feature is a stored feature
    result with at least ``name``, ``effect_size``, ``effect_threshold``, ``drifted`` and
    ``p_value_adjusted``. A cell's value is effect_size / effect_threshold, so 1 is the
    practical threshold whatever the test; the colour scale stops at 3. Drifted cells carry a
    "●" (a feature can drift on its missing rate with a small distribution effect, so the mark
    is not implied by the colour). Rows are ordered by their largest value, the most changed
    feature on top; a feature without a result in a column, or without an effect size, is a
    blank cell.
    """
    if not columns:
        return None
    labels = _unique_labels([label for label, _ in columns])
    names: list[str] = []
    row_of: dict[str, int] = {}
    for _, features in columns:
        for feature in features:
            name = str(feature["name"])
            if name not in row_of:
                row_of[name] = len(names)
                names.append(name)
    if not names:
        return None

    ratios: list[list[float | None]] = [[None] * len(labels) for _ in names]
    marks = [[""] * len(labels) for _ in names]
    hover = [
        [f"<b>{html.escape(name)}</b><br>{html.escape(label)}: no result" for label in labels]
        for name in names
    ]
    for column, (_, features) in enumerate(columns):
        for feature in features:
            row = row_of[str(feature["name"])]
            effect = _number(feature.get("effect_size"))
            threshold = _number(feature.get("effect_threshold"))
            ratio = effect / threshold if effect is not None and threshold else None
            ratios[row][column] = ratio
            marks[row][column] = DRIFTED_MARK if feature.get("drifted") else ""
            hover[row][column] = _heatmap_hover(names[row], labels[column], feature, ratio)

    def largest(row: int) -> float:
        return max((ratio for ratio in ratios[row] if ratio is not None), default=-1.0)

    order = sorted(range(len(names)), key=lambda row: (-largest(row), row))
    figure = go.Figure(
        go.Heatmap(
            z=[ratios[row] for row in order],
            x=labels,
            y=[names[row] for row in order],
            text=[marks[row] for row in order],
            texttemplate="%{text}",
            textfont={"color": "#1b1b1b", "size": 12},
            hovertext=[hover[row] for row in order],
            hovertemplate="%{hovertext}<extra></extra>",
            zmin=0,
            zmax=EFFECT_CAP,
            colorscale=EFFECT_COLOURSCALE,
            hoverongaps=False,
            xgap=2,
            ygap=2,
            colorbar={
                "title": {"text": "effect /<br>threshold"},
                "tickvals": [0, 1, 2, 3],
                "ticktext": ["0", "1 = threshold", "2", f"≥ {EFFECT_CAP:g}"],
                "thickness": 14,
            },
        ),
        layout=_layout(
            "Effect size by feature and window (● drifted)",
            x_title,
            "feature",
            xaxis=_category_axis(x_title, labels, side="top" if len(names) > 15 else "bottom"),
            yaxis={
                "title": {"text": "feature"},
                "type": "category",
                "autorange": "reversed",
                "automargin": True,
            },
            height=min(3000, max(260, 120 + 26 * len(names))),
            margin={"l": 60, "r": 20, "t": 60, "b": 50},
        ),
    )
    return _as_dict(figure)


def _heatmap_hover(name: str, label: str, feature: Mapping[str, Any], ratio: float | None) -> str:
    lines = [
        f"<b>{html.escape(name)}</b>",
        f"{html.escape(label)}: {_verdict(feature.get('drifted'))}",
    ]
    measure = feature.get("effect_measure")
    named = f" ({EFFECT_NAMES.get(measure, measure)})" if isinstance(measure, str) else ""
    lines.append(
        f"effect size{named} {_fmt(feature.get('effect_size'))} · threshold "
        f"{_fmt(feature.get('effect_threshold'))}"
        + ("" if ratio is None else f" ({ratio:.2f}× threshold)")
    )
    lines.append(f"adjusted p-value {_p_value(feature.get('p_value_adjusted'))}")
    lines.append(f"drifted: {_yes_no(feature.get('drifted'))}")
    status = feature.get("status")
    message = feature.get("message") or ""
    if message and status not in (None, "ok"):
        lines.append(html.escape(str(message)))
    return "<br>".join(lines)


# --------------------------------------------------------------------------------------------
# Over time
# --------------------------------------------------------------------------------------------


def _nested(point: Mapping[str, Any], section: str, key: str, *fallbacks: str) -> Any:
    """``point[section][key]`` for a stored analysis, else ``point[key]`` (or a fallback key)
    for a flat point such as a window."""
    inner = point.get(section)
    if isinstance(inner, Mapping) and key in inner:
        return inner[key]
    for name in (key, *fallbacks):
        if name in point:
            return point[name]
    return None


def drift_timeline_figure(points: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The dataset drift score (0..1) per window or analysis, drifted points in red, and the
    domain classifier's ROC AUC on a second axis (0.5 = chance) where there is one.

    A point has a ``label`` and either a stored analysis's ``summary`` (``score``, ``drifted``,
    ``drift_share``, ``drifted_features``) and ``domain_classifier`` (``auc``, ``auc_low``,
    ``auc_high``), or the same keys flat (a window: ``drift_share`` stands in for the score).
    """
    labels = _unique_labels([point.get("label", "") for point in points])
    scores = [_number(_nested(point, "summary", "score", "drift_share")) for point in points]
    if not any(score is not None for score in scores):
        return None
    drifted = [bool(_nested(point, "summary", "drifted")) for point in points]
    aucs = [_number(_nested(point, "domain_classifier", "auc")) for point in points]
    hover = [
        _timeline_hover(label, point, score, flag, auc)
        for label, point, score, flag, auc in zip(
            labels, points, scores, drifted, aucs, strict=True
        )
    ]
    traces: list[Any] = [
        go.Scatter(
            x=labels,
            y=scores,
            name="drift score",
            mode="lines+markers",
            line={"color": COLOURS["primary"]},
            marker={
                "color": [DRIFTED_COLOUR if flag else COLOURS["primary"] for flag in drifted],
                "size": [11 if flag else 8 for flag in drifted],
                "symbol": ["x" if flag else "circle" for flag in drifted],
            },
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
        ),
        # The legend explains the red crosses.
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            name="drifted",
            marker={"color": DRIFTED_COLOUR, "size": 11, "symbol": "x"},
        ),
    ]
    extra: dict[str, Any] = {}
    present_aucs = [auc for auc in aucs if auc is not None]
    if present_aucs:
        traces.append(
            go.Scatter(
                x=labels,
                y=aucs,
                name="domain classifier AUC (right axis)",
                mode="lines+markers",
                yaxis="y2",
                line={"color": AUC_COLOUR, "dash": "dot"},
                marker={"color": AUC_COLOUR, "symbol": "diamond", "size": 8},
                connectgaps=False,
                hovertext=hover,
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
        extra["yaxis2"] = {
            "title": {"text": "domain classifier ROC AUC (0.5 = chance)"},
            "overlaying": "y",
            "side": "right",
            "range": [min(0.5, min(present_aucs) - 0.02), 1.0],
            "showgrid": False,
            "automargin": True,
        }
    figure = go.Figure(
        traces,
        layout=_layout(
            "Drift score over time",
            "window",
            "drift score (0–1)",
            xaxis=_category_axis("window", labels),
            yaxis={
                "title": {"text": "drift score (0–1)"},
                "range": [-0.02, 1.02],
                "automargin": True,
            },
            legend=_horizontal_legend(),
            height=340,
            margin={"l": 60, "r": 60, "t": 40, "b": 50},
            **extra,
        ),
    )
    return _as_dict(figure)


def _timeline_hover(
    label: str, point: Mapping[str, Any], score: float | None, drifted: bool, auc: float | None
) -> str:
    lines = [f"<b>{html.escape(label)}</b>: {_verdict(drifted)}", f"drift score {_fmt(score)}"]
    share = _number(_nested(point, "summary", "drift_share"))
    if share is not None:
        lines.append(f"features drifted: {share * 100:.3g}%")
    names = _nested(point, "summary", "drifted_features")
    if isinstance(names, Sequence) and not isinstance(names, str) and names:
        shown = ", ".join(html.escape(str(name)) for name in names[:5])
        more = f" and {len(names) - 5} more" if len(names) > 5 else ""
        lines.append(f"drifted: {shown}{more}")
    if auc is not None:
        low = _number(_nested(point, "domain_classifier", "auc_low"))
        high = _number(_nested(point, "domain_classifier", "auc_high"))
        interval = "" if low is None or high is None else f" (95% CI {low:.3f}–{high:.3f})"
        lines.append(f"domain classifier AUC {auc:.3f}{interval}")
    rows = point.get("current_rows")
    if isinstance(rows, int) and not isinstance(rows, bool):
        lines.append(f"{rows:,} current rows")
    message = point.get("message")
    if message:
        lines.append(html.escape(str(message)))
    return "<br>".join(lines)


def confidence_trend_figure(points: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The model's mean confidence (max predicted probability) per window or analysis, with
    the 10th–90th percentile band where stored.

    A point has ``label`` and ``mean`` (or a window's ``confidence_mean``), optionally ``p10``
    and ``p90`` (or ``confidence_p10`` / ``confidence_p90``).
    """
    labels = _unique_labels([point.get("label", "") for point in points])
    means = [_number(_nested(point, "confidence", "mean", "confidence_mean")) for point in points]
    if not any(mean is not None for mean in means):
        return None
    lows = [_number(_nested(point, "confidence", "p10", "confidence_p10")) for point in points]
    highs = [_number(_nested(point, "confidence", "p90", "confidence_p90")) for point in points]
    traces: list[Any] = []
    if any(low is not None and high is not None for low, high in zip(lows, highs, strict=True)):
        band_hover = [
            f"{html.escape(label)}: 10th–90th percentile {_fmt(low, 3)}–{_fmt(high, 3)}"
            for label, low, high in zip(labels, lows, highs, strict=True)
        ]
        traces += [
            go.Scatter(
                x=labels,
                y=highs,
                mode="lines",
                line={"width": 0},
                showlegend=False,
                hoverinfo="skip",
            ),
            go.Scatter(
                x=labels,
                y=lows,
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor="rgba(47, 93, 138, 0.18)",
                name="10th–90th percentile",
                hovertext=band_hover,
                hovertemplate="%{hovertext}<extra></extra>",
            ),
        ]
    traces.append(
        go.Scatter(
            x=labels,
            y=means,
            name="mean confidence",
            mode="lines+markers",
            line={"color": COLOURS["primary"]},
            hovertemplate="%{x}: mean confidence %{y:.4f}<extra></extra>",
        )
    )
    figure = go.Figure(
        traces,
        layout=_layout(
            "Model confidence over time",
            "window",
            "confidence (max predicted probability, 0–1)",
            xaxis=_category_axis("window", labels),
            yaxis={
                "title": {"text": "confidence (max predicted probability, 0–1)"},
                "range": [0, 1.02],
                "automargin": True,
            },
            legend=_horizontal_legend(),
            height=320,
        ),
    )
    return _as_dict(figure)


def feature_trend_figure(points: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """One feature's effect size per window against its practical threshold.

    A point is the feature's stored result in a window plus the window's ``label``:
    ``effect_size``, ``effect_threshold``, ``drifted``, ``p_value_adjusted`` (and optionally
    ``effect_measure``, naming the measure for the axis).
    """
    labels = _unique_labels([point.get("label", "") for point in points])
    effects = [_number(point.get("effect_size")) for point in points]
    if not any(effect is not None for effect in effects):
        return None
    thresholds = [_number(point.get("effect_threshold")) for point in points]
    drifted = [bool(point.get("drifted")) for point in points]
    hover = [
        f"<b>{html.escape(label)}</b>: {_verdict(flag)}<br>effect size {_fmt(effect)} · "
        f"threshold {_fmt(threshold)}<br>adjusted p-value "
        f"{_p_value(point.get('p_value_adjusted'))}<br>drifted: {_yes_no(flag)}"
        for label, point, effect, threshold, flag in zip(
            labels, points, effects, thresholds, drifted, strict=True
        )
    ]
    measure = next((str(p["effect_measure"]) for p in points if p.get("effect_measure")), "")
    y_title = f"effect size ({EFFECT_NAMES.get(measure, measure)})" if measure else "effect size"
    name = next((str(point["name"]) for point in points if point.get("name")), "")
    traces: list[Any] = [
        go.Scatter(
            x=labels,
            y=effects,
            name="effect size",
            mode="lines+markers",
            line={"color": COLOURS["primary"]},
            marker={
                "color": [DRIFTED_COLOUR if flag else COLOURS["primary"] for flag in drifted],
                "size": [11 if flag else 8 for flag in drifted],
                "symbol": ["x" if flag else "circle" for flag in drifted],
            },
            hovertext=hover,
            hovertemplate="%{hovertext}<extra></extra>",
        ),
        go.Scatter(
            x=labels,
            y=thresholds,
            name="practical threshold",
            mode="lines",
            line={"color": COLOURS["warning"], "dash": "dash"},
            hovertemplate="%{x}: threshold %{y:.4g}<extra></extra>",
        ),
    ]
    if any(drifted):
        traces.append(
            go.Scatter(
                x=[None],
                y=[None],
                mode="markers",
                name="drifted",
                marker={"color": DRIFTED_COLOUR, "size": 11, "symbol": "x"},
            )
        )
    title = f"Effect size of {name} over time" if name else "Effect size over time"
    figure = go.Figure(
        traces,
        layout=_layout(
            title,
            "window",
            y_title,
            xaxis=_category_axis("window", labels),
            yaxis={"title": {"text": y_title}, "rangemode": "tozero", "automargin": True},
            legend=_horizontal_legend(),
            height=320,
        ),
    )
    return _as_dict(figure)


# --------------------------------------------------------------------------------------------
# Distributions
# --------------------------------------------------------------------------------------------


def _distribution_traces(
    histogram: Mapping[str, Any],
    *,
    reference_name: str = "reference",
    current_name: str = "current",
    new_values: Sequence[Any] = (),
    unit: str = "column units",
    tails: bool = True,
) -> tuple[list[Any], dict[str, Any], str] | None:
    """Reference and current shares per bin (numbers) or per value (categories): the traces,
    the x axis and the bar mode; None when the stored histogram is malformed or empty.
    ``tails``: the end bins also count the values beyond the edges (a clipped range)."""
    kind = histogram.get("kind")
    if kind is None:
        kind = "numeric" if "edges" in histogram else "categorical"
    if kind == "numeric":
        edges = [_number(edge) for edge in histogram.get("edges") or []]
        bins = len(edges) - 1
        if bins < 1 or any(edge is None for edge in edges):
            return None
        reference = _fractions(histogram.get("reference"), bins)
        current = _fractions(histogram.get("current"), bins)
        if reference is None or current is None:
            return None
        bounds = [float(edge) for edge in edges if edge is not None]
        ranges = []
        for index in range(bins):
            text = f"{bounds[index]:,.6g} to {bounds[index + 1]:,.6g}"
            if tails and bins > 1 and index == 0:
                text += " (and any values below)"
            elif tails and bins > 1 and index == bins - 1:
                text += " (and any values above)"
            ranges.append(text)
        common: dict[str, Any] = {
            "x": [(bounds[i] + bounds[i + 1]) / 2 for i in range(bins)],
            "width": [bounds[i + 1] - bounds[i] for i in range(bins)],
            "customdata": ranges,
            "opacity": 0.55,
        }
        traces = [
            go.Bar(
                y=shares,
                name=name,
                marker_color=colour,
                hovertemplate=f"{name}: %{{y:.2%}} of values in %{{customdata}}<extra></extra>",
                **common,
            )
            for shares, name, colour in (
                (reference, reference_name, REFERENCE_COLOUR),
                (current, current_name, CURRENT_COLOUR),
            )
        ]
        return traces, {"title": {"text": unit}, "automargin": True}, "overlay"
    if kind == "categorical":
        values = [str(value) for value in histogram.get("values") or []]
        if not values:
            return None
        reference = _fractions(histogram.get("reference"), len(values))
        current = _fractions(histogram.get("current"), len(values))
        if reference is None or current is None:
            return None
        # The share of the values not listed, as one more bar.
        other_reference = _number(histogram.get("other_reference")) or 0.0
        other_current = _number(histogram.get("other_current")) or 0.0
        if other_reference > 0 or other_current > 0:
            values.append(OTHER_VALUES)
            reference.append(other_reference)
            current.append(other_current)
        new = {str(value) for value in new_values}
        notes = [" (new: not in the reference)" if value in new else "" for value in values]
        traces = [
            go.Bar(
                x=values,
                y=reference,
                name=reference_name,
                offsetgroup="reference",
                marker_color=REFERENCE_COLOUR,
                hovertemplate=f"{reference_name}: %{{x}} %{{y:.2%}}<extra></extra>",
            ),
            go.Bar(
                x=[value for value in values if value not in new],
                y=[share for value, share in zip(values, current, strict=True) if value not in new],
                name=current_name,
                offsetgroup="current",
                marker_color=CURRENT_COLOUR,
                hovertemplate=f"{current_name}: %{{x}} %{{y:.2%}}<extra></extra>",
            ),
        ]
        if new:
            traces.append(
                go.Bar(
                    x=[value for value in values if value in new],
                    y=[share for value, share in zip(values, current, strict=True) if value in new],
                    name=f"{current_name}: new category",
                    offsetgroup="current",
                    marker={"color": DRIFTED_COLOUR, "line": {"color": "#5c1410", "width": 1}},
                    customdata=[note for value, note in zip(values, notes, strict=True) if note],
                    hovertemplate=(
                        f"{current_name}: %{{x}} %{{y:.2%}}%{{customdata}}<extra></extra>"
                    ),
                )
            )
        axis = _category_axis(unit, values)
        return traces, axis, "group"
    return None


def feature_distribution_figure(feature: Mapping[str, Any]) -> dict[str, Any] | None:
    """Reference against current for one feature, from its stored histogram: semi-transparent
    overlaid bars of the share of values per bin for numbers (the end bins hold the tails),
    grouped bars per value for categories with new categories in red. The title gives the
    feature and the verdict; the legend gives each side's missing rate."""
    histogram = feature.get("histogram")
    if not isinstance(histogram, Mapping):
        return None
    name = str(feature.get("name", ""))
    kind = histogram.get("kind") or feature.get("kind")
    unit = f"{name} (column units)" if kind == "numeric" else f"{name} (value)"
    built = _distribution_traces(
        {**histogram, "kind": kind} if kind else histogram,
        reference_name=_side_name("reference", feature.get("reference_missing_rate")),
        current_name=_side_name("current", feature.get("current_missing_rate")),
        new_values=feature.get("new_categories") or (),
        unit=unit,
    )
    if built is None:
        return None
    traces, x_axis, barmode = built
    verdict = _verdict(feature.get("drifted"))
    if feature.get("drifted") is None:
        verdict = "not decided"
    figure = go.Figure(
        traces,
        layout=_layout(
            f"{name}: reference vs current ({verdict})",
            x_axis["title"]["text"],
            "share of values",
            xaxis=x_axis,
            yaxis={
                "title": {"text": "share of values (non-missing)"},
                "tickformat": ".0%",
                "rangemode": "tozero",
                "automargin": True,
            },
            barmode=barmode,
            bargap=0.02 if barmode == "overlay" else 0.2,
            legend=_horizontal_legend(),
            height=340,
        ),
    )
    return _as_dict(figure)


def _side_name(side: str, missing_rate: Any) -> str:
    rate = _number(missing_rate)
    return side if rate is None else f"{side} ({rate * 100:.3g}% missing)"


# --------------------------------------------------------------------------------------------
# Domain classifier
# --------------------------------------------------------------------------------------------


def importance_figure(importances: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The features that let the domain classifier tell current rows from reference rows:
    horizontal bars, the most telling on top (at most 30)."""
    rows = [
        (str(entry["feature"]), value)
        for entry in importances
        if (value := _number(entry.get("importance"))) is not None
    ]
    if not rows:
        return None
    rows.sort(key=lambda row: -row[1])
    shown = rows[:IMPORTANCE_BARS]
    title = "What tells current from reference"
    if len(rows) > len(shown):
        title += f" (top {len(shown)} of {len(rows)} features)"
    x_title = "importance (drop in ROC AUC when the feature is shuffled)"
    figure = go.Figure(
        go.Bar(
            x=[value for _, value in shown],
            y=[feature for feature, _ in shown],
            orientation="h",
            marker_color=[
                COLOURS["primary"] if value > 0 else COLOURS["muted"] for _, value in shown
            ],
            hovertemplate="%{y}: AUC drop %{x:.4f}<extra></extra>",
        ),
        layout=_layout(
            title,
            x_title,
            "feature",
            yaxis={
                "title": {"text": "feature"},
                "type": "category",
                "autorange": "reversed",
                "automargin": True,
            },
            height=max(220, 80 + 24 * len(shown)),
        ),
    )
    return _as_dict(figure)


def auc_figure(
    domain: Mapping[str, Any], *, threshold: float | None = None
) -> dict[str, Any] | None:
    """The domain classifier's cross-validated ROC AUC with its 95% interval on a 0.5–1 axis,
    beside the chance line (0.5) and the practical threshold (``threshold``, else the stored
    ``auc_threshold``; no line when neither is known)."""
    auc = _number(domain.get("auc"))
    if auc is None:
        return None
    low = _number(domain.get("auc_low"))
    high = _number(domain.get("auc_high"))
    if threshold is None:
        threshold = _number(domain.get("auc_threshold"))
    drifted = bool(domain.get("drifted"))
    colour = DRIFTED_COLOUR if drifted else COLOURS["primary"]
    interval = "" if low is None or high is None else f"<br>95% CI {low:.3f}–{high:.3f}"
    hover = (
        f"ROC AUC {auc:.4f}{interval}<br>p-value vs chance {_p_value(domain.get('p_value'))}"
        f"<br>{_verdict(drifted)}"
    )
    rows_reference = domain.get("rows_reference")
    rows_current = domain.get("rows_current")
    if isinstance(rows_reference, int) and isinstance(rows_current, int):
        hover += f"<br>{rows_reference:,} reference / {rows_current:,} current rows"
    error_x: dict[str, Any] = {"visible": False}
    if low is not None and high is not None:
        error_x = {
            "type": "data",
            "symmetric": False,
            "array": [max(0.0, high - auc)],
            "arrayminus": [max(0.0, auc - low)],
            "color": colour,
            "thickness": 2,
            "width": 8,
        }
    lowest = min(value for value in (0.5, auc, low, threshold) if value is not None)
    shapes = [_vertical_line(0.5, COLOURS["muted"], "dot")]
    # Chance is labelled above the plot and the threshold just inside it, so the two labels
    # do not overlap when the lines are close.
    annotations = [_line_label(0.5, "chance (0.5)", above=True)]
    if threshold is not None:
        shapes.append(_vertical_line(threshold, COLOURS["warning"], "dash"))
        annotations.append(_line_label(threshold, f"threshold ({threshold:g})", above=False))
    label = "domain classifier"
    figure = go.Figure(
        go.Scatter(
            x=[auc],
            y=[label],
            mode="markers",
            marker={"color": colour, "size": 14, "symbol": "x" if drifted else "circle"},
            error_x=error_x,
            name="ROC AUC",
            hovertext=[hover],
            hovertemplate="%{hovertext}<extra></extra>",
        ),
        layout=_layout(
            f"Domain classifier ROC AUC: {auc:.3f} ({_verdict(drifted)})",
            "cross-validated ROC AUC (0.5 = indistinguishable, 1 = fully separable)",
            "",
            xaxis={
                "title": {
                    "text": "cross-validated ROC AUC (0.5 = indistinguishable, 1 = fully separable)"
                },
                "range": [min(0.48, lowest - 0.02), 1.0],
                "automargin": True,
            },
            yaxis={"title": {"text": ""}, "type": "category", "showticklabels": False},
            shapes=shapes,
            annotations=annotations,
            showlegend=False,
            height=200,
            margin={"l": 30, "r": 20, "t": 60, "b": 50},
        ),
    )
    return _as_dict(figure)


def _vertical_line(x: float, colour: str, dash: str) -> dict[str, Any]:
    return {
        "type": "line",
        "xref": "x",
        "yref": "paper",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": colour, "dash": dash, "width": 2},
    }


def _line_label(x: float, text: str, *, above: bool) -> dict[str, Any]:
    return {
        "x": x,
        "xref": "x",
        "y": 1,
        "yref": "paper",
        "yanchor": "bottom" if above else "top",
        "xanchor": "left",
        "xshift": 3,
        "text": text,
        "showarrow": False,
        "font": {"size": 11},
    }


# --------------------------------------------------------------------------------------------
# Predictions
# --------------------------------------------------------------------------------------------


def prediction_figures(prediction: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Prediction drift, from its stored result: the predicted class shares (classification)
    or the predicted value histogram (regression), reference against current, and the
    confidence (max predicted probability) histograms overlaid. Each part without a stored
    histogram is left out; an empty list when there is nothing to draw."""
    if not prediction:
        return []
    figures: list[dict[str, Any]] = []
    task = prediction.get("task")
    predictions = prediction.get("predictions")
    if isinstance(predictions, Mapping):
        what = "Predicted values" if task == "regression" else "Predicted classes"
        axis = "predicted value (target units)" if task == "regression" else "predicted class"
        figure = _side_by_side(predictions, f"{what}: reference vs current", axis)
        if figure is not None:
            figures.append(figure)
    confidence = prediction.get("confidence")
    if isinstance(confidence, Mapping):
        figure = _side_by_side(
            confidence,
            "Confidence: reference vs current",
            "confidence (max predicted probability, 0–1)",
            tails=False,  # stored on the fixed range [0, 1]
        )
        if figure is not None:
            figures.append(figure)
    return figures


def _side_by_side(
    part: Mapping[str, Any], title: str, x_title: str, *, tails: bool = True
) -> dict[str, Any] | None:
    histogram = part.get("histogram")
    if not isinstance(histogram, Mapping):
        return None
    built = _distribution_traces(
        histogram,
        new_values=part.get("new_classes") or part.get("new_categories") or (),
        unit=x_title,
        tails=tails,
    )
    if built is None:
        return None
    traces, x_axis, barmode = built
    if part.get("drifted") is not None:
        title += f" ({_verdict(part.get('drifted'))})"
    # The test's figures go in a subtitle, so the title stays short enough to read.
    details = []
    effect = _number(part.get("effect"))
    if effect is not None and part.get("effect_name"):
        name = EFFECT_NAMES.get(part["effect_name"], part["effect_name"])
        details.append(f"{name} {effect:.3g}")
    if part.get("p_value") is not None:
        details.append(f"p = {_p_value(part.get('p_value'))}")
    means = [_number(part.get(f"{side}_mean")) for side in ("reference", "current")]
    if means[0] is not None and means[1] is not None:
        details.append(f"mean {means[0]:.3f} in the reference, {means[1]:.3f} now")
    layout = _layout(
        title,
        x_title,
        "share of rows",
        xaxis=x_axis,
        yaxis={
            "title": {"text": "share of rows"},
            "tickformat": ".0%",
            "rangemode": "tozero",
            "automargin": True,
        },
        barmode=barmode,
        bargap=0.02 if barmode == "overlay" else 0.2,
        legend=_horizontal_legend(),
        height=340,
    )
    if details:
        layout["title"]["subtitle"] = {"text": " · ".join(details), "font": {"size": 12}}
        layout["margin"] = {**layout["margin"], "t": 64}
    figure = go.Figure(traces, layout=layout)
    return _as_dict(figure)
