"""Run a data quality suite over a table: one :class:`CheckResult` per check, never an exception.

The engine takes a :class:`pyarrow.Table` and the suite's check dicts (see
``monitoring/checks.py``) and returns plain, JSON-safe results a worker can store as they are.
Each check is computed on whole columns with pyarrow.compute or numpy (a comparison, a hash
lookup, one RE2 pass), so 40 checks over a million rows take 1-2 s on two cores; no check loops
over rows in Python. A check that cannot be evaluated (a range on a text column, an expression
comparing text with a number, a bug) is reported as "errored" and the others still run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lineage.profiling import _portable_type, _top_indices
from monitoring.checks import (
    CHECK_TYPES,
    SEVERITIES,
    CheckDefinitionError,
    check_columns,
    format_number,
    format_percent,
    normalise_check,
)
from monitoring.expressions import ExpressionError, parse_expression, without_nan

__all__ = ["CheckResult", "columns_needed", "run_status", "run_suite"]

#: Bins of the numeric failure histogram, and values shown in a categorical one.
HISTOGRAM_BINS = 30
CATEGORICAL_VALUES = 20
UNEXPECTED_VALUES_SHOWN = 10

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECONDS_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}
_EXPECTED_PORTABLE_TYPES: dict[str, tuple[str, ...]] = {
    "integer": ("integer",),
    "float": ("float",),
    "numeric": ("integer", "float"),
    "string": ("string",),
    "boolean": ("boolean",),
    "datetime": ("datetime",),
    "date": ("date",),
}


@dataclass
class CheckResult:
    """The outcome of one check on one table; every field is JSON-safe."""

    name: str
    type: str
    severity: str
    column: str | None
    outcome: str
    message: str
    failing_count: int | None = None
    failing_fraction: float | None = None
    observed: dict[str, Any] = field(default_factory=dict)
    sample_rows: list[dict[str, Any]] = field(default_factory=list)
    distribution: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _CannotEvaluate(Exception):
    """The check does not apply to this data (wrong column type); the message says why."""


@dataclass
class _Verdict:
    """What a check runner found, before the engine adds sample rows and the distribution."""

    passed: bool
    message: str
    observed: dict[str, Any]
    failing_count: int | None = None
    # True for each failing row (null counts as not failing), for sample rows and histograms.
    failing: pa.ChunkedArray | pa.Array | None = None


@dataclass
class _Encoding:
    """A column as integer codes into its distinct values (one hash pass, shared by checks)."""

    codes: np.ndarray  # int64 per row, 0..len(dictionary)-1; 0 (meaningless) where null
    valid: np.ndarray  # bool per row: False where the value is null (or NaN)
    dictionary: pa.Array  # the distinct non-null values

    def counts(self, rows: np.ndarray | None = None) -> np.ndarray:
        """How many (selected) valid rows hold each distinct value."""
        selected = self.valid if rows is None else self.valid & rows
        codes = self.codes if selected.all() else self.codes[selected]
        return np.bincount(codes, minlength=len(self.dictionary))


class _Run:
    """One suite run over one table: the table, the clock, and decoded columns shared by checks."""

    def __init__(self, table: pa.Table, now: datetime) -> None:
        self.table = table
        self.rows = table.num_rows
        self.now = now
        self._columns: dict[str, pa.ChunkedArray] = {}
        self._encodings: dict[str, _Encoding] = {}

    def encoding(self, name: str) -> _Encoding:
        """The column dictionary-encoded (cached: unique checks and histograms share it)."""
        if name not in self._encodings:
            self._encodings[name] = _encode(self.column(name))
        return self._encodings[name]

    def column(self, name: str) -> pa.ChunkedArray:
        """The column with dictionaries decoded and float NaN read as null (cached)."""
        if name not in self._columns:
            column = self.table.column(name)
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            self._columns[name] = without_nan(column)
        return self._columns[name]


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def run_suite(
    table: pa.Table,
    checks: Sequence[Mapping[str, Any]],
    *,
    now: datetime | None = None,
    sample_size: int = 20,
    progress: Callable[[float], None] | None = None,
) -> list[CheckResult]:
    """Run every check on ``table`` and return one result per check, in order.

    Steps for each check: normalise it (an invalid definition is "errored"), fail it if a
    column it reads is missing, run its type's computation, then add up to ``sample_size``
    failing rows and, for a failed single-column row-level check, a distribution of all vs
    failing values. Any exception inside a check becomes an "errored" result. ``now`` (default:
    the current UTC time; a naive value is read as UTC) is what freshness is measured against.
    ``progress`` receives the completed fraction (0..1) after each check.
    """
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    run = _Run(table, moment)
    results: list[CheckResult] = []
    for index, raw in enumerate(checks):
        results.append(_run_check(run, raw, index, max(sample_size, 0)))
        if progress is not None:
            progress((index + 1) / len(checks))
    if progress is not None and not checks:
        progress(1.0)
    return results


def run_status(results: Sequence[CheckResult | Mapping[str, Any]]) -> str:
    """A run's overall status: failed > warning > passed.

    "failed" when a check of severity fail failed; "warning" when a warn check failed or any
    check errored (a check we could not evaluate must not pass silently, nor block a release on
    its own); otherwise "passed".
    """
    status = "passed"
    outcome: Any
    severity: Any
    for result in results:
        if isinstance(result, CheckResult):
            outcome, severity = result.outcome, result.severity
        else:
            outcome, severity = result.get("outcome"), result.get("severity")
        if outcome == "failed" and severity != "warn":
            return "failed"
        if outcome == "errored" or outcome == "failed":
            status = "warning"
    return status


def columns_needed(checks: Sequence[Mapping[str, Any]]) -> set[str] | None:
    """The columns a suite reads, so a reader can skip the others; None means read them all.

    None is returned when a check cannot be understood (its error is then reported by
    :func:`run_suite`, which may need the whole table to say so). Names absent from the file
    are included; the reader should ignore them (the check then fails as "missing column").
    Sample rows only show the columns that were read.
    """
    needed: set[str] = set()
    for raw in checks:
        try:
            needed.update(check_columns(normalise_check(raw)))
        except (CheckDefinitionError, ExpressionError):
            return None
    return needed


# --------------------------------------------------------------------------------------------
# Running one check
# --------------------------------------------------------------------------------------------


def _run_check(run: _Run, raw: Mapping[str, Any], index: int, sample_size: int) -> CheckResult:
    try:
        check = normalise_check(raw)
    except CheckDefinitionError as exc:
        return _invalid_definition(raw, index, exc)
    except Exception as exc:  # a definition so broken that validation itself failed
        return _invalid_definition(raw, index, exc)
    columns = check_columns(check)
    result = CheckResult(
        name=check["name"],
        type=check["type"],
        severity=check["severity"],
        column=check.get("column") or (check.get("columns") or [None])[0],
        outcome="errored",
        message="",
    )
    missing = [name for name in columns if name not in run.table.column_names]
    if missing:
        result.outcome = "failed"
        result.message = _missing_message(missing)
        result.observed = {"missing_columns": missing}
        return result
    try:
        verdict = _RUNNERS[check["type"]](run, check)
    except (_CannotEvaluate, ExpressionError) as exc:
        result.message = str(exc)
        return result
    except Exception as exc:  # never let one check stop the suite
        result.message = f"The check could not be evaluated: {type(exc).__name__}: {exc}"
        return result

    result.outcome = "passed" if verdict.passed else "failed"
    result.message = verdict.message
    result.observed = verdict.observed
    row_level = CHECK_TYPES[check["type"]].row_level
    if row_level and verdict.failing_count is not None:
        result.failing_count = verdict.failing_count
        result.failing_fraction = verdict.failing_count / run.rows if run.rows else 0.0
    if verdict.failing is not None and verdict.failing_count:
        # Extras must not turn a computed outcome into an error: keep what we have.
        try:
            result.sample_rows = _sample_rows(run.table, verdict.failing, sample_size)
        except Exception:
            result.sample_rows = []
        if not verdict.passed and row_level and len(columns) == 1:
            try:
                result.distribution = _distribution(run, check, columns[0], verdict.failing)
            except Exception:
                result.distribution = None
    return result


def _invalid_definition(raw: Any, index: int, exc: Exception) -> CheckResult:
    mapping = raw if isinstance(raw, Mapping) else {}
    name = mapping.get("name")
    severity = mapping.get("severity")
    column = mapping.get("column")
    return CheckResult(
        name=name if isinstance(name, str) and name else f"check {index + 1}",
        type=str(mapping.get("type") or ""),
        severity=severity if severity in SEVERITIES else "fail",
        column=column if isinstance(column, str) else None,
        outcome="errored",
        message=f"The check definition is invalid: {exc}",
    )


def _missing_message(missing: Sequence[str]) -> str:
    if len(missing) == 1:
        return f"Column '{missing[0]}' does not exist in this version."
    listed = ", ".join(f"'{name}'" for name in missing)
    return f"Columns {listed} do not exist in this version."


# --------------------------------------------------------------------------------------------
# Check runners: one per type, each returns a _Verdict or raises _CannotEvaluate
# --------------------------------------------------------------------------------------------


def _run_column_type(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    column = check["column"]
    actual = _portable_type(run.table.schema.field(column).type)
    expected = check["expected_type"]
    observed = {"type": actual}
    if expected == "any":
        return _Verdict(True, f"Column '{column}' is present ({actual}).", observed)
    if actual in _EXPECTED_PORTABLE_TYPES[expected]:
        return _Verdict(True, f"Column '{column}' is {actual}, as expected.", observed)
    return _Verdict(False, f"Column '{column}' is {actual}, but {expected} was expected.", observed)


def _run_not_null(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    column = run.column(check["column"])
    nulls = column.null_count
    fraction = nulls / run.rows if run.rows else 0.0
    allowed = check["max_null_fraction"]
    observed = {"null_fraction": fraction, "nulls": nulls}
    failing = pc.is_null(column) if nulls else None
    if nulls == 0:
        message = f"No nulls in {run.rows:,} rows."
    else:
        message = _fraction_message(nulls, run.rows, "are null", allowed)
    return _Verdict(fraction <= allowed, message, observed, nulls, failing)


def _run_range(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    name = check["column"]
    column = _numeric_column(run, name, "a range check")
    low, high = check["min"], check["max"]
    parts = []
    if low is not None:
        parts.append(pc.less(column, low) if check["min_inclusive"] else pc.less_equal(column, low))
    if high is not None:
        parts.append(
            pc.greater(column, high) if check["max_inclusive"] else pc.greater_equal(column, high)
        )
    failing = parts[0] if len(parts) == 1 else pc.or_(parts[0], parts[1])
    count = _true_count(failing)
    smallest, largest = _min_max(column)
    observed = {"min": smallest, "max": largest}
    present = len(column) - column.null_count
    if count == 0:
        message = f"All {present:,} values in range {_bounds_phrase(check)}."
    else:
        message = _fraction_message(
            count, run.rows, _range_problem(check), check["max_failing_fraction"]
        )
        message += f" Observed {format_number(smallest)} to {format_number(largest)}."
    return _row_verdict(run, check, count, message, observed, failing)


def _run_allowed_values(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    name = check["column"]
    column = run.column(name)
    prepared, value_set, _ = _value_set(column, check["values"], name, "allowed values")
    if value_set is None:
        failing = pc.is_valid(prepared)
    else:
        failing = pc.invert(pc.is_in(prepared, value_set=value_set))
        if prepared.null_count:
            failing = pc.and_(failing, pc.is_valid(prepared))
    count = _true_count(failing)
    observed: dict[str, Any] = {"unexpected_values": [], "unexpected_distinct": 0}
    present = len(column) - column.null_count
    if count == 0:
        message = f"All {present:,} values are allowed."
    else:
        distinct, counts = _count_values(column.filter(failing))
        observed = {
            "unexpected_values": [
                _label(value)
                for value, _ in _most_frequent(distinct, counts, UNEXPECTED_VALUES_SHOWN)
            ],
            "unexpected_distinct": len(distinct),
        }
        message = _fraction_message(
            count, run.rows, "have a value not in the allowed list", check["max_failing_fraction"]
        )
        shown = ", ".join(repr(value) for value in observed["unexpected_values"][:3])
        message += f" Most frequent: {shown}."
    return _row_verdict(run, check, count, message, observed, failing)


def _run_unique(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    names = check["columns"]
    codes, valid, groups = _group_codes([run.encoding(name) for name in names])
    if valid.all():
        counts = np.bincount(codes, minlength=groups)
        duplicated = counts[codes] > 1
    else:
        counts = np.bincount(codes[valid], minlength=groups)
        duplicated = valid & (counts[np.where(valid, codes, 0)] > 1)
    duplicate_rows = int(np.count_nonzero(duplicated))
    repeated = int(np.count_nonzero(counts > 1))
    observed = {"duplicate_rows": duplicate_rows, "duplicated_values": repeated}
    considered = int(np.count_nonzero(valid))
    noun = "value" if len(names) == 1 else "combination"
    what = "values" if len(names) == 1 else f"combinations of ({', '.join(names)})"
    if duplicate_rows == 0:
        message = f"All {considered:,} {what} are unique."
        return _Verdict(True, message, observed, 0)
    message = (
        f"{duplicate_rows:,} of {run.rows:,} rows ({format_percent(duplicate_rows / run.rows)}) "
        f"share their {noun} with another row ({_plural(repeated, 'repeated ' + noun)})."
    )
    return _Verdict(False, message, observed, duplicate_rows, pa.array(duplicated))


def _run_regex(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    name = check["column"]
    column = _string_column(run, name, "a pattern check")
    # match_substring_regex searches; anchoring the whole pattern makes it a full match.
    matches = pc.match_substring_regex(column, pattern=f"\\A(?:{check['pattern']})\\z")
    failing = pc.invert(matches)
    count = _true_count(failing)
    present = len(column) - column.null_count
    if count == 0:
        message = f"All {present:,} values match the pattern."
    else:
        message = _fraction_message(
            count, run.rows, "do not match the pattern", check["max_failing_fraction"]
        )
    return _row_verdict(run, check, count, message, {"non_matching": count}, failing)


def _run_string_length(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    name = check["column"]
    column = _string_column(run, name, "a text length check")
    lengths = pc.utf8_length(column)
    low, high = check["min_length"], check["max_length"]
    parts = []
    if low is not None:
        parts.append(pc.less(lengths, low))
    if high is not None:
        parts.append(pc.greater(lengths, high))
    failing = parts[0] if len(parts) == 1 else pc.or_(parts[0], parts[1])
    count = _true_count(failing)
    shortest, longest = _min_max(lengths)
    observed = {"min_length": shortest, "max_length": longest}
    bounds = _length_phrase(low, high)
    present = len(column) - column.null_count
    if count == 0:
        message = f"All {present:,} values are {bounds} long."
    else:
        if low is not None and high is not None:
            problem = f"have a length outside {bounds}"
        elif low is not None:
            problem = f"are shorter than {_plural(low, 'character')}"
        else:
            problem = f"are longer than {_plural(high, 'character')}"
        message = _fraction_message(count, run.rows, problem, check["max_failing_fraction"])
    return _row_verdict(run, check, count, message, observed, failing)


def _run_row_count(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    rows, low, high = run.rows, check["min_rows"], check["max_rows"]
    observed = {"rows": rows}
    if low is not None and rows < low:
        return _Verdict(False, f"The table has {rows:,} rows; at least {low:,} required.", observed)
    if high is not None and rows > high:
        return _Verdict(False, f"The table has {rows:,} rows; at most {high:,} allowed.", observed)
    return _Verdict(True, f"The table has {rows:,} rows.", observed)


def _run_sentinel(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    name = check["column"]
    column = run.column(name)
    prepared, value_set, applicable = _value_set(column, check["values"], name, "placeholders")
    if value_set is None:
        kind = _portable_type(column.type)
        message = f"None of the placeholder values applies to a {kind} column."
        return _Verdict(True, message, {"sentinel_counts": {}}, 0)
    # is_in gives false (not null) for null input, so nulls never count as placeholders.
    failing = pc.is_in(prepared, value_set=value_set)
    count = _true_count(failing)
    counts = {_label(original): 0 for original, _ in applicable}
    if count:
        distinct, found_counts = _count_values(prepared.filter(failing))
        found = dict(_most_frequent(distinct, found_counts, len(distinct)))
        for original, converted in applicable:
            counts[_label(original)] += sum(
                seen for value, seen in found.items() if value == converted
            )
    observed = {"sentinel_counts": counts}
    present = len(column) - column.null_count
    if count == 0:
        message = f"No placeholder values among {present:,} values."
    else:
        listed = ", ".join(f"{key!r}: {seen:,}" for key, seen in counts.items() if seen)
        message = _fraction_message(
            count, run.rows, f"hold a placeholder value ({listed})", check["max_failing_fraction"]
        )
    return _row_verdict(run, check, count, message, observed, failing)


def _run_freshness(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    name = check["column"]
    column = run.column(name)
    data_type = column.type
    if not (pa.types.is_timestamp(data_type) or pa.types.is_date(data_type)):
        raise _CannotEvaluate(
            f"Column '{name}' holds {_portable_type(data_type)} values; "
            "a freshness check needs dates or datetimes."
        )
    newest_scalar = pc.max(column)
    if not newest_scalar.is_valid:
        return _Verdict(
            False, f"Column '{name}' has no values, so its freshness cannot be judged.", {}
        )
    if pa.types.is_timestamp(data_type):
        microseconds = newest_scalar.value * _MICROSECONDS_PER_UNIT[data_type.unit]
        newest = _EPOCH + timedelta(microseconds=microseconds)
        shown = newest.isoformat() if data_type.tz else newest.replace(tzinfo=None).isoformat()
    else:
        newest_day = newest_scalar.as_py()
        newest = datetime.combine(newest_day, time(), UTC)
        shown = newest_day.isoformat()
    age_hours = (run.now - newest).total_seconds() / 3600
    observed = {"newest": shown, "age_hours": round(age_hours, 4)}
    limit = check["max_age_hours"]
    age = f"{age_hours:,.1f} hours old"
    if age_hours > limit:
        message = f"The newest value ({shown}) is {age}; at most {format_number(limit)} allowed."
        return _Verdict(False, message, observed)
    return _Verdict(True, f"The newest value ({shown}) is {age}.", observed)


def _run_distribution(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    name = check["column"]
    column = _numeric_column(run, name, "a statistic check")
    if pa.types.is_floating(column.type):
        column = column.filter(pc.is_finite(column))
    else:
        column = pc.drop_null(column)
    statistic = check["statistic"]
    key = f"quantile_{check['quantile']}" if statistic == "quantile" else statistic
    label = f"quantile {check['quantile']}" if statistic == "quantile" else statistic
    value = _statistic(column, statistic, check["quantile"])
    if value is None:
        needed = "two values" if statistic == "std" else "one value"
        message = f"The {label} of '{name}' needs at least {needed}; there are {len(column):,}."
        return _Verdict(False, message, {key: None})
    low, high = check["min"], check["max"]
    observed = {key: value}
    shown = format_number(value)
    if low is not None and value < low:
        message = f"The {label} of '{name}' is {shown}, below the minimum {format_number(low)}."
        return _Verdict(False, message, observed)
    if high is not None and value > high:
        message = f"The {label} of '{name}' is {shown}, above the maximum {format_number(high)}."
        return _Verdict(False, message, observed)
    return _Verdict(True, f"The {label} of '{name}' is {shown}, within bounds.", observed)


def _run_expression(run: _Run, check: Mapping[str, Any]) -> _Verdict:
    expression = parse_expression(check["expression"])
    result = expression.evaluate(run.table)
    failing = pc.invert(result)
    count = _true_count(failing)
    undecided = result.null_count
    observed = {"false_rows": count, "undecided_rows": undecided}
    if count == 0:
        message = f"All {run.rows - undecided:,} rows satisfy the condition."
    else:
        message = _fraction_message(
            count, run.rows, "do not satisfy the condition", check["max_failing_fraction"]
        )
    if undecided:
        message += f" {_plural(undecided, 'row')} not counted (a null operand)."
    return _row_verdict(run, check, count, message, observed, failing)


_RUNNERS: dict[str, Callable[[_Run, Mapping[str, Any]], _Verdict]] = {
    "column_type": _run_column_type,
    "not_null": _run_not_null,
    "range": _run_range,
    "allowed_values": _run_allowed_values,
    "unique": _run_unique,
    "regex": _run_regex,
    "string_length": _run_string_length,
    "row_count": _run_row_count,
    "sentinel": _run_sentinel,
    "freshness": _run_freshness,
    "distribution": _run_distribution,
    "expression": _run_expression,
}


# --------------------------------------------------------------------------------------------
# Helpers for the runners
# --------------------------------------------------------------------------------------------


def _row_verdict(
    run: _Run,
    check: Mapping[str, Any],
    count: int,
    message: str,
    observed: dict[str, Any],
    failing: pa.ChunkedArray | pa.Array,
) -> _Verdict:
    """Pass when the failing share is within ``max_failing_fraction`` (0: no failing row)."""
    fraction = count / run.rows if run.rows else 0.0
    passed = fraction <= check["max_failing_fraction"]
    return _Verdict(passed, message, observed, count, failing)


def _fraction_message(count: int, rows: int, problem: str, allowed: float) -> str:
    share = format_percent(count / rows) if rows else "0%"
    head = f"{count:,} of {rows:,} rows ({share}) {problem}"
    if not allowed:
        return f"{head}."
    if count / rows <= allowed:
        return f"{head}, within the allowed {format_percent(allowed)}."
    return f"{head}; at most {format_percent(allowed)} allowed."


def _bounds_phrase(check: Mapping[str, Any]) -> str:
    """``[0, 5,000]`` (brackets: bound allowed, parentheses: excluded) or ``(>= 0)``."""
    low, high = check["min"], check["max"]
    if low is not None and high is not None:
        opening = "[" if check["min_inclusive"] else "("
        closing = "]" if check["max_inclusive"] else ")"
        return f"{opening}{format_number(low)}, {format_number(high)}{closing}"
    if low is not None:
        return f"({'>=' if check['min_inclusive'] else '>'} {format_number(low)})"
    return f"({'<=' if check['max_inclusive'] else '<'} {format_number(high)})"


def _range_problem(check: Mapping[str, Any]) -> str:
    low, high = check["min"], check["max"]
    if low is not None and high is not None:
        return f"are outside the range {_bounds_phrase(check)}"
    if low is not None:
        below = "below" if check["min_inclusive"] else "at or below"
        return f"are {below} {format_number(low)}"
    above = "above" if check["max_inclusive"] else "at or above"
    return f"are {above} {format_number(high)}"


def _plural(count: int, word: str) -> str:
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def _length_phrase(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"{low:,} to {_plural(high, 'character')}"
    if low is not None:
        return f"at least {_plural(low, 'character')}"
    assert high is not None
    return f"at most {_plural(high, 'character')}"


def _true_count(mask: pa.ChunkedArray | pa.Array) -> int:
    total = pc.sum(mask).as_py()
    return int(total) if total else 0


def _family(data_type: pa.DataType) -> str:
    portable = _portable_type(data_type)
    if portable in ("integer", "float"):
        return "numeric"
    if portable in ("datetime", "date"):
        return "temporal"
    return portable


def _numeric_column(run: _Run, name: str, purpose: str) -> pa.ChunkedArray:
    column = run.column(name)
    if _family(column.type) != "numeric":
        raise _CannotEvaluate(
            f"Column '{name}' holds {_portable_type(column.type)} values; {purpose} needs numbers."
        )
    if pa.types.is_decimal(column.type):
        column = column.cast(pa.float64())
    return column


def _string_column(run: _Run, name: str, purpose: str) -> pa.ChunkedArray:
    column = run.column(name)
    if _portable_type(column.type) != "string":
        raise _CannotEvaluate(
            f"Column '{name}' holds {_portable_type(column.type)} values; {purpose} needs text."
        )
    return column


def _min_max(column: pa.ChunkedArray | pa.Array) -> tuple[Any, Any]:
    extremes = pc.min_max(column)
    return _json_number(extremes["min"].as_py()), _json_number(extremes["max"].as_py())


def _value_set(
    column: pa.ChunkedArray, values: Sequence[Any], name: str, purpose: str
) -> tuple[pa.ChunkedArray, pa.Array | None, list[tuple[Any, Any]]]:
    """The column and an Arrow value set of the same type, for ``pc.is_in``.

    Numbers compare numerically with numeric columns, text (and numbers written as text) with
    text columns, true/false with boolean columns, ISO strings with date/datetime columns;
    values that cannot apply to the column's type are left out. Returns the (possibly cast)
    column, the value set (None when nothing applies) and ``(original, converted)`` pairs.
    """
    family = _family(column.type)
    applicable: list[tuple[Any, Any]] = []
    if family == "numeric":
        # Integers beyond 64 bits cannot occur in an Arrow column; leave them out.
        numbers = [value for value in values if _is_number(value) and abs(value) < 2**63]
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        integral = all(float(value).is_integer() for value in numbers)
        if pa.types.is_integer(column.type) and integral:
            applicable = [(value, int(value)) for value in numbers]
            if column.type != pa.int64():
                column = column.cast(pa.int64())
            arrow_type: pa.DataType = pa.int64()
        else:
            applicable = [(value, float(value)) for value in numbers]
            if column.type != pa.float64():
                column = column.cast(pa.float64())
            arrow_type = pa.float64()
    elif family == "string":
        applicable = [(value, _as_text(value)) for value in values if not isinstance(value, bool)]
        if not pa.types.is_string(column.type):
            column = column.cast(pa.string())
        arrow_type = pa.string()
    elif family == "boolean":
        applicable = [(value, value) for value in values if isinstance(value, bool)]
        arrow_type = pa.bool_()
    elif family == "temporal":
        arrow_type = column.type
        for value in values:
            converted = _temporal_value(value, arrow_type)
            if converted is not None:
                applicable.append((value, converted))
    else:
        raise _CannotEvaluate(
            f"Column '{name}' holds {_portable_type(column.type)} values; {purpose} apply to "
            "numbers, text, true/false and dates."
        )
    applicable = _first_of_each(applicable)
    if not applicable:
        return column, None, []
    value_set = pa.array([converted for _, converted in applicable], arrow_type)
    return column, value_set, applicable


def _first_of_each(pairs: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Drop values that convert to one already listed (-1 and -1.0 are one placeholder)."""
    seen: list[Any] = []
    unique = []
    for original, converted in pairs:
        if converted not in seen:
            seen.append(converted)
            unique.append((original, converted))
    return unique


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else format(value)


def _temporal_value(value: Any, data_type: pa.DataType) -> Any:
    """An ISO string as a Python date/datetime of the column's type, or None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        scalar = pa.scalar(value).cast(data_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if not (pa.types.is_timestamp(data_type) and data_type.tz):
            return None
        try:  # no offset given: read it in the column's zone, as a person would
            naive = pa.array([value]).cast(pa.timestamp(data_type.unit))
            scalar = pc.assume_timezone(naive, timezone=data_type.tz)[0]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    return scalar.as_py()


def _count_values(values: pa.ChunkedArray | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Distinct non-null values and their counts, by one hash pass (kept in Arrow)."""
    counted = pc.value_counts(values)
    distinct = counted.field("values")
    counts = counted.field("counts").to_numpy(zero_copy_only=False)
    if distinct.null_count:
        valid = pc.is_valid(distinct)
        distinct = distinct.filter(valid)
        counts = counts[valid.to_numpy(zero_copy_only=False)]
    return distinct, counts


def _most_frequent(distinct: pa.Array, counts: np.ndarray, limit: int) -> list[tuple[Any, int]]:
    """The ``limit`` most frequent (value, count) pairs; only those become Python objects."""
    chosen = _top_indices(counts, limit)
    values = distinct.take(pa.array(chosen, pa.int64())).to_pylist()
    return [(value, int(counts[index])) for value, index in zip(values, chosen, strict=True)]


def _group_codes(encodings: Sequence[_Encoding]) -> tuple[np.ndarray, np.ndarray, int]:
    """One dense integer code per row for the combination of values.

    Returns ``(codes, valid, groups)``: codes in ``0..groups-1``; ``valid`` is False for rows
    with a null in any column (their code is meaningless). The per-column codes are combined
    arithmetically (``code_a * size_b + code_b``); when the key space could overflow or would be
    much larger than the table, it is re-densified by hashing.
    """
    if len(encodings) == 1:
        only = encodings[0]
        return only.codes, only.valid, len(only.dictionary)
    rows = len(encodings[0].codes)
    codes = np.zeros(rows, dtype=np.int64)
    valid = np.ones(rows, dtype=bool)
    groups = 1
    for encoding in encodings:
        size = max(len(encoding.dictionary), 1)
        if groups * size >= 2**62:
            codes, groups = _densify(codes)
        codes = codes * size + encoding.codes
        groups *= size
        valid &= encoding.valid
    if groups > 4 * max(rows, 1):
        codes, groups = _densify(codes)
    return codes, valid, groups


def _encode(column: pa.ChunkedArray) -> _Encoding:
    combined = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if len(combined) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Encoding(empty, np.zeros(0, dtype=bool), combined)
    if _is_small_int(combined.type):
        encoding = _encode_integers(combined)
        if encoding is not None:
            return encoding
    encoded = pc.dictionary_encode(combined)
    indices = encoded.indices
    if indices.null_count:
        valid = pc.is_valid(indices).to_numpy(zero_copy_only=False)
        indices = indices.fill_null(0)
    else:
        valid = np.ones(len(indices), dtype=bool)
    codes = indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return _Encoding(codes, valid, encoded.dictionary)


def _is_small_int(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_integer(data_type) and not pa.types.is_uint64(data_type))


def _encode_integers(values: pa.Array) -> _Encoding | None:
    """Integers spanning a range not much wider than the table are their own codes (value - min).

    That skips hashing entirely for ids and counts; None when the span is too wide.
    """
    extremes = pc.min_max(values)
    low, high = extremes["min"].as_py(), extremes["max"].as_py()
    if low is None or high - low + 1 > 2 * len(values) + 1_024:
        return None
    valid = (
        np.ones(len(values), dtype=bool)
        if values.null_count == 0
        else pc.is_valid(values).to_numpy(zero_copy_only=False)
    )
    numbers = values.fill_null(low).to_numpy(zero_copy_only=False).astype(np.int64)
    codes = numbers - low
    dictionary = pa.array(np.arange(low, high + 1, dtype=np.int64)).cast(values.type)
    return _Encoding(codes, valid, dictionary)


def _densify(codes: np.ndarray) -> tuple[np.ndarray, int]:
    encoded = pc.dictionary_encode(pa.array(codes))
    dense = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return dense, len(encoded.dictionary)


def _statistic(column: pa.ChunkedArray, statistic: str, quantile: float | None) -> float | None:
    if len(column) == 0:
        return None
    if statistic == "mean":
        value = pc.mean(column).as_py()
    elif statistic == "std":
        value = pc.stddev(column, ddof=1).as_py() if len(column) > 1 else None
    elif statistic == "min":
        value = pc.min(column).as_py()
    elif statistic == "max":
        value = pc.max(column).as_py()
    else:
        q = 0.5 if statistic == "median" else float(quantile or 0.5)
        # Linear interpolation: the same answer as numpy.quantile's default.
        value = pc.quantile(column, q=q, interpolation="linear")[0].as_py()
    number = _json_number(value)
    return None if number is None else number


# --------------------------------------------------------------------------------------------
# Sample rows and distributions
# --------------------------------------------------------------------------------------------


def _failing_indices(failing: pa.ChunkedArray | pa.Array, limit: int) -> list[int]:
    """The first ``limit`` row indices where ``failing`` is true (null counts as false)."""
    indices: list[int] = []
    offset = 0
    for chunk in _chunks(failing):
        if len(indices) >= limit:
            break
        found = pc.indices_nonzero(chunk)
        indices.extend(offset + int(position) for position in found[: limit - len(indices)])
        offset += len(chunk)
    return indices


def _chunks(values: pa.ChunkedArray | pa.Array) -> Iterator[pa.Array]:
    if isinstance(values, pa.ChunkedArray):
        yield from values.chunks
    else:
        yield values


def _sample_rows(
    table: pa.Table, failing: pa.ChunkedArray | pa.Array, limit: int
) -> list[dict[str, Any]]:
    if limit <= 0:
        return []
    indices = _failing_indices(failing, limit)
    if not indices:
        return []
    rows = table.take(pa.array(indices, pa.int64())).to_pylist()
    samples = []
    for index, row in zip(indices, rows, strict=True):
        sample: dict[str, Any] = {"_row": index}
        sample.update({str(key): _json_value(value) for key, value in row.items()})
        sample["_row"] = index
        samples.append(sample)
    return samples


def _distribution(
    run: _Run, check: Mapping[str, Any], name: str, failing: pa.ChunkedArray | pa.Array
) -> dict[str, Any] | None:
    """All vs failing values of the checked column, for a chart of where the failures lie."""
    column = run.column(name)
    if check["type"] == "not_null":
        nulls = column.null_count
        return {
            "kind": "categorical",
            "values": ["null", "not null"],
            "all_counts": [nulls, len(column) - nulls],
            "failing_counts": [nulls, 0],
        }
    failing_mask = _to_numpy_mask(failing)
    if _family(column.type) == "numeric":
        return _numeric_distribution(column, failing_mask)
    return _categorical_distribution(run.encoding(name), failing_mask)


def _to_numpy_mask(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    filled = pc.fill_null(mask, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks() if filled.num_chunks != 1 else filled.chunk(0)
    result: np.ndarray = filled.to_numpy(zero_copy_only=False)
    return result


def _numeric_distribution(column: pa.ChunkedArray, failing: np.ndarray) -> dict[str, Any] | None:
    as_float = pc.fill_null(column.cast(pa.float64()), math.nan)
    values = np.asarray(as_float.to_numpy())
    finite = np.isfinite(values)
    every = values[finite]
    if every.size == 0:
        return None
    low, high = float(every.min()), float(every.max())
    if pa.types.is_integer(column.type) and high - low < HISTOGRAM_BINS:
        bins, span = int(high - low) + 1, (low - 0.5, high + 0.5)  # one bin per integer value
    elif low == high:
        bins, span = HISTOGRAM_BINS, (low - 0.5, high + 0.5)
    else:
        bins, span = HISTOGRAM_BINS, (low, high)
    # A bin count and a range (not an edge array) keeps numpy on its fast equal-width path,
    # which bins without sorting the values.
    all_counts, edges = np.histogram(every, bins=bins, range=span)
    failing_counts, _ = np.histogram(values[finite & failing], bins=bins, range=span)
    return {
        "kind": "numeric",
        "edges": [float(edge) for edge in edges],
        "all_counts": [int(count) for count in all_counts],
        "failing_counts": [int(count) for count in failing_counts],
    }


def _categorical_distribution(encoding: _Encoding, failing: np.ndarray) -> dict[str, Any]:
    """The most frequent failing values first, then the most frequent others, up to 20.

    Counting is two bincounts over the cached codes; only the chosen values become Python
    objects, so a column of a million distinct ids costs no more than its one hash pass.
    """
    all_counts = encoding.counts()
    failing_counts = encoding.counts(failing)
    failing_values = np.flatnonzero(failing_counts)
    chosen = failing_values[_top_indices(failing_counts[failing_values], CATEGORICAL_VALUES)]
    if chosen.size < CATEGORICAL_VALUES:
        candidates = _top_indices(all_counts, CATEGORICAL_VALUES + chosen.size)
        fresh = ~np.isin(candidates, chosen) & (all_counts[candidates] > 0)
        others = candidates[fresh][: CATEGORICAL_VALUES - chosen.size]
        chosen = np.concatenate([chosen, others])
    values = encoding.dictionary.take(pa.array(chosen, pa.int64())).to_pylist()
    return {
        "kind": "categorical",
        "values": [_label(value) for value in values],
        "all_counts": [int(all_counts[index]) for index in chosen],
        "failing_counts": [int(failing_counts[index]) for index in chosen],
    }


# --------------------------------------------------------------------------------------------
# JSON safety
# --------------------------------------------------------------------------------------------


def _json_number(value: Any) -> int | float | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def _json_value(value: Any) -> Any:
    """A value from ``to_pylist`` as something json.dumps(allow_nan=False) accepts."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return _json_number(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return str(value)


def _label(value: Any) -> str:
    """A value as the short text shown in lists and chart axes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)
