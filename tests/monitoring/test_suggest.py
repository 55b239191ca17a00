"""A suggested suite describes the profiled version: it passes on next month's data from the
same source and fails on the breakages a data engineer fears (a -1 sentinel in an amount)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from lineage.demo.transactions import make_transactions
from lineage.profiling import profile_table
from monitoring.suggest import PLACEHOLDER_VALUES, Suggestion, suggest_checks

ROWS = 20_000


def transactions(seed: int, **options: Any) -> pa.Table:
    frame = make_transactions(ROWS, seed=seed, **options)
    return pa.Table.from_pandas(frame, preserve_index=False)


@pytest.fixture(scope="module")
def reference_profile() -> dict[str, Any]:
    # Through JSON, as the profile is read back from the database.
    return json.loads(json.dumps(profile_table(transactions(seed=1))))


@pytest.fixture(scope="module")
def suggestions(reference_profile: dict[str, Any]) -> list[Suggestion]:
    return suggest_checks(reference_profile)


@pytest.fixture(scope="module")
def next_month() -> pa.Table:
    return transactions(seed=2, start="2026-10-01", fraud_shift=0.02)


def by_name(suggestions: list[Suggestion]) -> dict[str, dict[str, Any]]:
    return {suggestion.check["name"]: suggestion.check for suggestion in suggestions}


def numeric(name: str, low: float | None, high: float | None, **extra: Any) -> dict[str, Any]:
    """A profiled numeric column of 1,000 values without nulls, unless told otherwise."""
    column: dict[str, Any] = {
        "name": name,
        "type": "float",
        "kind": "numeric",
        "count": 1000,
        "nulls": 0,
        "null_fraction": 0.0,
        "distinct": 500,
        "infinite": 0,
        "min": low,
        "max": high,
        "mean": None if low is None else (low + high) / 2,
        "std": None if low is None else (high - low) / 4,
        "quantiles": {},
        "zeros": 0,
        "negatives": 0,
    }
    column.update(extra)
    return column


def text(name: str, values: dict[str, int], **extra: Any) -> dict[str, Any]:
    """A profiled string column whose top values are ``values`` (value -> count)."""
    count = sum(values.values()) + extra.get("other_count", 0)
    column: dict[str, Any] = {
        "name": name,
        "type": "string",
        "kind": "categorical",
        "count": count,
        "nulls": 0,
        "null_fraction": 0.0,
        "distinct": len(values),
        "top_values": [{"value": value, "count": seen} for value, seen in values.items()],
        "other_count": 0,
    }
    column.update(extra)
    return column


def profile(*columns: dict[str, Any], rows: int = 1000) -> dict[str, Any]:
    return {"row_count": rows, "column_count": len(columns), "columns": list(columns)}


def checks_of(table_profile: dict[str, Any], **options: Any) -> dict[str, dict[str, Any]]:
    return by_name(suggest_checks(table_profile, **options))


# --- on the demo transactions --------------------------------------------------------------


def test_every_column_keeps_its_observed_type(
    suggestions: list[Suggestion], reference_profile: dict[str, Any]
) -> None:
    checks = by_name(suggestions)

    for column in reference_profile["columns"]:
        check = checks[f"column_type:{column['name']}"]
        assert check["expected_type"] == column["type"]
        assert check["severity"] == "fail"


def test_names_are_unique_and_everything_is_json(suggestions: list[Suggestion]) -> None:
    names = [suggestion.check["name"] for suggestion in suggestions]

    assert len(names) == len(set(names))
    assert json.loads(json.dumps([suggestion.as_dict() for suggestion in suggestions]))
    assert all(suggestion.reason.endswith(".") for suggestion in suggestions)


def test_the_amount_stays_non_negative_with_room_for_its_long_tail(
    suggestions: list[Suggestion],
) -> None:
    [suggestion] = [s for s in suggestions if s.check["name"] == "range:total_value"]

    assert suggestion.check["min"] == 0
    assert suggestion.check["max"] > 1926.8 * 1.1
    assert suggestion.check["severity"] == "fail"
    assert suggestion.reason.startswith("Observed 0.82 to 1,926.80 over 20,000 values")
    assert "kept non-negative" in suggestion.reason


def test_the_transaction_id_is_a_key_without_a_range(suggestions: list[Suggestion]) -> None:
    checks = by_name(suggestions)

    assert checks["unique:transaction_id"]["columns"] == ["transaction_id"]
    # Next month's ids lie beyond this month's: a range or a mean would only raise alarms.
    assert "range:transaction_id" not in checks
    assert "distribution:transaction_id" not in checks


def test_closed_vocabularies_are_allowed_values_and_ages_may_be_missing(
    suggestions: list[Suggestion],
) -> None:
    checks = by_name(suggestions)

    assert sorted(checks["allowed_values:channel"]["values"]) == [
        "chip",
        "contactless",
        "magstripe",
        "online",
    ]
    assert checks["allowed_values:channel"]["severity"] == "warn"
    assert checks["not_null:customer_age"]["severity"] == "warn"
    assert 0.0294 < checks["not_null:customer_age"]["max_null_fraction"] <= 0.06
    assert checks["not_null:total_value"]["max_null_fraction"] == 0
    assert checks["row_count"] | {"name": "row_count"} == {
        "name": "row_count",
        "type": "row_count",
        "severity": "warn",
        "min_rows": 10_000,
        "max_rows": 40_000,
    }
    assert "allowed_values:card_present" not in checks  # true and false: nothing to constrain


def test_every_suggestion_is_a_canonical_check(suggestions: list[Suggestion]) -> None:
    checks_module = pytest.importorskip("monitoring.checks")

    for suggestion in suggestions:
        assert checks_module.normalise_check(suggestion.check) == suggestion.check
    checks_module.normalise_checks([suggestion.check for suggestion in suggestions])


def test_the_suite_passes_on_next_month(
    suggestions: list[Suggestion], next_month: pa.Table
) -> None:
    quality = pytest.importorskip("monitoring.quality")

    results = quality.run_suite(next_month, [suggestion.check for suggestion in suggestions])

    failed = [
        f"{result.name}: {result.message}" for result in results if result.outcome != "passed"
    ]
    assert quality.run_status(results) != "failed", failed
    assert failed == []


def test_the_suite_fails_when_amounts_hold_a_minus_one_sentinel(
    suggestions: list[Suggestion], next_month: pa.Table
) -> None:
    quality = pytest.importorskip("monitoring.quality")
    values = next_month.column("total_value").to_numpy().copy()
    broken_rows = np.random.default_rng(7).choice(ROWS, size=ROWS * 3 // 100, replace=False)
    values[broken_rows] = -1
    broken = next_month.set_column(
        next_month.schema.get_field_index("total_value"), "total_value", pa.array(values)
    )

    results = quality.run_suite(broken, [suggestion.check for suggestion in suggestions])

    assert quality.run_status(results) == "failed"
    by_check = {result.name: result for result in results}
    range_result = by_check["range:total_value"]
    assert range_result.outcome == "failed"
    assert range_result.failing_count == 600
    assert range_result.failing_fraction == pytest.approx(0.03)
    failed_checks = {
        result.name
        for result in results
        if result.outcome == "failed" and result.severity == "fail"
    }
    assert failed_checks == {"range:total_value"}


# --- on hand-made profiles -----------------------------------------------------------------


def test_a_non_negative_column_is_never_widened_below_zero() -> None:
    checks = checks_of(profile(numeric("amount", 0.5, 100.0), numeric("delta", -5.0, 5.0)))

    assert checks["range:amount"]["min"] == 0
    assert checks["range:amount"]["max"] == pytest.approx(109.95, abs=0.1)
    assert checks["range:amount"]["max"] >= 109.95
    # A column already seen negative is widened on both sides.
    assert checks["range:delta"]["min"] <= -6
    assert checks["range:delta"]["max"] >= 6


def test_a_positive_column_far_from_zero_keeps_its_widened_lower_bound() -> None:
    checks = checks_of(profile(numeric("price", 100.0, 200.0)))

    assert checks["range:price"]["min"] == 90
    assert checks["range:price"]["max"] == 210


def test_integers_get_whole_number_bounds() -> None:
    rating = numeric("rating", 1, 5, type="integer", mean=3.2, std=1.1)
    flag = numeric("flag", 0, 1, type="integer", mean=0.05, std=0.2)
    days = numeric("days", 10, 57, type="integer")

    checks = checks_of(profile(rating, flag, days))

    assert (checks["range:rating"]["min"], checks["range:rating"]["max"]) == (1, 5)
    assert (checks["range:flag"]["min"], checks["range:flag"]["max"]) == (0, 1)
    assert (checks["range:days"]["min"], checks["range:days"]["max"]) == (5, 62)
    for name in ("range:rating", "range:flag", "range:days"):
        assert isinstance(checks[name]["min"], int)
        assert isinstance(checks[name]["max"], int)


def test_a_constant_column_gets_a_margin_of_its_own() -> None:
    checks = checks_of(
        profile(
            numeric("rate", 2.5, 2.5, std=0.0),
            numeric("zero", 0.0, 0.0, std=0.0),
            numeric("version", 3, 3, type="integer", std=0.0),
        )
    )

    assert (checks["range:rate"]["min"], checks["range:rate"]["max"]) == (2.25, 2.75)
    assert (checks["range:zero"]["min"], checks["range:zero"]["max"]) == (0, 0.1)
    assert (checks["range:version"]["min"], checks["range:version"]["max"]) == (2, 4)
    assert checks["distribution:rate"]["min"] < 2.5 < checks["distribution:rate"]["max"]


def test_a_long_tail_widens_the_upper_bound() -> None:
    tail = numeric("distance", 0.0, 114.0, quantiles={"0.01": 0.1, "0.99": 54.8})

    checks = checks_of(profile(tail))

    # 114 + (114 - 54.8): the tail beyond the 99th percentile may reach as far again.
    assert checks["range:distance"]["max"] >= 173.2
    assert checks["range:distance"]["min"] == 0


def test_the_mean_may_move_by_half_a_standard_deviation() -> None:
    checks = checks_of(profile(numeric("amount", 0.0, 1000.0, mean=50.0, std=60.0)))

    check = checks["distribution:amount"]
    assert check["statistic"] == "mean"
    assert check["severity"] == "warn"
    assert check["min"] <= 20 and check["max"] >= 80
    assert check["min"] >= 15 and check["max"] <= 85


def test_margin_zero_keeps_the_observed_range() -> None:
    checks = checks_of(profile(numeric("amount", 3.0, 7.0)), margin=0)

    assert (checks["range:amount"]["min"], checks["range:amount"]["max"]) == (3, 7)


@pytest.mark.parametrize("margin", [-0.1, float("nan"), float("inf")])
def test_it_refuses_a_margin_that_is_not_a_finite_non_negative_number(margin: float) -> None:
    with pytest.raises(ValueError, match="margin"):
        suggest_checks(profile(), margin=margin)


def test_a_key_is_unique_but_a_repeated_id_is_not() -> None:
    columns = [
        numeric("id", 1, 1000, type="integer", distinct=1000),
        numeric("customer_id", 1, 300, type="integer", distinct=300),
        text("orderRef", {f"R{n}": 1 for n in range(10)}, distinct=1000, other_count=990),
        text("customerId", {f"C{n}": 1 for n in range(10)}, distinct=1000, other_count=990),
        numeric("amount", 0.5, 900.0, distinct=1000),
        numeric("paid", 0, 1, type="integer", distinct=2),
    ]

    checks = checks_of(profile(*columns))

    assert checks["unique:id"]["columns"] == ["id"]
    assert checks["unique:customerId"]["columns"] == ["customerId"]
    # All distinct, complete, text: a key even without an id-like name.
    assert checks["unique:orderRef"]["severity"] == "fail"
    assert "unique:customer_id" not in checks  # repeats: a foreign key
    assert "unique:amount" not in checks  # distinct measurements are not keys
    assert "unique:paid" not in checks
    assert "range:id" not in checks
    assert "range:amount" in checks


def test_an_id_named_column_with_nulls_is_still_unique_among_its_values() -> None:
    column = numeric("parent_id", 1, 500, type="integer", count=500, nulls=500, distinct=500)

    checks = checks_of(profile(column))

    assert checks["unique:parent_id"]["columns"] == ["parent_id"]


def test_allowed_values_only_when_the_profile_lists_every_value() -> None:
    covered = text("channel", {"chip": 600, "online": 300, "magstripe": 100})
    truncated = text("city", {f"city{n}": 90 for n in range(10)}, distinct=60, other_count=100)
    many = text("name", {f"n{n}": 1 for n in range(10)}, distinct=900, other_count=990)

    checks = checks_of(profile(covered, truncated, many))

    assert checks["allowed_values:channel"]["values"] == ["chip", "online", "magstripe"]
    assert "allowed_values:city" not in checks
    assert "allowed_values:name" not in checks
    assert checks["sentinel:city"]["values"] == list(PLACEHOLDER_VALUES)
    assert checks["sentinel:city"]["severity"] == "warn"
    assert "sentinel:channel" not in checks  # the closed vocabulary already covers it


def test_a_fully_listed_but_all_distinct_text_is_not_a_vocabulary() -> None:
    names = text("nickname", {f"n{n}": 1 for n in range(8)})

    checks = checks_of(profile(names, rows=8))

    assert "allowed_values:nickname" not in checks
    assert "sentinel:nickname" in checks


def test_sentinels_leave_out_placeholders_seen_among_the_top_values() -> None:
    seen = text("comment", {"": 40, "ok": 30, "N/A": 20}, distinct=800, other_count=700)

    checks = checks_of(profile(seen))

    assert checks["sentinel:comment"]["values"] == ["NULL", "null", "-1", "?"]


def test_a_boolean_constrains_only_when_one_value_was_seen() -> None:
    always = {
        "name": "is_test",
        "type": "boolean",
        "kind": "boolean",
        "count": 1000,
        "nulls": 0,
        "null_fraction": 0.0,
        "distinct": 1,
        "top_values": [{"value": "false", "count": 1000}],
        "other_count": 0,
    }
    both = always | {
        "name": "flag",
        "distinct": 2,
        "top_values": [{"value": "true", "count": 600}, {"value": "false", "count": 400}],
    }

    checks = checks_of(profile(always, both))

    assert checks["allowed_values:is_test"]["values"] == [False]
    assert checks["allowed_values:is_test"]["severity"] == "fail"
    assert "allowed_values:flag" not in checks


def test_nulls_are_refused_when_none_were_seen_and_tolerated_above_the_observed_rate() -> None:
    complete = numeric("amount", 1.0, 2.0)
    gappy = numeric("age", 18, 90, count=970, nulls=30, null_fraction=0.03)
    empty = numeric("unused", None, None, count=0, nulls=1000, null_fraction=1.0, distinct=0)

    checks = checks_of(profile(complete, gappy, empty))

    assert checks["not_null:amount"]["max_null_fraction"] == 0
    assert checks["not_null:amount"]["severity"] == "fail"
    assert checks["not_null:age"]["max_null_fraction"] == pytest.approx(0.055)
    assert checks["not_null:age"]["severity"] == "warn"
    # An all-null column: only its presence and type can be checked.
    assert "not_null:unused" not in checks
    assert "range:unused" not in checks
    assert checks["column_type:unused"]["expected_type"] == "float"


def test_datetimes_and_other_types_only_keep_type_and_nulls() -> None:
    moment = {
        "name": "booked_at",
        "type": "datetime",
        "kind": "datetime",
        "count": 1000,
        "nulls": 0,
        "null_fraction": 0.0,
        "distinct": 990,
        "min": "2026-09-01T00:00:00",
        "max": "2026-09-30T23:00:00",
    }
    nested = {
        "name": "tags",
        "type": "other",
        "kind": "categorical",
        "count": 1000,
        "nulls": 0,
        "null_fraction": 0.0,
        "distinct": None,
        "top_values": [],
        "other_count": 1000,
    }

    checks = checks_of(profile(moment, nested))

    assert set(checks) == {
        "row_count",
        "column_type:booked_at",
        "not_null:booked_at",
        "column_type:tags",
        "not_null:tags",
    }
    assert checks["column_type:tags"]["expected_type"] == "any"


def test_suggestions_for_every_kind_of_column_are_canonical_checks() -> None:
    checks_module = pytest.importorskip("monitoring.checks")
    columns = [
        numeric("amount", 0.5, 100.0, quantiles={"0.01": 1.0, "0.99": 60.0}),
        numeric("rating", 1, 5, type="integer"),
        numeric("rate", 2.5, 2.5, std=0.0),
        numeric("age", 18, 90, count=970, nulls=30, null_fraction=0.03),
        numeric("id", 1, 1000, type="integer", distinct=1000),
        text("channel", {"chip": 600, "online": 300, "magstripe": 100}),
        text("comment", {"": 40, "ok": 30}, distinct=800, other_count=930),
        {
            "name": "is_test",
            "type": "boolean",
            "kind": "boolean",
            "count": 1000,
            "nulls": 0,
            "null_fraction": 0.0,
            "distinct": 1,
            "top_values": [{"value": "true", "count": 1000}],
            "other_count": 0,
        },
    ]

    suggestions = suggest_checks(profile(*columns))

    assert {suggestion.check["type"] for suggestion in suggestions} == {
        "row_count",
        "column_type",
        "not_null",
        "unique",
        "range",
        "distribution",
        "allowed_values",
        "sentinel",
    }
    for suggestion in suggestions:
        assert checks_module.normalise_check(suggestion.check) == suggestion.check


def test_an_empty_profile_suggests_nothing() -> None:
    assert suggest_checks({"row_count": 0, "column_count": 0, "columns": []}) == []


def test_a_suggestion_as_a_dict() -> None:
    [row_count] = suggest_checks(profile())

    assert row_count.as_dict() == {"check": row_count.check, "reason": row_count.reason}
    assert row_count.reason == "Observed 1,000 rows; allowing 500 to 2,000 (half to twice as many)."


def test_a_thousand_column_profile() -> None:
    columns: list[dict[str, Any]] = []
    for index in range(1000):
        if index % 4 == 0:
            columns.append(text(f"cat_{index}", {"a": 500, "b": 500}))
        elif index % 4 == 1:
            columns.append(text(f"txt_{index}", {"x": 5}, distinct=900, other_count=995))
        else:
            columns.append(numeric(f"num_{index}", -index, index * 2.5, nulls=index % 7))

    suggestions = suggest_checks(json.loads(json.dumps(profile(*columns))))

    names = [suggestion.check["name"] for suggestion in suggestions]
    assert len(names) == len(set(names))
    assert sum(name.startswith("column_type:") for name in names) == 1000
