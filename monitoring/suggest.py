"""Suggest a data quality suite from a stored profile (lineage.profiling.profile_table).

The suggestions describe the profiled version as a data engineer would pin it down: each
column keeps its type and its null rate, numbers stay in (a widened) observed range and near
their observed mean, small vocabularies stay closed, unique keys stay unique, free text holds no
placeholder values, and the row count stays within a factor of two. Each check comes with a
one-sentence reason saying what was observed, so a person can judge it before saving the suite.

Everything is computed from the profile alone (never from the data), so suggesting a suite for
a 1,000-column table is instant. The check dicts are in the canonical form of
monitoring/checks.py (``normalise_check`` returns them unchanged).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["PLACEHOLDER_VALUES", "Suggestion", "suggest_checks"]

#: Values that stand in for "unknown" in text columns; suggested as sentinels for free text.
PLACEHOLDER_VALUES: tuple[str, ...] = ("", "N/A", "NULL", "null", "-1", "?")

#: A closed vocabulary: at most this many distinct values, all listed in the profile.
MAX_ALLOWED_VALUES = 50
#: ...and each value seen at least this often on average (otherwise it is just a short text
#: column that happens to be fully listed, e.g. ten names in ten rows).
MIN_ROWS_PER_ALLOWED_VALUE = 2
#: All-distinct values only make a column a key when there are enough rows to mean something.
MIN_ROWS_FOR_UNIQUE_BY_DATA = 20
#: The row count may halve or double between versions.
ROW_COUNT_FACTORS = (0.5, 2.0)

_EXPECTED_TYPES = {
    "integer": "integer",
    "float": "float",
    "boolean": "boolean",
    "string": "string",
    "datetime": "datetime",
    "date": "date",
}
# "customerId", "userID": camelCase ids; "_id" suffixes are matched case-insensitively.
_CAMEL_ID = re.compile(r"[a-z0-9](Id|ID)$")


@dataclass(frozen=True)
class Suggestion:
    """One suggested check (canonical dict) and why it was suggested."""

    check: dict[str, Any]
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"check": dict(self.check), "reason": self.reason}


def suggest_checks(profile: Mapping[str, Any], *, margin: float = 0.1) -> list[Suggestion]:
    """Suggest checks that the profiled version passes and that catch the usual breakages.

    Steps:
    1. ``row_count`` between half and twice the observed rows (warn).
    2. For each column, in order: ``column_type`` (fail); ``not_null``, strict when no nulls
       were seen (fail), else a tolerance above the observed rate (warn); ``unique`` for keys
       (fail); for numbers a ``range`` (fail) and a ``distribution`` check on the mean (warn);
       for closed vocabularies ``allowed_values``; for free text a ``sentinel`` check (warn).

    ``margin`` widens observed numeric ranges by that fraction of their span on each side.
    """
    if not (isinstance(margin, int | float) and math.isfinite(margin) and margin >= 0):
        raise ValueError("margin must be a finite number >= 0")
    rows = int(profile.get("row_count") or 0)
    suggestions: list[Suggestion] = []
    if rows > 0:
        suggestions.append(_row_count(rows))
    for column in profile.get("columns") or ():
        suggestions.extend(_column_suggestions(column, rows, float(margin)))
    return _with_unique_names(suggestions)


# --------------------------------------------------------------------------------------------
# Per column
# --------------------------------------------------------------------------------------------


def _column_suggestions(
    column: Mapping[str, Any], rows: int, margin: float
) -> Iterator[Suggestion]:
    name = str(column["name"])
    portable = column.get("type") or "other"
    yield _column_type(name, portable)
    count = int(column.get("count") or 0)
    if rows > 0:
        suggestion = _not_null(name, column, rows)
        if suggestion is not None:
            yield suggestion
    if count == 0:
        return  # nothing but nulls: no values to describe
    key = _is_key(name, column, rows)
    if key:
        yield _check(
            "unique",
            name,
            "fail",
            f"All {_count(count)} non-null values are distinct.",
            columns=[name],
        )
    kind = column.get("kind")
    # A key's values move on with every version (next month's ids lie beyond this month's), so
    # a range or a mean would only raise false alarms; uniqueness is what matters for it.
    if kind == "numeric" and not key:
        yield from _numeric(name, column, margin)
    elif portable in ("string", "boolean"):
        yield from _categorical(name, portable, column, count)


def _column_type(name: str, portable: str) -> Suggestion:
    expected = _EXPECTED_TYPES.get(portable, "any")
    reason = (
        f"The column is stored as {expected} in the profiled version."
        if expected != "any"
        else "The column has a type the checks do not name; only its presence is checked."
    )
    return _check("column_type", name, "fail", reason, column=name, expected_type=expected)


def _not_null(name: str, column: Mapping[str, Any], rows: int) -> Suggestion | None:
    nulls = int(column.get("nulls") or 0)
    if nulls == 0:
        return _check(
            "not_null",
            name,
            "fail",
            f"No nulls among {_count(rows)} rows.",
            column=name,
            max_null_fraction=0,
        )
    observed = float(column.get("null_fraction") or nulls / rows)
    # Half as much again plus one point of headroom: the rate of missing values wanders a
    # little between versions; a jump beyond that is worth a warning, not a failed run.
    tolerance = _ceil_to(min(1.0, observed * 1.5 + 0.01), 3)
    if tolerance >= 1.0:
        return None  # (nearly) all nulls: a bound of 100% checks nothing
    return _check(
        "not_null",
        name,
        "warn",
        f"Observed {_percent(observed)} nulls ({_count(nulls)} of {_count(rows)} rows); "
        f"allowing up to {_percent(tolerance)}.",
        column=name,
        max_null_fraction=tolerance,
    )


def _is_key(name: str, column: Mapping[str, Any], rows: int) -> bool:
    """Whether the column looks like a key: every observed value distinct, and either named
    like an id or complete (no nulls) integer/text covering every row.

    A column named like an id whose values repeat is a foreign key (customer_id in a table of
    transactions), not a key: suggesting ``unique`` for it would fail on the profiled version.
    """
    portable = column.get("type")
    count = int(column.get("count") or 0)
    distinct = column.get("distinct")
    if distinct is None or count < 2 or int(distinct) != count:
        return False
    if _named_like_id(name):
        return portable in ("integer", "float", "string")
    return (
        portable in ("integer", "string")
        and int(column.get("nulls") or 0) == 0
        and count == rows
        and rows >= MIN_ROWS_FOR_UNIQUE_BY_DATA
    )


def _named_like_id(name: str) -> bool:
    lowered = name.lower()
    return lowered == "id" or lowered.endswith("_id") or bool(_CAMEL_ID.search(name))


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------


def _numeric(name: str, column: Mapping[str, Any], margin: float) -> Iterator[Suggestion]:
    low, high = column.get("min"), column.get("max")
    if low is None or high is None:
        return
    integer = column.get("type") == "integer"
    count = int(column.get("count") or 0)
    # Infinities are left out of the profile's min/max, so a range from them would fail on
    # the profiled version itself.
    if not int(column.get("infinite") or 0):
        yield _range(name, column, float(low), float(high), integer, count, margin)
    mean = column.get("mean")
    if mean is not None and count >= 2:
        yield _mean(name, float(mean), column.get("std"), float(low), count, margin)


def _range(
    name: str,
    column: Mapping[str, Any],
    low: float,
    high: float,
    integer: bool,
    count: int,
    margin: float,
) -> Suggestion:
    span = high - low
    if span > 0:
        pad_low = pad_high = margin * span
        # A long tail reaches new extremes in every version: the next sample's maximum of an
        # exponential or log-normal column lands well beyond this one's. The distance from the
        # 1st/99th percentile to the extreme measures how far the tail roams, so the bound is
        # widened by at least that much (distance_from_home_km in the demo: 114 observed, 128
        # the next month, 125 with a 10% margin alone).
        quantiles = column.get("quantiles") or {}
        q01, q99 = quantiles.get("0.01"), quantiles.get("0.99")
        if q01 is not None:
            pad_low = max(pad_low, float(q01) - low)
        if q99 is not None:
            pad_high = max(pad_high, high - float(q99))
    else:
        # A constant column: its own margin of the value (or of 1 around zero).
        pad_low = pad_high = margin * max(abs(low), 1.0)
    widened = pad_low > margin * span or pad_high > margin * span
    if integer:
        # Whole-number margins: a 0/1 flag or a 1..5 rating keeps its exact bounds instead of
        # letting a 2 or a 6 through because 10% of the span was rounded up to one step. A
        # constant still gets one step each way when there is any margin at all.
        pad_low, pad_high = math.floor(pad_low + 0.5), math.floor(pad_high + 0.5)
        if span == 0 and margin > 0:
            pad_low, pad_high = max(pad_low, 1), max(pad_high, 1)
    lower, upper = low - pad_low, high + pad_high
    notes = []
    if lower < low or upper > high:
        notes.append(f"{_percent(margin, digits=0)} margin")
        if span > 0 and widened:
            notes[-1] = f"{notes[-1]} (wider on the long tail)"
    # A column never seen negative stays non-negative: a -1 "unknown" or a sign error is a
    # failure, not something the margin should let through. Likewise for a column seen only
    # negative or zero (a constant 0 counts as non-negative: it may grow, not go below zero).
    if low >= 0 and lower < 0:
        lower = 0.0
        notes.append("kept non-negative")
    if high <= 0 < upper and low < 0:
        upper = 0.0
        notes.append("kept non-positive")
    bound_min: int | float
    bound_max: int | float
    if integer:
        bound_min, bound_max = math.floor(lower), math.ceil(upper)
    else:
        digits = _digits_for(max(pad_low, pad_high, 1e-12))
        bound_min, bound_max = _floor_to(lower, digits), _ceil_to(upper, digits)
        bound_min, bound_max = min(bound_min, low), max(bound_max, high)
    reason = f"Observed {_number(low, integer)} to {_number(high, integer)} over "
    reason += f"{_count(count)} values" + (f"; {', '.join(notes)}." if notes else ".")
    return _check(
        "range",
        name,
        "fail",
        reason,
        column=name,
        min=bound_min,
        max=bound_max,
        min_inclusive=True,
        max_inclusive=True,
        max_failing_fraction=0,
    )


def _mean(name: str, mean: float, std: Any, low: float, count: int, margin: float) -> Suggestion:
    """A warn-level bound on where the column is centred.

    This is not a drift test (drift analysis does that with proper statistics): it should fire
    on a unit change, a broken join or a filter gone wrong, not on month-to-month noise. So the
    mean may move by the largest of: ``margin`` of itself (a relative move), half a standard
    deviation (a "medium" effect in Cohen's terms: smaller shifts are drift's business) and
    four standard errors (so a small sample does not alert on its own sampling noise).
    """
    spread = float(std) if std is not None else 0.0
    half_width = max(margin * abs(mean), 0.5 * spread, 4 * spread / math.sqrt(count))
    if half_width == 0:
        half_width = margin if margin > 0 else 1.0
    digits = _digits_for(half_width)
    lower = _floor_to(mean - half_width, digits)
    upper = _ceil_to(mean + half_width, digits)
    if low >= 0:
        lower = max(lower, 0.0)  # a mean of non-negative values is never negative
    std_text = f" (standard deviation {_number(spread)})" if std is not None else ""
    return _check(
        "distribution",
        name,
        "warn",
        f"Observed mean {_number(mean)}{std_text}; allowing {_bound(lower)} to {_bound(upper)}.",
        column=name,
        statistic="mean",
        quantile=None,
        min=lower,
        max=upper,
    )


# --------------------------------------------------------------------------------------------
# Categories and text
# --------------------------------------------------------------------------------------------


def _categorical(
    name: str, portable: str, column: Mapping[str, Any], count: int
) -> Iterator[Suggestion]:
    top_values = column.get("top_values") or []
    distinct = column.get("distinct")
    observed = [str(entry["value"]) for entry in top_values]
    fully_listed = (
        distinct is not None
        and int(column.get("other_count") or 0) == 0
        and len(observed) == int(distinct)
        and 0 < int(distinct) <= MAX_ALLOWED_VALUES
    )
    if portable == "boolean":
        # Seeing both true and false constrains nothing; seeing one value only is a flag that
        # never changed, and a change to it is a failure.
        if fully_listed and len(observed) == 1:
            value = observed[0] == "true"
            yield _check(
                "allowed_values",
                name,
                "fail",
                f"Always {observed[0]} in {_count(count)} non-null values.",
                column=name,
                values=[value],
                max_failing_fraction=0,
            )
        return
    if fully_listed and count >= MIN_ROWS_PER_ALLOWED_VALUE * len(observed):
        # A new category may be legitimate (a new country), so a warning, not a failure.
        yield _check(
            "allowed_values",
            name,
            "warn",
            f"All {_count(count)} non-null values are one of {len(observed)} observed values.",
            column=name,
            values=observed,
            max_failing_fraction=0,
        )
        return
    seen = set(observed)
    placeholders = [value for value in PLACEHOLDER_VALUES if value not in seen]
    if placeholders:
        if fully_listed:
            reason = (
                f"Text with {_count(len(observed))} distinct values; none of the placeholders "
                "checked for was seen."
            )
        else:
            many = f"{_count(int(distinct))} distinct values" if distinct else "many values"
            reason = (
                f"Text with {many}, more than the profile lists; none of the placeholders "
                "checked for is among the most frequent."
            )
        yield _check(
            "sentinel",
            name,
            "warn",
            reason,
            column=name,
            values=placeholders,
            max_failing_fraction=0,
        )


def _row_count(rows: int) -> Suggestion:
    low, high = ROW_COUNT_FACTORS
    min_rows, max_rows = math.floor(rows * low), math.ceil(rows * high)
    return Suggestion(
        check={
            "name": "row_count",
            "type": "row_count",
            "severity": "warn",
            "min_rows": min_rows,
            "max_rows": max_rows,
        },
        reason=(
            f"Observed {_count(rows)} rows; allowing {_count(min_rows)} to {_count(max_rows)} "
            "(half to twice as many)."
        ),
    )


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _check(
    check_type: str, subject: str, severity: str, reason: str, /, **params: Any
) -> Suggestion:
    """A suggestion named like the spec's default name: f"{type}:{column}"."""
    check = {"name": f"{check_type}:{subject}", "type": check_type, "severity": severity}
    check.update(params)
    return Suggestion(check=check, reason=reason)


def _with_unique_names(suggestions: list[Suggestion]) -> list[Suggestion]:
    """Default names are unique per type and column; a profile listing a column twice (only
    possible by hand) gets " (2)"-style suffixes rather than a suite that cannot be saved."""
    seen: set[str] = set()
    result = []
    for suggestion in suggestions:
        name = base = suggestion.check["name"]
        number = 1
        while name in seen:
            number += 1
            name = f"{base} ({number})"
        seen.add(name)
        if name != base:
            suggestion = Suggestion(
                check={**suggestion.check, "name": name}, reason=suggestion.reason
            )
        result.append(suggestion)
    return result


def _digits_for(width: float) -> int:
    """Decimal places keeping two significant digits of ``width`` (e.g. 192.6 -> -1: tens)."""
    return 1 - math.floor(math.log10(width))


def _floor_to(value: float, digits: int) -> float:
    scale = 10.0**digits
    # round() first so representation noise (0.29 * 100 = 28.999...) does not cost a step.
    return round(math.floor(round(value * scale, 6)) / scale, max(digits, 0))


def _ceil_to(value: float, digits: int) -> float:
    scale = 10.0**digits
    return round(math.ceil(round(value * scale, 6)) / scale, max(digits, 0))


def _count(value: int) -> str:
    return f"{value:,}"


def _number(value: float, integer: bool = False) -> str:
    """An observed number for a sentence: 1,926.80; 0.0477; 18 for integer columns."""
    if integer:
        return f"{round(value):,}"
    if value == 0 or abs(value) >= 1:
        return f"{value:,.2f}"
    text = f"{value:.3g}"  # 0.82, 0.0477
    return f"{value:.2f}" if abs(float(text)) >= 1 else text  # -0.99998: "-1.00", like -1.2


def _bound(value: float) -> str:
    """A (rounded) bound as written in a check: 3,600; 10.9; 0.16."""
    return f"{value:,.12g}"


def _percent(fraction: float, digits: int | None = None) -> str:
    if digits is None:
        digits = 1 if fraction >= 0.01 or fraction == 0 else 2
    return f"{fraction * 100:.{digits}f}%"
