"""Safe row conditions (``end_date >= start_date``) compiled to pyarrow.compute calls.

People type these into a form, so the text is never handed to ``eval``/``exec``/``compile``:
it is parsed with ``ast.parse(mode="eval")`` and every node is checked against a small
whitelist, then turned into a tree of closures that call pyarrow.compute on whole columns. The
grammar is a tiny subset of Python: column names (``total``, or any name in backticks:
`` `total value` ``), constants, ``and``/``or``/``not``, comparisons (chained too),
``+ - * / %``, unary minus, ``x in (1, 2)`` and six functions (``abs``, ``is_null``,
``not_null``, ``length``, ``lower``, ``upper``). Anything else is refused at save time with a
message naming it.

Nulls follow SQL: a comparison with a null operand is null, ``and``/``or`` use Kleene logic, and
NaN in a float column is read as null, so a row whose answer is unknown is never "false".
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lineage.profiling import _portable_type

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "Expression", "ExpressionError", "parse_expression"]

MAX_LENGTH = 1_000
MAX_DEPTH = 50
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# What a compiled node returns: an Arrow array / scalar, or a Python constant that is only turned
# into an Arrow scalar once we know what it is combined with (a date column wants a date).
Value = Any
Evaluator = Callable[[pa.Table], Value]


class ExpressionError(ValueError):
    """An expression that is refused (at save time) or cannot be evaluated on a table."""


_COMPARISONS: dict[type[ast.cmpop], tuple[str, str]] = {
    ast.Eq: ("==", "equal"),
    ast.NotEq: ("!=", "not_equal"),
    ast.Lt: ("<", "less"),
    ast.LtE: ("<=", "less_equal"),
    ast.Gt: (">", "greater"),
    ast.GtE: (">=", "greater_equal"),
}
_ARITHMETIC: dict[type[ast.operator], tuple[str, str]] = {
    ast.Add: ("+", "add"),
    ast.Sub: ("-", "subtract"),
    ast.Mult: ("*", "multiply"),
    ast.Div: ("/", "divide"),
    ast.Mod: ("%", "modulo"),
}
_FUNCTIONS = ("abs", "is_null", "not_null", "length", "lower", "upper")
_CONDITION_FUNCTIONS = ("is_null", "not_null")

# Human names for refused syntax, so the message says what to remove.
_REFUSED: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (a.b)",
    ast.Subscript: "subscripts (a[...])",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.IfExp: "conditional expressions (a if b else c)",
    ast.NamedExpr: "assignment (:=)",
    ast.Dict: "dictionaries",
    ast.Set: "sets",
    ast.JoinedStr: "f-strings",
    ast.Starred: "starred arguments (*a)",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Slice: "slices",
}
_REFUSED_OPERATORS: dict[type[ast.AST], str] = {
    ast.Pow: "the ** operator",
    ast.FloorDiv: "the // operator (use / instead)",
    ast.MatMult: "the @ operator",
    ast.BitAnd: "the & operator (use and)",
    ast.BitOr: "the | operator (use or)",
    ast.BitXor: "the ^ operator",
    ast.LShift: "the << operator",
    ast.RShift: "the >> operator",
    ast.Invert: "the ~ operator (use not)",
    ast.UAdd: "unary +",
    ast.Is: "'is' (use is_null(x) or ==)",
    ast.IsNot: "'is not' (use not_null(x) or !=)",
}


class Expression:
    """A parsed, validated condition; :meth:`evaluate` gives one boolean per row."""

    def __init__(self, text: str, columns: tuple[str, ...], evaluator: Evaluator) -> None:
        self.text = text
        self.columns = columns
        self._evaluator = evaluator

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def evaluate(self, table: pa.Table) -> pa.ChunkedArray | pa.Array:
        """Evaluate on ``table``: true, false, or null (undecidable) for each row.

        Raises :class:`ExpressionError` when a column is missing or the operand types do not
        fit (comparing text with a number).
        """
        missing = [name for name in self.columns if name not in table.column_names]
        if missing:
            raise ExpressionError(f"Column {missing[0]!r} does not exist.")
        result = self._evaluator(table)
        if not isinstance(result, pa.Array | pa.ChunkedArray):
            scalar = result if isinstance(result, pa.Scalar) else pa.scalar(result)
            result = pa.repeat(scalar, table.num_rows)
        if not pa.types.is_boolean(result.type):
            raise ExpressionError(
                f"The expression gives {_type_name(result.type)} values, not true/false."
            )
        return result


def parse_expression(text: str) -> Expression:
    """Parse and validate ``text``; raise :class:`ExpressionError` naming what is not allowed.

    Steps: enforce the length limit, swap backtick-quoted names for placeholder identifiers,
    ``ast.parse`` in eval mode, then compile the tree against the whitelist (depth-limited).
    """
    if not isinstance(text, str):
        raise ExpressionError("The expression must be text.")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"The expression is longer than {MAX_LENGTH:,} characters.")
    if not text.strip():
        raise ExpressionError("The expression is empty.")
    source, quoted = _replace_backticks(text)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" (at character {exc.offset})" if exc.offset and not quoted else ""
        raise ExpressionError(f"The expression is not valid: {exc.msg}{where}.") from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("The expression is not valid.") from None
    compiler = _Compiler(quoted)
    root = tree.body
    compiled = compiler.compile(root, depth=1)
    if not compiler.columns:
        raise ExpressionError("The expression does not refer to any column.")
    if _is_arithmetic(root):
        raise ExpressionError(
            "The expression must be a condition (true or false for each row), e.g. "
            "price * quantity > 0; this one computes a value."
        )
    return Expression(text.strip(), tuple(compiler.columns), compiled)


def _replace_backticks(text: str) -> tuple[str, dict[str, str]]:
    """Replace each `quoted name` (outside string literals) by a unique identifier, and line
    breaks by spaces.

    Returns the new source and ``{placeholder: column name}``.
    """
    prefix = "_bt_"
    while prefix in text:
        prefix = "_" + prefix
    quoted: dict[str, str] = {}
    by_name: dict[str, str] = {}
    parts: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char in "'\"":
            end = _string_end(text, index)
            parts.append(text[index:end])
            index = end
        elif char == "`":
            close = text.find("`", index + 1)
            if close == -1:
                raise ExpressionError("A `quoted column name` is not closed with a backtick.")
            name = text[index + 1 : close]
            if not name:
                raise ExpressionError("Empty `` column name.")
            if name not in by_name:
                placeholder = f"{prefix}{len(by_name)}"
                by_name[name] = placeholder
                quoted[placeholder] = name
            parts.append(f" {by_name[name]} ")
            index = close + 1
        else:
            # Line breaks from a multi-line text box are just spaces between tokens.
            parts.append(" " if char in "\r\n\t" else char)
            index += 1
    return "".join(parts), quoted


def _string_end(text: str, start: int) -> int:
    """Index just past the string literal opening at ``start`` (or the end of text)."""
    quote = text[start]
    delimiter = quote * 3 if text.startswith(quote * 3, start) else quote
    index = start + len(delimiter)
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text.startswith(delimiter, index):
            return index + len(delimiter)
        index += 1
    return len(text)


def _is_arithmetic(node: ast.expr) -> bool:
    if isinstance(node, ast.BinOp):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return True
    if isinstance(node, ast.Constant):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id not in _CONDITION_FUNCTIONS
    )


class _Compiler:
    """Walks the tree once, refusing anything off the whitelist, building evaluators."""

    def __init__(self, quoted: dict[str, str]) -> None:
        self.quoted = quoted
        self.columns: list[str] = []

    def compile(self, node: ast.AST, depth: int) -> Evaluator:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"The expression is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node, depth)
        if isinstance(node, ast.UnaryOp):
            return self._unary(node, depth)
        if isinstance(node, ast.Compare):
            return self._compare(node, depth)
        if isinstance(node, ast.BinOp):
            return self._binary(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        if isinstance(node, ast.Tuple | ast.List):
            raise ExpressionError("Lists of values are only allowed after 'in' or 'not in'.")
        label = _REFUSED.get(type(node), type(node).__name__)
        raise ExpressionError(f"The expression uses {label}, which is not allowed.")

    def _name(self, node: ast.Name) -> Evaluator:
        column = self.quoted.get(node.id, node.id)
        if column not in self.columns:
            self.columns.append(column)

        def read_column(table: pa.Table) -> Value:
            return _read_column(table, column)

        return read_column

    def _constant(self, node: ast.Constant) -> Evaluator:
        value = _checked_constant(node.value)

        def constant(table: pa.Table) -> Value:
            return value

        return constant

    def _bool_op(self, node: ast.BoolOp, depth: int) -> Evaluator:
        is_and = isinstance(node.op, ast.And)
        word, function = ("and", pc.and_kleene) if is_and else ("or", pc.or_kleene)
        operands = [self.compile(value, depth + 1) for value in node.values]

        def combine(table: pa.Table) -> Value:
            result = _as_boolean(operands[0](table), word)
            for operand in operands[1:]:
                result = function(result, _as_boolean(operand(table), word))
            return result

        return combine

    def _unary(self, node: ast.UnaryOp, depth: int) -> Evaluator:
        if isinstance(node.op, ast.USub):
            if isinstance(node.operand, ast.Constant):
                value = _checked_constant(node.operand.value)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ExpressionError(f"Cannot negate {value!r}.")
                return self._constant(ast.Constant(-value))
            operand = self.compile(node.operand, depth + 1)

            def negate(table: pa.Table) -> Value:
                return _apply("-", "negate", operand(table))

            return negate
        if isinstance(node.op, ast.Not):
            operand = self.compile(node.operand, depth + 1)

            def invert(table: pa.Table) -> Value:
                return pc.invert(_as_boolean(operand(table), "not"))

            return invert
        label = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
        raise ExpressionError(f"The expression uses {label}, which is not allowed.")

    def _compare(self, node: ast.Compare, depth: int) -> Evaluator:
        first = self.compile(node.left, depth + 1)
        steps: list[tuple[str, Any, Evaluator | tuple[Any, ...]]] = []
        for operator, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(operator, ast.In | ast.NotIn):
                steps.append(("in", isinstance(operator, ast.NotIn), _constant_list(comparator)))
                continue
            if type(operator) not in _COMPARISONS:
                label = _REFUSED_OPERATORS.get(type(operator), type(operator).__name__)
                raise ExpressionError(f"The expression uses {label}, which is not allowed.")
            if isinstance(comparator, ast.Constant) and comparator.value is None:
                raise ExpressionError("Compare with None using is_null(x) or not_null(x).")
            if isinstance(node.left, ast.Constant) and node.left.value is None:
                raise ExpressionError("Compare with None using is_null(x) or not_null(x).")
            steps.append(("compare", type(operator), self.compile(comparator, depth + 1)))

        def compare(table: pa.Table) -> Value:
            left = first(table)
            result: Value = None
            for kind, detail, right_source in steps:
                if kind == "in":
                    assert isinstance(right_source, tuple)
                    part = _is_in(left, right_source, negated=bool(detail))
                    right = None
                else:
                    assert callable(right_source)
                    right = right_source(table)
                    part = _comparison(detail, left, right)
                result = part if result is None else pc.and_kleene(result, part)
                left = right
            return result

        return compare

    def _binary(self, node: ast.BinOp, depth: int) -> Evaluator:
        if type(node.op) not in _ARITHMETIC:
            label = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
            raise ExpressionError(f"The expression uses {label}, which is not allowed.")
        symbol, function_name = _ARITHMETIC[type(node.op)]
        left_source = self.compile(node.left, depth + 1)
        right_source = self.compile(node.right, depth + 1)

        def arithmetic(table: pa.Table) -> Value:
            left, right = _coerce_pair(left_source(table), right_source(table))
            if function_name == "divide":  # true division, as people expect, not integer division
                left, right = _as_float(left), _as_float(right)
            return _apply(symbol, function_name, left, right)

        return arithmetic

    def _call(self, node: ast.Call, depth: int) -> Evaluator:
        if not isinstance(node.func, ast.Name):
            if isinstance(node.func, ast.Attribute):
                raise ExpressionError(
                    "The expression uses attribute access (a.b), which is not allowed."
                )
            raise ExpressionError("Only calls to " + ", ".join(_FUNCTIONS) + " are allowed.")
        name = node.func.id
        if name not in _FUNCTIONS:
            raise ExpressionError(
                f"The function {name!r} is not allowed; use one of {', '.join(_FUNCTIONS)}."
            )
        if node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
            raise ExpressionError(f"{name}() takes exactly one argument.")
        argument = self.compile(node.args[0], depth + 1)

        def call(table: pa.Table) -> Value:
            return _call_function(name, _to_arrow(argument(table)))

        return call


def _checked_constant(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ExpressionError(f"The number {value} is too large.")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ExpressionError(f"The number {value} is not finite.")
        return value
    raise ExpressionError(f"The constant {value!r} is not allowed; use numbers, text, True/False.")


def _constant_list(node: ast.expr) -> tuple[Any, ...]:
    if not isinstance(node, ast.Tuple | ast.List):
        raise ExpressionError("'in' needs a list of constants, e.g. status in ('new', 'open').")
    values = []
    for element in node.elts:
        if (
            isinstance(element, ast.UnaryOp)
            and isinstance(element.op, ast.USub)
            and isinstance(element.operand, ast.Constant)
            and isinstance(element.operand.value, int | float)
            and not isinstance(element.operand.value, bool)
        ):
            values.append(_checked_constant(-element.operand.value))
        elif isinstance(element, ast.Constant):
            values.append(_checked_constant(element.value))
        else:
            raise ExpressionError("'in' lists may only hold constants (numbers, text, True/False).")
    if not values:
        raise ExpressionError("'in' needs at least one value.")
    if any(value is None for value in values):
        raise ExpressionError("'in' lists cannot hold None; use is_null(x) instead.")
    return tuple(values)


# --------------------------------------------------------------------------------------------
# Evaluation helpers (all vectorised: each call handles a whole column)
# --------------------------------------------------------------------------------------------


def _read_column(table: pa.Table, name: str) -> pa.ChunkedArray:
    if name not in table.column_names:
        raise ExpressionError(f"Column {name!r} does not exist.")
    column = table.column(name)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return without_nan(column)


def without_nan(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Float NaN turned into null, so it is "unknown" rather than a value that compares false."""
    if not pa.types.is_floating(column.type):
        return column
    nan_mask = pc.is_nan(column)
    if not pc.any(nan_mask).as_py():
        return column
    return pc.if_else(nan_mask, pa.scalar(None, column.type), column)


def _is_arrow(value: Value) -> bool:
    return isinstance(value, pa.Array | pa.ChunkedArray | pa.Scalar)


def _to_arrow(value: Value) -> Value:
    if _is_arrow(value):
        return value
    return pa.scalar(value)


def _coerce_pair(left: Value, right: Value) -> tuple[Value, Value]:
    """Arrow operands for a binary operation; a text constant takes a temporal column's type."""
    if isinstance(left, str) and _is_arrow(right) and _is_temporal(right.type):
        return _temporal_constant(left, right.type), right
    if isinstance(right, str) and _is_arrow(left) and _is_temporal(left.type):
        return left, _temporal_constant(right, left.type)
    return _to_arrow(left), _to_arrow(right)


def _is_temporal(data_type: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(data_type) or pa.types.is_date(data_type))


def _temporal_constant(text: str, data_type: pa.DataType) -> pa.Scalar:
    """Cast '2024-01-31' (or an ISO datetime) to the column's type.

    A constant without a UTC offset compared with a time-zone-aware column is read in the
    column's zone: that is the clock time a person looking at the data sees.
    """
    try:
        if pa.types.is_timestamp(data_type) and data_type.tz is not None:
            try:
                return pa.scalar(text).cast(data_type)
            except pa.ArrowInvalid:
                naive = pa.array([text]).cast(pa.timestamp(data_type.unit))
                return pc.assume_timezone(naive, timezone=data_type.tz)[0]
        return pa.scalar(text).cast(data_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise ExpressionError(
            f"{text!r} is not a valid {_type_name(data_type)} (use ISO format, e.g. 2024-01-31)."
        ) from None


def _as_float(value: Value) -> Value:
    if pa.types.is_integer(value.type) or pa.types.is_decimal(value.type):
        return pc.cast(value, pa.float64())
    return value


def _as_boolean(value: Value, word: str) -> Value:
    value = _to_arrow(value)
    if not pa.types.is_boolean(value.type) and not pa.types.is_null(value.type):
        raise ExpressionError(
            f"'{word}' needs true/false operands, not {_type_name(value.type)} values; "
            "compare them with something first."
        )
    return value


def _comparison(operator: type[ast.cmpop], left: Value, right: Value) -> Value:
    symbol, function_name = _COMPARISONS[operator]
    left, right = _coerce_pair(left, right)
    try:
        return getattr(pc, function_name)(left, right)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        raise ExpressionError(
            f"Cannot compare {_type_name(left.type)} with {_type_name(right.type)} using "
            f"'{symbol}'."
        ) from None


def _apply(symbol: str, function_name: str, *operands: Value) -> Value:
    operands = tuple(_to_arrow(operand) for operand in operands)
    try:
        return getattr(pc, function_name)(*operands)
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError):
        types = " and ".join(_type_name(operand.type) for operand in operands)
        raise ExpressionError(f"Cannot apply '{symbol}' to {types}.") from None
    except pa.ArrowInvalid as exc:  # e.g. integer division by zero
        raise ExpressionError(f"'{symbol}' failed: {exc}.") from None


def _is_in(left: Value, values: tuple[Any, ...], *, negated: bool) -> Value:
    """``left in values`` with null (not false) where ``left`` is null, like a comparison."""
    left = _to_arrow(left)
    data_type = left.type
    if _is_temporal(data_type) and all(isinstance(value, str) for value in values):
        value_set = pa.array([_temporal_constant(value, data_type) for value in values])
    elif all(isinstance(value, str) for value in values):
        value_set = pa.array(values, pa.string())
    elif all(isinstance(value, bool) for value in values):
        value_set = pa.array(values, pa.bool_())
    elif all(isinstance(value, int | float) and not isinstance(value, bool) for value in values):
        value_set = pa.array(values)
        if pa.types.is_integer(data_type) and pa.types.is_floating(value_set.type):
            left = pc.cast(left, pa.float64())
    else:
        raise ExpressionError(
            "An 'in' list must hold values of one kind (all text, all numbers or all True/False)."
        )
    try:
        found = pc.is_in(left, value_set=value_set)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
        raise ExpressionError(
            f"Cannot look up {_type_name(data_type)} values in a list of "
            f"{_type_name(value_set.type)} values."
        ) from None
    if negated:
        found = pc.invert(found)
    if isinstance(left, pa.Scalar):
        return found if left.is_valid else pa.scalar(None, pa.bool_())
    if left.null_count:
        found = pc.if_else(pc.is_valid(left), found, pa.scalar(None, pa.bool_()))
    return found


def _call_function(name: str, argument: Value) -> Value:
    data_type = argument.type
    if name == "is_null":
        return pc.is_null(argument, nan_is_null=True)
    if name == "not_null":
        return pc.invert(pc.is_null(argument, nan_is_null=True))
    if name == "abs":
        return _apply("abs", "abs", argument)
    text_function = {"length": "utf8_length", "lower": "utf8_lower", "upper": "utf8_upper"}[name]
    if not (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    ):
        raise ExpressionError(f"{name}() needs text, not {_type_name(data_type)} values.")
    return getattr(pc, text_function)(argument)


def _type_name(data_type: pa.DataType) -> str:
    """Arrow types in the portal's words (integer, float, string, datetime, date, boolean)."""
    if pa.types.is_null(data_type):
        return "null"
    portable = _portable_type(data_type)
    return portable if portable != "other" else str(data_type)
