"""Prediction rows -> additive hourly partial aggregates, and the figures read out of them.

Plain Python and numpy (no Django), so the prediction log, a benchmark or a test can call it.

Every stored batch of predictions becomes one partial per (model version, hour)
(:func:`partials`); ground truth that arrives later adds a partial of its own
(:func:`label_partials`, ``sign=-1`` retracts a label that is being replaced); failed requests
add :func:`error_partials`. A reader sums any number of partials with :func:`merge` and turns
the sum into dashboard figures with :func:`summary`. Because every statistic is a count or a
sum (sparse histograms are ``{bin: count}``), merging is an elementwise sum and the order of
merging does not matter; only ``min`` and ``max`` merge by min and max.

The ``stats`` layout (JSON, string keys only; a part is absent when there is no data)::

    "latency":    {"n", "sum", "bins": {k: count}}   # bin k: [10^(k/25), 10^((k+1)/25)) ms
    "confidence": {"n", "sum", "bins": {i: count}}   # bin i: [i/20, (i+1)/20), 1.0 in bin 19
    "classes":    {class: count}                     # classification: predictions per class
    "values":     {"n", "sum", "sumsq", "min", "max",     # regression predictions
                   "negative": {k: count}, "zero": count, "positive": {k: count}}
                                                     # |value| in [10^(k/25), 10^((k+1)/25))
    "labels":     classification: {"n", "correct",
                                   "per_class": {class: {"true", "predicted", "hits"}},
                                   "roc": {class: {"positive": {b: count},
                                                   "negative": {b: count}}}}
                  regression: {"n", "abs_error", "sq_error"}

Classes are compared as text (:func:`class_key`: ``1``, ``1.0``, ``"1"`` and ``"1.0"`` are the
same class). ``roc`` holds, for each scored class, the histogram (100 bins on [0, 1]) of that
class's probability over the labelled rows that are that class ("positive") and the others
("negative"): for a binary model only the second class in sorted order (the positive one;
numbers sort as numbers, before text), for a multiclass model every class (macro one-vs-rest).

Log-scale bins make a quantile's relative error at most 10^(1/50) - 1 = 4.7% (the estimate is
the geometric middle of the bin holding it) whatever the unit and range.
"""

from __future__ import annotations

import math
import numbers
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CLASSIFICATION",
    "CONFIDENCE_BINS",
    "LOG_BINS_PER_DECADE",
    "REGRESSION",
    "SCORE_BINS",
    "class_key",
    "error_partials",
    "hour_of",
    "label_partials",
    "merge",
    "partials",
    "summary",
]

CLASSIFICATION = "classification"
REGRESSION = "regression"
TASKS = (CLASSIFICATION, REGRESSION)

#: Log-scale histograms (latency, regression values): bins per factor of 10.
LOG_BINS_PER_DECADE = 25
#: Latencies below this (ms) share the lowest bin.
LATENCY_FLOOR_MS = 1e-3
#: Regression values smaller than this in magnitude count as zero.
ZERO_MAGNITUDE = 1e-12
CONFIDENCE_BINS = 20
#: Probability histograms behind the ROC AUC.
SCORE_BINS = 100
#: Significant digits of the floats :func:`summary` returns: sums merged in another order
#: differ in the last bits, and a dashboard has no use for them.
SIGNIFICANT_DIGITS = 10

_SECONDS_PER_HOUR = 3_600
_INTEGRAL_TEXT = re.compile(r"-?\d+\.0*")
_MERGED_BY = {"min": min, "max": max}
#: The parts of the stats that are {bin or class: count} and nothing else.
_HISTOGRAMS = frozenset({"bins", "classes", "positive", "negative"})

Stats = dict[str, Any]
Row = Mapping[str, Any]
FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------------------------
# Partials
# --------------------------------------------------------------------------------------------


def hour_of(ts: datetime) -> datetime:
    """The start of the hour holding `ts`, in the same time zone (floored in UTC, so zones
    with half-hour offsets still share the hours of the rollups)."""
    if ts.tzinfo is None:
        return ts.replace(minute=0, second=0, microsecond=0)
    return ts.astimezone(UTC).replace(minute=0, second=0, microsecond=0).astimezone(ts.tzinfo)


def partials(rows: Iterable[Row], *, task: str) -> list[dict[str, Any]]:
    """One partial per (model version, hour) of `rows`: requests, labelled rows, and the
    latency, confidence, prediction and (for labelled rows) performance statistics."""
    _check_task(task)
    result = []
    for (version_id, hour), members in _grouped(rows).items():
        labelled = [row for row in members if row.get("label") is not None]
        stats = _request_stats(members, task)
        label_stats = _label_stats(labelled, task)
        if label_stats:
            stats["labels"] = label_stats
        result.append(
            _partial(version_id, hour, requests=len(members), labelled=len(labelled), stats=stats)
        )
    return result


def label_partials(rows: Iterable[Row], *, task: str, sign: int) -> list[dict[str, Any]]:
    """The ground-truth part of the rows that carry a label (their count and performance
    statistics) times `sign`: +1 adds labels, -1 retracts labels that are being replaced."""
    _check_task(task)
    if sign not in (1, -1):
        raise ValueError(f"sign must be 1 or -1, not {sign!r}")
    result = []
    labelled = (row for row in rows if row.get("label") is not None)
    for (version_id, hour), members in _grouped(labelled).items():
        label_stats = _label_stats(members, task)
        stats = {"labels": _scaled(label_stats, sign)} if label_stats else {}
        result.append(_partial(version_id, hour, labelled=sign * len(members), stats=stats))
    return result


def error_partials(rows: Iterable[Row]) -> list[dict[str, Any]]:
    """Failed requests (rows of model_version_id and logged_at), counted per hour."""
    return [
        _partial(version_id, hour, errors=len(members))
        for (version_id, hour), members in _grouped(rows).items()
    ]


def merge(stats_list: Iterable[Mapping[str, Any]]) -> Stats:
    """The sum of several partials' stats (min and max merge by min and max). Counts that
    sum to zero (a retracted label) are dropped, so the result stays as sparse as its parts."""
    total: Stats = {}
    for stats in stats_list:
        _add_into(total, stats)
    return _pruned(total)


def _grouped(rows: Iterable[Row]) -> dict[tuple[Any, datetime], list[Row]]:
    """`rows` by (model version, hour); a batch is usually one group, found in one pass."""
    rows = list(rows)
    stamps = [row["logged_at"] for row in rows]
    if any(stamp.tzinfo is None for stamp in stamps):  # naive times are taken as UTC
        stamps = [stamp.replace(tzinfo=stamp.tzinfo or UTC) for stamp in stamps]
    keys = [
        (row["model_version_id"], int(stamp.timestamp() // _SECONDS_PER_HOUR))
        for row, stamp in zip(rows, stamps, strict=True)
    ]
    by_key: dict[tuple[Any, int], list[Row]] = {}
    if keys and keys.count(keys[0]) == len(keys):
        by_key[keys[0]] = rows
    else:
        for key, row in zip(keys, rows, strict=True):
            by_key.setdefault(key, []).append(row)
    return {
        (version_id, datetime.fromtimestamp(epoch_hour * _SECONDS_PER_HOUR, UTC)): members
        for (version_id, epoch_hour), members in by_key.items()
    }


def _partial(
    version_id: Any,
    hour: datetime,
    *,
    requests: int = 0,
    errors: int = 0,
    labelled: int = 0,
    stats: Stats | None = None,
) -> dict[str, Any]:
    return {
        "model_version_id": version_id,
        "hour": hour,
        "requests": requests,
        "errors": errors,
        "labelled": labelled,
        "stats": stats or {},
    }


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")


# Statistics of requests ---------------------------------------------------------------------


def _request_stats(rows: Sequence[Row], task: str) -> Stats:
    stats: Stats = {}
    latencies = _finite([row.get("latency_ms") for row in rows])
    if latencies.size:
        stats["latency"] = {
            "n": int(latencies.size),
            "sum": float(latencies.sum()),
            "bins": _log_bins(np.maximum(latencies, LATENCY_FLOOR_MS)),
        }
    confidences = _finite([_confidence_of(row) for row in rows])
    if confidences.size:
        bins = np.clip(confidences * CONFIDENCE_BINS, 0, CONFIDENCE_BINS - 1).astype(np.int64)
        stats["confidence"] = {
            "n": int(confidences.size),
            "sum": float(confidences.sum()),
            "bins": _sparse(bins),
        }
    if task == CLASSIFICATION:
        classes = Counter(
            class_key(row["prediction"]) for row in rows if row.get("prediction") is not None
        )
        if classes:
            stats["classes"] = dict(classes)
    else:
        values = _finite([row.get("prediction") for row in rows])
        if values.size:
            stats["values"] = _value_stats(values)
    return stats


def _confidence_of(row: Row) -> Any:
    """The row's confidence, else its largest class probability (a non-finite probability
    is stored as null: it is skipped)."""
    confidence = row.get("confidence")
    if confidence is None and row.get("probabilities"):
        finite = [p for p in row["probabilities"].values() if math.isfinite(_number(p))]
        return max(finite, key=_number, default=None)
    return confidence


def _value_stats(values: FloatArray) -> Stats:
    magnitudes = np.abs(values)
    nonzero = magnitudes >= ZERO_MAGNITUDE
    stats: Stats = {
        "n": int(values.size),
        "sum": float(values.sum()),
        "sumsq": float(np.dot(values, values)),
        "min": float(values.min()),
        "max": float(values.max()),
    }
    negative = magnitudes[nonzero & (values < 0)]
    positive = magnitudes[nonzero & (values > 0)]
    if negative.size:
        stats["negative"] = _log_bins(negative)
    if int((~nonzero).sum()):
        stats["zero"] = int((~nonzero).sum())
    if positive.size:
        stats["positive"] = _log_bins(positive)
    return stats


# Statistics of ground truth -----------------------------------------------------------------


def _label_stats(rows: Sequence[Row], task: str) -> Stats:
    if task == CLASSIFICATION:
        return _classification_label_stats(rows)
    return _regression_label_stats(rows)


def _classification_label_stats(rows: Sequence[Row]) -> Stats:
    scored = [row for row in rows if row.get("prediction") is not None]
    if not scored:
        return {}
    truth = [class_key(row["label"]) for row in scored]
    predicted = [class_key(row["prediction"]) for row in scored]
    true_counts = Counter(truth)
    predicted_counts = Counter(predicted)
    hits = Counter(name for name, guess in zip(truth, predicted, strict=True) if name == guess)
    per_class = {
        name: {
            "true": true_counts.get(name, 0),
            "predicted": predicted_counts.get(name, 0),
            "hits": hits.get(name, 0),
        }
        for name in sorted(true_counts.keys() | predicted_counts.keys(), key=_class_order)
    }
    stats: Stats = {"n": len(scored), "correct": sum(hits.values()), "per_class": per_class}
    roc = _roc_stats([row.get("probabilities") for row in scored], truth)
    if roc:
        stats["roc"] = roc
    return stats


def _roc_stats(probabilities: Sequence[Mapping[Any, Any] | None], truth: Sequence[str]) -> Stats:
    """Per scored class, the histograms of its probability over positives and negatives.

    Rows are grouped by their probability keys (one group for rows of one model version),
    so each group is one matrix."""
    filled = [probs or {} for probs in probabilities]
    key_sets = list(map(tuple, filled))
    by_keys: dict[tuple[Any, ...], list[int]] = {}
    if key_sets and key_sets.count(key_sets[0]) == len(key_sets):
        by_keys[key_sets[0]] = list(range(len(key_sets)))
    else:
        for index, key_set in enumerate(key_sets):
            by_keys.setdefault(key_set, []).append(index)
    roc: Stats = {}
    truth_array = np.array(truth, dtype=object)
    for keys, indexes in by_keys.items():
        if len(keys) < 2:
            continue
        names = [class_key(key) for key in keys]
        ordered = sorted(range(len(keys)), key=lambda column: _class_order(names[column]))
        # Binary: the second class in sorted order is the positive one; its AUC is the model's.
        columns = ordered[1:2] if len(keys) == 2 else ordered
        # Rows in one group list their keys in the same order, so values() lines up.
        matrix = _floats([value for index in indexes for value in filled[index].values()])
        matrix = matrix.reshape(len(indexes), len(keys))
        actual = truth_array[indexes]
        for column in columns:
            scores = matrix[:, column]
            usable = np.isfinite(scores)
            bins = np.clip(scores[usable] * SCORE_BINS, 0, SCORE_BINS - 1).astype(np.int64)
            is_class = actual[usable] == names[column]
            _add_into(
                roc.setdefault(names[column], {}),
                {"positive": _sparse(bins[is_class]), "negative": _sparse(bins[~is_class])},
            )
    return roc


def _regression_label_stats(rows: Sequence[Row]) -> Stats:
    predictions = _floats([row.get("prediction") for row in rows])
    labels = _floats([row["label"] for row in rows])
    array = np.stack([predictions, labels], axis=1)
    array = array[np.isfinite(array).all(axis=1)]
    if not array.size:
        return {}
    errors = array[:, 0] - array[:, 1]
    return {
        "n": int(errors.size),
        "abs_error": float(np.abs(errors).sum()),
        "sq_error": float(np.dot(errors, errors)),
    }


# Helpers ------------------------------------------------------------------------------------


def class_key(value: Any) -> str:
    """A class as text, so predictions, labels and probability keys compare whatever JSON
    made of them: ``1``, ``1.0``, ``"1"`` and ``"1.0"`` are all ``"1"``; ``True`` is ``"True"``."""
    kind = type(value)
    if kind is int:  # the common cases first: this runs for every prediction and label
        return str(value)
    if kind is str and "." not in value:
        return value  # type: ignore[no-any-return]
    if isinstance(value, str):
        if _INTEGRAL_TEXT.fullmatch(value):
            return value.split(".", 1)[0]
        return value
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def _class_order(name: str) -> tuple[int, float, str]:
    """Numbers in numeric order (2 before 10), then text in text order."""
    try:
        number = float(name)
    except ValueError:
        return (1, 0.0, name)
    return (0, number, name) if math.isfinite(number) else (1, 0.0, name)


def _number(value: Any) -> float:
    """`value` as a float (numeric text included), or NaN when it is not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _finite(values: Sequence[Any]) -> FloatArray:
    """The finite numbers among `values` (None, text and NaN left out)."""
    array = _floats(values)
    return array[np.isfinite(array)]


def _floats(values: Sequence[Any]) -> FloatArray:
    """`values` as floats, NaN where one is not a number. numpy converts the usual list of
    numbers (and None) in one call; a list with anything else goes value by value."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is None or array.shape != (len(values),):  # lists among the values, say
        array = np.array([_number(value) for value in values], dtype=np.float64)
    return array


def _log_bins(positive: FloatArray) -> dict[str, int]:
    return _sparse(np.floor(np.log10(positive) * LOG_BINS_PER_DECADE).astype(np.int64))


def _sparse(bins: npt.NDArray[np.int64]) -> dict[str, int]:
    if not bins.size:
        return {}
    keys, counts = np.unique(bins, return_counts=True)
    return {str(key): count for key, count in zip(keys.tolist(), counts.tolist(), strict=True)}


def _scaled(stats: Mapping[str, Any], sign: int) -> Stats:
    return {
        key: _scaled(value, sign) if isinstance(value, Mapping) else value * sign
        for key, value in stats.items()
    }


def _add_into(total: Stats, stats: Mapping[str, Any]) -> None:
    # A dashboard merges thousands of hourly stats: this loop is the read side's hot spot,
    # hence the exact dict checks and the flat loop for histograms ({bin: count}).
    for key, value in stats.items():
        if type(value) is dict:
            into = total.get(key)
            if into is None:
                into = total[key] = {}
            # (A class may be called "positive": its per-class entry holds dicts, not counts.)
            if key in _HISTOGRAMS and type(next(iter(value.values()), 0)) is int:
                get = into.get
                for bin_key, count in value.items():
                    into[bin_key] = get(bin_key, 0) + count
            else:
                _add_into(into, value)
        elif key in _MERGED_BY and key in total:
            total[key] = _MERGED_BY[key](total[key], value)
        else:
            total[key] = total.get(key, 0) + value


def _pruned(stats: Mapping[str, Any]) -> Stats:
    result: Stats = {}
    for key, value in stats.items():
        if isinstance(value, dict):
            value = _pruned(value)
            if value:
                result[key] = value
        elif not (type(value) is int and value == 0 and key not in _MERGED_BY):
            result[key] = value
    return result


# --------------------------------------------------------------------------------------------
# Reading figures
# --------------------------------------------------------------------------------------------


def summary(
    stats: Mapping[str, Any], *, requests: int, errors: int, labelled: int, task: str
) -> dict[str, Any]:
    """The figures of merged stats: volume, errors, latency, confidence, predictions and
    performance. Every figure is None when there is no data for it."""
    _check_task(task)
    attempts = requests + errors
    return {
        "requests": requests,
        "errors": errors,
        "error_rate": _figure(errors / attempts) if attempts > 0 else None,
        "labelled": labelled,
        "labelled_fraction": _figure(min(labelled / requests, 1.0)) if requests > 0 else None,
        "latency": _latency_summary(stats.get("latency") or {}),
        "confidence": _confidence_summary(stats.get("confidence") or {}),
        "predictions": (
            _classes_summary(stats.get("classes") or {})
            if task == CLASSIFICATION
            else _values_summary(stats.get("values") or {})
        ),
        "performance": _performance_summary(stats.get("labels") or {}, labelled, task),
    }


def _latency_summary(latency: Mapping[str, Any]) -> dict[str, float | None]:
    count = latency.get("n", 0)
    pairs = [(_log_middle(int(key)), n) for key, n in latency.get("bins", {}).items()]
    p50, p95, p99 = _quantiles(pairs, (0.50, 0.95, 0.99))
    return {
        "p50": _figure(p50),
        "p95": _figure(p95),
        "p99": _figure(p99),
        "mean": _figure(latency.get("sum", 0.0) / count) if count > 0 else None,
    }


def _confidence_summary(confidence: Mapping[str, Any]) -> dict[str, Any]:
    count = confidence.get("n", 0)
    bins = confidence.get("bins", {})
    counts = [max(int(bins.get(str(index), 0)), 0) for index in range(CONFIDENCE_BINS)]
    return {
        "mean": _figure(confidence.get("sum", 0.0) / count) if count > 0 else None,
        "p10": _figure(_linear_quantile(counts, 0.10)),
        "histogram": {
            "edges": [index / CONFIDENCE_BINS for index in range(CONFIDENCE_BINS + 1)],
            "counts": counts,
        },
    }


def _classes_summary(classes: Mapping[str, int]) -> dict[str, Any]:
    counts = {name: classes[name] for name in sorted(classes, key=_class_order)}
    return {"kind": "classes", "counts": {name: n for name, n in counts.items() if n > 0}}


def _values_summary(values: Mapping[str, Any]) -> dict[str, Any]:
    count = values.get("n", 0)
    figures: dict[str, Any] = dict.fromkeys(("mean", "std", "min", "max", "p05", "p50", "p95"))
    if count <= 0:
        return {"kind": "values", **figures}
    mean = values["sum"] / count
    variance = max(values["sumsq"] / count - mean * mean, 0.0)
    pairs = [(-_log_middle(int(key)), n) for key, n in values.get("negative", {}).items()]
    pairs.append((0.0, values.get("zero", 0)))
    pairs += [(_log_middle(int(key)), n) for key, n in values.get("positive", {}).items()]
    lowest, highest = values["min"], values["max"]
    # The exact extremes bound the estimates: no quantile outside the values seen.
    quantiles = [
        None if q is None else min(max(q, lowest), highest)
        for q in _quantiles(pairs, (0.05, 0.50, 0.95))
    ]
    figures.update(
        mean=_figure(mean),
        std=_figure(math.sqrt(variance)),
        min=_figure(lowest),
        max=_figure(highest),
        p05=_figure(quantiles[0]),
        p50=_figure(quantiles[1]),
        p95=_figure(quantiles[2]),
    )
    return {"kind": "values", **figures}


def _performance_summary(labels: Mapping[str, Any], labelled: int, task: str) -> dict[str, Any]:
    count = labels.get("n", 0)
    known = labelled > 0 and count > 0
    if task == REGRESSION:
        if not known:
            return {"mae": None, "rmse": None}
        return {
            "mae": _figure(labels["abs_error"] / count),
            "rmse": _figure(math.sqrt(max(labels["sq_error"], 0.0) / count)),
        }
    if not known:
        return {"accuracy": None, "f1": None, "roc_auc": None}
    # Per class F1 = 2 hits / (true + predicted); macro over the classes seen on either side.
    f1_scores = [
        2 * counts.get("hits", 0) / (counts.get("true", 0) + counts.get("predicted", 0))
        for counts in labels.get("per_class", {}).values()
        if counts.get("true", 0) + counts.get("predicted", 0) > 0
    ]
    aucs = [
        auc
        for histograms in labels.get("roc", {}).values()
        if (auc := _binned_auc(histograms.get("positive", {}), histograms.get("negative", {})))
        is not None
    ]
    return {
        "accuracy": _figure(labels.get("correct", 0) / count),
        "f1": _figure(sum(f1_scores) / len(f1_scores)) if f1_scores else None,
        "roc_auc": _figure(sum(aucs) / len(aucs)) if aucs else None,
    }


def _binned_auc(positive: Mapping[str, int], negative: Mapping[str, int]) -> float | None:
    """P(score of a positive > score of a negative), a tie within a bin counting half."""
    positives = np.zeros(SCORE_BINS)
    negatives = np.zeros(SCORE_BINS)
    for histogram, into in ((positive, positives), (negative, negatives)):
        for key, count in histogram.items():
            into[int(key)] += count
    positives = np.maximum(positives, 0)
    negatives = np.maximum(negatives, 0)
    total_positive, total_negative = positives.sum(), negatives.sum()
    if total_positive <= 0 or total_negative <= 0:
        return None
    negatives_below = np.cumsum(negatives) - negatives
    wins = float(np.dot(positives, negatives_below + 0.5 * negatives))
    return wins / float(total_positive * total_negative)


def _quantiles(pairs: Iterable[tuple[float, int]], levels: Sequence[float]) -> list[float | None]:
    """Quantiles of a histogram given as (representative value, count) pairs: the value of the
    bin holding the order statistic at position q * (n - 1), as numpy's default would."""
    ordered = sorted((value, count) for value, count in pairs if count > 0)
    if not ordered:
        return [None] * len(levels)
    values = np.array([value for value, _ in ordered])
    cumulative = np.cumsum([count for _, count in ordered])
    positions = np.asarray(levels) * (cumulative[-1] - 1)
    indexes = np.minimum(np.searchsorted(cumulative, positions, side="right"), len(values) - 1)
    return [float(values[index]) for index in indexes]


def _linear_quantile(counts: Sequence[int], level: float) -> float | None:
    """A quantile of the [0, 1] histogram, interpolated linearly within its bin."""
    total = sum(counts)
    if total <= 0:
        return None
    position = level * (total - 1) + 0.5
    below = 0
    for index, count in enumerate(counts):
        if count and below + count >= position:
            return (index + (position - below) / count) / len(counts)
        below += count
    return 1.0


def _log_middle(key: int) -> float:
    """The geometric middle of log-scale bin `key`."""
    return float(10 ** ((key + 0.5) / LOG_BINS_PER_DECADE))


def _figure(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
