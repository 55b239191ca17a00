"""Multivariate drift: a domain classifier, and drift in what the model predicts.

The domain classifier asks whether a model can tell current rows from reference rows. If it
can do better than chance, the joint distribution has changed, even when every feature on its
own looks the same (a change in how two features relate to each other). It reports the
cross-validated ROC AUC with a 95% interval, a one-sided test of that AUC against 0.5, the
features it relies on (permutation importance on held-out rows) and the current rows it finds
most unlike the reference.

Steps of :func:`domain_classifier`:

1. Sample at most ``thresholds.classifier_rows`` rows per side (uniform, seeded).
2. Encode the features as one float matrix, column by column: numbers (and timestamps, as
   epoch seconds) as floats, categories as integer codes, missing values as NaN, so that the
   classifier can use missingness as a signal. Columns it cannot use are listed with a reason.
3. Train a gradient-boosted tree classifier (HistGradientBoostingClassifier) per fold of a
   stratified 5-fold split, and keep each row's out-of-fold probability of being "current",
   predicted with the model's rounds up to its best validation loss (see :class:`_BestRounds`).
4. AUC of those probabilities; DeLong's variance for the interval; the Mann-Whitney null
   variance, (n1 + n2 + 1) / (12 n1 n2), for the one-sided p-value against 0.5.
5. Permutation importance (AUC drop) with the first fold's model on its held-out rows.

Calibration, measured on identical distributions (12 numeric and 6 categorical features of
5-250 values): over 100 seeds at 1,000 rows per side the AUC had mean 0.499 and spread 0.0135
against the null's 0.0129, with 1 seed at p < 0.01; over 50 seeds at 5,000 rows, 0.0057
against 0.0058 and none. The interval is conditional on the trained models: it covers the
sampling of the scored rows, not retraining, so under drift the AUC moves more than it says
between two samples (0.012 against 0.005 for a correlation change at 5,000 rows).

Categories: a feature with 3 to ``NATIVE_CATEGORY_LIMIT`` values uses the classifier's native
categorical splits. Larger vocabularies are given as ordinal codes (by frequency over both
samples, most common first) and split like numbers, because native splits over hundreds of
values overfit: on 5,000 rows per side with eight 5-254 value categorical features beside a
correlation change, native splits everywhere stopped the classifier after 10 rounds at AUC
0.51, while ordinal codes reached 0.72, as without the categorical features. One or two
values are numbers too (the classifier ignores a native feature with one value, even when
missing values mark one side).

:func:`prediction_drift` compares what a model predicted on both samples: the class shares
(chi-square, Jensen-Shannon distance) or the predicted values (KS, Wasserstein), and the
confidence, i.e. the highest predicted probability (KS, means).

Everything returned is JSON-safe (plain numbers, text, booleans; None where a number is
undefined) and no input data, however odd, raises: it gives a message instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from monitoring.drift import DriftThresholds, feature_kind
from monitoring.quality import _json_number, _json_value, _label

__all__ = ["MIN_ROWS", "TASKS", "domain_classifier", "prediction_drift"]

#: Below this many rows on either side the classifier is not trained.
MIN_ROWS = 20
#: Categorical features with 3 to this many values use native categorical splits.
NATIVE_CATEGORY_LIMIT = 16
#: The classifier: modest capacity, early stopping on a 10% validation split of each fold.
#: Whole analysis on 2 cores, 50,000 rows per side x 20 features (bench/bench_drift_classifier.py):
#: 1.4 s on unchanged data (stops after ~10 rounds), 4.9 s for a correlation change (~100).
CLASSIFIER_PARAMETERS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 100,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 20,
    "early_stopping": True,
    "validation_fraction": 0.1,
    "n_iter_no_change": 10,
}
#: Permutation importance: repeats per feature, and at most this many held-out rows.
IMPORTANCE_REPEATS = 3
IMPORTANCE_ROWS = 5_000
#: Features named in the message.
FEATURES_IN_MESSAGE = 3

TASKS = ("classification", "regression")
CONFIDENCE_BINS = 20
PREDICTION_BINS = 30
PREDICTION_CLASSES_SHOWN = 30

_Z_95 = float(stats.norm.ppf(0.975))
_SECONDS_PER_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_SECONDS_PER_DAY = 86_400.0


# --------------------------------------------------------------------------------------------
# Domain classifier
# --------------------------------------------------------------------------------------------


@dataclass
class _Design:
    """The sampled rows of both sides as one float matrix, reference rows first."""

    matrix: np.ndarray
    categorical: list[bool] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)


def domain_classifier(
    reference: pa.Table,
    current: pa.Table,
    features: Sequence[str],
    *,
    thresholds: DriftThresholds,
    seed: int = 0,
    folds: int = 5,
    most_unlike: int = 20,
) -> dict[str, Any]:
    """Can a classifier tell current rows from reference rows? See the module docstring.

    Returns ``auc``, ``auc_low``/``auc_high`` (95% DeLong interval), ``p_value`` (one-sided,
    AUC > 0.5), ``significant`` (p < ``domain_alpha``), ``drifted`` (significant and AUC at
    least ``domain_auc``), ``rows_reference``/``rows_current`` (rows used, after sampling),
    ``reference_rows_total``/``current_rows_total``, ``folds``, ``features_used``,
    ``skipped_features`` ([{feature, reason}]), ``importances`` ([{feature, importance,
    importance_std}], AUC drop, largest first), ``most_unlike`` ([{row, probability, values}],
    ``row`` indexing ``current``) and a one-sentence ``message``.
    """
    if folds < 2:
        raise ValueError("folds must be at least 2")
    if most_unlike < 0:
        raise ValueError("most_unlike must not be negative")
    names = list(dict.fromkeys(features))
    rng = np.random.default_rng(seed)
    reference_rows = _sample(reference.num_rows, thresholds.classifier_rows, rng)
    current_rows = _sample(current.num_rows, thresholds.classifier_rows, rng)
    result = _empty_result(reference, current, reference_rows.size, current_rows.size)

    if min(reference.num_rows, current.num_rows) < MIN_ROWS:
        result["message"] = (
            f"Too few rows for the domain classifier: it needs at least {MIN_ROWS} on each "
            f"side (reference {reference.num_rows:,}, current {current.num_rows:,})."
        )
        return result

    design = _design(reference, current, names, reference_rows, current_rows)
    result["features_used"] = design.features
    result["skipped_features"] = design.skipped
    if not design.features:
        result["message"] = "No feature can be used by the domain classifier" + (
            ": " + "; ".join(f"{item['feature']} {item['reason']}" for item in design.skipped) + "."
            if design.skipped
            else "."
        )
        return result

    labels = np.concatenate(
        [np.zeros(reference_rows.size, dtype=np.int8), np.ones(current_rows.size, dtype=np.int8)]
    )
    folds = min(folds, reference_rows.size, current_rows.size)
    probabilities, model, held_out = _out_of_fold(design, labels, folds, seed)

    auc = float(roc_auc_score(labels, probabilities))
    n_current, n_reference = current_rows.size, reference_rows.size
    variance = _delong_variance(probabilities[n_reference:], probabilities[:n_reference])
    if variance <= 0.0:
        # All scores tied (a model that found nothing to split on): DeLong's variance is 0,
        # which would claim certainty; Hanley and McNeil's gives the honest width.
        variance = _hanley_mcneil_variance(auc, n_current, n_reference)
    standard_error = math.sqrt(variance)
    null_error = math.sqrt((n_reference + n_current + 1) / (12.0 * n_reference * n_current))
    p_value = float(stats.norm.sf((auc - 0.5) / null_error))
    significant = p_value < thresholds.domain_alpha
    result.update(
        auc=auc,
        auc_low=max(0.0, auc - _Z_95 * standard_error),
        auc_high=min(1.0, auc + _Z_95 * standard_error),
        p_value=p_value,
        significant=significant,
        drifted=significant and auc >= thresholds.domain_auc,
        folds=folds,
        importances=_importances(model, design, labels, held_out, seed),
        most_unlike=_most_unlike(
            current, names, current_rows, probabilities[n_reference:], most_unlike
        ),
    )
    result["message"] = _domain_message(result, thresholds)
    return result


def _empty_result(
    reference: pa.Table, current: pa.Table, reference_rows: int, current_rows: int
) -> dict[str, Any]:
    return {
        "auc": None,
        "auc_low": None,
        "auc_high": None,
        "p_value": None,
        "significant": False,
        "drifted": False,
        "rows_reference": reference_rows,
        "rows_current": current_rows,
        "reference_rows_total": reference.num_rows,
        "current_rows_total": current.num_rows,
        "folds": 0,
        "features_used": [],
        "skipped_features": [],
        "importances": [],
        "most_unlike": [],
        "message": "",
    }


def _sample(rows: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices: all of them, or ``limit`` drawn uniformly without replacement, in order."""
    if rows <= limit:
        return np.arange(rows, dtype=np.int64)
    return np.sort(rng.choice(rows, size=limit, replace=False))


# Encoding -----------------------------------------------------------------------------------


def _design(
    reference: pa.Table,
    current: pa.Table,
    names: Sequence[str],
    reference_rows: np.ndarray,
    current_rows: np.ndarray,
) -> _Design:
    """Encode each usable feature of the sampled rows; list the others with a reason."""
    design = _Design(matrix=np.empty((0, 0)))
    columns: list[np.ndarray] = []
    for name in names:
        if name not in reference.column_names or name not in current.column_names:
            side = "reference" if name not in reference.column_names else "current"
            design.skipped.append({"feature": name, "reason": f"is missing from the {side} data"})
            continue
        reference_column = reference.column(name).take(reference_rows)
        current_column = current.column(name).take(current_rows)
        kind, problem = _kind(reference_column.type, current_column.type)
        if kind is None:
            design.skipped.append({"feature": name, "reason": problem})
            continue
        if kind == "numeric":
            values = np.concatenate([_numbers(reference_column), _numbers(current_column)])
            native = False
        else:
            values, levels = _category_codes(reference_column, current_column)
            # One or two values split as well as numbers; and the classifier drops a native
            # categorical feature with a single value, even when missing values mark one side.
            native = 3 <= levels <= NATIVE_CATEGORY_LIMIT
        missing = np.isnan(values)
        if missing.all():
            design.skipped.append({"feature": name, "reason": "is empty in both samples"})
            continue
        if not missing.any() and np.min(values) == np.max(values):
            design.skipped.append(
                {"feature": name, "reason": "has the same value in every row of both samples"}
            )
            continue
        columns.append(values)
        design.features.append(name)
        design.categorical.append(native)
    if columns:
        design.matrix = np.column_stack(columns)
    return design


def _kind(reference_type: pa.DataType, current_type: pa.DataType) -> tuple[str | None, str]:
    """The feature's kind ("numeric" or "categorical"), or None and why it cannot be used.

    A column of nulls only (Arrow's null type, as read from an empty CSV column) takes the
    other side's kind: it is all missing, which the classifier uses as a signal. Numbers and
    times are both numeric to the classifier but are not comparable with each other.
    """
    known = [
        data_type for data_type in (reference_type, current_type) if not pa.types.is_null(data_type)
    ]
    if not known:
        return None, "is empty in both samples"
    families = [_family(data_type) for data_type in known]
    for data_type, family in zip(known, families, strict=True):
        if family is None:
            return None, f"has a type the classifier cannot use ({data_type})"
    if len(known) == 2 and families[0] != families[1]:
        return None, (
            f"is {families[0]} ({reference_type}) in the reference data but "
            f"{families[1]} ({current_type}) in the current data"
        )
    return ("categorical" if families[0] == "categorical" else "numeric"), ""


def _family(data_type: pa.DataType) -> str | None:
    kind = feature_kind(data_type)
    if kind == "numeric" and (pa.types.is_timestamp(data_type) or pa.types.is_date(data_type)):
        return "temporal"
    return kind


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    """A numeric, temporal or all-null column as float64 (epoch seconds), NaN where missing."""
    data_type = column.type
    if pa.types.is_null(data_type):
        return np.full(len(column), np.nan)
    scale = 1.0
    if pa.types.is_timestamp(data_type):
        column, scale = column.cast(pa.int64()), _SECONDS_PER_UNIT[data_type.unit]
    elif pa.types.is_date32(data_type):
        column, scale = column.cast(pa.int32()), _SECONDS_PER_DAY
    elif pa.types.is_date64(data_type):
        column, scale = column.cast(pa.int64()), 1e-3
    floats = pc.cast(column, pa.float64(), safe=False)
    # A copy: Arrow's buffers are read-only, and inf is overwritten below.
    values = np.array(pc.fill_null(floats, math.nan).to_numpy(), dtype=np.float64)
    if scale != 1.0:
        values *= scale
    # +-inf would dominate the bins; they are as unusable as a missing value.
    values[~np.isfinite(values)] = np.nan
    return values


def _category_codes(
    reference_column: pa.ChunkedArray, current_column: pa.ChunkedArray
) -> tuple[np.ndarray, int]:
    """Both sides' categories as shared float codes (NaN where missing) and their count.

    Codes follow the frequency over both samples together (most common first, ties in order of
    appearance). The order must not depend on which side a row is from: ordering by reference
    frequency put rare values seen only in current last, a pattern the held-out rows had
    already shaped, and gave an AUC of 0.62 on identical distributions.
    """
    texts = [_as_text(reference_column), _as_text(current_column)]
    encoded = pc.dictionary_encode(pa.concat_arrays(texts))
    levels = len(encoded.dictionary)
    valid = np.asarray(encoded.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    indices = np.asarray(pc.fill_null(encoded.indices, 0).to_numpy(), dtype=np.int64)
    counts = np.bincount(indices[valid], minlength=levels)
    rank = np.empty(levels, dtype=np.float64)
    rank[np.argsort(-counts, kind="stable")] = np.arange(levels, dtype=np.float64)
    codes = rank[indices] if levels else np.zeros(indices.size)
    codes[~valid] = np.nan
    return codes, levels


def _as_text(column: pa.ChunkedArray) -> pa.Array:
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    return pc.cast(column, pa.string()).combine_chunks()


# Classifier and statistics ------------------------------------------------------------------


class _BestRounds(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A fitted booster that predicts with its rounds up to the best validation loss only.

    scikit-learn's early stopping keeps the ``n_iter_no_change`` rounds that did not help. On
    unchanged data those rounds fit noise, and because the folds' models share most of their
    training rows, they fit the same noise: the pooled out-of-fold AUC then varies 1.35 times
    more than the Mann-Whitney null assumes (measured: 100 seeds, 1,000 rows per side), which
    doubled the false alarms. Predicting with the best rounds only brings that to 1.04.
    """

    def __init__(self, model: HistGradientBoostingClassifier, prior: float) -> None:
        self.model = model
        self.prior = prior

    def fit(self, features: np.ndarray, labels: np.ndarray) -> _BestRounds:
        return self  # already fitted; permutation_importance only predicts

    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.model.classes_)

    @property
    def rounds(self) -> int:
        """Rounds up to the best validation score (0: the prior beats every tree)."""
        return int(np.argmax(self.model.validation_score_))

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        rounds = self.rounds
        if rounds == 0:
            return np.tile([1.0 - self.prior, self.prior], (len(features), 1))
        for stage, probabilities in enumerate(self.model.staged_predict_proba(features), 1):
            if stage == rounds:
                return np.asarray(probabilities)
        raise AssertionError("the best round is beyond the fitted rounds")  # pragma: no cover


def _out_of_fold(
    design: _Design, labels: np.ndarray, folds: int, seed: int
) -> tuple[np.ndarray, _BestRounds, np.ndarray]:
    """Each row's probability of being current from the model that did not see it.

    Also returns the first fold's model and its held-out rows, for permutation importance.
    """
    probabilities = np.empty(labels.size, dtype=np.float64)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    first: tuple[_BestRounds, np.ndarray] | None = None
    for fold, (train, test) in enumerate(splitter.split(design.matrix, labels)):
        booster = HistGradientBoostingClassifier(
            **CLASSIFIER_PARAMETERS,
            categorical_features=design.categorical,
            random_state=seed + fold,
        )
        booster.fit(design.matrix[train], labels[train])
        model = _BestRounds(booster, prior=float(labels[train].mean()))
        probabilities[test] = model.predict_proba(design.matrix[test])[:, 1]
        if first is None:
            first = (model, test)
    assert first is not None
    return probabilities, first[0], first[1]


def _delong_variance(positive: np.ndarray, negative: np.ndarray) -> float:
    """DeLong's variance of the AUC, from midranks (Sun and Xu's O(n log n) algorithm)."""
    m, n = positive.size, negative.size
    combined = stats.rankdata(np.concatenate([positive, negative]))
    # For each current row: the share of reference rows it outscores (ties count half);
    # for each reference row: the share of current rows that outscore it.
    positive_components = (combined[:m] - stats.rankdata(positive)) / n
    negative_components = 1.0 - (combined[m:] - stats.rankdata(negative)) / m
    variance = np.var(positive_components, ddof=1) / m + np.var(negative_components, ddof=1) / n
    return float(variance) if math.isfinite(variance) else 0.0


def _hanley_mcneil_variance(auc: float, positives: int, negatives: int) -> float:
    """Hanley and McNeil's (1982) variance of the AUC, from the AUC and the class sizes."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    return max(variance, 0.0)


def _importances(
    model: _BestRounds,
    design: _Design,
    labels: np.ndarray,
    held_out: np.ndarray,
    seed: int,
) -> list[dict[str, Any]]:
    """How much the held-out AUC drops when each feature is shuffled, largest drop first."""
    found = permutation_importance(
        model,
        design.matrix[held_out],
        labels[held_out],
        scoring="roc_auc",
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
        max_samples=min(held_out.size, IMPORTANCE_ROWS),
    )
    order = np.argsort(-found.importances_mean, kind="stable")
    return [
        {
            "feature": design.features[index],
            "importance": _json_number(found.importances_mean[index]),
            "importance_std": _json_number(found.importances_std[index]),
        }
        for index in order
    ]


def _most_unlike(
    current: pa.Table,
    names: Sequence[str],
    current_rows: np.ndarray,
    probabilities: np.ndarray,
    limit: int,
) -> list[dict[str, Any]]:
    """The sampled current rows the classifier is surest are current, with their values."""
    if limit == 0 or probabilities.size == 0:
        return []
    top = np.argsort(-probabilities, kind="stable")[:limit]
    rows = current_rows[top]
    shown = [name for name in names if name in current.column_names]
    records = current.select(shown).take(pa.array(rows)).to_pylist()
    return [
        {
            "row": int(row),
            "probability": _json_number(probabilities[position]),
            "values": {str(key): _json_value(value) for key, value in record.items()},
        }
        for row, position, record in zip(rows, top, records, strict=True)
    ]


def _domain_message(result: dict[str, Any], thresholds: DriftThresholds) -> str:
    auc, p_value = result["auc"], result["p_value"]
    measured = (
        f"AUC {auc:.3f} (95% CI {result['auc_low']:.3f}–{result['auc_high']:.3f}, "
        f"{_p_phrase(p_value)})"
    )
    # Features whose shuffling costs at least a tenth of what the most useful one costs.
    top = max([item["importance"] or 0.0 for item in result["importances"]] + [0.0])
    leading = [
        item["feature"]
        for item in result["importances"]
        if top > 0 and (item["importance"] or 0.0) >= top / 10
    ]
    relies = f" It relies most on {', '.join(leading[:FEATURES_IN_MESSAGE])}." if leading else ""
    if result["drifted"]:
        return (
            f"A classifier tells current rows from reference rows with {measured}: the data "
            f"has drifted.{relies}"
        )
    if result["significant"]:
        return (
            f"A classifier tells current rows from reference rows slightly better than chance, "
            f"{measured}, below the practical threshold of AUC {thresholds.domain_auc:.2f}: "
            f"a small multivariate difference.{relies}"
        )
    return (
        f"A classifier cannot tell current rows from reference rows better than chance: {measured}."
    )


def _p_phrase(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


# --------------------------------------------------------------------------------------------
# Prediction and confidence drift
# --------------------------------------------------------------------------------------------


def prediction_drift(
    reference_predictions: np.ndarray,
    current_predictions: np.ndarray,
    reference_confidence: np.ndarray | None,
    current_confidence: np.ndarray | None,
    *,
    task: str,
    thresholds: DriftThresholds,
) -> dict[str, Any]:
    """Compare a model's predictions (and confidence) on the reference and current samples.

    ``task`` is "classification" (predicted classes: chi-square test, Jensen-Shannon distance
    as the effect) or "regression" (predicted values: KS test, Wasserstein distance over the
    reference spread as the effect). The confidence (highest predicted probability, compared
    when both sides have it) uses the KS test with the KS statistic as the effect. A part is
    drifted when its test is significant and its effect reaches the threshold; the tests made
    share ``thresholds.alpha`` (Bonferroni: alpha / number of tests). Nulls and NaN are left
    out and their rate is reported. Returns ``task``, ``predictions``, ``confidence`` (None
    without confidence on both sides), ``drifted`` and ``message``.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, not {task!r}")
    with_confidence = reference_confidence is not None and current_confidence is not None
    alpha = thresholds.alpha / (2 if with_confidence else 1)
    if task == "classification":
        predictions = _class_drift(reference_predictions, current_predictions, thresholds, alpha)
    else:
        predictions = _value_drift(reference_predictions, current_predictions, thresholds, alpha)
    confidence = None
    if with_confidence:
        assert reference_confidence is not None and current_confidence is not None
        confidence = _confidence_drift(reference_confidence, current_confidence, thresholds, alpha)
    parts = [predictions["message"]]
    if confidence is not None:
        parts.append(confidence["message"])
    elif reference_confidence is not None or current_confidence is not None:
        parts.append("Confidence is only available on one side, so it is not compared.")
    return {
        "task": task,
        "predictions": predictions,
        "confidence": confidence,
        "drifted": bool(predictions["drifted"] or (confidence and confidence["drifted"])),
        "message": " ".join(part for part in parts if part),
    }


def _class_drift(
    reference: np.ndarray, current: np.ndarray, thresholds: DriftThresholds, alpha: float
) -> dict[str, Any]:
    """Predicted class shares: chi-square on the 2 x classes table, Jensen-Shannon distance."""
    reference_labels, current_labels = _class_labels(reference, current)
    result = _base_part(
        "chi2",
        (
            len(reference_labels) - reference_labels.null_count,
            len(current_labels) - current_labels.null_count,
        ),
        (len(reference_labels), len(current_labels)),
    )
    result.update(
        effect_name="jensen_shannon",
        effect_threshold=thresholds.jensen_shannon,
        new_classes=[],
        vanished_classes=[],
    )
    if not result["reference_rows"] or not result["current_rows"]:
        result["message"] = "There are no predictions on one side to compare."
        return result
    combined = pa.concat_arrays([reference_labels, current_labels]).drop_null()
    encoded = pc.dictionary_encode(combined)
    values = encoded.dictionary.to_pylist()
    indices = np.asarray(encoded.indices.to_numpy(), dtype=np.int64)
    split = result["reference_rows"]
    reference_counts = np.bincount(indices[:split], minlength=len(values))
    current_counts = np.bincount(indices[split:], minlength=len(values))
    reference_shares = reference_counts / reference_counts.sum()
    current_shares = current_counts / current_counts.sum()
    if len(values) > 1:
        statistic, p_value, _, _ = stats.chi2_contingency(
            np.vstack([reference_counts, current_counts]), correction=False
        )
    else:
        statistic, p_value = 0.0, 1.0
    effect = float(jensenshannon(reference_shares, current_shares, base=2))
    shown = np.argsort(-(reference_counts + current_counts), kind="stable")
    shown = shown[:PREDICTION_CLASSES_SHOWN]
    result.update(
        statistic=_json_number(statistic),
        p_value=_json_number(p_value),
        effect=_json_number(effect),
        new_classes=[_json_value(values[i]) for i in np.flatnonzero(reference_counts == 0)],
        vanished_classes=[_json_value(values[i]) for i in np.flatnonzero(current_counts == 0)],
        histogram={
            "kind": "categorical",
            "values": [_label(values[i]) for i in shown],
            "reference": [float(reference_shares[i]) for i in shown],
            "current": [float(current_shares[i]) for i in shown],
        },
    )
    _decide(result, alpha)
    change = np.argmax(np.abs(current_shares - reference_shares))
    result["message"] = (
        f"Predicted classes {'changed' if result['drifted'] else 'are stable'} "
        f"(Jensen-Shannon distance {effect:.3f}, {_p_phrase(float(p_value))}); the largest "
        f"change is {_label(values[change])}: {reference_shares[change]:.1%} of reference "
        f"predictions, {current_shares[change]:.1%} of current ones."
    )
    return result


def _value_drift(
    reference: np.ndarray, current: np.ndarray, thresholds: DriftThresholds, alpha: float
) -> dict[str, Any]:
    """Predicted values: KS test, Wasserstein distance over the reference spread."""
    (reference_values, reference_total), (current_values, current_total) = (
        _finite_values(reference),
        _finite_values(current),
    )
    result = _base_part(
        "ks", (reference_values.size, current_values.size), (reference_total, current_total)
    )
    result.update(
        effect_name="wasserstein",
        effect_threshold=thresholds.wasserstein,
        ks=None,
        wasserstein=None,
        reference_mean=None,
        current_mean=None,
        reference_std=None,
        current_std=None,
    )
    if not reference_values.size or not current_values.size:
        result["message"] = "There are no predicted values on one side to compare."
        return result
    test = stats.ks_2samp(reference_values, current_values)
    distance = stats.wasserstein_distance(reference_values, current_values)
    effect = distance / _spread(reference_values)
    result.update(
        statistic=_json_number(test.statistic),
        p_value=_json_number(test.pvalue),
        ks=_json_number(test.statistic),
        wasserstein=_json_number(effect),
        effect=_json_number(effect),
        reference_mean=_json_number(reference_values.mean()),
        current_mean=_json_number(current_values.mean()),
        reference_std=_json_number(reference_values.std()),
        current_std=_json_number(current_values.std()),
        histogram=_numeric_histogram(reference_values, current_values, PREDICTION_BINS, None),
    )
    _decide(result, alpha)
    result["message"] = (
        f"Predicted values {'moved' if result['drifted'] else 'are stable'}: mean "
        f"{_short(reference_values.mean())} in the reference, {_short(current_values.mean())} "
        f"now (Wasserstein distance {effect:.3f} of the reference spread, KS "
        f"{test.statistic:.3f}, {_p_phrase(float(test.pvalue))})."
    )
    return result


def _confidence_drift(
    reference: np.ndarray, current: np.ndarray, thresholds: DriftThresholds, alpha: float
) -> dict[str, Any]:
    """Highest predicted probability: KS test and means, histogram on [0, 1]."""
    (reference_values, reference_total), (current_values, current_total) = (
        _finite_values(reference),
        _finite_values(current),
    )
    result = _base_part(
        "ks", (reference_values.size, current_values.size), (reference_total, current_total)
    )
    result.update(
        effect_name="ks",
        effect_threshold=thresholds.ks,
        reference_mean=None,
        current_mean=None,
        mean_change=None,
    )
    if not reference_values.size or not current_values.size:
        result["message"] = "There is no confidence on one side to compare."
        return result
    test = stats.ks_2samp(reference_values, current_values)
    reference_mean, current_mean = reference_values.mean(), current_values.mean()
    result.update(
        statistic=_json_number(test.statistic),
        p_value=_json_number(test.pvalue),
        effect=_json_number(test.statistic),
        reference_mean=_json_number(reference_mean),
        current_mean=_json_number(current_mean),
        mean_change=_json_number(current_mean - reference_mean),
        histogram=_numeric_histogram(reference_values, current_values, CONFIDENCE_BINS, (0.0, 1.0)),
    )
    _decide(result, alpha)
    direction = "rose" if current_mean > reference_mean else "fell"
    if not result["drifted"]:
        direction = "is stable" if not result["significant"] else f"{direction} slightly"
    result["message"] = (
        f"Confidence {direction}: {reference_mean:.3f} on average in the reference, "
        f"{current_mean:.3f} now (KS {test.statistic:.3f}, {_p_phrase(float(test.pvalue))})."
    )
    return result


def _base_part(test: str, valid: tuple[int, int], total: tuple[int, int]) -> dict[str, Any]:
    """The keys every part has, before its test: rows compared and missing rates per side."""
    return {
        "test": test,
        "statistic": None,
        "p_value": None,
        "effect": None,
        "significant": False,
        "drifted": False,
        "reference_rows": valid[0],
        "current_rows": valid[1],
        "reference_missing_rate": _json_number(1 - valid[0] / total[0]) if total[0] else None,
        "current_missing_rate": _json_number(1 - valid[1] / total[1]) if total[1] else None,
        "histogram": None,
        "message": "",
    }


def _decide(result: dict[str, Any], alpha: float) -> None:
    result["significant"] = result["p_value"] is not None and result["p_value"] < alpha
    result["drifted"] = bool(
        result["significant"]
        and result["effect"] is not None
        and result["effect"] >= result["effect_threshold"]
    )


def _class_labels(reference: Any, current: Any) -> tuple[pa.Array, pa.Array]:
    """Predicted classes of both sides as Arrow arrays of one type; NaN and None are null.

    Integer and float labels are compared as numbers (1 and 1.0 are one class); any other
    mix is compared as text.
    """
    arrays = [_as_arrow(reference), _as_arrow(current)]
    types = [array.type for array in arrays]
    if types[0] == types[1]:
        return arrays[0], arrays[1]
    numeric = all(pa.types.is_integer(kind) or pa.types.is_floating(kind) for kind in types)
    target = pa.float64() if numeric else pa.string()
    return pc.cast(arrays[0], target), pc.cast(arrays[1], target)


def _as_arrow(values: Any) -> pa.Array:
    array = np.asarray(values).ravel()
    try:
        converted = pa.array(array, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # A mix of types in an object array: compare the values as text, keep None/NaN null.
        converted = pa.array(array.astype(str), mask=np.asarray(pd.isna(array), dtype=bool))
    if pa.types.is_null(converted.type):
        return converted.cast(pa.string())
    if pa.types.is_dictionary(converted.type) or pa.types.is_large_string(converted.type):
        return pc.cast(converted, pa.string())
    return converted


def _finite_values(values: Any) -> tuple[np.ndarray, int]:
    """The finite numbers among ``values`` (None and NaN left out), and how many there were."""
    try:
        numbers = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return np.empty(0), int(np.asarray(values).size)
    return numbers[np.isfinite(numbers)], int(numbers.size)


def _spread(values: np.ndarray) -> float:
    """The reference spread that scales the Wasserstein distance.

    The standard deviation; for a constant-but-for-outliers or constant sample, the IQR over
    1.349 (the standard deviation it implies for a normal), then the magnitude, then 1.
    """
    deviation = float(values.std())
    if deviation > 0:
        return deviation
    low, high = np.quantile(values, [0.25, 0.75])
    if high > low:
        return float(high - low) / 1.349
    magnitude = float(np.abs(values).mean())
    return magnitude if magnitude > 0 else 1.0


def _numeric_histogram(
    reference: np.ndarray, current: np.ndarray, bins: int, bounds: tuple[float, float] | None
) -> dict[str, Any]:
    """Fractions per bin on both sides, over ``bounds`` or the central 99% of both samples
    (values beyond the edges are counted in the end bins, so one outlier cannot squash it)."""
    if bounds is None:
        low = float(min(np.quantile(reference, 0.005), np.quantile(current, 0.005)))
        high = float(max(np.quantile(reference, 0.995), np.quantile(current, 0.995)))
    else:
        low, high = bounds
    if not high > low:
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, bins + 1)

    def fractions(values: np.ndarray) -> list[float]:
        counts, _ = np.histogram(np.clip(values, low, high), bins=edges)
        return [float(share) for share in counts / values.size]

    return {
        "kind": "numeric",
        "edges": [float(edge) for edge in edges],
        "reference": fractions(reference),
        "current": fractions(current),
    }


def _short(value: float) -> str:
    return f"{value:.4g}"
