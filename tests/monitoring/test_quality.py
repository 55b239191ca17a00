"""The quality engine: right outcomes, counts, samples and distributions on data we know."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from monitoring import quality
from monitoring.quality import CheckResult, columns_needed, run_status, run_suite

NOW = datetime(2024, 1, 2, 6, 0, tzinfo=UTC)


def run_one(table: pa.Table, check: dict[str, Any], **options: Any) -> CheckResult:
    (result,) = run_suite(table, [check], now=NOW, **options)
    return result


def rows_of(result: CheckResult) -> list[int]:
    return [row["_row"] for row in result.sample_rows]


# --- range -------------------------------------------------------------------------------


def test_it_fails_a_range_check_with_a_minus_one() -> None:
    table = pa.table({"age": [5, -1, 10, None, 3], "name": ["a", "b", "c", "d", "e"]})
    result = run_one(table, {"type": "range", "column": "age", "min": 0, "max": 10})
    assert result.outcome == "failed"
    assert result.failing_count == 1
    assert result.failing_fraction == pytest.approx(0.2)
    assert result.observed == {"min": -1, "max": 10}
    assert result.sample_rows == [{"_row": 1, "age": -1, "name": "b"}]
    assert result.column == "age"
    assert "1 of 5 rows (20%) are outside the range [0, 10]" in result.message


def test_it_passes_a_range_check_and_says_how_many_values_were_in_range() -> None:
    result = run_one(pa.table({"x": [0, 5, 10, None]}), {"type": "range", "column": "x", "min": 0})
    assert result.outcome == "passed"
    assert result.failing_count == 0
    assert result.failing_fraction == 0.0
    assert result.message == "All 3 values in range (>= 0)."
    assert result.sample_rows == []
    assert result.distribution is None


def test_it_excludes_bounds_that_are_not_inclusive() -> None:
    check = {"type": "range", "column": "x", "min": 0, "max": 10}
    table = pa.table({"x": [0, 5, 10]})
    exclusive = run_one(table, {**check, "min_inclusive": False, "max_inclusive": False})
    assert rows_of(exclusive) == [0, 2]
    assert run_one(table, check).outcome == "passed"


def test_it_tolerates_failing_rows_up_to_max_failing_fraction() -> None:
    table = pa.table({"x": [-1] + [1] * 99})
    check = {"type": "range", "column": "x", "min": 0}
    tolerant = run_one(table, {**check, "max_failing_fraction": 0.01})
    strict = run_one(table, {**check, "max_failing_fraction": 0.005})
    assert (tolerant.outcome, tolerant.failing_count) == ("passed", 1)
    assert "within the allowed 1%" in tolerant.message
    assert rows_of(tolerant) == [0]  # the tolerated row is still shown
    assert (strict.outcome, strict.failing_count) == ("failed", 1)


def test_it_errors_a_range_check_on_a_string_column() -> None:
    result = run_one(pa.table({"s": ["a", "b"]}), {"type": "range", "column": "s", "min": 0})
    assert result.outcome == "errored"
    assert result.message == "Column 's' holds string values; a range check needs numbers."
    assert result.failing_count is None


def test_it_fails_a_check_on_a_missing_column_with_the_reason() -> None:
    result = run_one(pa.table({"a": [1]}), {"type": "range", "column": "nope", "min": 0})
    assert result.outcome == "failed"
    assert result.message == "Column 'nope' does not exist in this version."
    assert result.failing_count is None
    assert result.observed == {"missing_columns": ["nope"]}


def test_it_does_not_count_nan_as_out_of_range() -> None:
    table = pa.table({"x": [1.0, math.nan, -2.0]})
    result = run_one(table, {"type": "range", "column": "x", "min": 0})
    assert (result.failing_count, rows_of(result)) == (1, [2])
    assert result.sample_rows[0]["x"] == -2.0


# --- not_null ----------------------------------------------------------------------------


def test_it_counts_nan_as_null() -> None:
    table = pa.table({"x": [1.0, math.nan, None, 2.0]})
    result = run_one(table, {"type": "not_null", "column": "x"})
    assert result.outcome == "failed"
    assert result.observed == {"null_fraction": 0.5, "nulls": 2}
    assert (result.failing_count, result.failing_fraction) == (2, 0.5)
    assert rows_of(result) == [1, 2]
    assert result.sample_rows[0]["x"] is None  # NaN is shown as null, JSON-safe
    assert result.distribution == {
        "kind": "categorical",
        "values": ["null", "not null"],
        "all_counts": [2, 2],
        "failing_counts": [2, 0],
    }


def test_it_allows_nulls_up_to_max_null_fraction() -> None:
    table = pa.table({"x": [1, None, 3, 4]})
    assert run_one(
        table, {"type": "not_null", "column": "x", "max_null_fraction": 0.25}
    ).outcome == ("passed")
    assert run_one(
        table, {"type": "not_null", "column": "x", "max_null_fraction": 0.2}
    ).outcome == ("failed")


# --- allowed values ----------------------------------------------------------------------


def test_it_lists_the_most_frequent_unexpected_values_and_ignores_nulls() -> None:
    table = pa.table({"status": ["new", "lost", "??", "lost", None, "open", "??", "lost"]})
    result = run_one(
        table, {"type": "allowed_values", "column": "status", "values": ["new", "open"]}
    )
    assert result.outcome == "failed"
    assert result.failing_count == 5
    assert result.observed == {"unexpected_values": ["lost", "??"], "unexpected_distinct": 2}
    assert rows_of(result) == [1, 2, 3, 6, 7]
    distribution = result.distribution
    assert distribution is not None
    assert distribution["kind"] == "categorical"
    assert distribution["values"] == ["lost", "??", "new", "open"]  # failing values first
    assert distribution["all_counts"] == [3, 2, 1, 1]
    assert distribution["failing_counts"] == [3, 2, 0, 0]
    assert sum(distribution["failing_counts"]) == result.failing_count


def test_it_compares_allowed_values_numerically_on_numeric_columns() -> None:
    table = pa.table({"rating": pa.array([1, 2, 6, None], pa.int32()), "f": [1.0, 2.5, 3.0, 2.0]})
    rating = run_one(table, {"type": "allowed_values", "column": "rating", "values": [1, 2.0, 3]})
    assert (rating.failing_count, rows_of(rating)) == (1, [2])
    scores = run_one(table, {"type": "allowed_values", "column": "f", "values": [1, 2.5]})
    assert rows_of(scores) == [2, 3]


def test_it_reads_dictionary_encoded_columns() -> None:
    status = pa.array(["a", "b", "c", "a"]).dictionary_encode()
    result = run_one(
        pa.table({"status": status}),
        {"type": "allowed_values", "column": "status", "values": ["a"]},
    )
    assert result.failing_count == 2
    assert [row["status"] for row in result.sample_rows] == ["b", "c"]


# --- unique ------------------------------------------------------------------------------


def test_it_counts_every_row_of_a_repeated_value_and_ignores_nulls() -> None:
    table = pa.table({"id": [1, 2, 1, None, None, 3, 1]})
    result = run_one(table, {"type": "unique", "columns": ["id"]})
    assert result.outcome == "failed"
    assert result.observed == {"duplicate_rows": 3, "duplicated_values": 1}
    assert result.failing_count == 3
    assert rows_of(result) == [0, 2, 6]


def test_it_checks_uniqueness_of_a_combination() -> None:
    table = pa.table(
        {
            "a": [1, 1, 1, 2, None, None],
            "b": ["x", "y", "x", "x", "x", "x"],
        }
    )
    result = run_one(table, {"type": "unique", "columns": ["a", "b"]})
    assert result.outcome == "failed"
    assert result.failing_count == 2
    assert rows_of(result) == [0, 2]
    assert result.column == "a"
    assert result.distribution is None  # only single-column checks get one
    assert run_one(table, {"type": "unique", "columns": ["b"]}).failing_count == 5


def test_it_passes_a_unique_combination_whose_columns_repeat_on_their_own() -> None:
    table = pa.table({"a": [1, 1, 2, 2], "b": [1, 2, 1, 2], "c": ["x", "x", "x", "x"]})
    result = run_one(table, {"type": "unique", "columns": ["a", "b", "c"]})
    assert result.outcome == "passed"
    assert result.message == "All 4 combinations of (a, b, c) are unique."


def test_it_finds_duplicates_among_wide_integers_and_floats_with_nan() -> None:
    table = pa.table({"big": [10**15, 1, 10**15, -(10**15)], "f": [0.5, math.nan, math.nan, 0.5]})
    assert rows_of(run_one(table, {"type": "unique", "columns": ["big"]})) == [0, 2]
    assert rows_of(run_one(table, {"type": "unique", "columns": ["f"]})) == [0, 3]


# --- regex and string length -------------------------------------------------------------


def test_it_requires_a_full_regex_match() -> None:
    table = pa.table({"code": ["AB12", "AB123", "xAB12", None, "ab12"]})
    result = run_one(table, {"type": "regex", "column": "code", "pattern": "[A-Z]{2}[0-9]{2}"})
    assert result.failing_count == 3
    assert result.observed == {"non_matching": 3}
    assert rows_of(result) == [1, 2, 4]


def test_it_full_matches_every_alternative_of_a_pattern() -> None:
    table = pa.table({"s": ["a", "b", "ab"]})
    assert rows_of(run_one(table, {"type": "regex", "column": "s", "pattern": "a|b"})) == [2]


def test_it_errors_a_regex_check_on_a_numeric_column() -> None:
    result = run_one(pa.table({"n": [1]}), {"type": "regex", "column": "n", "pattern": "1"})
    assert result.outcome == "errored"


def test_it_measures_string_length_in_characters() -> None:
    table = pa.table({"s": ["héllo", "hi", "", None, "toolongvalue"]})
    result = run_one(
        table, {"type": "string_length", "column": "s", "min_length": 1, "max_length": 5}
    )
    assert rows_of(result) == [2, 4]
    assert result.observed == {"min_length": 0, "max_length": 12}


# --- row count ---------------------------------------------------------------------------


def test_it_checks_the_row_count_as_a_table_level_check() -> None:
    table = pa.table({"a": [1, 2, 3]})
    failed = run_one(table, {"type": "row_count", "min_rows": 5})
    assert (failed.outcome, failed.observed, failed.failing_count) == ("failed", {"rows": 3}, None)
    assert failed.column is None
    assert run_one(table, {"type": "row_count", "min_rows": 1, "max_rows": 3}).outcome == "passed"
    assert run_one(table, {"type": "row_count", "max_rows": 2}).outcome == "failed"


# --- sentinel ----------------------------------------------------------------------------


def test_it_finds_sentinels_in_an_integer_column() -> None:
    table = pa.table({"age": [-1, 5, -1, 9999, None]})
    result = run_one(table, {"type": "sentinel", "column": "age", "values": [-1, 9999, ""]})
    assert result.failing_count == 3
    assert result.observed == {"sentinel_counts": {"-1": 2, "9999": 1}}
    assert rows_of(result) == [0, 2, 3]


def test_it_finds_sentinels_in_a_float_column_without_counting_nan() -> None:
    table = pa.table({"x": [-1.0, 2.5, math.nan, None]})
    result = run_one(table, {"type": "sentinel", "column": "x", "values": [-1]})
    assert (result.failing_count, result.observed) == (1, {"sentinel_counts": {"-1": 1}})


def test_it_compares_sentinels_as_text_in_a_string_column() -> None:
    table = pa.table({"s": ["", "a", "-1", None]})
    result = run_one(table, {"type": "sentinel", "column": "s", "values": ["", -1, True]})
    assert result.failing_count == 2
    assert result.observed == {"sentinel_counts": {"": 1, "-1": 1}}


def test_it_passes_when_no_sentinel_applies_to_the_column_type() -> None:
    result = run_one(pa.table({"n": [1, 2]}), {"type": "sentinel", "column": "n", "values": ["x"]})
    assert result.outcome == "passed"
    assert result.observed == {"sentinel_counts": {}}


# --- freshness ---------------------------------------------------------------------------


def test_it_measures_freshness_against_the_injected_now() -> None:
    at = pa.array([datetime(2023, 12, 31), datetime(2024, 1, 1), None], pa.timestamp("us"))
    table = pa.table({"at": at})
    stale = run_one(table, {"type": "freshness", "column": "at", "max_age_hours": 24})
    assert stale.outcome == "failed"
    assert stale.observed == {"newest": "2024-01-01T00:00:00", "age_hours": 30.0}
    assert stale.failing_count is None
    fresh = run_one(table, {"type": "freshness", "column": "at", "max_age_hours": 30})
    assert fresh.outcome == "passed"


def test_it_measures_freshness_of_a_date_column_from_midnight() -> None:
    table = pa.table({"day": [date(2024, 1, 1), date(2023, 6, 1)]})
    result = run_one(table, {"type": "freshness", "column": "day", "max_age_hours": 48})
    assert result.observed == {"newest": "2024-01-01", "age_hours": 30.0}
    assert result.outcome == "passed"


def test_it_reads_a_naive_now_as_utc() -> None:
    table = pa.table({"at": pa.array([datetime(2024, 1, 1)], pa.timestamp("ns"))})
    (result,) = run_suite(
        table,
        [{"type": "freshness", "column": "at", "max_age_hours": 1}],
        now=datetime(2024, 1, 1, 3),
    )
    assert result.observed["age_hours"] == 3.0


def test_it_errors_freshness_on_a_numeric_column() -> None:
    result = run_one(pa.table({"n": [1]}), {"type": "freshness", "column": "n", "max_age_hours": 1})
    assert result.outcome == "errored"


# --- distribution ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statistic", "quantile", "key", "value"),
    [
        ("mean", None, "mean", 2.5),
        ("median", None, "median", 2.5),
        ("min", None, "min", 1.0),
        ("max", None, "max", 4.0),
        ("std", None, "std", 1.2909944487358056),
        ("quantile", 0.75, "quantile_0.75", 3.25),
    ],
)
def test_it_computes_a_statistic_of_the_non_null_values(
    statistic: str, quantile: float | None, key: str, value: float
) -> None:
    table = pa.table({"x": [1.0, 2.0, 3.0, 4.0, None, math.nan]})
    check = {"type": "distribution", "column": "x", "statistic": statistic, "min": 0, "max": 10}
    if quantile is not None:
        check["quantile"] = quantile
    result = run_one(table, check)
    assert result.outcome == "passed"
    assert result.observed == {key: pytest.approx(value)}


def test_it_fails_a_statistic_outside_its_bounds() -> None:
    table = pa.table({"x": [10, 20, 30]})
    result = run_one(table, {"type": "distribution", "column": "x", "statistic": "mean", "max": 15})
    assert result.outcome == "failed"
    assert result.observed == {"mean": 20.0}
    assert result.message == "The mean of 'x' is 20, above the maximum 15."


def test_it_fails_a_statistic_of_a_column_without_values() -> None:
    table = pa.table({"x": pa.array([None, None], pa.float64())})
    result = run_one(table, {"type": "distribution", "column": "x", "statistic": "mean", "min": 0})
    assert result.outcome == "failed"
    assert result.observed == {"mean": None}


# --- expression --------------------------------------------------------------------------


def test_it_fails_rows_where_end_date_is_before_start_date_and_skips_nulls() -> None:
    table = pa.table(
        {
            "start_date": [date(2024, 1, 1), date(2024, 3, 1), None, date(2024, 1, 5)],
            "end_date": [date(2024, 2, 1), date(2024, 2, 1), date(2024, 2, 1), date(2024, 1, 5)],
        }
    )
    result = run_one(table, {"type": "expression", "expression": "end_date >= start_date"})
    assert result.outcome == "failed"
    assert result.failing_count == 1
    assert result.observed == {"false_rows": 1, "undecided_rows": 1}
    assert result.sample_rows == [{"_row": 1, "start_date": "2024-03-01", "end_date": "2024-02-01"}]
    assert result.column is None
    assert result.distribution is None


def test_it_errors_an_expression_comparing_text_with_a_number() -> None:
    result = run_one(pa.table({"s": ["a"]}), {"type": "expression", "expression": "s > 1"})
    assert result.outcome == "errored"
    assert "Cannot compare string with integer" in result.message


def test_it_fails_an_expression_on_missing_columns() -> None:
    result = run_one(pa.table({"a": [1]}), {"type": "expression", "expression": "b > c"})
    assert result.outcome == "failed"
    assert result.message == "Columns 'b', 'c' do not exist in this version."


# --- column type -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected", "outcome"),
    [
        (pa.array([1], pa.int32()), "integer", "passed"),
        (pa.array([1], pa.int32()), "numeric", "passed"),
        (pa.array([1.5]), "numeric", "passed"),
        (pa.array([1.5]), "integer", "failed"),
        (pa.array(["a"]), "string", "passed"),
        (pa.array([datetime(2024, 1, 1)], pa.timestamp("ms")), "datetime", "passed"),
        (pa.array([date(2024, 1, 1)], pa.date64()), "date", "passed"),
        (pa.array([date(2024, 1, 1)]), "datetime", "failed"),
        (pa.array([True]), "boolean", "passed"),
        (pa.array([True]), "any", "passed"),
    ],
)
def test_it_checks_the_column_type(values: pa.Array, expected: str, outcome: str) -> None:
    result = run_one(
        pa.table({"c": values}), {"type": "column_type", "column": "c", "expected_type": expected}
    )
    assert result.outcome == outcome
    assert result.failing_count is None


# --- sample rows and distributions -------------------------------------------------------


def test_it_takes_the_first_failing_rows_up_to_the_sample_size_across_chunks() -> None:
    chunks = [pa.array([1, -1, -1]), pa.array([2, 3]), pa.array([-1, -1, -1])]
    table = pa.table({"x": pa.chunked_array(chunks)})
    result = run_one(table, {"type": "range", "column": "x", "min": 0}, sample_size=4)
    assert result.failing_count == 5
    assert rows_of(result) == [1, 2, 5, 6]
    assert (
        run_one(table, {"type": "range", "column": "x", "min": 0}, sample_size=0).sample_rows == []
    )


def test_it_makes_sample_rows_json_safe() -> None:
    table = pa.table(
        {
            "x": [-1.0],
            "inf": [math.inf],
            "at": pa.array([datetime(2024, 1, 2, 3, 4, 5)], pa.timestamp("us")),
            "zoned": pa.array([datetime(2024, 1, 2, 3, 4, 5)], pa.timestamp("us", tz="UTC")),
            "day": [date(2024, 1, 2)],
            "raw": pa.array([b"caf\xc3\xa9"], pa.binary()),
            "tags": pa.array([["a", "b"]]),
            "price": pa.array([Decimal("1.50")], pa.decimal128(5, 2)),
        }
    )
    result = run_one(table, {"type": "range", "column": "x", "min": 0})
    assert result.sample_rows == [
        {
            "_row": 0,
            "x": -1.0,
            "inf": None,
            "at": "2024-01-02T03:04:05",
            "zoned": "2024-01-02T03:04:05+00:00",
            "day": "2024-01-02",
            "raw": "café",
            "tags": ["a", "b"],
            "price": 1.5,
        }
    ]
    json.dumps(result.as_dict(), allow_nan=False)


def test_it_builds_a_numeric_distribution_spanning_failing_values() -> None:
    values = [float(value) for value in range(100)] + [500.0, -50.0, None]
    table = pa.table({"x": values})
    result = run_one(table, {"type": "range", "column": "x", "min": 0, "max": 99})
    distribution = result.distribution
    assert distribution is not None
    assert distribution["kind"] == "numeric"
    assert len(distribution["edges"]) == len(distribution["all_counts"]) + 1 == 31
    assert distribution["edges"][0] == -50.0
    assert distribution["edges"][-1] == 500.0
    assert sum(distribution["all_counts"]) == 102
    assert sum(distribution["failing_counts"]) == result.failing_count == 2
    assert distribution["failing_counts"][0] == 1
    assert distribution["failing_counts"][-1] == 1


def test_it_gives_small_integer_ranges_one_bin_per_value() -> None:
    table = pa.table({"rating": [1, 2, 2, 3, 9]})
    result = run_one(table, {"type": "range", "column": "rating", "max": 5})
    distribution = result.distribution
    assert distribution is not None
    assert distribution["edges"] == [0.5 + step for step in range(10)]
    assert distribution["all_counts"] == [1, 2, 1, 0, 0, 0, 0, 0, 1]
    assert distribution["failing_counts"] == [0, 0, 0, 0, 0, 0, 0, 0, 1]


# --- robustness --------------------------------------------------------------------------


def test_one_checks_exception_never_stops_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(run: Any, check: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(quality._RUNNERS, "range", broken)
    table = pa.table({"x": [1, None]})
    results = run_suite(
        table,
        [
            {"type": "range", "column": "x", "min": 0},
            {"type": "not_null", "column": "x"},
        ],
    )
    assert [result.outcome for result in results] == ["errored", "failed"]
    assert "boom" in results[0].message


def test_it_reports_an_invalid_definition_as_errored_and_runs_the_rest() -> None:
    table = pa.table({"x": [1]})
    results = run_suite(
        table,
        [
            {"type": "range", "column": "x", "min": "zero", "name": "bad range"},
            "not a check",
            {"type": "row_count", "min_rows": 1},
        ],  # type: ignore[list-item]
    )
    assert [result.outcome for result in results] == ["errored", "errored", "passed"]
    assert results[0].name == "bad range"
    assert "min" in results[0].message
    assert results[1].name == "check 2"


def test_it_runs_row_level_checks_on_an_empty_table() -> None:
    table = pa.table({"x": pa.array([], pa.int64())})
    results = run_suite(
        table,
        [
            {"type": "range", "column": "x", "min": 0},
            {"type": "unique", "columns": ["x"]},
            {"type": "not_null", "column": "x"},
        ],
    )
    assert [result.outcome for result in results] == ["passed", "passed", "passed"]
    assert results[0].failing_fraction == 0.0


def test_it_reports_progress_after_each_check() -> None:
    seen: list[float] = []
    checks = [{"type": "row_count", "min_rows": 1}] * 4
    run_suite(pa.table({"x": [1]}), checks, progress=seen.append)
    assert seen == [0.25, 0.5, 0.75, 1.0]


def test_every_result_serialises_as_strict_json() -> None:
    table = pa.table(
        {
            "x": [1.0, math.nan, -1.0, math.inf],
            "s": ["a", "b", "a", None],
            "at": pa.array([datetime(2024, 1, 1)] * 4, pa.timestamp("s")),
        }
    )
    checks = [
        {"type": "range", "column": "x", "min": 0},
        {"type": "distribution", "column": "x", "statistic": "mean", "min": 0},
        {"type": "unique", "columns": ["s"]},
        {"type": "freshness", "column": "at", "max_age_hours": 1},
        {"type": "sentinel", "column": "x", "values": [-1]},
    ]
    results = run_suite(table, checks, now=NOW)
    json.dumps([result.as_dict() for result in results], allow_nan=False)
    assert set(results[0].as_dict()) == {
        "name",
        "type",
        "severity",
        "column",
        "outcome",
        "message",
        "failing_count",
        "failing_fraction",
        "observed",
        "sample_rows",
        "distribution",
    }


# --- run status and columns --------------------------------------------------------------


def result(outcome: str, severity: str = "fail") -> CheckResult:
    return CheckResult(
        name="c", type="range", severity=severity, column="x", outcome=outcome, message=""
    )


@pytest.mark.parametrize(
    ("outcomes", "status"),
    [
        ([], "passed"),
        ([("passed", "fail"), ("passed", "warn")], "passed"),
        ([("passed", "fail"), ("failed", "warn")], "warning"),
        ([("errored", "fail"), ("passed", "fail")], "warning"),
        ([("errored", "warn")], "warning"),
        ([("failed", "warn"), ("failed", "fail")], "failed"),
        ([("failed", "fail"), ("errored", "fail")], "failed"),
    ],
)
def test_it_derives_the_run_status(outcomes: list[tuple[str, str]], status: str) -> None:
    assert run_status([result(outcome, severity) for outcome, severity in outcomes]) == status


def test_it_derives_the_run_status_from_stored_dicts() -> None:
    stored = [result("passed").as_dict(), result("failed", "warn").as_dict()]
    assert run_status(stored) == "warning"


def test_it_lists_the_columns_a_suite_needs() -> None:
    checks = [
        {"type": "range", "column": "a", "min": 0},
        {"type": "unique", "columns": ["b", "c"]},
        {"type": "expression", "expression": "d > `e f`"},
        {"type": "row_count", "min_rows": 1},
    ]
    assert columns_needed(checks) == {"a", "b", "c", "d", "e f"}
    assert columns_needed([*checks, {"type": "nonsense"}]) is None
