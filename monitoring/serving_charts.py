"""Plotly figures of a model's runtime behaviour, built from rollup summaries, never from the
prediction log.

Each function takes the time series that ``monitoring.prediction_stats.series`` returns (one
item per bucket: ``{"start": datetime, "summary": {...}, "by_version": {version: requests}}``,
the summary shaped by ``monitoring.rollups.summary``) or one summary, and returns a JSON-able
``{"data": [...], "layout": {...}}`` validated by Plotly. A figure is always returned: without
data it is an empty frame with a note saying why, so the page keeps its layout and says what
is missing. Times are UTC; each bar or point covers its whole bucket (an hour or a day) and its
hover names the bucket and the exact figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import plotly.graph_objects as go

from lineage.charts import COLOURS, _as_dict, _layout

__all__ = [
    "BUCKET_SECONDS",
    "MAX_CLASSES",
    "VERSION_COLOURS",
    "confidence_histogram_figure",
    "confidence_trend_figure",
    "latency_figure",
    "performance_figure",
    "prediction_figure",
    "volume_figure",
]

BUCKET_SECONDS = {"hour": 3_600, "day": 86_400}
#: Classes beyond this many (the rarest) are drawn together as one "other classes" band.
MAX_CLASSES = 10
OTHER_CLASSES = "(other classes)"
#: Colour-blind-safe qualitative colours (Okabe-Ito), in the order versions and classes get them.
VERSION_COLOURS = (
    "#0072b2",
    "#e69f00",
    "#009e73",
    "#cc79a7",
    "#56b4e9",
    "#d55e00",
    "#f0e442",
    "#000000",
)
ERROR_COLOUR = COLOURS["failed"]
PERCENTILE_STYLES = {
    "p50": {"color": "#0072b2", "dash": "solid"},
    "p95": {"color": "#e69f00", "dash": "dash"},
    "p99": {"color": "#b3261e", "dash": "dot"},
}
CLASSIFICATION_METRICS = (
    ("accuracy", "accuracy", "#0072b2"),
    ("f1", "F1 (macro)", "#009e73"),
    ("roc_auc", "ROC AUC", "#6a3d9a"),
)
REGRESSION_METRICS = (("mae", "MAE", "#0072b2"), ("rmse", "RMSE", "#d55e00"))
FRACTION_COLOUR = "#c9d3de"


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A finite float, or None for missing, non-numeric, NaN or infinite values."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _count(value: Any) -> int:
    number = _number(value)
    return int(number) if number is not None else 0


def _summary(item: Mapping[str, Any]) -> Mapping[str, Any]:
    summary = item.get("summary")
    return summary if isinstance(summary, Mapping) else {}


def _section(summary: Any, key: str) -> Mapping[str, Any]:
    part = summary.get(key) if isinstance(summary, Mapping) else None
    return part if isinstance(part, Mapping) else {}


def _utc(start: Any) -> datetime:
    if isinstance(start, str):
        start = datetime.fromisoformat(start)
    if not isinstance(start, datetime):
        raise TypeError(f"a bucket starts at a datetime, not {type(start).__name__}")
    return start.astimezone(UTC) if start.tzinfo else start.replace(tzinfo=UTC)


def _bucket_seconds(bucket: str) -> int:
    try:
        return BUCKET_SECONDS[bucket]
    except KeyError:
        raise ValueError(f"bucket must be 'hour' or 'day', not {bucket!r}") from None


def _axis_times(series: Sequence[Mapping[str, Any]]) -> list[str]:
    """Bucket starts as naive UTC strings: Plotly reads them as they are, with no time zone
    shift in the browser."""
    return [_utc(item["start"]).strftime("%Y-%m-%d %H:%M") for item in series]


def _bucket_labels(series: Sequence[Mapping[str, Any]], bucket: str) -> list[str]:
    """What the hover calls each bucket: "2026-03-02 14:00–15:00 UTC" or "2026-03-02 (UTC)"."""
    labels = []
    for item in series:
        start = _utc(item["start"])
        if bucket == "day":
            labels.append(f"{start:%Y-%m-%d} (UTC day)")
        else:
            end = start + timedelta(hours=1)
            labels.append(f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC")
    return labels


def _time_axis(series: Sequence[Mapping[str, Any]], bucket: str) -> dict[str, Any]:
    axis: dict[str, Any] = {"title": {"text": "time (UTC)"}, "type": "date", "automargin": True}
    if series:
        first = _utc(series[0]["start"])
        last = _utc(series[-1]["start"]) + timedelta(seconds=_bucket_seconds(bucket))
        axis["range"] = [f"{first:%Y-%m-%d %H:%M}", f"{last:%Y-%m-%d %H:%M}"]
    return axis


def _per_bucket(bucket: str) -> str:
    return "per hour" if bucket == "hour" else "per day"


def _timed(series: Sequence[Mapping[str, Any]], bucket: str) -> dict[str, Any]:
    """The keyword arguments that put a trace's points across their whole bucket."""
    return {
        "x": _axis_times(series),
        "xperiod": _bucket_seconds(bucket) * 1000,
        "xperiodalignment": "middle",
        "customdata": _bucket_labels(series, bucket),
    }


def _legend() -> dict[str, Any]:
    return {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom", "xanchor": "left"}


def _figure(
    traces: Sequence[Any],
    title: str,
    series: Sequence[Mapping[str, Any]],
    bucket: str,
    y_axis: Mapping[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    layout = _layout(
        title,
        "time (UTC)",
        str(y_axis["title"]["text"]),
        xaxis=_time_axis(series, bucket),
        yaxis={"automargin": True, **y_axis},
        legend=_legend(),
        hovermode="closest",
        height=320,
        margin={"l": 60, "r": 20, "t": 95, "b": 50},  # room for a legend on two rows
        **extra,
    )
    return _as_dict(go.Figure(list(traces), layout=layout))


def _empty(
    title: str,
    message: str,
    y_title: str,
    *,
    series: Sequence[Mapping[str, Any]] = (),
    bucket: str = "hour",
    x_axis: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A frame with no data and a note in the middle saying why."""
    layout = _layout(
        title,
        "time (UTC)",
        y_title,
        xaxis=dict(x_axis) if x_axis is not None else _time_axis(series, bucket),
        yaxis={"title": {"text": y_title}, "showticklabels": False, "automargin": True},
        annotations=[
            {
                "text": message,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "showarrow": False,
                "font": {"size": 13, "color": COLOURS["muted"]},
            }
        ],
        height=320,
        margin={"l": 60, "r": 20, "t": 95, "b": 50},  # room for a legend on two rows
    )
    return _as_dict(go.Figure(layout=layout))


def _values(series: Sequence[Mapping[str, Any]], section: str, key: str) -> list[float | None]:
    return [_number(_section(_summary(item), section).get(key)) for item in series]


def _any(values: Sequence[float | None]) -> bool:
    return any(value is not None for value in values)


# --------------------------------------------------------------------------------------------
# Traffic
# --------------------------------------------------------------------------------------------


def _version_key(version: Any) -> tuple[int, str]:
    text = str(version)
    return (int(text), text) if text.lstrip("-").isdigit() else (2**31, text)


def volume_figure(series: Sequence[Mapping[str, Any]], *, bucket: str) -> dict[str, Any]:
    """Requests per bucket as bars stacked by model version (oldest version at the bottom),
    with refused requests (errors) stacked on top in red."""
    title = f"Requests {_per_bucket(bucket)}"
    y_title = f"requests {_per_bucket(bucket)}"
    # JSON may have turned the version numbers into strings: one spelling for both.
    by_version = [
        {
            str(version): _count(requests)
            for version, requests in (item.get("by_version") or {}).items()
        }
        for item in series
    ]
    versions = {version: _version_key(version) for counts in by_version for version in counts}
    errors = [_count(_summary(item).get("errors")) for item in series]
    if not versions and not any(errors):
        return _empty(title, "No requests in this range.", y_title, series=series, bucket=bucket)
    traces = []
    for index, version in enumerate(sorted(versions, key=versions.__getitem__)):
        counts = [bucket_counts.get(version, 0) for bucket_counts in by_version]
        label = f"v{version}" if versions[version][0] < 2**31 else version
        traces.append(
            go.Bar(
                y=counts,
                name=label,
                marker_color=VERSION_COLOURS[index % len(VERSION_COLOURS)],
                hovertemplate=f"{label}: %{{y:,}} requests<br>%{{customdata}}<extra></extra>",
                **_timed(series, bucket),
            )
        )
    if any(errors):
        traces.append(
            go.Bar(
                y=errors,
                name="refused (errors)",
                marker_color=ERROR_COLOUR,
                hovertemplate="%{y:,} refused requests<br>%{customdata}<extra></extra>",
                **_timed(series, bucket),
            )
        )
    return _figure(
        traces,
        title + " by model version",
        series,
        bucket,
        {"title": {"text": y_title}, "rangemode": "tozero", "tickformat": ",d"},
        barmode="stack",
        bargap=0.1,
    )


def latency_figure(series: Sequence[Mapping[str, Any]], *, bucket: str) -> dict[str, Any]:
    """Latency percentiles per bucket: p50, p95 and p99 lines in milliseconds (gaps where a
    bucket had no timed request)."""
    title = "Latency p50 / p95 / p99"
    y_title = "latency (ms)"
    lines = {key: _values(series, "latency", key) for key in PERCENTILE_STYLES}
    if not any(_any(values) for values in lines.values()):
        return _empty(
            title, "No timed requests in this range.", y_title, series=series, bucket=bucket
        )
    traces = [
        go.Scatter(
            y=values,
            name=key,
            mode="lines+markers",
            line={**PERCENTILE_STYLES[key], "width": 2},
            marker={"size": 4, "color": PERCENTILE_STYLES[key]["color"]},
            connectgaps=False,
            hovertemplate=f"{key}: %{{y:,.2f}} ms<br>%{{customdata}}<extra></extra>",
            **_timed(series, bucket),
        )
        for key, values in lines.items()
    ]
    return _figure(
        traces, title, series, bucket, {"title": {"text": y_title}, "rangemode": "tozero"}
    )


# --------------------------------------------------------------------------------------------
# What the model predicts
# --------------------------------------------------------------------------------------------


def prediction_figure(
    series: Sequence[Mapping[str, Any]], *, bucket: str, task: str
) -> dict[str, Any]:
    """The prediction distribution over time: each class's share of the predictions per bucket
    (stacked to 100%) for classifiers, the mean with its p05–p95 band (and the median) for
    regressors."""
    if task == "regression":
        return _value_band_figure(series, bucket)
    return _class_share_figure(series, bucket)


def _class_share_figure(series: Sequence[Mapping[str, Any]], bucket: str) -> dict[str, Any]:
    title = "Predicted classes: share of predictions"
    y_title = "share of predictions"
    counts = []
    for item in series:
        predictions = _section(_summary(item), "predictions")
        raw = predictions.get("counts") if isinstance(predictions.get("counts"), Mapping) else {}
        counts.append({str(label): _count(value) for label, value in (raw or {}).items()})
    totals: dict[str, int] = {}
    for bucket_counts in counts:
        for label, value in bucket_counts.items():
            totals[label] = totals.get(label, 0) + value
    totals = {label: total for label, total in totals.items() if total > 0}
    if not totals:
        return _empty(title, "No predictions in this range.", y_title, series=series, bucket=bucket)
    ranked = sorted(totals, key=lambda label: (-totals[label], label))
    shown = sorted(ranked[:MAX_CLASSES], key=_version_key)
    hidden = set(ranked[MAX_CLASSES:])
    bands: list[tuple[str, list[int]]] = [
        (label, [bucket_counts.get(label, 0) for bucket_counts in counts]) for label in shown
    ]
    if hidden:
        bands.append(
            (
                OTHER_CLASSES,
                [
                    sum(value for label, value in bucket_counts.items() if label in hidden)
                    for bucket_counts in counts
                ],
            )
        )
    bucket_totals = [sum(bucket_counts.values()) for bucket_counts in counts]
    labels = _bucket_labels(series, bucket)
    traces = []
    for index, (label, values) in enumerate(bands):
        shares = [
            value / total if total else None
            for value, total in zip(values, bucket_totals, strict=True)
        ]
        colour = (
            COLOURS["muted"]
            if label == OTHER_CLASSES
            else VERSION_COLOURS[index % len(VERSION_COLOURS)]
        )
        timed = _timed(series, bucket)
        timed["customdata"] = [
            [value, total, text]
            for value, total, text in zip(values, bucket_totals, labels, strict=True)
        ]
        traces.append(
            go.Bar(
                y=shares,
                name=f"class {label}" if label != OTHER_CLASSES else label,
                marker_color=colour,
                hovertemplate=(
                    f"class {label}: %{{y:.1%}} (%{{customdata[0]:,}} of %{{customdata[1]:,}})"
                    "<br>%{customdata[2]}<extra></extra>"
                ),
                **timed,
            )
        )
    return _figure(
        traces,
        title,
        series,
        bucket,
        {"title": {"text": y_title}, "tickformat": ".0%", "range": [0, 1]},
        barmode="stack",
        bargap=0.1,
    )


def _value_band_figure(series: Sequence[Mapping[str, Any]], bucket: str) -> dict[str, Any]:
    title = "Predicted values: mean and p05–p95 band"
    y_title = "predicted value (target units)"
    means = _values(series, "predictions", "mean")
    if not _any(means):
        return _empty(title, "No predictions in this range.", y_title, series=series, bucket=bucket)
    low = _values(series, "predictions", "p05")
    high = _values(series, "predictions", "p95")
    median = _values(series, "predictions", "p50")
    band = "rgba(0, 114, 178, 0.18)"
    traces = [
        go.Scatter(
            y=low,
            name="p05",
            mode="lines",
            line={"width": 0, "color": band},
            showlegend=False,
            connectgaps=False,
            hovertemplate="p05: %{y:,.4g}<br>%{customdata}<extra></extra>",
            **_timed(series, bucket),
        ),
        go.Scatter(
            y=high,
            name="p05–p95",
            mode="lines",
            line={"width": 0, "color": band},
            fill="tonexty",
            fillcolor=band,
            connectgaps=False,
            hovertemplate="p95: %{y:,.4g}<br>%{customdata}<extra></extra>",
            **_timed(series, bucket),
        ),
        go.Scatter(
            y=median,
            name="median",
            mode="lines",
            line={"color": "#e69f00", "dash": "dash", "width": 1.5},
            connectgaps=False,
            hovertemplate="median: %{y:,.4g}<br>%{customdata}<extra></extra>",
            **_timed(series, bucket),
        ),
        go.Scatter(
            y=means,
            name="mean",
            mode="lines+markers",
            line={"color": "#0072b2", "width": 2},
            marker={"size": 4},
            connectgaps=False,
            hovertemplate="mean: %{y:,.4g}<br>%{customdata}<extra></extra>",
            **_timed(series, bucket),
        ),
    ]
    return _figure(traces, title, series, bucket, {"title": {"text": y_title}})


# --------------------------------------------------------------------------------------------
# Confidence
# --------------------------------------------------------------------------------------------


def confidence_histogram_figure(summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """How confident the model was over the whole range: the share of predictions per
    confidence bin (largest class probability, 0–1), with the mean marked."""
    title = "Confidence distribution"
    x_title = "confidence (largest class probability, 0–1)"
    y_title = "share of predictions"
    confidence = _section(summary, "confidence")
    histogram = confidence.get("histogram")
    histogram = histogram if isinstance(histogram, Mapping) else {}
    edges = [
        value
        for value in (_number(edge) for edge in histogram.get("edges") or [])
        if value is not None
    ]
    counts = [_count(count) for count in histogram.get("counts") or []]
    x_axis = {"title": {"text": x_title}, "range": [0, 1], "automargin": True}
    if len(edges) != len(counts) + 1 or not any(counts):
        return _empty(
            title,
            "No class probabilities in this range (regressors and classifiers without "
            "predict_proba have none).",
            y_title,
            x_axis=x_axis,
        )
    total = sum(counts)
    centres = [(edges[i] + edges[i + 1]) / 2 for i in range(len(counts))]
    widths = [edges[i + 1] - edges[i] for i in range(len(counts))]
    ranges = [[f"{edges[i]:.2f}–{edges[i + 1]:.2f}", count] for i, count in enumerate(counts)]
    mean = _number(confidence.get("mean"))
    shapes = []
    annotations = []
    if mean is not None:
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": mean,
                "x1": mean,
                "y0": 0,
                "y1": 1,
                "line": {"color": COLOURS["warning"], "dash": "dash", "width": 2},
            }
        )
        annotations.append(
            {
                "x": mean,
                "xref": "x",
                "y": 1,
                "yref": "paper",
                "yanchor": "bottom",
                "xanchor": "right" if mean > 0.5 else "left",
                "text": f"mean {mean:.3f}",
                "showarrow": False,
                "font": {"size": 11},
            }
        )
    figure = go.Figure(
        go.Bar(
            x=centres,
            y=[count / total for count in counts],
            width=widths,
            customdata=ranges,
            marker_color=COLOURS["primary"],
            name="predictions",
            hovertemplate=(
                "confidence %{customdata[0]}: %{y:.1%} (%{customdata[1]:,} predictions)"
                "<extra></extra>"
            ),
        ),
        layout=_layout(
            title,
            x_title,
            y_title,
            xaxis=x_axis,
            yaxis={"title": {"text": y_title}, "tickformat": ".0%", "automargin": True},
            shapes=shapes,
            annotations=annotations,
            showlegend=False,
            bargap=0.02,
            height=320,
            margin={"l": 60, "r": 20, "t": 95, "b": 50},  # room for a legend on two rows
        ),
    )
    return _as_dict(figure)


def confidence_trend_figure(series: Sequence[Mapping[str, Any]], *, bucket: str) -> dict[str, Any]:
    """Is the model getting less sure? Mean confidence and its 10th percentile per bucket."""
    title = "Confidence over time: mean and 10th percentile"
    y_title = "confidence (0–1)"
    means = _values(series, "confidence", "mean")
    p10 = _values(series, "confidence", "p10")
    if not _any(means) and not _any(p10):
        return _empty(
            title, "No class probabilities in this range.", y_title, series=series, bucket=bucket
        )
    traces = [
        go.Scatter(
            y=means,
            name="mean",
            mode="lines+markers",
            line={"color": "#0072b2", "width": 2},
            marker={"size": 4},
            connectgaps=False,
            hovertemplate="mean confidence %{y:.3f}<br>%{customdata}<extra></extra>",
            **_timed(series, bucket),
        ),
        go.Scatter(
            y=p10,
            name="p10 (least sure 10%)",
            mode="lines+markers",
            line={"color": "#d55e00", "width": 2, "dash": "dash"},
            marker={"size": 4},
            connectgaps=False,
            hovertemplate="10th percentile %{y:.3f}<br>%{customdata}<extra></extra>",
            **_timed(series, bucket),
        ),
    ]
    return _figure(traces, title, series, bucket, {"title": {"text": y_title}, "range": [0, 1.02]})


# --------------------------------------------------------------------------------------------
# Performance, once the ground truth arrives
# --------------------------------------------------------------------------------------------


def performance_figure(
    series: Sequence[Mapping[str, Any]], *, bucket: str, task: str
) -> dict[str, Any]:
    """Performance per bucket on the predictions whose ground truth has arrived: accuracy,
    F1 (macro) and ROC AUC for classifiers, MAE and RMSE for regressors; the labelled fraction
    (share of the bucket's predictions with a label) as light bars on the right axis."""
    regression = task == "regression"
    metrics = REGRESSION_METRICS if regression else CLASSIFICATION_METRICS
    title = "Performance on labelled predictions"
    y_title = "error (target units)" if regression else "score (0–1)"
    lines = {key: _values(series, "performance", key) for key, _, _ in metrics}
    if not any(_any(values) for values in lines.values()):
        return _empty(
            title,
            "No ground truth yet: send labels to POST /api/v1/feedback.",
            y_title,
            series=series,
            bucket=bucket,
        )
    fractions = [_number(_summary(item).get("labelled_fraction")) for item in series]
    labelled = [_count(_summary(item).get("labelled")) for item in series]
    timed = _timed(series, bucket)
    timed["customdata"] = [
        [text, count] for text, count in zip(timed["customdata"], labelled, strict=True)
    ]
    traces = [
        go.Bar(
            y=fractions,
            name="labelled fraction (right axis)",
            yaxis="y2",
            marker_color=FRACTION_COLOUR,
            opacity=0.6,
            hovertemplate=(
                "labelled: %{y:.1%} of predictions (%{customdata[1]:,} labels)"
                "<br>%{customdata[0]}<extra></extra>"
            ),
            **timed,
        )
    ]
    for key, name, colour in metrics:
        traces.append(
            go.Scatter(
                y=lines[key],
                name=name,
                mode="lines+markers",
                line={"color": colour, "width": 2},
                marker={"size": 5},
                connectgaps=False,
                hovertemplate=f"{name}: %{{y:.4g}}<br>%{{customdata}}<extra></extra>",
                **_timed(series, bucket),
            )
        )
    y_axis: dict[str, Any] = {"title": {"text": y_title}}
    y_axis.update({"rangemode": "tozero"} if regression else {"range": [0, 1.02]})
    return _figure(
        traces,
        title,
        series,
        bucket,
        y_axis,
        yaxis2={
            "title": {"text": "labelled fraction"},
            "overlaying": "y",
            "side": "right",
            "range": [0, 1.02],
            # Its own ticks: Plotly would otherwise line them up with the left axis's grid.
            "tickmode": "array",
            "tickvals": [0, 0.25, 0.5, 0.75, 1],
            "tickformat": ".0%",
            "showgrid": False,
            "automargin": True,
        },
        bargap=0.1,
    )
