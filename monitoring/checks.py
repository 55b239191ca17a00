"""Data quality check definitions: the check types, their parameters, and strict validation.

A check is a small JSON-able dict (``{"type": "range", "column": "age", "min": 0}``) stored with
a suite. :func:`normalise_check` turns what a person or an API client sent into the canonical
form (every parameter present, defaults filled in) or raises :class:`CheckDefinitionError`
naming the offending field, so a form can put the message next to the right input. The engine in
``monitoring/quality.py`` only ever sees canonical checks. No Django here: forms, serializers and
the engine all share these rules.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from monitoring.expressions import ExpressionError, parse_expression

__all__ = [
    "CHECK_TYPES",
    "COLUMN_TYPES",
    "SEVERITIES",
    "STATISTICS",
    "CheckDefinitionError",
    "CheckType",
    "Param",
    "check_columns",
    "describe_check",
    "normalise_check",
    "normalise_checks",
]

SEVERITIES: tuple[str, ...] = ("warn", "fail")
COLUMN_TYPES: tuple[str, ...] = (
    "any",
    "integer",
    "float",
    "numeric",
    "string",
    "boolean",
    "datetime",
    "date",
)
STATISTICS: tuple[str, ...] = ("mean", "std", "min", "max", "median", "quantile")

# Limits that keep a stored suite small and a run bounded; generous for real use.
MAX_NAME_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 2_000
MAX_VALUES = 10_000
MAX_PATTERN_LENGTH = 1_000
_DEFAULT_NAME_EXPRESSION_CHARS = 40


class CheckDefinitionError(ValueError):
    """A check definition that cannot be used; ``field`` says which input is wrong.

    ``str(exc)`` is ``"<field>: <message>"`` so it reads well in a log or an API error, while
    ``message`` alone suits a form that already shows it next to the field.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def within(self, prefix: str) -> CheckDefinitionError:
        """The same error with its field nested under ``prefix`` (``checks[2].min``)."""
        return CheckDefinitionError(f"{prefix}.{self.field}", self.message)


@dataclass(frozen=True)
class Param:
    """One parameter of a check type, described for validation, forms and docs.

    ``kind`` is one of column, columns, number, integer, fraction, boolean, string, values,
    choice, pattern, expression. An optional parameter whose default is ``None`` may be null
    (e.g. a range's ``max``); any other optional parameter given as null takes its default.
    """

    name: str
    kind: str
    required: bool
    default: Any
    help: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckType:
    """A kind of check: its parameters and whether it judges rows (row_level) or the table."""

    name: str
    label: str
    description: str
    params: tuple[Param, ...]
    row_level: bool
    column_based: bool


def _column_param() -> Param:
    return Param("column", "column", True, None, "The column to check.")


def _tolerance_param() -> Param:
    return Param(
        "max_failing_fraction",
        "fraction",
        False,
        0,
        "Share of rows (0 to 1) allowed to fail before the check fails; 0 allows none.",
    )


CHECK_TYPES: dict[str, CheckType] = {
    check_type.name: check_type
    for check_type in (
        CheckType(
            "column_type",
            "Column type",
            "The column exists and has the expected type.",
            (
                _column_param(),
                Param(
                    "expected_type",
                    "choice",
                    False,
                    "any",
                    "Expected type; numeric means integer or float, any only checks presence.",
                    COLUMN_TYPES,
                ),
            ),
            row_level=False,
            column_based=True,
        ),
        CheckType(
            "not_null",
            "Not null",
            "At most a given share of the column's values are missing (NaN counts as missing).",
            (
                _column_param(),
                Param(
                    "max_null_fraction",
                    "fraction",
                    False,
                    0,
                    "Share of nulls (0 to 1) allowed; 0 allows none.",
                ),
            ),
            row_level=True,
            column_based=True,
        ),
        CheckType(
            "range",
            "Range",
            "Non-null values lie between a minimum and a maximum.",
            (
                _column_param(),
                Param("min", "number", False, None, "Lowest allowed value (empty: no minimum)."),
                Param("max", "number", False, None, "Highest allowed value (empty: no maximum)."),
                Param("min_inclusive", "boolean", False, True, "Whether min itself is allowed."),
                Param("max_inclusive", "boolean", False, True, "Whether max itself is allowed."),
                _tolerance_param(),
            ),
            row_level=True,
            column_based=True,
        ),
        CheckType(
            "allowed_values",
            "Allowed values",
            "Non-null values are among a fixed list.",
            (
                _column_param(),
                Param("values", "values", True, None, "The allowed values."),
                _tolerance_param(),
            ),
            row_level=True,
            column_based=True,
        ),
        CheckType(
            "unique",
            "Unique",
            "No two rows share the same value (or combination of values); rows with a null in "
            "any of the columns are ignored.",
            (
                Param(
                    "columns",
                    "columns",
                    True,
                    None,
                    "The column, or columns whose combination must be unique.",
                ),
            ),
            row_level=True,
            column_based=True,
        ),
        CheckType(
            "regex",
            "Pattern",
            "Non-null text values fully match a regular expression (RE2 syntax).",
            (
                _column_param(),
                Param(
                    "pattern",
                    "pattern",
                    True,
                    None,
                    "Regular expression the whole value must match, e.g. [A-Z]{2}[0-9]{4}.",
                ),
                _tolerance_param(),
            ),
            row_level=True,
            column_based=True,
        ),
        CheckType(
            "string_length",
            "Text length",
            "Non-null text values have a length (in characters) within bounds.",
            (
                _column_param(),
                Param("min_length", "integer", False, None, "Shortest allowed length."),
                Param("max_length", "integer", False, None, "Longest allowed length."),
                _tolerance_param(),
            ),
            row_level=True,
            column_based=True,
        ),
        CheckType(
            "row_count",
            "Row count",
            "The table has a number of rows within bounds.",
            (
                Param("min_rows", "integer", False, None, "Fewest rows allowed."),
                Param("max_rows", "integer", False, None, "Most rows allowed."),
            ),
            row_level=False,
            column_based=False,
        ),
        CheckType(
            "sentinel",
            "No placeholder values",
            "Non-null values never equal a placeholder such as -1, 9999 or an empty string.",
            (
                _column_param(),
                Param(
                    "values",
                    "values",
                    True,
                    None,
                    "Placeholder values; numbers apply to numeric columns, text to text columns.",
                ),
                _tolerance_param(),
            ),
            row_level=True,
            column_based=True,
        ),
        CheckType(
            "freshness",
            "Freshness",
            "The newest value of a date or datetime column is recent enough.",
            (
                _column_param(),
                Param(
                    "max_age_hours",
                    "number",
                    True,
                    None,
                    "Largest allowed age, in hours, of the newest value.",
                ),
            ),
            row_level=False,
            column_based=True,
        ),
        CheckType(
            "distribution",
            "Statistic",
            "A statistic of the column's non-null numeric values lies within bounds (inclusive).",
            (
                _column_param(),
                Param(
                    "statistic",
                    "choice",
                    True,
                    None,
                    "Which statistic to compute.",
                    STATISTICS,
                ),
                Param(
                    "quantile",
                    "fraction",
                    False,
                    None,
                    "The quantile, strictly between 0 and 1 (only for the quantile statistic).",
                ),
                Param("min", "number", False, None, "Lowest allowed value of the statistic."),
                Param("max", "number", False, None, "Highest allowed value of the statistic."),
            ),
            row_level=False,
            column_based=True,
        ),
        CheckType(
            "expression",
            "Row condition",
            "A condition every row must satisfy, e.g. end_date >= start_date; rows where it "
            "cannot be decided (a null operand) are not counted.",
            (
                Param(
                    "expression",
                    "expression",
                    True,
                    None,
                    "A condition over columns: comparisons, and/or/not, + - * / %, "
                    "abs, is_null, not_null, length, lower, upper; `quoted name` for odd names.",
                ),
                _tolerance_param(),
            ),
            row_level=True,
            column_based=False,
        ),
    )
}

_COMMON_KEYS = frozenset({"name", "type", "severity", "description"})


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------


def normalise_check(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Validate one check and return its canonical form, or raise :class:`CheckDefinitionError`.

    Steps: check the type, refuse unknown keys, validate each parameter by its kind (filling in
    defaults), apply the type's cross-field rules (min <= max, ...), then name it. The result
    is a new dict in a stable key order; normalising it again returns an equal dict.
    """
    if not isinstance(raw, Mapping):
        raise CheckDefinitionError("check", "A check must be an object with a 'type'.")
    type_name = raw.get("type")
    if type_name is None:
        raise CheckDefinitionError("type", "This field is required.")
    if not isinstance(type_name, str) or type_name not in CHECK_TYPES:
        known = ", ".join(CHECK_TYPES)
        raise CheckDefinitionError("type", f"Unknown check type {type_name!r}; use one of {known}.")
    check_type = CHECK_TYPES[type_name]
    allowed = _COMMON_KEYS | {param.name for param in check_type.params}
    for key in raw:
        if key not in allowed:
            raise CheckDefinitionError(
                str(key), f"Unknown field for a {type_name} check; allowed: {_listed(allowed)}."
            )

    parameters: dict[str, Any] = {}
    for param in check_type.params:
        parameters[param.name] = _validate_param(param, raw.get(param.name))
    _CROSS_FIELD_RULES[type_name](parameters)

    check: dict[str, Any] = {
        "name": _validate_name(raw.get("name"), type_name, parameters),
        "type": type_name,
        "severity": _validate_severity(raw.get("severity")),
    }
    description = raw.get("description")
    if description is not None:
        if not isinstance(description, str):
            raise CheckDefinitionError("description", "Must be text.")
        if len(description) > MAX_DESCRIPTION_LENGTH:
            raise CheckDefinitionError(
                "description", f"Must be at most {MAX_DESCRIPTION_LENGTH:,} characters."
            )
        check["description"] = description
    check.update(parameters)
    return check


def normalise_checks(raw: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Normalise a whole suite; errors name the check (``checks[2].min``), names must be unique."""
    if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
        raise CheckDefinitionError("checks", "Must be a list of checks.")
    checks: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        prefix = f"checks[{index}]"
        try:
            check = normalise_check(item)
        except CheckDefinitionError as exc:
            raise exc.within(prefix) from None
        if check["name"] in seen:
            raise CheckDefinitionError(
                f"{prefix}.name",
                f"Another check is already named {check['name']!r}; give each check its own name.",
            )
        seen.add(check["name"])
        checks.append(check)
    return checks


def _validate_param(param: Param, value: Any) -> Any:
    if value is None:
        if param.required:
            raise CheckDefinitionError(param.name, "This field is required.")
        return param.default
    return _KIND_VALIDATORS[param.kind](param, value)


def _validate_column(param: Param, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CheckDefinitionError(param.name, "Must be a column name.")
    return value


def _validate_columns(param: Param, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise CheckDefinitionError(param.name, "Must be a non-empty list of column names.")
    columns: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise CheckDefinitionError(param.name, f"{item!r} is not a column name.")
        if item in columns:
            raise CheckDefinitionError(param.name, f"Column {item!r} is listed twice.")
        columns.append(item)
    return columns


def _validate_number(param: Param, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CheckDefinitionError(param.name, f"Must be a number, not {_kind_of(value)}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise CheckDefinitionError(param.name, "Must be a finite number.")
    return value


def _validate_integer(param: Param, value: Any) -> int:
    number = _validate_number(param, value)
    if isinstance(number, float):
        if not number.is_integer():
            raise CheckDefinitionError(param.name, "Must be a whole number.")
        number = int(number)
    if number < 0:
        raise CheckDefinitionError(param.name, "Must not be negative.")
    return number


def _validate_fraction(param: Param, value: Any) -> int | float:
    number = _validate_number(param, value)
    if not 0 <= number <= 1:
        raise CheckDefinitionError(param.name, "Must be between 0 and 1.")
    return number


def _validate_boolean(param: Param, value: Any) -> bool:
    if not isinstance(value, bool):
        raise CheckDefinitionError(param.name, f"Must be true or false, not {_kind_of(value)}.")
    return value


def _validate_string(param: Param, value: Any) -> str:
    if not isinstance(value, str):
        raise CheckDefinitionError(param.name, "Must be text.")
    return value


def _validate_values(param: Param, value: Any) -> list[str | int | float | bool]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise CheckDefinitionError(param.name, "Must be a list of values.")
    if not value:
        raise CheckDefinitionError(param.name, "Must list at least one value.")
    if len(value) > MAX_VALUES:
        raise CheckDefinitionError(param.name, f"Must list at most {MAX_VALUES:,} values.")
    values: list[str | int | float | bool] = []
    for item in value:
        if not isinstance(item, str | int | float):  # bool is an int
            raise CheckDefinitionError(
                param.name, f"Values must be text, numbers or true/false, not {_kind_of(item)}."
            )
        if isinstance(item, float) and not math.isfinite(item):
            raise CheckDefinitionError(param.name, "Numbers must be finite.")
        values.append(item)
    return values


def _validate_choice(param: Param, value: Any) -> str:
    if not isinstance(value, str) or value not in param.choices:
        raise CheckDefinitionError(
            param.name, f"Unknown value {value!r}; use one of {', '.join(param.choices)}."
        )
    return value


def _validate_pattern(param: Param, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise CheckDefinitionError(param.name, "Must be a non-empty regular expression.")
    if len(value) > MAX_PATTERN_LENGTH:
        raise CheckDefinitionError(
            param.name, f"Must be at most {MAX_PATTERN_LENGTH:,} characters."
        )
    # Compile it the way the engine will (RE2 through pyarrow), so a bad pattern is refused at
    # save time rather than erroring on every run.
    try:
        pc.match_substring_regex(pa.array([""], pa.string()), pattern=value)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        detail = str(exc).removeprefix("Invalid regular expression: ")
        raise CheckDefinitionError(param.name, f"Invalid regular expression: {detail}.") from None
    return value


def _validate_expression(param: Param, value: Any) -> str:
    if not isinstance(value, str):
        raise CheckDefinitionError(param.name, "Must be text.")
    text = value.strip()
    try:
        parse_expression(text)
    except ExpressionError as exc:
        raise CheckDefinitionError(param.name, str(exc)) from None
    return text


_KIND_VALIDATORS: dict[str, Callable[[Param, Any], Any]] = {
    "column": _validate_column,
    "columns": _validate_columns,
    "number": _validate_number,
    "integer": _validate_integer,
    "fraction": _validate_fraction,
    "boolean": _validate_boolean,
    "string": _validate_string,
    "values": _validate_values,
    "choice": _validate_choice,
    "pattern": _validate_pattern,
    "expression": _validate_expression,
}


def _validate_bounds(params: dict[str, Any], low: str, high: str) -> None:
    """At least one bound, and ``low <= high`` when both are set."""
    if params[low] is None and params[high] is None:
        raise CheckDefinitionError(low, f"Set {low}, {high} or both.")
    if params[low] is not None and params[high] is not None and params[low] > params[high]:
        raise CheckDefinitionError(
            low, f"{low} ({params[low]}) must not be greater than {high} ({params[high]})."
        )


def _rules_none(params: dict[str, Any]) -> None:
    return None


def _rules_range(params: dict[str, Any]) -> None:
    _validate_bounds(params, "min", "max")
    low, high = params["min"], params["max"]
    if (
        low is not None
        and low == high
        and not (params["min_inclusive"] and params["max_inclusive"])
    ):
        raise CheckDefinitionError("min", "The range is empty: min equals max but excludes it.")


def _rules_string_length(params: dict[str, Any]) -> None:
    _validate_bounds(params, "min_length", "max_length")


def _rules_row_count(params: dict[str, Any]) -> None:
    _validate_bounds(params, "min_rows", "max_rows")


def _rules_freshness(params: dict[str, Any]) -> None:
    if params["max_age_hours"] <= 0:
        raise CheckDefinitionError("max_age_hours", "Must be greater than 0.")


def _rules_distribution(params: dict[str, Any]) -> None:
    quantile = params["quantile"]
    if params["statistic"] == "quantile":
        if quantile is None:
            raise CheckDefinitionError("quantile", "Required for the quantile statistic.")
        if not 0 < quantile < 1:
            raise CheckDefinitionError("quantile", "Must be strictly between 0 and 1.")
    elif quantile is not None:
        raise CheckDefinitionError(
            "quantile", "Only used with the quantile statistic; leave it empty."
        )
    _validate_bounds(params, "min", "max")


_CROSS_FIELD_RULES: dict[str, Callable[[dict[str, Any]], None]] = {
    "column_type": _rules_none,
    "not_null": _rules_none,
    "range": _rules_range,
    "allowed_values": _rules_none,
    "unique": _rules_none,
    "regex": _rules_none,
    "string_length": _rules_string_length,
    "row_count": _rules_row_count,
    "sentinel": _rules_none,
    "freshness": _rules_freshness,
    "distribution": _rules_distribution,
    "expression": _rules_none,
}


def _validate_name(value: Any, type_name: str, params: Mapping[str, Any]) -> str:
    if value is None:
        return _default_name(type_name, params)
    if not isinstance(value, str) or not value.strip():
        raise CheckDefinitionError("name", "Must be non-empty text.")
    name = value.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise CheckDefinitionError("name", f"Must be at most {MAX_NAME_LENGTH} characters.")
    return name


def _default_name(type_name: str, params: Mapping[str, Any]) -> str:
    if "column" in params:
        name = f"{type_name}:{params['column']}"
    elif "columns" in params:
        name = f"{type_name}:{'+'.join(params['columns'])}"
    elif type_name == "expression":
        name = f"expression:{params['expression'][:_DEFAULT_NAME_EXPRESSION_CHARS]}"
    else:
        name = type_name
    # A generated name must itself be a valid name, so normalising twice changes nothing.
    return name.strip()[:MAX_NAME_LENGTH]


def _validate_severity(value: Any) -> str:
    if value is None:
        return "fail"
    if not isinstance(value, str) or value not in SEVERITIES:
        raise CheckDefinitionError("severity", f"Unknown severity {value!r}; use warn or fail.")
    return value


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, Sequence):
        return "a list"
    return type(value).__name__


def _listed(names: frozenset[str] | set[str]) -> str:
    return ", ".join(sorted(names))


# --------------------------------------------------------------------------------------------
# Reading a check
# --------------------------------------------------------------------------------------------


def check_columns(check: Mapping[str, Any]) -> list[str]:
    """The columns a check reads, in order (an expression's referenced names, in first use)."""
    if check.get("column") is not None:
        return [str(check["column"])]
    if check.get("columns"):
        return [str(column) for column in check["columns"]]
    if check.get("type") == "expression" and isinstance(check.get("expression"), str):
        return list(parse_expression(check["expression"]).columns)
    return []


def describe_check(check: Mapping[str, Any]) -> str:
    """One line a person can read in a list of checks, e.g. ``total_value between 0 and 5,000``."""
    describe = _DESCRIBERS.get(str(check.get("type")))
    if describe is None:
        return f"Unknown check type {check.get('type')!r}"
    text = describe(check)
    tolerance = check.get("max_failing_fraction")
    if isinstance(tolerance, int | float) and tolerance > 0:
        text += f" (up to {format_percent(tolerance)} of rows may fail)"
    return text


def format_number(value: Any) -> str:
    """A number as people write it: thousands separators, no needless ``.0``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return str(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    return f"{value:,.6g}"


def format_percent(fraction: float) -> str:
    """0.0123 -> ``1.23%``; three significant digits are plenty for a share of rows."""
    return f"{fraction * 100:.3g}%"


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return format_number(value)


def _format_values(values: Sequence[Any], limit: int = 10) -> str:
    shown = ", ".join(_format_value(value) for value in values[:limit])
    if len(values) > limit:
        shown += f", … ({len(values) - limit:,} more)"
    return shown


def _describe_bounds(subject: str, low: Any, high: Any, unit: str = "") -> str:
    suffix = f" {unit}" if unit else ""
    if low is not None and high is not None:
        return f"{subject} between {format_number(low)} and {format_number(high)}{suffix}"
    if low is not None:
        return f"{subject} at least {format_number(low)}{suffix}"
    return f"{subject} at most {format_number(high)}{suffix}"


def _describe_column_type(check: Mapping[str, Any]) -> str:
    expected = check.get("expected_type", "any")
    if expected == "any":
        return f"{check.get('column')} is present"
    article = "an" if str(expected)[:1] in "aeiou" else "a"
    return f"{check.get('column')} is {article} {expected} column"


def _describe_not_null(check: Mapping[str, Any]) -> str:
    allowed = check.get("max_null_fraction") or 0
    if not allowed:
        return f"{check.get('column')} has no nulls"
    return f"{check.get('column')} has at most {format_percent(allowed)} nulls"


def _describe_range(check: Mapping[str, Any]) -> str:
    column, low, high = check.get("column"), check.get("min"), check.get("max")
    low_inclusive = check.get("min_inclusive", True)
    high_inclusive = check.get("max_inclusive", True)
    if low is not None and high is not None and low_inclusive and high_inclusive:
        return f"{column} between {format_number(low)} and {format_number(high)}"
    parts = []
    if low is not None:
        parts.append(f"{'>=' if low_inclusive else '>'} {format_number(low)}")
    if high is not None:
        parts.append(f"{'<=' if high_inclusive else '<'} {format_number(high)}")
    return f"{column} {' and '.join(parts)}"


def _describe_allowed_values(check: Mapping[str, Any]) -> str:
    return f"{check.get('column')} in {{{_format_values(list(check.get('values') or []))}}}"


def _describe_unique(check: Mapping[str, Any]) -> str:
    columns = list(check.get("columns") or [])
    if len(columns) == 1:
        return f"{columns[0]} is unique"
    return f"({', '.join(columns)}) combination is unique"


def _describe_regex(check: Mapping[str, Any]) -> str:
    return f"{check.get('column')} fully matches /{check.get('pattern')}/"


def _describe_string_length(check: Mapping[str, Any]) -> str:
    return _describe_bounds(
        f"{check.get('column')} length",
        check.get("min_length"),
        check.get("max_length"),
        "characters",
    )


def _describe_row_count(check: Mapping[str, Any]) -> str:
    return _describe_bounds("row count", check.get("min_rows"), check.get("max_rows"))


def _describe_sentinel(check: Mapping[str, Any]) -> str:
    return f"{check.get('column')} never {_format_values(list(check.get('values') or []))}"


def _describe_freshness(check: Mapping[str, Any]) -> str:
    hours = check.get("max_age_hours")
    return f"newest {check.get('column')} at most {format_number(hours)} hours old"


def _describe_distribution(check: Mapping[str, Any]) -> str:
    statistic = check.get("statistic")
    if statistic == "quantile":
        label = f"quantile {format_number(check.get('quantile'))}"
    else:
        label = str(statistic)
    return _describe_bounds(f"{label} of {check.get('column')}", check.get("min"), check.get("max"))


def _describe_expression(check: Mapping[str, Any]) -> str:
    return f"every row satisfies {check.get('expression')}"


_DESCRIBERS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "column_type": _describe_column_type,
    "not_null": _describe_not_null,
    "range": _describe_range,
    "allowed_values": _describe_allowed_values,
    "unique": _describe_unique,
    "regex": _describe_regex,
    "string_length": _describe_string_length,
    "row_count": _describe_row_count,
    "sentinel": _describe_sentinel,
    "freshness": _describe_freshness,
    "distribution": _describe_distribution,
    "expression": _describe_expression,
}
