"""Scoring records with a loaded estimator: checking each record against the version's
signature, then one vectorised call to the model. Plain Python (no Django), so the rules
are testable on their own."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sklearn

NUMERIC_TYPES = frozenset({"integer", "float"})
TEXT_TYPES = frozenset({"string"})
TIME_TYPES = frozenset({"datetime", "date"})


@dataclass(frozen=True)
class Feature:
    name: str
    type: str


@dataclass
class CheckedRecords:
    """The records that passed (with their position in the request) and the refusals:
    position -> messages."""

    good: list[dict[str, Any]] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    refused: dict[int, list[str]] = field(default_factory=dict)


def features_of(signature: Sequence[Mapping[str, Any]]) -> list[Feature]:
    return [Feature(str(item["name"]), str(item.get("type") or "unknown")) for item in signature]


def check_record(record: Any, features: Sequence[Feature]) -> list[str]:
    """What is wrong with one record, feature by feature (an empty list when nothing is).

    A JSON null is a missing value and passes (pipelines with imputers take it); NaN and
    infinities do not, nor does a value of the wrong type.
    """
    if not isinstance(record, dict):
        return [f"A record is a JSON object of feature values, not {_json_kind(record)}."]
    problems = []
    present = 0
    for feature in features:
        if feature.name not in record:
            problems.append(f"Missing feature '{feature.name}'.")
            continue
        present += 1
        problem = _check_value(feature, record[feature.name])
        if problem:
            problems.append(problem)
    # Keys beyond the known features present (a typo replaces a feature: one missing, one extra).
    if len(record) > present:
        known = {feature.name for feature in features}
        extra = [name for name in record if name not in known]
        if extra:
            listed = ", ".join(f"'{name}'" for name in extra[:5])
            more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
            problems.append(
                f"Unknown feature{'s' if len(extra) > 1 else ''} {listed}{more}: the model takes "
                + ", ".join(feature.name for feature in features[:20])
                + ("…" if len(features) > 20 else "")
                + "."
            )
    return problems


def check_records(records: Sequence[Any], features: Sequence[Feature]) -> CheckedRecords:
    checked = CheckedRecords()
    for position, record in enumerate(records):
        problems = check_record(record, features)
        if problems:
            checked.refused[position] = problems
        else:
            checked.good.append(record)
            checked.positions.append(position)
    return checked


def _check_value(feature: Feature, value: Any) -> str | None:
    if value is None:
        return None
    kind = feature.type
    if kind in NUMERIC_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"Feature '{feature.name}' must be a number, not {_json_kind(value)}."
        if isinstance(value, float) and not math.isfinite(value):
            return f"Feature '{feature.name}' is {_non_finite(value)}: send a finite number."
        if kind == "integer" and isinstance(value, float) and not value.is_integer():
            return f"Feature '{feature.name}' must be a whole number, not {value}."
        return None
    if kind == "boolean":
        if not isinstance(value, bool):
            return f"Feature '{feature.name}' must be true or false, not {_json_kind(value)}."
        return None
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            return f"Feature '{feature.name}' must be text, not {_json_kind(value)}."
        return None
    if kind in TIME_TYPES:
        if not isinstance(value, str) or _parse_time(value) is None:
            return f"Feature '{feature.name}' must be an ISO-8601 {kind} string."
        return None
    # An unknown type: any scalar, but still no NaN.
    if isinstance(value, float) and not math.isfinite(value):
        return f"Feature '{feature.name}' is {_non_finite(value)}: send a finite number."
    if isinstance(value, dict | list):
        return f"Feature '{feature.name}' must be a single value, not {_json_kind(value)}."
    return None


def _parse_time(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _non_finite(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "infinite" if value > 0 else "minus infinity"


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 30 else value[:27] + "…"
        return f'the text "{shown}"'
    if isinstance(value, list):
        return "a list"
    return "an object"


# Scoring ------------------------------------------------------------------------------------


@dataclass
class Scores:
    """Outputs of one call to the model, one entry per record."""

    predictions: list[Any]
    probabilities: list[dict[str, float]] | None
    confidence: list[float] | None


def frame_of(records: Sequence[Mapping[str, Any]], features: Sequence[Feature]) -> pd.DataFrame:
    """The records as the model's training frame: columns in signature order, numbers as
    float (null as NaN), times parsed."""
    columns: dict[str, Any] = {}
    for feature in features:
        values = [record.get(feature.name) for record in records]
        if feature.type in NUMERIC_TYPES:
            columns[feature.name] = np.array(
                [np.nan if value is None else value for value in values], dtype=np.float64
            )
        elif feature.type in TIME_TYPES:
            columns[feature.name] = pd.to_datetime(pd.Series(values), format="ISO8601")
        else:
            columns[feature.name] = pd.Series(values, dtype=object)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)))


def array_of(records: Sequence[Mapping[str, Any]], features: Sequence[Feature]) -> np.ndarray:
    """Numeric records as one float array, columns in signature order (null as NaN)."""
    return np.array(
        [[record.get(feature.name) for feature in features] for record in records],
        dtype=np.float64,
    )


def takes_arrays(estimator: Any, features: Sequence[Feature]) -> bool:
    """Whether the model scores a plain float array exactly as it scores the frame, checked
    on probe rows when it is loaded. When it does, serving skips the frame and the feature
    name checks scikit-learn repeats on every call (most of a single-record prediction's
    time). Only for all-numeric signatures; a pipeline that picks columns by name fails the
    probe and keeps frames. The name list is dropped from this process's private copy of
    the estimator, so arrays raise no warning."""
    if not features or any(feature.type not in NUMERIC_TYPES for feature in features):
        return False
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None and [str(name) for name in names] != [f.name for f in features]:
        return False
    probe = [
        {feature.name: value * (index + 1) for index, feature in enumerate(features)}
        for value in (0.0, 1.0, -1.0, 2.5, 40.0)
    ]
    try:
        expected = _outputs(estimator, frame_of(probe, features))
    except Exception:
        return False
    saved = vars(estimator).pop("feature_names_in_", None)
    try:
        # Recording (not raising) leaves other threads' warnings harmless meanwhile.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = _outputs(estimator, array_of(probe, features))
        same = not caught and np.allclose(expected, got, equal_nan=True)
    except Exception:
        same = False
    if not same and saved is not None:
        estimator.feature_names_in_ = saved
    return same


def _outputs(estimator: Any, data: Any) -> np.ndarray:
    if hasattr(estimator, "predict_proba"):
        return np.asarray(estimator.predict_proba(data), dtype=np.float64)
    return np.asarray(estimator.predict(data), dtype=np.float64)


def score(estimator: Any, data: pd.DataFrame | np.ndarray) -> Scores:
    """Predictions and, for a classifier with predict_proba, each record's class
    probabilities and confidence (the largest probability), from a frame or (when the model
    `takes_arrays`) an array."""
    # Checked records hold no infinity; without missing values (nulls), the model's own
    # finiteness check can be skipped.
    if isinstance(data, np.ndarray):
        missing = bool(np.isnan(data).any())
    else:
        missing = any(
            np.isnan(data[name].to_numpy()).any()
            for name, dtype in data.dtypes.items()
            if dtype == np.float64
        )
    with sklearn.config_context(assume_finite=not missing):
        return _score(estimator, data)


def _score(estimator: Any, frame: pd.DataFrame | np.ndarray) -> Scores:
    if hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_"):
        probabilities = np.asarray(estimator.predict_proba(frame), dtype=np.float64)
        classes = [plain(label) for label in np.asarray(estimator.classes_).tolist()]
        best = probabilities.argmax(axis=1)
        keys = [str(label) for label in classes]
        return Scores(
            predictions=[classes[index] for index in best.tolist()],
            probabilities=[dict(zip(keys, row, strict=True)) for row in probabilities.tolist()],
            confidence=probabilities.max(axis=1).tolist(),
        )
    predictions = np.asarray(estimator.predict(frame))
    return Scores(
        predictions=[plain(value) for value in predictions.tolist()],
        probabilities=None,
        confidence=None,
    )


def plain(value: Any) -> Any:
    """A JSON-ready scalar from what numpy hands back."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# Records predicted elsewhere ----------------------------------------------------------------


def check_output(value: Any, task: str, what: str) -> str | None:
    """A prediction or a true label: a class (text, number or true/false) for a classifier,
    a finite number for a regressor."""
    if value is None:
        return f"'{what}' is required."
    if task == "regression":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"'{what}' must be a number, not {_json_kind(value)}."
        if isinstance(value, float) and not math.isfinite(value):
            return f"'{what}' is {_non_finite(value)}: send a finite number."
        return None
    if isinstance(value, dict | list):
        return f"'{what}' must be a single class, not {_json_kind(value)}."
    if isinstance(value, float) and not math.isfinite(value):
        return f"'{what}' is {_non_finite(value)}."
    return None


def check_probabilities(value: Any) -> str | None:
    if not isinstance(value, dict) or not value:
        return "'probabilities' must be an object of class -> probability."
    for label, probability in value.items():
        if (
            isinstance(probability, bool)
            or not isinstance(probability, int | float)
            or not math.isfinite(probability)
            or not 0 <= probability <= 1
        ):
            return f"'probabilities' of class '{label}' must be a number from 0 to 1."
    return None


def check_fraction(value: Any, what: str, *, upper: float | None = 1.0) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"'{what}' must be a finite number, not {_json_kind(value)}."
    if value < 0 or (upper is not None and value > upper):
        bound = f"from 0 to {upper:g}" if upper is not None else "of 0 or more"
        return f"'{what}' must be a number {bound}."
    return None


def parse_timestamp(value: Any, now: dt.datetime) -> tuple[dt.datetime | None, str | None]:
    """An ISO-8601 time (UTC when it names no zone), not in the future."""
    if not isinstance(value, str) or _parse_time(value) is None:
        return None, "'timestamp' must be an ISO-8601 date and time, like 2026-11-26T14:03:00Z."
    parsed = dt.datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if parsed > now + dt.timedelta(minutes=5):
        return None, f"'timestamp' {value} is in the future."
    return parsed, None
