"""The per-feature drift engine on data with known properties (plain pytest, no database).

Each test builds reference and current tables whose difference (or sameness) is known and
asserts the outcome: what is flagged, what is not, and what the result says about bad input.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from monitoring import drift
from monitoring.drift import DriftConfigError, DriftThresholds

THRESHOLDS = DriftThresholds()
CHANNELS = ["chip", "contactless", "online", "magstripe", "atm"]
CHANNEL_SHARES = [0.35, 0.3, 0.2, 0.1, 0.05]


def mixed_table(
    rows: int,
    seed: int,
    *,
    shift: float = 0.0,
    scale: float = 1.0,
    channel_shares: list[float] | None = None,
    amount_missing: float = 0.02,
) -> pa.Table:
    """Eight features of the usual kinds, with a few missing values; knobs change ``amount``
    (normal, sd 1) and ``channel``."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(shift, scale, rows)
    shares = channel_shares or CHANNEL_SHARES
    zipf = 1.0 / np.arange(1, 31)
    return pa.table(
        {
            "amount": pa.array(amount, mask=rng.random(rows) < amount_missing),
            "income": pa.array(rng.lognormal(3.0, 1.0, rows)),
            "items": pa.array(rng.poisson(3, rows), mask=rng.random(rows) < 0.01),
            "ratio": pa.array(rng.uniform(0, 1, rows)),
            "channel": pa.array(rng.choice(CHANNELS, rows, p=shares)),
            "merchant": pa.array(rng.choice(30, rows, p=zipf / zipf.sum()).astype(str)),
            "flagged": pa.array(rng.random(rows) < 0.2),
            "score": pa.array(np.round(rng.beta(2, 5, rows), 3)),
        }
    )


def analysed(reference: pa.Table, current: pa.Table, **thresholds: Any) -> dict[str, Any]:
    """feature_statistics + decide on the common columns, by feature name."""
    settings = DriftThresholds.from_dict(thresholds) if thresholds else THRESHOLDS
    features = [name for name in reference.column_names if name in current.column_names]
    decided = drift.decide(
        drift.feature_statistics(reference, current, features, settings), settings
    )
    return {feature["name"]: feature for feature in decided}


def drifted(features: dict[str, Any]) -> list[str]:
    return [name for name, feature in features.items() if feature["drifted"]]


def assert_json_safe(value: Any) -> None:
    json.dumps(value, allow_nan=False)


# --- no drift ----------------------------------------------------------------------------


def test_it_does_not_flag_the_same_distribution_at_1000_rows() -> None:
    features = analysed(mixed_table(1_000, seed=1), mixed_table(1_000, seed=2))
    assert drifted(features) == []
    assert all(feature["status"] == "ok" for feature in features.values())
    assert_json_safe(list(features.values()))


def test_it_does_not_flag_the_same_distribution_at_1000000_rows() -> None:
    started = time.perf_counter()
    features = analysed(mixed_table(1_000_000, seed=1), mixed_table(1_000_000, seed=2))
    assert drifted(features) == []
    # Everything is measured, and tiny: a large sample makes even noise precise.
    assert features["amount"]["effect_size"] < 0.01
    assert features["channel"]["effect_size"] < 0.01
    assert time.perf_counter() - started < 30


@pytest.mark.parametrize("rows", [1_000, 10_000])
def test_it_raises_at_most_one_false_alarm_in_20_unchanged_samples(rows: int) -> None:
    alarms = []
    for seed in range(20):
        reference = mixed_table(rows, seed=100 + seed)
        current = mixed_table(rows, seed=200 + seed)
        features = drift.decide(
            drift.feature_statistics(reference, current, reference.column_names, THRESHOLDS),
            THRESHOLDS,
        )
        if drift.summarise(features, None, THRESHOLDS)["drifted"]:
            alarms.append(seed)
    assert len(alarms) <= 1, f"false alarms for seeds {alarms}"


def test_it_does_not_flag_unequal_sample_sizes_of_the_same_distribution() -> None:
    features = analysed(mixed_table(100_000, seed=1), mixed_table(800, seed=2))
    assert drifted(features) == []


# --- drift that must be flagged ------------------------------------------------------------


def test_it_flags_a_mean_shift_of_a_third_of_a_standard_deviation() -> None:
    features = analysed(mixed_table(1_000, seed=1), mixed_table(1_000, seed=2, shift=0.3))
    assert drifted(features) == ["amount"]
    amount = features["amount"]
    assert amount["significant"] and amount["large"]
    assert amount["effect_measure"] == "wasserstein"
    assert amount["effect_size"] == pytest.approx(0.3, abs=0.08)
    assert amount["p_value_adjusted"] < 0.05
    assert "The distribution changed" in amount["reasons"][0]


def test_it_flags_a_change_of_spread() -> None:
    features = analysed(mixed_table(1_000, seed=1), mixed_table(1_000, seed=2, scale=1.5))
    assert drifted(features) == ["amount"]
    # W1 between N(0, 1) and N(0, 1.5^2) is 0.5 * E|Z| = 0.40 standard deviations.
    assert features["amount"]["effect_size"] == pytest.approx(0.4, abs=0.08)
    assert features["amount"]["current_summary"]["std"] == pytest.approx(1.5, abs=0.1)


def test_it_flags_a_change_of_category_frequencies() -> None:
    shares = [0.15, 0.3, 0.4, 0.1, 0.05]
    features = analysed(
        mixed_table(1_000, seed=1), mixed_table(1_000, seed=2, channel_shares=shares)
    )
    assert drifted(features) == ["channel"]
    channel = features["channel"]
    assert channel["test"] == "chi2"
    assert channel["effect_measure"] == "jensen_shannon"
    assert channel["effect_size"] > THRESHOLDS.jensen_shannon
    assert channel["new_categories"] == [] and channel["vanished_categories"] == []
    histogram = channel["histogram"]
    assert histogram["kind"] == "categorical"
    assert set(histogram["values"]) == set(CHANNELS)
    online = histogram["values"].index("online")
    assert histogram["current"][online] == pytest.approx(0.4, abs=0.05)
    assert histogram["reference"][online] == pytest.approx(0.2, abs=0.05)


def test_it_flags_and_names_a_new_category() -> None:
    reference = mixed_table(2_000, seed=1)
    current = mixed_table(2_000, seed=2)
    rng = np.random.default_rng(3)
    channel = np.array(current.column("channel").to_pylist(), dtype=object)
    channel[rng.random(channel.size) < 0.05] = "crypto wallet"
    current = current.set_column(
        current.schema.get_field_index("channel"), "channel", pa.array(channel.tolist())
    )
    features = analysed(reference, current)
    assert drifted(features) == ["channel"]
    assert features["channel"]["new_categories"] == ["crypto wallet"]
    assert features["channel"]["new_categories_share"] == pytest.approx(0.05, abs=0.015)
    assert "crypto wallet" in features["channel"]["histogram"]["values"]
    assert "1 new category holds 5" in " ".join(features["channel"]["reasons"])
    # Sentences never quote values: a sensitive column's values stay in the keys made for them.
    assert "crypto" not in " ".join(
        features["channel"]["reasons"] + [features["channel"]["message"]]
    )


def test_it_names_a_vanished_category() -> None:
    shares = [0.4, 0.3, 0.2, 0.1, 0.0]
    features = analysed(
        mixed_table(2_000, seed=1), mixed_table(2_000, seed=2, channel_shares=shares)
    )
    assert features["channel"]["vanished_categories"] == ["atm"]


def test_it_flags_a_jump_in_missing_values() -> None:
    features = analysed(mixed_table(1_000, seed=1), mixed_table(1_000, seed=2, amount_missing=0.2))
    assert drifted(features) == ["amount"]
    amount = features["amount"]
    assert amount["reference_missing_rate"] == pytest.approx(0.02, abs=0.01)
    assert amount["current_missing_rate"] == pytest.approx(0.2, abs=0.03)
    assert amount["missing_p_value_adjusted"] < 0.05
    # The values that are there did not move; only the missing rate explains the verdict.
    assert amount["effect_size"] < THRESHOLDS.wasserstein
    assert any("Missing values rose from" in reason for reason in amount["reasons"])


def test_it_flags_a_feature_missing_from_current_data() -> None:
    reference = mixed_table(500, seed=1)
    current = mixed_table(500, seed=2).drop_columns(["income"])
    features = {
        feature["name"]: feature
        for feature in drift.decide(
            drift.feature_statistics(reference, current, reference.column_names, THRESHOLDS),
            THRESHOLDS,
        )
    }
    income = features["income"]
    assert income["status"] == "missing_in_current"
    assert income["drifted"] is True
    assert "missing from the current data" in income["message"]
    assert income["reference_summary"]["mean"] is not None
    summary = drift.summarise(list(features.values()), None, THRESHOLDS)
    assert summary["drifted"] is True
    assert summary["drifted_features"] == ["income"]


def test_it_reports_a_column_of_another_type_without_crashing() -> None:
    reference = pa.table({"age": [31, 45, 27, 52] * 50})
    current = pa.table({"age": ["31", "45", "unknown", "52"] * 50})
    (age,) = drift.decide(
        drift.feature_statistics(reference, current, ["age"], THRESHOLDS), THRESHOLDS
    )
    assert age["status"] == "type_mismatch"
    assert "numbers in the reference but text or categories in the current data" in age["message"]
    assert age["drifted"] is True
    assert age["p_value"] is None and age["effect_size"] is None
    assert_json_safe(age)


def test_it_compares_integers_with_floats() -> None:
    rng = np.random.default_rng(1)
    reference = pa.table({"count": pa.array(rng.poisson(4, 1_000))})
    current = pa.table({"count": pa.array(rng.poisson(4, 1_000).astype(float))})
    assert analysed(reference, current)["count"]["status"] == "ok"


@pytest.mark.parametrize("empty", [pa.nulls(300), pa.array([None] * 300, type=pa.float64())])
def test_it_flags_a_column_that_is_all_null_in_current_data(empty: pa.Array) -> None:
    rng = np.random.default_rng(1)
    reference = pa.table({"amount": rng.normal(size=300)})
    current = pa.table({"amount": empty})
    features = analysed(reference, current)
    amount = features["amount"]
    assert amount["status"] == "all_null"
    assert amount["kind"] == "numeric"
    assert amount["current_missing_rate"] == 1.0
    assert amount["drifted"] is True
    assert "no values in the current data" in amount["message"]
    assert_json_safe(amount)


def test_it_does_not_flag_a_column_that_is_all_null_on_both_sides() -> None:
    table = pa.table({"notes": pa.nulls(100, pa.string())})
    notes = analysed(table, table)["notes"]
    assert notes["status"] == "all_null"
    assert notes["drifted"] is False


def test_a_constant_column_is_not_drifted_and_does_not_crash() -> None:
    reference = pa.table({"version": [3.0] * 1_000, "country": ["NL"] * 1_000})
    current = pa.table({"version": [3.0] * 800, "country": ["NL"] * 800})
    features = analysed(reference, current)
    for name in ("version", "country"):
        assert features[name]["status"] == "ok"
        assert features[name]["drifted"] is False
        assert features[name]["effect_size"] == 0.0
        assert features[name]["p_value"] == 1.0
    assert "same constant value" in features["version"]["message"]
    assert_json_safe(list(features.values()))


def test_a_constant_reference_flags_a_current_column_that_varies() -> None:
    rng = np.random.default_rng(1)
    reference = pa.table({"version": np.full(1_000, 3.0)})
    current = pa.table({"version": rng.choice([3.0, 4.0], 1_000)})
    version = analysed(reference, current)["version"]
    assert version["drifted"] is True
    assert version["ks"] == pytest.approx(0.5, abs=0.05)
    assert "reference values are constant" in version["message"]


def test_no_columns_in_common_gives_a_message_not_an_exception() -> None:
    reference = pa.table({"a": [1, 2, 3]})
    current = pa.table({"b": [1, 2, 3]})
    result = drift.analyse(reference, current)
    assert result["features"] == []
    assert result["summary"]["drifted"] is False
    assert "no columns in common" in result["messages"][0]
    assert result["summary"]["reasons"] == result["messages"]
    assert_json_safe(result)


def test_an_empty_current_table_is_reported() -> None:
    reference = mixed_table(100, seed=1)
    current = mixed_table(100, seed=2).slice(0, 0)
    features = analysed(reference, current)
    assert {feature["status"] for feature in features.values()} == {"empty"}
    assert drifted(features) == []
    assert "current data has no rows" in features["amount"]["message"]


def test_an_unsupported_column_type_is_reported() -> None:
    reference = pa.table({"tags": pa.array([[1, 2], [3]] * 10)})
    tags = analysed(reference, reference)["tags"]
    assert tags["status"] == "unsupported"
    assert tags["drifted"] is False


# --- practical significance ----------------------------------------------------------------


def test_a_large_sample_does_not_flag_a_negligible_shift() -> None:
    rng = np.random.default_rng(7)
    reference = pa.table({"amount": rng.normal(0.0, 1.0, 1_000_000)})
    current = pa.table({"amount": rng.normal(0.01, 1.0, 1_000_000)})
    amount = analysed(reference, current)["amount"]
    assert amount["significant"] is True
    assert amount["p_value_adjusted"] < 1e-4
    assert amount["effect_size"] == pytest.approx(0.01, abs=0.004)
    assert amount["large"] is False
    assert amount["drifted"] is False
    assert "significant but small" in amount["reasons"][0]


def test_a_looser_threshold_lets_a_modest_shift_pass() -> None:
    reference, current = mixed_table(2_000, seed=1), mixed_table(2_000, seed=2, shift=0.3)
    assert analysed(reference, current)["amount"]["drifted"] is True
    assert analysed(reference, current, wasserstein=0.5)["amount"]["drifted"] is False


# --- the statistics themselves ---------------------------------------------------------------


@pytest.mark.parametrize(("rows_a", "rows_b", "ties"), [(3_000, 2_000, False), (5_000, 700, True)])
def test_numeric_statistics_match_scipy(rows_a: int, rows_b: int, ties: bool) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, rows_a), rng.normal(0.1, 1.2, rows_b)
    if ties:
        a, b = np.round(a * 2), np.round(b * 2)
    features = analysed(pa.table({"x": a}), pa.table({"x": b}))
    x = features["x"]
    expected = stats.ks_2samp(a, b, method="asymp" if rows_a * rows_b > 2_500_000 else "exact")
    assert x["ks"] == pytest.approx(expected.statistic, abs=1e-12)
    assert x["p_value"] == pytest.approx(expected.pvalue, rel=0.05)
    assert x["wasserstein"] == pytest.approx(
        stats.wasserstein_distance(a, b) / np.std(a, ddof=1), rel=1e-9
    )
    assert x["reference_summary"]["median"] == pytest.approx(np.median(a))
    histogram = x["histogram"]
    assert len(histogram["edges"]) == len(histogram["reference"]) + 1
    assert sum(histogram["reference"]) == pytest.approx(1.0)
    assert sum(histogram["current"]) == pytest.approx(1.0)


def test_the_psi_uses_reference_deciles() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, 50_000), rng.normal(0.5, 1, 50_000)
    edges = np.quantile(a, np.arange(1, 10) / 10)
    expected_counts = np.bincount(np.searchsorted(edges, a, side="left"), minlength=10) / a.size
    actual_counts = np.bincount(np.searchsorted(edges, b, side="left"), minlength=10) / b.size
    psi = np.sum((actual_counts - expected_counts) * np.log(actual_counts / expected_counts))
    x = analysed(pa.table({"x": a}), pa.table({"x": b}))["x"]
    assert x["psi"] == pytest.approx(psi, rel=1e-6)


def test_categorical_statistics_match_scipy() -> None:
    reference = ["a"] * 500 + ["b"] * 300 + ["c"] * 195 + ["rare"] * 5
    current = ["a"] * 420 + ["b"] * 330 + ["c"] * 248 + ["new"] * 2
    channel = analysed(pa.table({"c": reference}), pa.table({"c": current}))["c"]
    # "rare" and "new" have expected counts under 5: pooled into "other" with too few rows,
    # then merged into the smallest kept category ("c").
    table = np.array([[500, 300, 200], [420, 330, 250]])
    expected = stats.chi2_contingency(table)
    assert channel["chi2"] == pytest.approx(expected.statistic)
    assert channel["p_value"] == pytest.approx(expected.pvalue)
    p = np.array([500, 300, 195, 5, 0]) / 1000
    q = np.array([420, 330, 248, 0, 2]) / 1000
    assert channel["jensen_shannon"] == pytest.approx(jensenshannon(p, q, base=2))
    assert channel["new_categories"] == ["new"]
    assert channel["vanished_categories"] == ["rare"]
    assert channel["reference_summary"]["top"][0] == ["a", 0.5]


def test_the_correction_is_benjamini_hochberg_over_distribution_and_missing_p_values() -> None:
    reference = mixed_table(1_000, seed=1)
    current = mixed_table(1_000, seed=2, shift=0.15, amount_missing=0.04)
    features = drift.decide(
        drift.feature_statistics(reference, current, reference.column_names, THRESHOLDS),
        THRESHOLDS,
    )
    raw = [feature["p_value"] for feature in features] + [
        feature["missing_p_value"] for feature in features
    ]
    adjusted = stats.false_discovery_control(raw)
    got = [feature["p_value_adjusted"] for feature in features] + [
        feature["missing_p_value_adjusted"] for feature in features
    ]
    assert got == pytest.approx(list(adjusted))


def test_booleans_dictionaries_and_chunks_are_read_like_plain_columns() -> None:
    rng = np.random.default_rng(5)
    values = rng.choice(["x", "y", "z"], 2_000).tolist()
    flags = (rng.random(2_000) < 0.3).tolist()
    numbers = rng.normal(size=2_000)
    plain = pa.table({"c": values, "f": flags, "n": numbers})
    mask = np.zeros(2_000, dtype=bool)
    shuffled = pa.table(
        {
            "c": pa.chunked_array([pa.array(values[:700]), pa.array(values[700:])])
            .cast(pa.string())
            .dictionary_encode(),
            "f": pa.chunked_array([pa.array(flags[:3]), pa.array(flags[3:])]),
            "n": pa.chunked_array([pa.array(numbers[:1_000], mask=mask[:1_000]), numbers[1_000:]]),
        }
    )
    current = pa.table(
        {
            "c": rng.choice(["x", "y", "z"], 900),
            "f": rng.random(900) < 0.5,
            "n": rng.normal(size=900),
        }
    )
    first, second = analysed(plain, current), analysed(shuffled, current)
    for name in ("c", "f", "n"):
        assert first[name]["statistic"] == pytest.approx(second[name]["statistic"])
        assert first[name]["effect_size"] == pytest.approx(second[name]["effect_size"])
    assert first["f"]["kind"] == "categorical"
    assert set(first["f"]["histogram"]["values"]) == {"true", "false"}
    assert first["f"]["drifted"] is True  # 30% -> 50% true


def test_sliced_tables_with_nulls_are_read_at_their_offset() -> None:
    rng = np.random.default_rng(6)
    numbers = rng.normal(size=1_000)
    whole = pa.table({"n": pa.array(numbers, mask=rng.random(1_000) < 0.1)})
    window = whole.slice(37, 500)
    expected = np.array([value for value in window.column("n").to_pylist() if value is not None])
    n = analysed(window, pa.table({"n": rng.normal(size=400)}))["n"]
    assert n["reference_summary"]["mean"] == pytest.approx(expected.mean())
    assert n["reference_missing_rate"] == pytest.approx(window.column("n").null_count / 500)


def test_nan_and_infinity_count_as_missing_and_results_stay_json_safe() -> None:
    reference = pa.table({"x": [1.0, 2.0, float("nan"), 3.0, float("inf")] * 40})
    current = pa.table({"x": [1.0, 2.0, 3.0, 4.0, None] * 40})
    x = analysed(reference, current)["x"]
    assert x["reference_missing_rate"] == pytest.approx(0.4)
    assert x["current_missing_rate"] == pytest.approx(0.2)
    assert_json_safe(x)


def test_timestamps_are_compared_as_epoch_seconds() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    reference = pa.table({"seen": [start + timedelta(hours=hour) for hour in range(500)]})
    current = pa.table({"seen": [start + timedelta(hours=hour + 300) for hour in range(500)]})
    seen = analysed(reference, current)["seen"]
    assert seen["kind"] == "numeric"
    assert seen["data_type"] == "datetime"
    assert seen["reference_summary"]["min"] == start.timestamp()
    assert seen["drifted"] is True


def test_feature_kinds() -> None:
    assert drift.feature_kind(pa.int16()) == "numeric"
    assert drift.feature_kind(pa.decimal128(10, 2)) == "numeric"
    assert drift.feature_kind(pa.timestamp("ms", tz="UTC")) == "numeric"
    assert drift.feature_kind(pa.date32()) == "numeric"
    assert drift.feature_kind(pa.string()) == "categorical"
    assert drift.feature_kind(pa.bool_()) == "categorical"
    assert drift.feature_kind(pa.dictionary(pa.int32(), pa.string())) == "categorical"
    assert drift.feature_kind(pa.list_(pa.int64())) is None


def test_a_reference_cache_gives_the_same_results_for_every_window() -> None:
    reference = mixed_table(5_000, seed=1)
    cache: dict[str, Any] = {}
    for seed in (2, 3):
        current = mixed_table(700, seed=seed, shift=0.2)
        fresh = drift.feature_statistics(reference, current, reference.column_names, THRESHOLDS)
        cached = drift.feature_statistics(
            reference, current, reference.column_names, THRESHOLDS, reference_cache=cache
        )
        assert cached == fresh
    assert set(cache) == set(reference.column_names)


# --- thresholds ----------------------------------------------------------------------------


def test_thresholds_refuse_an_alpha_out_of_range() -> None:
    with pytest.raises(DriftConfigError) as caught:
        DriftThresholds.from_dict({"alpha": 2})
    assert caught.value.field == "alpha"
    assert str(caught.value).startswith("alpha: ")


def test_thresholds_refuse_unknown_keys() -> None:
    with pytest.raises(DriftConfigError) as caught:
        DriftThresholds.from_dict({"alpah": 0.01})
    assert caught.value.field == "alpah"
    assert "unknown threshold" in caught.value.message


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"ks": "0.1"}, "ks"),
        ({"wasserstein": True}, "wasserstein"),
        ({"wasserstein": -0.1}, "wasserstein"),
        ({"jensen_shannon": 1.5}, "jensen_shannon"),
        ({"classifier_rows": 10.5}, "classifier_rows"),
        ({"domain_auc": 0.4}, "domain_auc"),
        ({"psi": float("nan")}, "psi"),
    ],
)
def test_thresholds_name_the_key_of_a_bad_value(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(DriftConfigError) as caught:
        DriftThresholds.from_dict(raw)
    assert caught.value.field == field


def test_thresholds_keep_defaults_and_round_trip() -> None:
    assert DriftThresholds.from_dict(None) == DriftThresholds()
    custom = DriftThresholds.from_dict({"alpha": 0.01, "classifier_rows": 20_000, "psi": None})
    assert custom.alpha == 0.01 and custom.psi == 0.2
    assert DriftThresholds.from_dict(custom.as_dict()) == custom
    assert_json_safe(custom.as_dict())
    with pytest.raises(DriftConfigError):
        DriftThresholds(alpha=0)


# --- windows -------------------------------------------------------------------------------


def windowed_table(
    days: list[int], rows_per_day: int, *, shift_from: int | None = None
) -> pa.Table:
    """Rows spread over the given days of November 2026; ``amount`` moves from a day on."""
    rng = np.random.default_rng(11)
    parts = []
    for day in days:
        seconds = rng.integers(0, 86_400, rows_per_day)
        shift = 0.6 if shift_from is not None and day >= shift_from else 0.0
        parts.append(
            pa.table(
                {
                    "at": pa.array(
                        [datetime(2026, 11, day) + timedelta(seconds=int(s)) for s in seconds],
                        type=pa.timestamp("us"),
                    ),
                    "amount": rng.normal(shift, 1.0, rows_per_day),
                    "channel": rng.choice(CHANNELS, rows_per_day, p=CHANNEL_SHARES),
                }
            )
        )
    return pa.concat_tables(parts)


def test_split_windows_by_day_labels_and_counts() -> None:
    table = windowed_table([2, 3, 5], 100)
    windows = drift.split_windows(table, "at", "day")
    assert [label for label, *_ in windows] == [
        "2026-11-02",
        "2026-11-03",
        "2026-11-04",
        "2026-11-05",
    ]
    assert [indices.size for *_, indices in windows] == [100, 100, 0, 100]
    assert windows[0][1] == "2026-11-02T00:00:00" and windows[0][2] == "2026-11-03T00:00:00"
    moments = table.column("at").to_pylist()
    assert all(moments[index].day == 3 for index in windows[1][3])


def test_split_windows_by_hour_and_week_and_leaves_out_null_times() -> None:
    moments = [datetime(2026, 11, 2, 9, 15), None, datetime(2026, 11, 2, 11, 0)]
    table = pa.table({"at": pa.array(moments, type=pa.timestamp("s"))})
    hours = drift.split_windows(table, "at", "hour")
    assert [label for label, *_ in hours] == [
        "2026-11-02T09:00",
        "2026-11-02T10:00",
        "2026-11-02T11:00",
    ]
    assert [indices.tolist() for *_, indices in hours] == [[0], [], [2]]
    dates = pa.table({"on": pa.array([datetime(2026, 11, 1).date(), datetime(2026, 11, 2).date()])})
    weeks = drift.split_windows(dates, "on", "week")
    # Sunday 1 November is in ISO week 44 (from Monday 26 October); Monday 2 November starts 45.
    assert [(label, start) for label, start, _, _ in weeks] == [
        ("2026-W44", "2026-10-26T00:00:00"),
        ("2026-W45", "2026-11-02T00:00:00"),
    ]


def test_split_windows_uses_the_local_day_of_a_zoned_column() -> None:
    moment = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # already 3 November in Amsterdam
    table = pa.table({"at": pa.array([moment], type=pa.timestamp("us", tz="Europe/Amsterdam"))})
    ((label, start, end, _),) = drift.split_windows(table, "at", "day")
    assert label == "2026-11-03"
    assert start == "2026-11-03T00:00:00+01:00" and end == "2026-11-04T00:00:00+01:00"


@pytest.mark.parametrize(
    ("column", "frequency", "field"),
    [
        ("nope", "day", "window_column"),
        ("amount", "day", "window_column"),
        ("at", "month", "window_frequency"),
    ],
)
def test_split_windows_refuses_bad_settings(column: str, frequency: str, field: str) -> None:
    with pytest.raises(DriftConfigError) as caught:
        drift.split_windows(windowed_table([2], 10), column, frequency)
    assert caught.value.field == field


def test_analyse_shows_drifted_windows_from_the_day_the_shift_starts() -> None:
    reference = windowed_table([1], 5_000).drop_columns(["at"])
    current = windowed_table([1, 2, 3, 4, 5], 1_000, shift_from=3)
    progress: list[float] = []
    result = drift.analyse(
        reference,
        current,
        features=["amount", "channel"],
        window_column="at",
        window_frequency="day",
        progress=progress.append,
    )
    windows = result["windows"]
    assert [window["label"] for window in windows] == [f"2026-11-0{day}" for day in range(1, 6)]
    assert [window["drifted"] for window in windows] == [False, False, True, True, True]
    assert [window["current_rows"] for window in windows] == [1_000] * 5
    amount = [window["features"][0] for window in windows]
    assert all(point["name"] == "amount" for point in amount)
    assert all(point["effect_size"] > 0.4 for point in amount[2:])
    assert all(point["effect_size"] < 0.15 for point in amount[:2])
    assert result["summary"]["drifted"] is True  # the whole period moved too
    assert progress[-1] == 1.0 and progress == sorted(progress)
    assert_json_safe(result)


def test_analyse_reports_an_empty_window() -> None:
    reference = windowed_table([1], 2_000).drop_columns(["at"])
    current = windowed_table([1, 2, 4], 500)
    result = drift.analyse(reference, current, window_column="at")
    empty = [window for window in result["windows"] if window["current_rows"] == 0]
    assert [window["label"] for window in empty] == ["2026-11-03"]
    assert empty[0]["message"] == "No rows in this window."
    assert empty[0]["features"] == [] and empty[0]["drifted"] is False
    # The time column itself is no feature here: the reference does not have it.
    assert any("only in the current data" in message for message in result["messages"])


def test_analyse_does_not_compare_the_window_column_itself() -> None:
    reference = windowed_table([1], 1_000)
    current = windowed_table([8, 9], 500)
    result = drift.analyse(reference, current, window_column="at")
    assert [feature["name"] for feature in result["features"]] == ["amount", "channel"]
    assert result["summary"]["drifted"] is False


def test_analyse_reports_a_bad_window_column_as_a_message() -> None:
    table = mixed_table(200, seed=1)
    result = drift.analyse(table, table, window_column="amount")
    assert result["windows"] == []
    assert any("windows need a date or time" in message for message in result["messages"])


# --- the dataset level ------------------------------------------------------------------------


def test_summarise_combines_features_and_the_domain_classifier() -> None:
    features = list(analysed(mixed_table(1_000, seed=1), mixed_table(1_000, seed=2)).values())
    calm = drift.summarise(features, {"auc": 0.52, "drifted": False}, THRESHOLDS)
    assert calm["drifted"] is False
    assert calm["drift_share"] == 0.0
    assert calm["score"] == pytest.approx(0.04)
    alarmed = drift.summarise(
        features,
        {"auc": 0.7, "auc_low": 0.68, "auc_high": 0.72, "p_value": 1e-9, "drifted": True},
        THRESHOLDS,
    )
    assert alarmed["drifted"] is True
    assert alarmed["drifted_features"] == []
    assert alarmed["score"] == pytest.approx(0.4)
    assert "domain classifier tells current rows from reference rows apart" in alarmed["reasons"][1]


def test_analyse_calls_the_domain_classifier_with_the_comparable_features() -> None:
    calls: list[tuple[list[str], DriftThresholds]] = []

    def domain(
        reference: pa.Table, current: pa.Table, features: list[str], *, thresholds: DriftThresholds
    ) -> dict[str, Any]:
        calls.append((list(features), thresholds))
        return {"auc": 0.9, "p_value": 0.0, "drifted": True, "message": "Easy to tell apart."}

    reference = mixed_table(300, seed=1)
    current = mixed_table(300, seed=2).drop_columns(["income"])
    result = drift.analyse(reference, current, features=reference.column_names, domain=domain)
    assert calls == [([name for name in reference.column_names if name != "income"], THRESHOLDS)]
    assert result["domain_classifier"]["auc"] == 0.9
    assert result["summary"]["drifted"] is True


def test_a_failing_domain_classifier_leaves_the_feature_results() -> None:
    def domain(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("out of memory")

    table = mixed_table(300, seed=1)
    result = drift.analyse(table, table, domain=domain)
    assert result["domain_classifier"] is None
    assert len(result["features"]) == table.num_columns
    assert any("domain classifier failed: out of memory" in m for m in result["messages"])


def test_analyse_adds_the_mean_confidence_per_window() -> None:
    def predictor(table: pa.Table) -> tuple[np.ndarray, np.ndarray | None]:
        amount = np.nan_to_num(np.asarray(table.column("amount").to_numpy(zero_copy_only=False)))
        return (amount > 0).astype(np.int64), 0.5 + np.abs(np.tanh(amount)) / 2

    reference = windowed_table([1], 1_000).drop_columns(["at"])
    current = windowed_table([1, 2], 300)
    result = drift.analyse(reference, current, window_column="at", predictor=predictor)
    confidence = [window["confidence_mean"] for window in result["windows"]]
    assert all(0.5 < value < 1.0 for value in confidence)
    assert_json_safe(result["windows"])


@pytest.mark.slow  # the classifier's cross-validation, not the per-feature engine
def test_the_domain_classifier_catches_a_change_of_correlation() -> None:
    domain = pytest.importorskip("monitoring.domain")
    rng = np.random.default_rng(8)
    x = rng.normal(size=1_000)
    reference = pa.table({"x": x, "y": 0.9 * x + rng.normal(0, 0.44, 1_000)})
    x = rng.normal(size=1_000)
    current = pa.table({"x": x, "y": -0.9 * x + rng.normal(0, 0.44, 1_000)})
    result = drift.analyse(reference, current, domain=partial(domain.domain_classifier, seed=0))
    assert [feature["drifted"] for feature in result["features"]] == [False, False]
    assert result["domain_classifier"]["drifted"] is True
    assert result["summary"]["drifted"] is True
