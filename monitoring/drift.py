"""Per-feature drift between a reference table and current data, the decision, and time windows.

Plain Python on pyarrow, numpy and scipy, so a Celery worker, a test or a benchmark can run it.

How a feature is compared (raw statistics, :func:`feature_statistics`):

* **Numeric** (integers, floats, decimals; timestamps and dates as epoch seconds): the
  non-missing values of each side are sorted once. One merge of the two sorted arrays gives
  both empirical CDFs at every jump, hence the two-sample Kolmogorov-Smirnov statistic ``D``
  (its supremum distance) and the Wasserstein-1 distance (the area between them); the
  population stability index (PSI) over 10 reference-decile bins, the histogram and the
  summaries are read off the sorted arrays by binary search. The KS p-value is exact (scipy)
  for small samples and asymptotic (Kolmogorov distribution with Stephens' small-sample
  correction) otherwise.
* **Categorical** (text, booleans, dictionary columns): one hash pass per side
  (``pc.value_counts``), then a chi-square test on the 2 x k table of counts (categories whose
  expected count would be under 5 are pooled into "other" so the test is valid), the
  Jensen-Shannon distance (base 2) between the two frequency distributions, and the new and
  vanished categories by name.
* **Missing values** (null, and NaN or infinite for floats) are a signal: the missing rate of
  each side and a two-proportion test (Fisher's exact test when counts are small).

The effect size (one number per feature, for heatmaps and the "large enough" rule):

* numeric: the Wasserstein distance divided by the reference standard deviation, i.e. how far
  values moved on average, in reference standard deviations (what Evidently calls
  "Wasserstein distance (normed)"). It reacts to a shift of the mean and to a change of
  spread alike (+0.3 sd gives 0.3, sd x 1.5 gives 0.4) and, unlike KS or PSI, it does not
  saturate or depend on binning. When the reference is constant its standard deviation is 0,
  so the spread of both samples together is used instead (a constant that changes value then
  scores about 2 whatever its units); two identical constants score 0.
* categorical: the Jensen-Shannon distance (0 identical .. 1 disjoint).

KS and PSI are reported beside it with their usual thresholds (``ks``, ``psi``) for context;
the decision does not use them, so that one number explains every numeric verdict.

The decision (:func:`decide`, over all features at once): Benjamini-Hochberg across every
feature's distribution p-value and missing-rate p-value; a feature is drifted only when a test
is significant after that correction AND its own effect is large enough:

* the distribution test with ``effect_size >= effect_threshold``, or with new categories that
  hold more than 1% of the current values;
* the missing-rate test with an absolute change of at least ``thresholds.missing_rate``.

A feature missing from the current data, entirely null there while the reference has values,
or of another type (text where the reference had numbers) is drifted with that reason: the
model no longer gets what it was trained on.

All results are JSON-safe (plain int/float/str/bool/None; never NaN or inf).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# scipy.special only: scipy.stats costs ~45 MiB of RSS on import, a tenth of the memory budget
# of a million-row analysis. It is imported lazily for the small-sample exact tests.
from scipy import special

from lineage.profiling import _portable_type, _zone

__all__ = [
    "FEATURE_KINDS",
    "STATUSES",
    "WINDOW_FREQUENCIES",
    "DriftConfigError",
    "DriftThresholds",
    "analyse",
    "benjamini_hochberg",
    "decide",
    "feature_kind",
    "feature_statistics",
    "split_windows",
    "summarise",
]

logger = logging.getLogger(__name__)

FEATURE_KINDS = ("numeric", "categorical")
#: "unsupported" is for columns of types the tests do not apply to (lists, structs, binary).
STATUSES = (
    "ok",
    "missing_in_current",
    "missing_in_reference",
    "type_mismatch",
    "all_null",
    "empty",
    "unsupported",
)
WINDOW_FREQUENCIES = ("hour", "day", "week")

PSI_BINS = 10
#: Stands in for an empty bin's fraction in the PSI (the usual 1e-4; Evidently does the same).
PSI_EPSILON = 1e-4
HISTOGRAM_BINS = 30
CATEGORY_VALUES_SHOWN = 30
CATEGORY_NAMES_LISTED = 50
TOP_VALUES = 5
#: New categories holding more than this share of current values are a large change.
NEW_CATEGORY_SHARE = 0.01
#: The chi-square approximation wants expected counts of at least 5 in every cell.
MIN_EXPECTED_COUNT = 5.0
#: Up to this many pairs (n x m) the KS p-value is exact; it costs ~1 ms at 1,000 x 1,000.
EXACT_KS_MAX_PAIRS = 2_500_000
#: Windows with fewer rows get a caution in their message.
FEW_WINDOW_ROWS = 50
MAX_WINDOWS = 1_000
# Merged-CDF work is done in blocks of this many points to bound temporary memory.
_BLOCK = 1 << 17

_SECONDS_PER_UNIT = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_UNITS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_FREQUENCY_SECONDS = {"hour": 3_600, "day": 86_400, "week": 7 * 86_400}
_ADJECTIVES = {"hour": "Hourly", "day": "Daily", "week": "Weekly"}
# 1970-01-01 was a Thursday: weeks (ISO, starting on Monday) are counted from 1969-12-29.
_WEEK_ORIGIN_SECONDS = -3 * 86_400
_EPOCH = datetime(1970, 1, 1)
_FAMILY_WORDS = {"number": "numbers", "time": "dates/times", "category": "text or categories"}


# --------------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------------


class DriftConfigError(ValueError):
    """An invalid drift setting; ``str(exc)`` is ``"<field>: <message>"``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class _Range:
    low: float
    high: float
    low_inclusive: bool = False
    high_inclusive: bool = False
    integer: bool = False

    def describe(self) -> str:
        kind = "a whole number" if self.integer else "a number"
        if math.isinf(self.high):
            return f"{kind} greater than {_plain(self.low)}"
        low = "from" if self.low_inclusive else "greater than"
        high = "to" if self.high_inclusive else "and less than"
        if self.low_inclusive and self.high_inclusive:
            return f"{kind} from {_plain(self.low)} to {_plain(self.high)}"
        return f"{kind} {low} {_plain(self.low)} {high} {_plain(self.high)}"

    def contains(self, value: float) -> bool:
        above = value >= self.low if self.low_inclusive else value > self.low
        below = value <= self.high if self.high_inclusive else value < self.high
        return above and below


_THRESHOLD_RANGES: dict[str, _Range] = {
    "alpha": _Range(0.0, 1.0),
    "ks": _Range(0.0, 1.0, high_inclusive=True),
    "wasserstein": _Range(0.0, math.inf),
    "psi": _Range(0.0, math.inf),
    "jensen_shannon": _Range(0.0, 1.0, high_inclusive=True),
    "missing_rate": _Range(0.0, 1.0, high_inclusive=True),
    "domain_auc": _Range(0.5, 1.0, low_inclusive=True, high_inclusive=True),
    "domain_alpha": _Range(0.0, 1.0),
    "classifier_rows": _Range(20, 1_000_000, True, True, integer=True),
}


@dataclass(frozen=True)
class DriftThresholds:
    """The settings of a drift analysis (per model); every value is validated on creation.

    ``wasserstein`` applies to the Wasserstein distance divided by the reference standard
    deviation (see the module docstring); ``ks`` and ``psi`` are the usual levels shown beside
    those statistics.
    """

    alpha: float = 0.05
    ks: float = 0.1
    wasserstein: float = 0.1
    psi: float = 0.2
    jensen_shannon: float = 0.1
    missing_rate: float = 0.05
    domain_auc: float = 0.52
    domain_alpha: float = 0.01
    classifier_rows: int = 50_000

    def __post_init__(self) -> None:
        for name, allowed in _THRESHOLD_RANGES.items():
            object.__setattr__(self, name, _checked(name, getattr(self, name), allowed))

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> DriftThresholds:
        """Build from stored settings; missing keys (or None values) keep their defaults.

        Raises :class:`DriftConfigError` naming the key for an unknown key, a value of the
        wrong type or one out of range.
        """
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise DriftConfigError("thresholds", "must be an object of threshold names to values.")
        known = [item.name for item in fields(cls)]
        for key in raw:
            if key not in known:
                raise DriftConfigError(
                    str(key), f"unknown threshold; the known ones are {', '.join(known)}."
                )
        return cls(**{key: value for key, value in raw.items() if value is not None})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _checked(name: str, value: Any, allowed: _Range) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise DriftConfigError(
            name, f"must be {allowed.describe()}, got {type(value).__name__} {value!r}."
        )
    number = float(value)
    if allowed.integer and not number.is_integer():
        raise DriftConfigError(name, f"must be {allowed.describe()}, got {value!r}.")
    if not math.isfinite(number) or not allowed.contains(number):
        raise DriftConfigError(name, f"must be {allowed.describe()}, got {value!r}.")
    return int(number) if allowed.integer else number


def _plain(number: float) -> str:
    return f"{number:,.0f}" if float(number).is_integer() else f"{number:g}"


_DEFAULT_THRESHOLDS = DriftThresholds()


# --------------------------------------------------------------------------------------------
# Column kinds
# --------------------------------------------------------------------------------------------


def feature_kind(data_type: pa.DataType) -> str | None:
    """``"numeric"``, ``"categorical"`` or None (a type the drift tests do not apply to).

    Integers, floats and decimals are numeric, and so are timestamps and dates (compared as
    epoch seconds); text, booleans and dictionary-encoded columns are categorical.
    """
    family = _family(data_type)
    if family in ("number", "time"):
        return "numeric"
    if family == "category":
        return "categorical"
    return None


def _family(data_type: pa.DataType) -> str | None:
    """Finer than the kind: numbers and times are both numeric but cannot be compared."""
    if pa.types.is_dictionary(data_type):
        return "category"
    if (
        pa.types.is_integer(data_type)
        or pa.types.is_floating(data_type)
        or pa.types.is_decimal(data_type)
    ):
        return "number"
    if pa.types.is_timestamp(data_type) or pa.types.is_date(data_type):
        return "time"
    if (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
        or pa.types.is_boolean(data_type)
    ):
        return "category"
    if pa.types.is_null(data_type):
        return "null"  # a column with no values at all (e.g. an empty CSV column)
    return None


def _kind_of_family(family: str | None) -> str | None:
    return {"number": "numeric", "time": "numeric", "category": "categorical"}.get(family or "")


# --------------------------------------------------------------------------------------------
# One side of a comparison
# --------------------------------------------------------------------------------------------


@dataclass
class _Side:
    """One column of one table, reduced to what the tests need."""

    rows: int
    missing: int
    family: str | None
    data_type: str
    # numeric: the non-missing values, sorted, as float64 (epoch seconds for times)
    values: np.ndarray | None = None
    # categorical: the distinct non-null values as text, and how many rows hold each
    labels: pa.Array | None = None
    counts: np.ndarray | None = None

    @property
    def present(self) -> int:
        return self.rows - self.missing

    @property
    def missing_rate(self) -> float | None:
        return self.missing / self.rows if self.rows else None


def _prepare(column: pa.ChunkedArray) -> _Side:
    family = _family(column.type)
    data_type = _portable_type(column.type) if family != "null" else "null"
    rows = len(column)
    if family in ("number", "time"):
        values, missing = _sorted_numbers(column)
        return _Side(rows, missing, family, data_type, values=values)
    if family == "category":
        labels, counts = _category_counts(column)
        return _Side(
            rows, rows - int(counts.sum()), family, data_type, labels=labels, counts=counts
        )
    return _Side(rows, rows, family, data_type)


def _sorted_numbers(column: pa.ChunkedArray) -> tuple[np.ndarray, int]:
    """The finite values as one sorted float64 array, and how many rows are missing.

    Values are copied once from the Arrow buffers (nulls skipped with the validity mask) into
    a fresh array that is then sorted in place, so a column costs one 8-byte copy per value.
    NaN and infinite values count as missing.
    """
    data_type = column.type
    seconds = 1.0
    if pa.types.is_decimal(data_type) or pa.types.is_float16(data_type):
        column = column.cast(pa.float64())
    elif pa.types.is_timestamp(data_type):
        seconds = _SECONDS_PER_UNIT[data_type.unit]
        column = column.cast(pa.int64())
    elif pa.types.is_date32(data_type):
        seconds = 86_400.0
        column = column.cast(pa.int32())
    elif pa.types.is_date64(data_type):
        seconds = 1e-3
        column = column.cast(pa.int64())
    values = np.empty(len(column) - column.null_count, dtype=np.float64)
    filled = 0
    for chunk in column.chunks:
        filled = _copy_present(chunk, values, filled)
    missing = column.null_count
    if pa.types.is_floating(column.type):
        finite = np.isfinite(values)
        if not finite.all():
            missing += int(values.size - np.count_nonzero(finite))
            values = values[finite]
    if seconds != 1.0:
        values *= seconds
    values.sort()
    return values, missing


def _copy_present(chunk: pa.Array, out: np.ndarray, filled: int) -> int:
    """Copy a primitive chunk's non-null values into ``out[filled:]``; return the new end.

    Done in blocks so that converting integers to floats needs no full-size temporary.
    """
    raw = _numpy(chunk)
    if chunk.null_count == 0:
        out[filled : filled + raw.size] = raw
        return filled + raw.size
    valid = _bits(chunk.buffers()[0], chunk.offset, len(chunk))
    for start in range(0, raw.size, _BLOCK):
        present = raw[start : start + _BLOCK][valid[start : start + _BLOCK]]
        out[filled : filled + present.size] = present
        filled += present.size
    return filled


# Arrow <-> numpy through the buffers: pyarrow's to_numpy() and pa.array() go through its pandas
# shim, whose first use imports pandas (~35 MiB of RSS) in a process that never needs it.


def _numpy(array: pa.Array) -> np.ndarray:
    """The values buffer of a primitive (non-boolean) array as a read-only numpy view.

    Null slots hold arbitrary values; mask them with :func:`_bits` of the validity buffer.
    """
    dtype = np.dtype(array.type.to_pandas_dtype())
    if len(array) == 0:
        return np.empty(0, dtype=dtype)
    view: np.ndarray = np.frombuffer(
        array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * dtype.itemsize
    )
    return view


def _bits(buffer: pa.Buffer | None, offset: int, length: int) -> np.ndarray:
    """An Arrow bitmap (validity or boolean values) as a numpy bool array; None is all true."""
    if buffer is None:
        return np.ones(length, dtype=bool)
    packed = np.frombuffer(buffer, dtype=np.uint8)
    bits = np.unpackbits(packed, count=offset + length, bitorder="little")[offset:]
    return bits.view(bool)


def _indices(positions: np.ndarray) -> pa.Array:
    """Row positions as an Arrow int64 array for ``take`` (zero-copy over the numpy data)."""
    data = np.ascontiguousarray(positions, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), data.size, [None, pa.py_buffer(data)])


def _category_counts(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Distinct non-null values as text (booleans as true/false) and their counts."""
    counted = pc.value_counts(column)
    values, counts = counted.field("values"), counted.field("counts")
    if values.null_count:
        present = pc.is_valid(values)
        values, counts = values.filter(present), counts.filter(present)
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if values.type != pa.string():
        values = values.cast(pa.string())
    return values, _numpy(counts).astype(np.int64)


# --------------------------------------------------------------------------------------------
# Raw statistics
# --------------------------------------------------------------------------------------------


def feature_statistics(
    reference: pa.Table,
    current: pa.Table,
    features: Sequence[str],
    thresholds: DriftThresholds,
    *,
    reference_cache: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One dict of raw statistics per feature, before the correction across features.

    Any group of features can be computed separately (a Celery subtask per group) and the
    lists concatenated for :func:`decide`. Columns are handled one at a time, so the memory
    needed beyond the two tables is a few copies of one column.

    ``reference_cache``: pass the same (initially empty) dict to calls that share the
    reference, e.g. one per time window, and each reference column is sorted or counted only
    once instead of per call; it then holds about 8 bytes per numeric reference value.
    """
    return _statistics(reference, current, features, thresholds, reference_cache, None)


def _statistics(
    reference: pa.Table,
    current: pa.Table,
    features: Sequence[str],
    thresholds: DriftThresholds,
    reference_sides: dict[str, Any] | None,
    progress: Callable[[float], None] | None,
) -> list[dict[str, Any]]:
    """``reference_sides``, when given, keeps each reduced reference column for the next call
    (windows compare many slices of current data with the same reference)."""
    names = list(dict.fromkeys(features))
    results = []
    for index, name in enumerate(names):
        results.append(_feature(name, reference, current, thresholds, reference_sides))
        if progress is not None:
            progress((index + 1) / len(names))
    return results


def _blank(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "kind": None,
        "data_type": None,
        "status": "ok",
        "message": "",
        "reference_rows": 0,
        "current_rows": 0,
        "reference_missing_rate": None,
        "current_missing_rate": None,
        "missing_p_value": None,
        "test": None,
        "statistic": None,
        "p_value": None,
        "ks": None,
        "wasserstein": None,
        "psi": None,
        "chi2": None,
        "jensen_shannon": None,
        "new_categories": [],
        "vanished_categories": [],
        "new_categories_share": None,
        "effect_size": None,
        "effect_threshold": None,
        "effect_measure": None,
        "histogram": None,
        "reference_summary": None,
        "current_summary": None,
    }


def _feature(
    name: str,
    reference: pa.Table,
    current: pa.Table,
    thresholds: DriftThresholds,
    reference_sides: dict[str, Any] | None,
) -> dict[str, Any]:
    """Steps: check the column exists on both sides, has rows, and the same family of type;
    reduce each side (sorted values or category counts); then compare."""
    result = _blank(name)
    result.update(reference_rows=reference.num_rows, current_rows=current.num_rows)
    in_reference = name in reference.column_names
    in_current = name in current.column_names
    if not in_reference:
        result["status"] = "missing_in_reference"
        if in_current:
            result["kind"] = feature_kind(current.column(name).type)
            result["message"] = f"'{name}' is not in the reference data, so it is not compared."
        else:
            result["message"] = f"'{name}' is in neither the reference nor the current data."
        return result

    reference_type = reference.column(name).type
    result["kind"] = feature_kind(reference_type)
    if not in_current:
        result["status"] = "missing_in_current"
        result["message"] = f"'{name}' is missing from the current data."
        if reference.num_rows and _family(reference_type) is not None:
            side = _reference_side(name, reference, reference_sides)
            result.update(data_type=side.data_type, reference_missing_rate=side.missing_rate)
            result["reference_summary"] = _summary(side)
        return result

    current_type = current.column(name).type
    reference_family, current_family = _family(reference_type), _family(current_type)
    if result["kind"] is None:
        result["kind"] = feature_kind(current_type)
    result["data_type"] = _portable_type(reference_type)
    if reference.num_rows == 0 or current.num_rows == 0:
        result["status"] = "empty"
        which = "reference" if reference.num_rows == 0 else "current"
        result["message"] = f"The {which} data has no rows, so '{name}' cannot be compared."
        return result
    if reference_family is None or current_family is None:
        result["status"] = "unsupported"
        bad = reference_type if reference_family is None else current_type
        result["message"] = f"'{name}' holds {bad} values, which drift analysis does not support."
        return result
    if "null" not in (reference_family, current_family) and reference_family != current_family:
        result["status"] = "type_mismatch"
        result["message"] = (
            f"'{name}' holds {_FAMILY_WORDS[reference_family]} in the reference but "
            f"{_FAMILY_WORDS[current_family]} in the current data "
            f"({_portable_type(reference_type)} vs {_portable_type(current_type)}), so their "
            "distributions cannot be compared."
        )
        return result

    reference_side = _reference_side(name, reference, reference_sides)
    current_side = _prepare(current.column(name))
    if result["kind"] is None:  # the reference column is all null (type null)
        result["kind"] = _kind_of_family(current_side.family)
    if reference_side.family == "null":
        result["data_type"] = current_side.data_type
    result.update(
        reference_missing_rate=reference_side.missing_rate,
        current_missing_rate=current_side.missing_rate,
        missing_p_value=_missing_p_value(reference_side, current_side),
        reference_summary=_summary(reference_side),
        current_summary=_summary(current_side),
    )
    if reference_side.present == 0 or current_side.present == 0:
        result["status"] = "all_null"
        result["message"] = _all_null_message(name, reference_side, current_side)
        return result
    if result["kind"] == "numeric":
        result.update(_compare_numbers(reference_side, current_side, thresholds))
    else:
        result.update(_compare_categories(reference_side, current_side, thresholds))
    return result


def _reference_side(name: str, reference: pa.Table, cache: dict[str, Any] | None) -> _Side:
    if cache is None:
        return _prepare(reference.column(name))
    side = cache.get(name)
    if not isinstance(side, _Side):
        side = cache[name] = _prepare(reference.column(name))
    return side


def _all_null_message(name: str, reference: _Side, current: _Side) -> str:
    if reference.present == 0 and current.present == 0:
        return f"'{name}' has no values in either the reference or the current data."
    if current.present == 0:
        return f"'{name}' has no values in the current data (the reference has some)."
    return f"'{name}' has no values in the reference data, so its distribution is not compared."


# --- numeric -----------------------------------------------------------------------------


def _compare_numbers(
    reference: _Side, current: _Side, thresholds: DriftThresholds
) -> dict[str, Any]:
    a, b = reference.values, current.values
    assert a is not None and b is not None
    distance, wasserstein = _ks_and_wasserstein(a, b)
    scale = _spread(a, b)
    normalised = wasserstein / scale if scale > 0 else 0.0
    message = ""
    if a[0] == a[-1] and b[0] == b[-1] and a[0] == b[0]:
        message = "The same constant value in the reference and the current data."
    elif a[0] == a[-1]:
        message = (
            "The reference values are constant, so the Wasserstein distance is measured "
            "against the spread of both samples together."
        )
    integer = reference.data_type == "integer" and current.data_type == "integer"
    return {
        "test": "ks",
        "statistic": _finite(distance),
        "p_value": _finite(_ks_p_value(distance, a, b)),
        "ks": _finite(distance),
        "wasserstein": _finite(normalised),
        "psi": _finite(_psi(a, b)),
        "effect_size": _finite(normalised),
        "effect_threshold": thresholds.wasserstein,
        "effect_measure": "wasserstein",
        "histogram": _numeric_histogram(a, b, integer=integer),
        "message": message,
    }


def _ks_and_wasserstein(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 distance of two sorted samples, from their merge.

    Between consecutive values of the merged order both empirical CDFs are constant, so the
    Wasserstein distance is the sum of ``|F_a - F_b| * width`` over those intervals and the KS
    statistic is the largest ``|F_a - F_b|`` after the last of a run of equal values. The merge
    is walked in slices of ``_BLOCK`` positions (found by a "merge path" binary search), so
    temporary memory stays a few MiB whatever the sizes and however many values are tied.
    """
    n, m = a.size, b.size
    total = n + m
    distance = area = 0.0
    previous: tuple[float, float] | None = None  # the last merged value so far, gap after it
    a_start = b_start = 0
    for stop in range(min(_BLOCK, total), total + _BLOCK, _BLOCK):
        stop = min(stop, total)
        a_stop = _co_rank(a, b, stop)
        b_stop = stop - a_stop
        merged, from_b = _merge(a[a_start:a_stop], b[b_start:b_stop])
        if merged.size:
            # n * m * |F_a - F_b| after each merged value, in whole numbers: with p values
            # merged so far, of which c from b, it is |(p - c) m - c n| = |p m - c (n + m)|
            # (Kept in float64, exact below 2**53: sizes up to ~10**8 per side.)
            count_b = np.cumsum(from_b, dtype=np.float64)
            count_b += b_start
            count_b *= total
            gap = np.arange(a_start + b_start + 1, stop + 1, dtype=np.float64)
            gap *= m
            gap -= count_b
            np.abs(gap, out=gap)
            if previous is not None:
                width = float(merged[0]) - previous[0]
                area += previous[1] * width
                if width > 0:
                    distance = max(distance, previous[1])
            widths = np.diff(merged)
            distance = max(distance, float(np.max(gap[:-1], where=widths > 0, initial=0.0)))
            # Multiply and sum rather than a BLAS dot product: OpenBLAS threads only add
            # overhead at this size, and a lot of it when the cores are busy.
            area += float(np.multiply(gap[:-1], widths, out=widths).sum())
            previous = (float(merged[-1]), float(gap[-1]))
        a_start, b_start = a_stop, b_stop
        if stop == total:
            break
    return distance / (n * m), area / (n * m)


def _co_rank(a: np.ndarray, b: np.ndarray, k: int) -> int:
    """How many values of ``a`` are among the first ``k`` of the merge (``a`` first on ties)."""
    low, high = max(0, k - b.size), min(k, a.size)
    while low < high:
        i = (low + high) // 2
        if a[i] <= b[k - i - 1]:  # a[i] belongs before the last b taken: take more a
            low = i + 1
        else:
            high = i
    return low


def _merge(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted arrays (``a`` first among ties) and mark the values that came from ``b``.

    ``b[j]`` lands at ``j + (number of a <= b[j])``: one binary search of sorted keys, no sort.
    """
    positions = np.searchsorted(a, b, side="right")
    positions += np.arange(b.size)
    from_b = np.zeros(a.size + b.size, dtype=bool)
    from_b[positions] = True
    merged = np.empty(a.size + b.size, dtype=np.float64)
    merged[positions] = b
    merged[~from_b] = a
    return merged, from_b


def _ks_p_value(distance: float, a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided two-sample KS p-value: exact for small samples, else asymptotic.

    The asymptotic value is the Kolmogorov distribution at Stephens' corrected statistic
    ``(sqrt(en) + 0.12 + 0.11 / sqrt(en)) * D`` with ``en = n m / (n + m)``, within a few
    percent of the exact value even for tens of values, and of scipy's "asymp" for large ones.
    """
    n, m = a.size, b.size
    if distance <= 0:
        return 1.0
    if n * m <= EXACT_KS_MAX_PAIRS:
        from scipy import stats

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # exact -> asymp fallback notice
            return float(stats.ks_2samp(a, b, method="exact").pvalue)
    root = math.sqrt(n * m / (n + m))
    return float(special.kolmogorov((root + 0.12 + 0.11 / root) * distance))


def _spread(a: np.ndarray, b: np.ndarray) -> float:
    """The reference standard deviation; both samples' together if the reference is constant."""
    n, m = a.size, b.size
    reference_variance = float(np.var(a, ddof=1)) if n > 1 else 0.0
    if reference_variance > 0:
        return math.sqrt(reference_variance)
    mean_a, mean_b = float(np.mean(a)), float(np.mean(b))
    mean = (n * mean_a + m * mean_b) / (n + m)
    pooled = (n * (mean_a - mean) ** 2 + m * (float(np.var(b)) + (mean_b - mean) ** 2)) / (n + m)
    return math.sqrt(pooled) if pooled > 0 else 0.0


def _quantiles(ordered: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles (numpy's default) read off a sorted array."""
    position = levels * (ordered.size - 1)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, ordered.size - 1)
    fraction = position - lower
    values: np.ndarray = ordered[lower] + (ordered[upper] - ordered[lower]) * fraction
    return values


def _psi(a: np.ndarray, b: np.ndarray) -> float:
    """Population stability index over the reference's decile bins.

    Bins are ``(-inf, d1], (d1, d2], ... (d9, inf)`` with repeated deciles merged (so a column
    of few distinct values gets one bin per value); an empty bin's fraction is ``PSI_EPSILON``.
    """
    levels = np.arange(1, PSI_BINS) / PSI_BINS
    edges = np.unique(_quantiles(a, levels))
    reference = np.diff(np.searchsorted(a, edges, side="right"), prepend=0, append=a.size)
    current = np.diff(np.searchsorted(b, edges, side="right"), prepend=0, append=b.size)
    expected = np.maximum(reference / a.size, PSI_EPSILON)
    actual = np.maximum(current / b.size, PSI_EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _numeric_histogram(a: np.ndarray, b: np.ndarray, *, integer: bool) -> dict[str, Any]:
    """About 30 equal bins shared by both sides, as fractions of each side's values.

    The range covers the central 99% of each side (0.5%-99.5% quantiles), widened by 5% but
    not past the data; values beyond it are counted in the end bins, so an outlier does not
    squeeze every other value into one bin. Integers spanning fewer than 30 values get one
    bin per value.
    """
    lowest, highest = float(min(a[0], b[0])), float(max(a[-1], b[-1]))
    if integer and highest - lowest < HISTOGRAM_BINS:
        edges = np.arange(lowest - 0.5, highest + 1.0, 1.0)
    else:
        tails = np.array([0.005, 0.995])
        low_a, high_a = _quantiles(a, tails)
        low_b, high_b = _quantiles(b, tails)
        low, high = float(min(low_a, low_b)), float(max(high_a, high_b))
        margin = 0.05 * (high - low)
        low, high = max(low - margin, lowest), min(high + margin, highest)
        if high <= low:
            low, high = lowest, highest
        if high <= low:
            low, high = low - 0.5, high + 0.5
        edges = np.linspace(low, high, HISTOGRAM_BINS + 1)
    inner = edges[1:-1]
    reference = np.diff(np.searchsorted(a, inner, side="left"), prepend=0, append=a.size)
    current = np.diff(np.searchsorted(b, inner, side="left"), prepend=0, append=b.size)
    return {
        "kind": "numeric",
        "edges": [float(edge) for edge in edges],
        "reference": [float(count) / a.size for count in reference],
        "current": [float(count) / b.size for count in current],
    }


# --- categorical -------------------------------------------------------------------------


def _compare_categories(
    reference: _Side, current: _Side, thresholds: DriftThresholds
) -> dict[str, Any]:
    assert reference.labels is not None and reference.counts is not None
    assert current.labels is not None and current.counts is not None
    labels, reference_counts, current_counts = _aligned_counts(reference, current)
    statistic, p_value = _chi_square(reference_counts, current_counts)
    p = reference_counts / reference_counts.sum()
    q = current_counts / current_counts.sum()
    distance = _jensen_shannon(p, q)
    known = len(reference.labels)
    new = np.flatnonzero(reference_counts == 0)
    vanished = np.flatnonzero(current_counts[:known] == 0)
    message = ""
    if len(labels) > 0.5 * (reference.present + current.present) and len(labels) > 100:
        message = (
            f"{len(labels):,} distinct values: this looks like an identifier, which rarely "
            "makes a useful feature to compare."
        )
    return {
        "test": "chi2",
        "statistic": _finite(statistic),
        "p_value": _finite(p_value),
        "chi2": _finite(statistic),
        "jensen_shannon": _finite(distance),
        "new_categories": _names_by_count(labels, new, current_counts),
        "vanished_categories": _names_by_count(labels, vanished, reference_counts),
        "new_categories_share": float(q[new].sum()),
        "effect_size": _finite(distance),
        "effect_threshold": thresholds.jensen_shannon,
        "effect_measure": "jensen_shannon",
        "histogram": _categorical_histogram(labels, p, q),
        "message": message,
    }


def _aligned_counts(reference: _Side, current: _Side) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Both sides' counts over the union of categories: the reference's, then the new ones."""
    assert reference.labels is not None and reference.counts is not None
    assert current.labels is not None and current.counts is not None
    where = pc.index_in(current.labels, value_set=reference.labels)
    labels = pa.concat_arrays([reference.labels, current.labels.filter(pc.is_null(where))])
    position = _numpy(where).astype(np.int64)
    new = ~_bits(where.buffers()[0], where.offset, len(where))
    position[new] = -1
    known = len(reference.labels)
    reference_counts = np.zeros(len(labels), dtype=np.float64)
    reference_counts[:known] = reference.counts
    current_counts = np.zeros(len(labels), dtype=np.float64)
    current_counts[position[~new]] = current.counts[~new]
    current_counts[known:] = current.counts[new]
    return labels, reference_counts, current_counts


def _chi_square(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity on the 2 x k table, pooling sparse categories.

    A category whose expected count would be under 5 on the smaller side joins an "other"
    column; if that column is itself still too small it is merged into the smallest kept
    category. Same statistic as ``scipy.stats.chi2_contingency`` (with Yates' correction when
    one degree of freedom is left). Fewer than two columns left: no evidence, p = 1.
    """
    totals = reference + current
    rows = np.array([reference.sum(), current.sum()])
    grand = float(rows.sum())
    needed = MIN_EXPECTED_COUNT * grand / float(rows.min())
    keep = totals >= needed
    columns = [reference[keep], current[keep]]
    pooled = np.array([reference[~keep].sum(), current[~keep].sum()])
    table = np.vstack(columns)
    if pooled.sum() > 0:
        if pooled.sum() >= needed or table.shape[1] == 0:
            table = np.column_stack([table, pooled])
        else:
            smallest = int(np.argmin(table.sum(axis=0)))
            table[:, smallest] += pooled
    if table.shape[1] < 2:
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / grand
    dof = table.shape[1] - 1
    observed = table
    if dof == 1:
        difference = expected - observed
        observed = observed + np.minimum(0.5, np.abs(difference)) * np.sign(difference)
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return statistic, float(special.chdtrc(dof, statistic))


def _jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance in base 2 (as ``scipy.spatial.distance.jensenshannon``)."""
    middle = (p + q) / 2
    divergence = 0.0
    for side in (p, q):
        held = side > 0
        divergence += 0.5 * float(np.sum(side[held] * np.log2(side[held] / middle[held])))
    return math.sqrt(max(divergence, 0.0))


def _names_by_count(labels: pa.Array, chosen: np.ndarray, counts: np.ndarray) -> list[str]:
    if chosen.size == 0:
        return []
    order = chosen[np.argsort(-counts[chosen], kind="stable")][:CATEGORY_NAMES_LISTED]
    return [str(name) for name in labels.take(_indices(order)).to_pylist()]


def _categorical_histogram(labels: pa.Array, p: np.ndarray, q: np.ndarray) -> dict[str, Any]:
    """The 30 categories with the biggest share on either side (new ones included).

    ``other_reference`` / ``other_current`` hold the share of the categories not shown.
    """
    biggest = np.maximum(p, q)
    order = np.argsort(-biggest, kind="stable")[:CATEGORY_VALUES_SHOWN]
    shown = labels.take(_indices(order)).to_pylist()
    return {
        "kind": "categorical",
        "values": [str(value) for value in shown],
        "reference": [float(p[index]) for index in order],
        "current": [float(q[index]) for index in order],
        "other_reference": max(float(1.0 - p[order].sum()), 0.0),
        "other_current": max(float(1.0 - q[order].sum()), 0.0),
    }


# --- missing values and summaries ---------------------------------------------------------


def _missing_p_value(reference: _Side, current: _Side) -> float | None:
    """Two-proportion test of the missing rates (Fisher's exact test when counts are small)."""
    n1, n2 = reference.rows, current.rows
    x1, x2 = reference.missing, current.missing
    if n1 == 0 or n2 == 0:
        return None
    total = x1 + x2
    if total == 0 or total == n1 + n2:
        return 1.0
    smallest_expected = min(n1, n2) * min(total, n1 + n2 - total) / (n1 + n2)
    if smallest_expected < MIN_EXPECTED_COUNT:
        from scipy import stats

        return float(stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue)
    pooled = total / (n1 + n2)
    z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return float(2 * special.ndtr(-abs(z)))


def _summary(side: _Side) -> dict[str, Any] | None:
    if side.values is not None:
        values = side.values
        if values.size == 0:
            return {"mean": None, "std": None, "min": None, "max": None, "median": None}
        return {
            "mean": _finite(float(np.mean(values))),
            "std": _finite(float(np.std(values, ddof=1))) if values.size > 1 else None,
            "min": _finite(float(values[0])),
            "max": _finite(float(values[-1])),
            "median": _finite(float(_quantiles(values, np.array([0.5]))[0])),
        }
    if side.labels is not None and side.counts is not None:
        total = int(side.counts.sum())
        order = np.argsort(-side.counts, kind="stable")[:TOP_VALUES]
        names = side.labels.take(_indices(order)).to_pylist()
        return {
            "distinct": len(side.labels),
            "top": [
                [str(name), float(side.counts[index]) / total]
                for name, index in zip(names, order, strict=True)
            ],
        }
    return None


def _finite(value: float | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


# --------------------------------------------------------------------------------------------
# Decision
# --------------------------------------------------------------------------------------------


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (as ``scipy.stats.false_discovery_control``)."""
    if not p_values:
        return []
    values = np.clip(np.asarray(p_values, dtype=np.float64), 0.0, 1.0)
    count = values.size
    order = np.argsort(values)
    scaled = values[order] * count / np.arange(1, count + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty(count)
    result[order] = np.minimum(adjusted, 1.0)
    return [float(value) for value in result]


def decide(features: list[dict[str, Any]], thresholds: DriftThresholds) -> list[dict[str, Any]]:
    """Copies of ``features`` with ``p_value_adjusted``, ``missing_p_value_adjusted``,
    ``significant``, ``large``, ``drifted`` and ``reasons`` (sentences) added.

    The Benjamini-Hochberg family is every distribution p-value of the features with status
    ok and every missing-rate p-value (ok and all_null features), all at once.
    """
    decided = [dict(feature) for feature in features]
    family: list[tuple[int, str, float]] = []
    for index, feature in enumerate(decided):
        feature["p_value_adjusted"] = None
        feature["missing_p_value_adjusted"] = None
        if feature.get("status") == "ok" and feature.get("p_value") is not None:
            family.append((index, "p_value_adjusted", float(feature["p_value"])))
        if (
            feature.get("status") in ("ok", "all_null")
            and feature.get("missing_p_value") is not None
        ):
            family.append((index, "missing_p_value_adjusted", float(feature["missing_p_value"])))
    adjusted = benjamini_hochberg([p for _, _, p in family])
    for (index, key, _), value in zip(family, adjusted, strict=True):
        decided[index][key] = value
    for feature in decided:
        _verdict(feature, thresholds)
    return decided


def _verdict(feature: dict[str, Any], thresholds: DriftThresholds) -> None:
    status = feature.get("status")
    name = feature.get("name")
    alpha = thresholds.alpha
    missing_significant, missing_large, missing_reason = _missing_verdict(feature, thresholds)
    significant = large = drifted = False
    reasons: list[str] = []
    if status == "missing_in_current":
        significant = large = drifted = True
        reasons.append(f"'{name}' is missing from the current data: the model gets no value.")
    elif status == "type_mismatch":
        significant = large = drifted = True
        reasons.append(feature.get("message") or f"'{name}' changed type.")
    elif status == "all_null":
        current_empty = feature.get("current_missing_rate") == 1.0
        reference_empty = feature.get("reference_missing_rate") == 1.0
        significant, large = missing_significant, missing_large
        if current_empty and not reference_empty:
            large = drifted = True
            reasons.append(f"'{name}' has no values in the current data; the reference has.")
        else:
            drifted = missing_significant and missing_large
            reasons.append(feature.get("message") or "No values to compare.")
            if missing_reason and drifted:
                reasons.append(missing_reason)
    elif status == "ok":
        adjusted = feature.get("p_value_adjusted")
        distribution_significant = adjusted is not None and adjusted <= alpha
        effect, threshold = feature.get("effect_size"), feature.get("effect_threshold")
        effect_large = effect is not None and threshold is not None and effect >= threshold
        new_share = feature.get("new_categories_share") or 0.0
        new_large = new_share > NEW_CATEGORY_SHARE
        significant = distribution_significant or missing_significant
        large = effect_large or new_large or missing_large
        distribution_drifted = distribution_significant and (effect_large or new_large)
        drifted = distribution_drifted or (missing_significant and missing_large)
        reasons.extend(
            _distribution_reasons(feature, distribution_significant, effect_large, new_large)
        )
        if missing_reason:
            reasons.append(missing_reason)
    else:
        reasons.append(feature.get("message") or "Not compared.")
    feature.update(significant=significant, large=large, drifted=drifted, reasons=reasons)


def _missing_verdict(
    feature: dict[str, Any], thresholds: DriftThresholds
) -> tuple[bool, bool, str]:
    """Whether the missing-rate change is significant and large, and a sentence if notable."""
    before, after = feature.get("reference_missing_rate"), feature.get("current_missing_rate")
    adjusted = feature.get("missing_p_value_adjusted")
    if before is None or after is None or adjusted is None:
        return False, False, ""
    significant = adjusted <= thresholds.alpha
    large = abs(after - before) >= thresholds.missing_rate
    direction = "rose" if after > before else "fell"
    change = f"Missing values {direction} from {before:.1%} to {after:.1%}"
    if significant and large:
        return True, True, f"{change} (adjusted p {_p_text(adjusted)})."
    if significant:
        return (
            True,
            False,
            (
                f"{change}: significant (adjusted p {_p_text(adjusted)}) but under the "
                f"{thresholds.missing_rate:.0%}-point threshold."
            ),
        )
    return False, large, ""


def _distribution_reasons(
    feature: dict[str, Any], significant: bool, effect_large: bool, new_large: bool
) -> list[str]:
    test = "KS" if feature.get("test") == "ks" else "chi-square"
    adjusted = feature.get("p_value_adjusted")
    p_text = f"{test} adjusted p {_p_text(adjusted)}"
    effect, threshold = feature.get("effect_size"), feature.get("effect_threshold")
    if feature.get("effect_measure") == "wasserstein":
        effect_text = (
            f"values moved by {_number(effect)} reference standard deviations on average "
            f"(Wasserstein; threshold {_number(threshold)})"
        )
    else:
        effect_text = f"Jensen-Shannon distance {_number(effect)} (threshold {_number(threshold)})"
    reasons = []
    if significant and effect_large:
        reasons.append(f"The distribution changed: {effect_text}, {p_text}.")
    elif significant and not new_large:
        reasons.append(
            f"A statistically significant but small change ({p_text}): {effect_text}, "
            "so it is not counted as drift."
        )
    elif significant:
        reasons.append(f"The distribution changed through new categories ({p_text}).")
    elif effect_large:
        reasons.append(
            f"No significant change in the distribution ({p_text}); the measured effect, "
            f"{effect_text}, is within what chance gives at this sample size."
        )
    else:
        reasons.append(f"No significant change in the distribution ({p_text}).")
    # Sentences never quote values (the names are in new_/vanished_categories), so hiding the
    # value-bearing keys of a sensitive column is enough to hide its values.
    new = feature.get("new_categories") or []
    if new:
        share = feature.get("new_categories_share") or 0.0
        counted = ", enough to count as drift" if significant and new_large else ""
        reasons.append(
            f"{_plural(len(new), 'new category holds', 'new categories hold')} {share:.1%} of "
            f"current values{counted}."
        )
    vanished = feature.get("vanished_categories") or []
    if vanished:
        reasons.append(
            f"{_plural(len(vanished), 'reference category', 'reference categories')} "
            "no longer appear in the current data."
        )
    return reasons


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count:,} {singular if count == 1 else plural}"


def _p_text(p: float | None) -> str:
    if p is None:
        return "n/a"
    if p < 0.001:
        return "< 0.001"
    return f"= {p:.3f}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


# --------------------------------------------------------------------------------------------
# Dataset-level summary
# --------------------------------------------------------------------------------------------

_NOT_ANALYSED = ("missing_in_reference", "empty", "unsupported")


def summarise(
    features: list[dict[str, Any]], domain: dict[str, Any] | None, thresholds: DriftThresholds
) -> dict[str, Any]:
    """The dataset-level decision: drifted when any feature drifted or the domain classifier did.

    ``score`` (0..1, for the timeline) is the larger of the drifted share of the analysed
    features and the domain classifier's AUC rescaled, ``clip((auc - 0.5) * 2, 0, 1)``: 0 for
    unchanged data, 1 when every feature drifted or the classifier separates the samples.
    Features that could not be analysed (absent from the reference, no rows, unsupported
    type) are left out of the share.
    """
    analysed = [feature for feature in features if feature.get("status") not in _NOT_ANALYSED]
    drifted_names = [str(feature["name"]) for feature in analysed if feature.get("drifted")]
    share = len(drifted_names) / len(analysed) if analysed else 0.0
    auc = _finite(domain.get("auc")) if domain else None
    domain_drifted = False
    if domain is not None:
        if domain.get("drifted") is not None:
            domain_drifted = bool(domain["drifted"])
        elif auc is not None and domain.get("p_value") is not None:
            domain_drifted = (
                float(domain["p_value"]) < thresholds.domain_alpha and auc >= thresholds.domain_auc
            )
    domain_score = min(max((auc - 0.5) * 2, 0.0), 1.0) if auc is not None else 0.0
    reasons = []
    if drifted_names:
        listed = ", ".join(drifted_names[:10])
        if len(drifted_names) > 10:
            listed += f" and {len(drifted_names) - 10} more"
        reasons.append(f"{len(drifted_names)} of {len(analysed)} features drifted: {listed}.")
    elif analysed:
        reasons.append(f"None of the {len(analysed)} analysed features drifted.")
    else:
        reasons.append("No feature could be analysed.")
    if domain is not None:
        if auc is None:
            reasons.append(str(domain.get("message") or "The domain classifier could not run."))
        elif domain_drifted:
            reasons.append(
                "The domain classifier tells current rows from reference rows apart "
                f"(AUC {auc:.3f}{_interval(domain)}, p {_p_text(_finite(domain.get('p_value')))})."
            )
        else:
            reasons.append(
                f"The domain classifier cannot reliably tell the samples apart (AUC {auc:.3f})."
            )
    return {
        "drifted": bool(drifted_names) or domain_drifted,
        "drift_share": share,
        "drifted_features": drifted_names,
        "features_analysed": len(analysed),
        "reasons": reasons,
        "score": max(share, domain_score),
    }


def _interval(domain: Mapping[str, Any]) -> str:
    low, high = _finite(domain.get("auc_low")), _finite(domain.get("auc_high"))
    return f", 95% interval {low:.3f}-{high:.3f}" if low is not None and high is not None else ""


# --------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------


def split_windows(
    table: pa.Table, column: str, frequency: str
) -> list[tuple[str, Any, Any, np.ndarray]]:
    """Split rows into consecutive hourly, daily or weekly windows of ``column``.

    Returns ``(label, start, end, row_indices)`` per window in time order, from the first
    window holding a row to the last, empty windows in between included. ``start``/``end``
    (exclusive) are ISO-8601; a timezone-aware column is windowed on its local clock and its
    bounds carry the offset. Labels: ``2026-11-03T14:00`` (hour), ``2026-11-03`` (day),
    ``2026-W45`` (ISO week, Monday to Sunday). Rows with a null timestamp are left out.
    """
    if frequency not in WINDOW_FREQUENCIES:
        raise DriftConfigError(
            "window_frequency",
            f"must be one of {', '.join(WINDOW_FREQUENCIES)}, got {frequency!r}.",
        )
    if column not in table.column_names:
        raise DriftConfigError("window_column", f"there is no column '{column}' in the data.")
    values = table.column(column)
    data_type = values.type
    if not (pa.types.is_timestamp(data_type) or pa.types.is_date(data_type)):
        raise DriftConfigError(
            "window_column",
            f"'{column}' holds {_portable_type(data_type)} values; windows need a date or time.",
        )
    zone = None
    if pa.types.is_date32(data_type):
        unit, integers = "s", values.cast(pa.int32())
        scale = 86_400
    elif pa.types.is_date64(data_type):
        unit, integers, scale = "ms", values.cast(pa.int64()), 1
    else:
        unit, scale = data_type.unit, 1
        if data_type.tz is not None:
            zone = _zone(data_type.tz)
            values = pc.local_timestamp(values)
        integers = values.cast(pa.int64())
    chunks = integers.chunks
    if not chunks:
        return []
    valid = np.concatenate(
        [_bits(chunk.buffers()[0], chunk.offset, len(chunk)) for chunk in chunks]
    )
    rows = np.flatnonzero(valid)
    if rows.size == 0:
        return []
    moments = np.concatenate([_numpy(chunk).astype(np.int64) for chunk in chunks])[rows] * scale
    per_second = _UNITS_PER_SECOND[unit]
    step = _FREQUENCY_SECONDS[frequency] * per_second
    origin = _WEEK_ORIGIN_SECONDS * per_second if frequency == "week" else 0
    buckets = np.floor_divide(moments - origin, step)
    first, last = int(buckets.min()), int(buckets.max())
    count = last - first + 1
    if count > MAX_WINDOWS:
        raise DriftConfigError(
            "window_frequency",
            f"{_ADJECTIVES[frequency]} windows over this period would make {count:,} (at most "
            f"{MAX_WINDOWS:,}): choose a longer window or a shorter period.",
        )
    offsets = buckets - first
    order = np.argsort(offsets, kind="stable")
    sizes = np.bincount(offsets, minlength=count)
    groups = np.split(rows[order], np.cumsum(sizes)[:-1])
    windows = []
    for index, indices in enumerate(groups):
        start_seconds = ((first + index) * step + origin) / per_second
        start = _EPOCH + timedelta(seconds=start_seconds)
        end = start + timedelta(seconds=_FREQUENCY_SECONDS[frequency])
        windows.append(
            (_window_label(start, frequency), _iso(start, zone), _iso(end, zone), indices)
        )
    return windows


def _window_label(start: datetime, frequency: str) -> str:
    if frequency == "hour":
        return start.strftime("%Y-%m-%dT%H:00")
    if frequency == "day":
        return start.date().isoformat()
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


def _iso(moment: datetime, zone: Any) -> str:
    return moment.replace(tzinfo=zone).isoformat() if zone is not None else moment.isoformat()


# --------------------------------------------------------------------------------------------
# The whole analysis
# --------------------------------------------------------------------------------------------


def analyse(
    reference: pa.Table,
    current: pa.Table,
    *,
    features: Sequence[str] | None = None,
    thresholds: DriftThresholds = _DEFAULT_THRESHOLDS,
    window_column: str | None = None,
    window_frequency: str | None = None,
    domain: Callable[..., dict[str, Any]] | None = None,
    predictor: Callable[[pa.Table], tuple[np.ndarray, np.ndarray | None]] | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """The whole analysis in one call (small inputs, tests; workers split it into tasks).

    Steps: pick the features (default: the columns both tables have, except the window
    column); per-feature statistics
    and the decision; the domain classifier, called as ``domain(reference, current, features,
    thresholds=thresholds)`` on the comparable features; prediction drift when a
    ``predictor`` is given; the same per-feature analysis for each window of ``current``
    (``window_column`` by ``window_frequency``, default daily) against the whole reference;
    and the dataset-level summary. Problems become sentences in ``messages``, never
    exceptions.
    """
    report = progress or (lambda fraction: None)
    messages: list[str] = []
    result: dict[str, Any] = {
        "features": [],
        "domain_classifier": None,
        "prediction": None,
        "windows": [],
        "summary": {},
        "messages": messages,
        "rows": {"reference": reference.num_rows, "current": current.num_rows},
        "thresholds": thresholds.as_dict(),
    }
    in_current = set(current.column_names)
    common = [name for name in reference.column_names if name in in_current]
    if not common:
        messages.append(_no_common_columns(reference, current))
        result["summary"] = summarise([], None, thresholds)
        result["summary"]["reasons"] = list(messages)
        report(1.0)
        return result
    if features is None:
        # The window column orders current rows in time; comparing it would always "drift".
        names = [name for name in common if name != window_column]
        messages.extend(_unshared_columns(reference, current))
    else:
        names = list(dict.fromkeys(features))

    reference_sides: dict[str, Any] = {}
    statistics = _statistics(
        reference,
        current,
        names,
        thresholds,
        reference_sides,
        lambda fraction: report(0.5 * fraction),
    )
    decided = decide(statistics, thresholds)
    result["features"] = decided
    comparable = [feature["name"] for feature in decided if feature["status"] == "ok"]

    if domain is not None:
        if comparable:
            result["domain_classifier"] = _run_domain(
                domain, reference, current, comparable, thresholds, messages
            )
        else:
            messages.append("No feature can be compared, so the domain classifier did not run.")
    report(0.7)

    current_confidence: np.ndarray | None = None
    if predictor is not None:
        result["prediction"], current_confidence = _run_predictor(
            predictor, reference, current, thresholds, messages
        )
    report(0.75)

    if window_column is not None:
        result["windows"] = _windows(
            reference,
            current,
            names,
            thresholds,
            reference_sides,
            window_column,
            window_frequency or "day",
            current_confidence if predictor is not None else None,
            predictor is not None,
            messages,
            lambda fraction: report(0.75 + 0.25 * fraction),
        )
    result["summary"] = summarise(decided, result["domain_classifier"], thresholds)
    report(1.0)
    return result


def _listing(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _no_common_columns(reference: pa.Table, current: pa.Table) -> str:
    return (
        "The reference and current data have no columns in common "
        f"(reference: {_listing(reference.column_names, 5) or 'none'}; "
        f"current: {_listing(current.column_names, 5) or 'none'}), so nothing can be "
        "compared. Check that the right datasets were chosen."
    )


def _unshared_columns(reference: pa.Table, current: pa.Table) -> list[str]:
    only_reference = [name for name in reference.column_names if name not in current.column_names]
    only_current = [name for name in current.column_names if name not in reference.column_names]
    messages = []
    if only_reference:
        messages.append(f"Columns only in the reference, not analysed: {_listing(only_reference)}.")
    if only_current:
        messages.append(
            f"Columns only in the current data, not analysed: {_listing(only_current)}."
        )
    return messages


def _run_domain(
    domain: Callable[..., dict[str, Any]],
    reference: pa.Table,
    current: pa.Table,
    features: list[str],
    thresholds: DriftThresholds,
    messages: list[str],
) -> dict[str, Any] | None:
    try:
        return domain(reference, current, features, thresholds=thresholds)
    except Exception as exc:  # a failed classifier must not lose the per-feature results
        logger.exception("domain classifier failed")
        messages.append(f"The domain classifier failed: {exc}")
        return None


def _run_predictor(
    predictor: Callable[[pa.Table], tuple[np.ndarray, np.ndarray | None]],
    reference: pa.Table,
    current: pa.Table,
    thresholds: DriftThresholds,
    messages: list[str],
) -> tuple[dict[str, Any] | None, np.ndarray | None]:
    """Score both samples and compare predictions (monitoring.domain.prediction_drift)."""
    try:
        reference_predictions, reference_confidence = predictor(reference)
        current_predictions, current_confidence = predictor(current)
    except Exception as exc:  # the model may not accept the data; say so and carry on
        logger.exception("scoring for prediction drift failed")
        messages.append(f"Scoring the samples with the model failed: {exc}")
        return None, None
    classification = current_confidence is not None or (
        np.asarray(current_predictions).dtype.kind not in "fc"
    )
    try:
        from monitoring.domain import prediction_drift

        prediction = prediction_drift(
            np.asarray(reference_predictions),
            np.asarray(current_predictions),
            None if reference_confidence is None else np.asarray(reference_confidence),
            None if current_confidence is None else np.asarray(current_confidence),
            task="classification" if classification else "regression",
            thresholds=thresholds,
        )
    except Exception as exc:
        logger.exception("prediction drift failed")
        messages.append(f"Comparing the predictions failed: {exc}")
        prediction = None
    confidence = None if current_confidence is None else np.asarray(current_confidence, float)
    return prediction, confidence


def _windows(
    reference: pa.Table,
    current: pa.Table,
    names: list[str],
    thresholds: DriftThresholds,
    reference_sides: dict[str, Any],
    column: str,
    frequency: str,
    confidence: np.ndarray | None,
    with_confidence: bool,
    messages: list[str],
    progress: Callable[[float], None],
) -> list[dict[str, Any]]:
    try:
        windows = split_windows(current, column, frequency)
    except DriftConfigError as exc:
        messages.append(f"No time windows: {exc.message}")
        return []
    if not windows:
        messages.append(f"No time windows: '{column}' has no values in the current data.")
        return []
    results = []
    for index, (label, start, end, indices) in enumerate(windows):
        window: dict[str, Any] = {
            "label": label,
            "start": start,
            "end": end,
            "current_rows": int(indices.size),
            "features": [],
            "drift_share": 0.0,
            "drifted": False,
            "score": 0.0,
            "message": "",
        }
        if with_confidence:
            window["confidence_mean"] = (
                _finite(float(np.nanmean(confidence[indices])))
                if confidence is not None
                and indices.size
                and np.isfinite(confidence[indices]).any()
                else None
            )
        if indices.size == 0:
            window["message"] = "No rows in this window."
        else:
            rows = current.take(_indices(indices))
            decided = decide(
                _statistics(reference, rows, names, thresholds, reference_sides, None), thresholds
            )
            summary = summarise(decided, None, thresholds)
            window.update(
                features=[
                    {
                        "name": feature["name"],
                        "effect_size": feature["effect_size"],
                        "effect_threshold": feature["effect_threshold"],
                        "effect_measure": feature["effect_measure"],
                        "drifted": feature["drifted"],
                        "p_value_adjusted": feature["p_value_adjusted"],
                    }
                    for feature in decided
                ],
                drift_share=summary["drift_share"],
                drifted=summary["drifted"],
                score=summary["score"],
            )
            if indices.size < FEW_WINDOW_ROWS:
                window["message"] = (
                    f"Only {indices.size} rows in this window: the tests can only catch large "
                    "changes."
                )
        results.append(window)
        progress((index + 1) / len(windows))
    return results
