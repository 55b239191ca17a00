"""Check definitions: canonical form, strict validation naming the field, readable descriptions."""

from __future__ import annotations

import math
from typing import Any

import pytest

from monitoring.checks import (
    CHECK_TYPES,
    CheckDefinitionError,
    check_columns,
    describe_check,
    normalise_check,
    normalise_checks,
)

#: One minimal definition per check type (only required parameters and bounds).
EXAMPLES: dict[str, dict[str, Any]] = {
    "column_type": {"type": "column_type", "column": "age"},
    "not_null": {"type": "not_null", "column": "age"},
    "range": {"type": "range", "column": "age", "min": 0},
    "allowed_values": {"type": "allowed_values", "column": "status", "values": ["a", "b"]},
    "unique": {"type": "unique", "columns": ["id"]},
    "regex": {"type": "regex", "column": "code", "pattern": "[A-Z]{2}"},
    "string_length": {"type": "string_length", "column": "code", "max_length": 8},
    "row_count": {"type": "row_count", "min_rows": 1},
    "sentinel": {"type": "sentinel", "column": "age", "values": [-1, 9999, ""]},
    "freshness": {"type": "freshness", "column": "created_at", "max_age_hours": 24},
    "distribution": {"type": "distribution", "column": "age", "statistic": "mean", "max": 90},
    "expression": {"type": "expression", "expression": "end_date >= start_date"},
}


def refused(raw: Any) -> CheckDefinitionError:
    with pytest.raises(CheckDefinitionError) as excinfo:
        normalise_check(raw)
    return excinfo.value


# --- canonical form ----------------------------------------------------------------------


def test_there_is_an_example_for_every_check_type() -> None:
    assert set(EXAMPLES) == set(CHECK_TYPES)


@pytest.mark.parametrize("type_name", list(CHECK_TYPES))
def test_every_check_types_normalised_example_round_trips_unchanged(type_name: str) -> None:
    once = normalise_check(EXAMPLES[type_name])
    assert normalise_check(once) == once
    assert normalise_check(dict(once)) is not once


@pytest.mark.parametrize("type_name", list(CHECK_TYPES))
def test_the_canonical_form_holds_every_parameter_of_the_type(type_name: str) -> None:
    check = normalise_check(EXAMPLES[type_name])
    expected = {"name", "type", "severity"} | {p.name for p in CHECK_TYPES[type_name].params}
    assert set(check) == expected


def test_it_fills_in_the_defaults_of_a_range_check() -> None:
    assert normalise_check({"type": "range", "column": "age", "max": 120}) == {
        "name": "range:age",
        "type": "range",
        "severity": "fail",
        "column": "age",
        "min": None,
        "max": 120,
        "min_inclusive": True,
        "max_inclusive": True,
        "max_failing_fraction": 0,
    }


def test_it_names_checks_after_their_type_and_columns() -> None:
    assert normalise_check({"type": "unique", "columns": ["a", "b"]})["name"] == "unique:a+b"
    assert normalise_check({"type": "row_count", "max_rows": 5})["name"] == "row_count"
    long_expression = "total_value >= price * quantity and quantity > 0"
    named = normalise_check({"type": "expression", "expression": long_expression})
    assert named["name"] == "expression:" + long_expression[:40].strip()


def test_it_keeps_a_given_name_description_and_severity() -> None:
    check = normalise_check(
        {**EXAMPLES["range"], "name": " ages ", "description": "Why", "severity": "warn"}
    )
    assert (check["name"], check["description"], check["severity"]) == ("ages", "Why", "warn")


def test_it_treats_null_optional_parameters_as_their_defaults() -> None:
    check = normalise_check({**EXAMPLES["range"], "min_inclusive": None, "severity": None})
    assert check["min_inclusive"] is True
    assert check["severity"] == "fail"


def test_it_accepts_a_whole_float_for_an_integer_parameter() -> None:
    check = normalise_check({"type": "row_count", "min_rows": 10.0})
    assert check["min_rows"] == 10
    assert isinstance(check["min_rows"], int)


def test_it_requires_a_quantile_only_for_the_quantile_statistic() -> None:
    check = normalise_check(
        {"type": "distribution", "column": "x", "statistic": "quantile", "quantile": 0.95, "min": 1}
    )
    assert check["quantile"] == 0.95
    assert normalise_check(EXAMPLES["distribution"])["quantile"] is None


# --- refusals name the field -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"column": "a"}, "type"),
        ({"type": "histogram", "column": "a"}, "type"),
        ({"type": 3}, "type"),
        ({**EXAMPLES["range"], "severity": "error"}, "severity"),
        ({**EXAMPLES["range"], "colour": "red"}, "colour"),
        ({**EXAMPLES["range"], "min": "0"}, "min"),
        ({**EXAMPLES["range"], "min": True}, "min"),
        ({**EXAMPLES["range"], "min": math.nan}, "min"),
        ({**EXAMPLES["range"], "max": math.inf}, "max"),
        ({**EXAMPLES["range"], "min": 5, "max": 1}, "min"),
        ({"type": "range", "column": "a"}, "min"),
        ({"type": "range", "column": "a", "min": 1, "max": 1, "max_inclusive": False}, "min"),
        ({**EXAMPLES["range"], "min_inclusive": "yes"}, "min_inclusive"),
        ({**EXAMPLES["range"], "max_failing_fraction": 1.5}, "max_failing_fraction"),
        ({**EXAMPLES["range"], "max_failing_fraction": -0.1}, "max_failing_fraction"),
        ({"type": "range", "min": 0}, "column"),
        ({"type": "range", "column": "", "min": 0}, "column"),
        ({"type": "range", "column": 7, "min": 0}, "column"),
        ({**EXAMPLES["allowed_values"], "values": []}, "values"),
        ({**EXAMPLES["allowed_values"], "values": "abc"}, "values"),
        ({**EXAMPLES["allowed_values"], "values": [None]}, "values"),
        ({**EXAMPLES["allowed_values"], "values": [{"a": 1}]}, "values"),
        ({**EXAMPLES["sentinel"], "values": [math.nan]}, "values"),
        ({"type": "unique", "columns": []}, "columns"),
        ({"type": "unique", "columns": "id"}, "columns"),
        ({"type": "unique", "columns": ["a", "a"]}, "columns"),
        ({**EXAMPLES["regex"], "pattern": "([A-Z"}, "pattern"),
        ({**EXAMPLES["regex"], "pattern": ""}, "pattern"),
        ({"type": "string_length", "column": "a"}, "min_length"),
        ({"type": "string_length", "column": "a", "min_length": -1}, "min_length"),
        ({"type": "string_length", "column": "a", "min_length": 1.5}, "min_length"),
        ({"type": "string_length", "column": "a", "min_length": 9, "max_length": 3}, "min_length"),
        ({"type": "row_count"}, "min_rows"),
        ({"type": "row_count", "min_rows": 10, "max_rows": 5}, "min_rows"),
        ({**EXAMPLES["freshness"], "max_age_hours": 0}, "max_age_hours"),
        ({"type": "freshness", "column": "a"}, "max_age_hours"),
        ({**EXAMPLES["distribution"], "statistic": "mode"}, "statistic"),
        ({**EXAMPLES["distribution"], "statistic": "quantile"}, "quantile"),
        ({**EXAMPLES["distribution"], "statistic": "quantile", "quantile": 1}, "quantile"),
        ({**EXAMPLES["distribution"], "quantile": 0.5}, "quantile"),
        ({"type": "distribution", "column": "a", "statistic": "mean"}, "min"),
        ({"type": "expression", "expression": "a.b > 1"}, "expression"),
        ({"type": "expression", "expression": ""}, "expression"),
        ({**EXAMPLES["range"], "name": ""}, "name"),
        ({**EXAMPLES["range"], "description": 5}, "description"),
    ],
)
def test_it_refuses_an_invalid_definition_naming_the_field(raw: Any, field: str) -> None:
    error = refused(raw)
    assert error.field == field
    assert str(error).startswith(f"{field}: ")
    assert error.message


def test_it_refuses_something_that_is_not_a_mapping() -> None:
    assert refused(["range"]).field == "check"


def test_a_bad_regex_is_refused_with_re2s_reason() -> None:
    error = refused({**EXAMPLES["regex"], "pattern": "a(b"})
    assert "missing )" in error.message


def test_an_unknown_field_lists_the_allowed_ones() -> None:
    assert "max_failing_fraction" in refused({**EXAMPLES["range"], "colour": "red"}).message


# --- suites ------------------------------------------------------------------------------


def test_it_normalises_a_suite_in_order() -> None:
    suite = normalise_checks([EXAMPLES["range"], EXAMPLES["unique"]])
    assert [check["name"] for check in suite] == ["range:age", "unique:id"]


def test_it_names_the_check_position_in_a_suite_error() -> None:
    with pytest.raises(CheckDefinitionError) as excinfo:
        normalise_checks([EXAMPLES["range"], EXAMPLES["unique"], {**EXAMPLES["range"], "min": "x"}])
    assert excinfo.value.field == "checks[2].min"
    assert str(excinfo.value).startswith("checks[2].min: ")


def test_it_refuses_two_checks_with_the_same_name() -> None:
    with pytest.raises(CheckDefinitionError) as excinfo:
        normalise_checks([EXAMPLES["range"], {**EXAMPLES["range"], "max": 9}])
    assert excinfo.value.field == "checks[1].name"
    assert "range:age" in excinfo.value.message


@pytest.mark.parametrize("raw", [{"checks": []}, "range", None])
def test_it_refuses_a_suite_that_is_not_a_list(raw: Any) -> None:
    with pytest.raises(CheckDefinitionError) as excinfo:
        normalise_checks(raw)
    assert excinfo.value.field == "checks"


# --- reading a check ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"type": "range", "column": "total_value", "min": 0, "max": 5000},
            "total_value between 0 and 5,000",
        ),
        ({"type": "range", "column": "x", "min": 0, "min_inclusive": False}, "x > 0"),
        (
            {"type": "range", "column": "x", "min": 0, "max": 1.5, "max_inclusive": False},
            "x >= 0 and < 1.5",
        ),
        ({"type": "not_null", "column": "email"}, "email has no nulls"),
        (
            {"type": "not_null", "column": "email", "max_null_fraction": 0.05},
            "email has at most 5% nulls",
        ),
        (
            {"type": "column_type", "column": "id", "expected_type": "integer"},
            "id is an integer column",
        ),
        ({"type": "unique", "columns": ["a", "b"]}, "(a, b) combination is unique"),
        (
            {"type": "allowed_values", "column": "s", "values": ["a", 1, True]},
            "s in {'a', 1, true}",
        ),
        ({"type": "regex", "column": "code", "pattern": "[A-Z]+"}, "code fully matches /[A-Z]+/"),
        (
            {"type": "row_count", "min_rows": 1000, "max_rows": 2000},
            "row count between 1,000 and 2,000",
        ),
        (
            {"type": "freshness", "column": "at", "max_age_hours": 24},
            "newest at at most 24 hours old",
        ),
        (
            {
                "type": "distribution",
                "column": "x",
                "statistic": "quantile",
                "quantile": 0.95,
                "max": 3,
            },
            "quantile 0.95 of x at most 3",
        ),
        (
            {"type": "range", "column": "x", "min": 0, "max_failing_fraction": 0.01},
            "x >= 0 (up to 1% of rows may fail)",
        ),
    ],
)
def test_it_describes_a_check_in_one_line(raw: dict[str, Any], expected: str) -> None:
    assert describe_check(normalise_check(raw)) == expected


@pytest.mark.parametrize("type_name", list(CHECK_TYPES))
def test_it_describes_every_check_type(type_name: str) -> None:
    description = describe_check(normalise_check(EXAMPLES[type_name]))
    assert description
    assert "\n" not in description


def test_it_lists_the_columns_a_check_reads() -> None:
    assert check_columns(normalise_check(EXAMPLES["range"])) == ["age"]
    assert check_columns(normalise_check({"type": "unique", "columns": ["a", "b"]})) == ["a", "b"]
    assert check_columns(normalise_check(EXAMPLES["expression"])) == ["end_date", "start_date"]
    assert check_columns(normalise_check(EXAMPLES["row_count"])) == []


def test_every_parameter_has_a_known_kind_and_help() -> None:
    kinds = {"column", "columns", "number", "integer", "fraction", "boolean", "string", "values"}
    kinds |= {"choice", "pattern", "expression"}
    for check_type in CHECK_TYPES.values():
        for param in check_type.params:
            assert param.kind in kinds
            assert param.help
            assert bool(param.choices) == (param.kind == "choice")
