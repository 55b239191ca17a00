"""Safe row conditions: anything off the whitelist is refused, the rest computes the right rows."""

from __future__ import annotations

import builtins
import math
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pytest

from monitoring.expressions import MAX_DEPTH, MAX_LENGTH, ExpressionError, parse_expression


def evaluate(text: str, **columns: Any) -> list[Any]:
    table = pa.table({name: pa.array(values) for name, values in columns.items()})
    return parse_expression(text).evaluate(table).to_pylist()


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("a.b > 0", "attribute access"),
        ("__import__('os').system('ls') == 0", "attribute access"),
        ("__import__('os')", "'__import__' is not allowed"),
        ("open('/etc/passwd') == 1", "'open' is not allowed"),
        ("eval('1') == 1", "'eval' is not allowed"),
        ("a[0] > 1", "subscripts"),
        ("(lambda: 1)() == 1", "Only calls to"),
        ("[x for x in a] == 1", "comprehensions"),
        ("a ** 2 > 1", "**"),
        ("a // 2 > 1", "//"),
        ("a if b else c", "conditional expressions"),
        ("(a := 1) > 0", ":="),
        ("a & b", "&"),
        ("a is None", "'is'"),
        ("{1: 2} == a", "dictionaries"),
        ("f'{a}' == 'x'", "f-strings"),
        ("abs(a, b) > 0", "exactly one argument"),
        ("abs(x=a) > 0", "exactly one argument"),
        ("a in b", "list of constants"),
        ("a in (b, 1)", "only hold constants"),
        ("a in (None, 1)", "is_null"),
        ("a == None", "is_null"),
        ("a > b'x'", "not allowed"),
    ],
)
def test_it_refuses_syntax_off_the_whitelist_naming_it(text: str, named: str) -> None:
    with pytest.raises(ExpressionError) as excinfo:
        parse_expression(text)
    assert named in str(excinfo.value)


def test_it_refuses_an_expression_longer_than_the_limit() -> None:
    text = "a > 0 and " * (MAX_LENGTH // 10) + "a > 0"
    with pytest.raises(ExpressionError, match="longer than 1,000 characters"):
        parse_expression(text)


def test_it_refuses_an_expression_nested_too_deeply() -> None:
    with pytest.raises(ExpressionError, match=f"more than {MAX_DEPTH} levels"):
        parse_expression("not " * (MAX_DEPTH + 5) + "flag")


def test_it_accepts_an_expression_just_inside_the_depth_limit() -> None:
    assert parse_expression("not " * (MAX_DEPTH - 1) + "flag").columns == ("flag",)


@pytest.mark.parametrize("text", ["", "   ", "a >", "a > > 1", "`unclosed > 1", "`` > 1"])
def test_it_refuses_empty_or_malformed_text(text: str) -> None:
    with pytest.raises(ExpressionError):
        parse_expression(text)


def test_it_refuses_a_value_that_is_not_a_condition() -> None:
    with pytest.raises(ExpressionError, match="must be a condition"):
        parse_expression("price * quantity")


def test_it_refuses_an_expression_without_any_column() -> None:
    with pytest.raises(ExpressionError, match="does not refer to any column"):
        parse_expression("1 < 2")


def test_it_never_evaluates_the_text_with_eval_or_exec(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "a + 1 > 2"
    real_eval, real_exec = builtins.eval, builtins.exec

    def guarded(real: Any) -> Any:
        def call(source: Any, *args: Any, **kwargs: Any) -> Any:
            # Library imports may exec their own code; the user's text must never get here.
            assert not (isinstance(source, str) and text in source), "user text was executed"
            return real(source, *args, **kwargs)

        return call

    monkeypatch.setattr(builtins, "eval", guarded(real_eval))
    monkeypatch.setattr(builtins, "exec", guarded(real_exec))
    assert evaluate(text, a=[1, 2, 3]) == [False, True, True]


# --- columns -----------------------------------------------------------------------------


def test_it_lists_referenced_columns_once_in_order_of_first_use() -> None:
    expression = parse_expression("b > a and a < 10 and is_null(c) or b == 1")
    assert expression.columns == ("b", "a", "c")


def test_it_reads_any_column_name_in_backticks() -> None:
    expression = parse_expression("`total value` >= `unit price` * 2")
    assert expression.columns == ("total value", "unit price")
    table = pa.table({"total value": [10, 3], "unit price": [4, 2]})
    assert expression.evaluate(table).to_pylist() == [True, False]


def test_it_leaves_backticks_inside_string_constants_alone() -> None:
    expression = parse_expression("name == 'a`b`c'")
    assert expression.columns == ("name",)
    assert expression.evaluate(pa.table({"name": ["a`b`c", "abc"]})).to_pylist() == [True, False]


def test_it_reports_a_missing_column_on_evaluation() -> None:
    with pytest.raises(ExpressionError, match="Column 'b' does not exist"):
        parse_expression("a > b").evaluate(pa.table({"a": [1]}))


# --- evaluation --------------------------------------------------------------------------


def test_it_compares_date_columns_with_nulls_left_undecided() -> None:
    result = evaluate(
        "end_date >= start_date",
        start_date=[date(2024, 1, 1), date(2024, 3, 1), None, date(2024, 1, 1)],
        end_date=[date(2024, 2, 1), date(2024, 2, 1), date(2024, 2, 1), date(2024, 1, 1)],
    )
    assert result == [True, False, None, True]


def test_it_casts_a_string_constant_to_a_date_column() -> None:
    result = evaluate("day < '2024-02-01'", day=[date(2024, 1, 31), date(2024, 2, 1)])
    assert result == [True, False]


def test_it_casts_a_string_constant_to_a_timestamp_column() -> None:
    table = pa.table(
        {"at": pa.array([datetime(2024, 1, 1, 23), datetime(2024, 1, 2, 1)], pa.timestamp("us"))}
    )
    assert parse_expression("at >= '2024-01-02'").evaluate(table).to_pylist() == [False, True]


def test_it_reads_a_naive_constant_in_the_zone_of_a_zoned_timestamp_column() -> None:
    zoned = pa.array([datetime(2024, 1, 2, 8, 30)], pa.timestamp("us")).cast(
        pa.timestamp("us", tz="UTC")
    )
    table = pa.table({"at": pa.array(zoned.to_pylist(), pa.timestamp("us", tz="Europe/Paris"))})
    # 08:30 UTC is 09:30 in Paris.
    assert parse_expression("at > '2024-01-02 09:00'").evaluate(table).to_pylist() == [True]
    assert parse_expression("at > '2024-01-02 10:00'").evaluate(table).to_pylist() == [False]


def test_it_refuses_a_string_constant_that_is_not_a_date() -> None:
    with pytest.raises(ExpressionError, match="not a valid date"):
        evaluate("day < 'soon'", day=[date(2024, 1, 31)])


def test_it_divides_integers_as_real_numbers() -> None:
    assert evaluate("a / b == 0.5", a=[1, 3], b=[2, 4]) == [True, False]


def test_it_computes_arithmetic_and_modulo() -> None:
    assert evaluate("price * quantity - 1 > 10", price=[2.5, 3.0], quantity=[4, 5]) == [
        False,
        True,
    ]
    assert evaluate("n % 2 == 0", n=[1, 2, -4, None]) == [False, True, True, None]


def test_it_negates_columns_and_constants() -> None:
    assert evaluate("-a < -1", a=[1, 2]) == [False, True]
    assert evaluate("a > -1.5", a=[-2, -1]) == [False, True]


def test_it_chains_comparisons() -> None:
    assert evaluate("0 <= a < 10", a=[-1, 0, 9, 10, None]) == [False, True, True, False, None]


def test_it_checks_membership_with_nulls_undecided() -> None:
    assert evaluate("status in ('new', 'open')", status=["new", "done", None]) == [
        True,
        False,
        None,
    ]
    assert evaluate("code not in (1, -2)", code=[1, -2, 3, None]) == [False, False, True, None]


def test_it_checks_integer_membership_against_a_float_list() -> None:
    assert evaluate("n in (1.5, 2)", n=[1, 2]) == [False, True]


def test_it_uses_kleene_logic_for_and_or() -> None:
    a = [None, None, 1, -1]
    b = [1, -1, None, None]
    assert evaluate("a > 0 or b > 0", a=a, b=b) == [True, None, True, None]
    assert evaluate("a > 0 and b > 0", a=a, b=b) == [None, False, None, False]
    assert evaluate("not (a > 0)", a=[1, -1, None]) == [False, True, None]


def test_it_reads_nan_as_null() -> None:
    values = [1.0, math.nan, None]
    assert evaluate("x > 0", x=values) == [True, None, None]
    assert evaluate("is_null(x)", x=values) == [False, True, True]
    assert evaluate("not_null(x)", x=values) == [True, False, False]


def test_it_applies_the_allowed_functions() -> None:
    assert evaluate("abs(a) <= 2", a=[-3, -2, 2]) == [False, True, True]
    assert evaluate("length(s) == 3", s=["abc", "héé", "ab", None]) == [True, True, False, None]
    assert evaluate("lower(s) == 'abc'", s=["ABC", "AbD"]) == [True, False]
    assert evaluate("upper(s) == 'ABC'", s=["abc", "abd"]) == [True, False]


def test_it_uses_a_boolean_column_as_a_condition() -> None:
    assert evaluate("active and score > 1", active=[True, False], score=[2, 2]) == [True, False]


def test_it_refuses_comparing_text_with_a_number_on_evaluation() -> None:
    with pytest.raises(ExpressionError, match="Cannot compare string with integer"):
        evaluate("name > 5", name=["a"])


def test_it_refuses_and_on_numbers_on_evaluation() -> None:
    with pytest.raises(ExpressionError, match="'and' needs true/false"):
        evaluate("a and b > 0", a=[1], b=[1])


def test_it_refuses_text_functions_on_numbers() -> None:
    with pytest.raises(ExpressionError, match=r"length\(\) needs text"):
        evaluate("length(a) > 1", a=[1])


def test_it_refuses_a_non_boolean_column_as_the_whole_condition() -> None:
    with pytest.raises(ExpressionError, match="gives integer values"):
        evaluate("a", a=[1])


def test_it_reports_integer_division_by_zero_in_modulo() -> None:
    with pytest.raises(ExpressionError, match="'%' failed"):
        evaluate("a % b == 0", a=[1], b=[0])


def test_the_module_never_calls_eval_exec_or_compile() -> None:
    import ast
    import inspect

    import monitoring.expressions as module

    tree = ast.parse(inspect.getsource(module))
    called = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert not called & {"eval", "exec", "compile", "__import__"}


def test_it_accepts_a_condition_written_over_several_lines() -> None:
    assert evaluate("a > 1\nand\tb < 2", a=[2, 2], b=[1, 3]) == [True, False]


def test_it_refuses_a_number_that_is_not_finite() -> None:
    with pytest.raises(ExpressionError, match="not finite"):
        parse_expression("x > 1e999")
