"""The domain classifier and prediction drift, on data whose answer we know."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from monitoring import domain
from monitoring.domain import domain_classifier, prediction_drift
from monitoring.drift import DriftThresholds

THRESHOLDS = DriftThresholds()
NOISE = [f"noise_{index}" for index in range(5)]


def normal_table(rows: int, rng: np.random.Generator, **shifts: float) -> pa.Table:
    """Six independent standard normal features; ``shifts`` moves the named ones."""
    names = ["amount", *NOISE]
    return pa.table({name: rng.normal(size=rows) + shifts.get(name, 0.0) for name in names})


def correlated_table(rows: int, rng: np.random.Generator, rho: float) -> pa.Table:
    """Income and spend, standard normal each, with correlation ``rho``; five noise features."""
    income = rng.normal(size=rows)
    spend = rho * income + math.sqrt(1 - rho**2) * rng.normal(size=rows)
    columns = {"income": income, "spend": spend}
    columns.update({name: rng.normal(size=rows) for name in NOISE})
    return pa.table(columns)


def mixed_table(rows: int, rng: np.random.Generator) -> pa.Table:
    """Numbers with nulls, a small and a large vocabulary, a flag."""
    return pa.table(
        {
            "age": pa.array(rng.integers(18, 90, rows), mask=rng.random(rows) < 0.05),
            "balance": rng.lognormal(3.0, 1.0, rows),
            "channel": pa.array(rng.choice(["chip", "online", "contactless"], rows)),
            "merchant": pa.array(rng.integers(0, 300, rows).astype(str)),
            "is_foreign": pa.array(rng.random(rows) < 0.1),
        }
    )


def classify(reference: pa.Table, current: pa.Table, **options: Any) -> dict[str, Any]:
    options.setdefault("thresholds", THRESHOLDS)
    result = domain_classifier(reference, current, reference.column_names, **options)
    json.dumps(result, allow_nan=False)  # always storable as it is
    return result


def top_features(result: dict[str, Any], count: int) -> set[str]:
    return {item["feature"] for item in result["importances"][:count]}


# --- no drift ------------------------------------------------------------------------------


def test_it_finds_no_drift_between_two_samples_of_one_distribution() -> None:
    rng = np.random.default_rng(1)
    result = classify(normal_table(5_000, rng), normal_table(5_000, rng))
    assert result["auc"] == pytest.approx(0.5, abs=0.02)
    assert result["auc_low"] <= 0.5 <= result["auc_high"]
    assert result["p_value"] > 0.05
    assert not result["significant"]
    assert not result["drifted"]
    assert "cannot tell" in result["message"]


def test_it_raises_at_most_one_false_alarm_in_twenty_seeds() -> None:
    # No practical floor at all: the test against chance alone must hold the false alarms.
    no_floor = DriftThresholds(domain_auc=0.5)
    alarms = []
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        result = classify(
            mixed_table(1_000, rng), mixed_table(1_000, rng), thresholds=no_floor, seed=seed
        )
        alarms.append(result["drifted"])
    assert sum(alarms) <= 1


# --- drift that the classifier must catch --------------------------------------------------


def test_it_catches_a_change_in_correlation_with_unchanged_marginals() -> None:
    rng = np.random.default_rng(2)
    reference = correlated_table(5_000, rng, rho=0.0)
    current = correlated_table(5_000, rng, rho=0.8)
    for name in ("income", "spend"):  # no single feature shows it
        test = stats.ks_2samp(reference[name].to_numpy(), current[name].to_numpy())
        assert test.statistic < THRESHOLDS.ks

    result = classify(reference, current)

    assert result["drifted"]
    assert result["auc"] > 0.65
    assert result["p_value"] < 1e-6
    assert top_features(result, 2) == {"income", "spend"}
    assert result["importances"][1]["importance"] > 10 * result["importances"][2]["importance"]
    assert "income" in result["message"] and "spend" in result["message"]


def test_it_ranks_a_shifted_feature_first() -> None:
    rng = np.random.default_rng(3)
    result = classify(normal_table(3_000, rng), normal_table(3_000, rng, amount=0.5))
    assert result["drifted"]
    assert result["importances"][0]["feature"] == "amount"
    assert result["importances"][0]["importance"] > 0.05
    assert [item["importance"] for item in result["importances"]] == sorted(
        (item["importance"] for item in result["importances"]), reverse=True
    )


def test_it_catches_a_change_too_small_for_any_single_feature() -> None:
    """0.06 standard deviations in each of 20 features: below every per-feature threshold,
    but present in every row, so the classifier's AUC is well above chance."""
    rng = np.random.default_rng(4)
    names = [f"x{index:02d}" for index in range(20)]
    reference = pa.table({name: rng.normal(size=10_000) for name in names})
    current = pa.table({name: rng.normal(size=10_000) + 0.06 for name in names})
    for name in names:
        reference_values, current_values = reference[name].to_numpy(), current[name].to_numpy()
        assert stats.ks_2samp(reference_values, current_values).statistic < THRESHOLDS.ks
        distance = stats.wasserstein_distance(reference_values, current_values)
        assert distance / reference_values.std() < THRESHOLDS.wasserstein

    result = classify(reference, current, thresholds=DriftThresholds(domain_auc=0.52))

    assert result["p_value"] < 1e-10
    assert result["auc"] > 0.53
    assert result["drifted"]


# --- the interval and the test -------------------------------------------------------------


def test_the_interval_contains_the_auc_and_narrows_with_more_rows() -> None:
    widths = []
    for rows in (1_000, 10_000):
        rng = np.random.default_rng(5)
        result = classify(normal_table(rows, rng), normal_table(rows, rng, amount=0.3))
        assert result["auc_low"] <= result["auc"] <= result["auc_high"]
        assert result["auc_low"] >= 0.0 and result["auc_high"] <= 1.0
        widths.append(result["auc_high"] - result["auc_low"])
    assert widths[1] < widths[0] / 2


def test_the_p_value_is_small_under_drift_and_not_under_no_drift() -> None:
    rng = np.random.default_rng(6)
    reference = normal_table(2_000, rng)
    unchanged = classify(reference, normal_table(2_000, rng))
    shifted = classify(reference, normal_table(2_000, rng, amount=0.4))
    assert unchanged["p_value"] > THRESHOLDS.domain_alpha
    assert shifted["p_value"] < 1e-6
    assert shifted["significant"]


def test_delong_variance_matches_its_definition() -> None:
    rng = np.random.default_rng(7)
    positive = np.round(rng.normal(0.5, 1.0, 60), 1)  # rounded: ties count half
    negative = np.round(rng.normal(0.0, 1.0, 80), 1)
    # The O(m n) definition: structural components from every pair.
    pairs = (positive[:, None] > negative[None, :]) + 0.5 * (positive[:, None] == negative)
    expected = pairs.mean(axis=1).var(ddof=1) / 60 + pairs.mean(axis=0).var(ddof=1) / 80
    assert domain._delong_variance(positive, negative) == pytest.approx(expected)


def test_the_p_value_uses_the_mann_whitney_null_variance() -> None:
    rng = np.random.default_rng(8)
    result = classify(normal_table(500, rng), normal_table(800, rng, amount=0.2))
    null_error = math.sqrt((500 + 800 + 1) / (12 * 500 * 800))
    expected = stats.norm.sf((result["auc"] - 0.5) / null_error)
    assert result["p_value"] == pytest.approx(expected)


# --- rows, sampling, most unlike rows -------------------------------------------------------


def test_it_samples_at_most_classifier_rows_per_side() -> None:
    rng = np.random.default_rng(9)
    result = classify(
        normal_table(3_000, rng),
        normal_table(500, rng),
        thresholds=DriftThresholds(classifier_rows=1_000),
    )
    assert (result["rows_reference"], result["rows_current"]) == (1_000, 500)
    assert (result["reference_rows_total"], result["current_rows_total"]) == (3_000, 500)
    assert result["folds"] == 5


def test_the_most_unlike_rows_are_the_changed_rows_of_current() -> None:
    rng = np.random.default_rng(10)
    reference = normal_table(4_000, rng)
    current = normal_table(4_000, rng)
    changed = rng.choice(4_000, size=100, replace=False)
    amount = current["amount"].to_numpy().copy()
    amount[changed] = rng.normal(6.0, 0.2, size=100)  # a few rows far outside the reference
    current = current.set_column(0, "amount", pa.array(amount))

    result = classify(
        reference, current, thresholds=DriftThresholds(classifier_rows=3_000), most_unlike=10
    )

    rows = [item["row"] for item in result["most_unlike"]]
    assert len(rows) == 10
    assert set(rows) <= set(changed.tolist())
    probabilities = [item["probability"] for item in result["most_unlike"]]
    assert probabilities == sorted(probabilities, reverse=True)
    for item in result["most_unlike"]:  # the row index points into `current`, not the sample
        assert item["values"] == current.slice(item["row"], 1).to_pylist()[0]


def test_it_explains_too_few_rows_instead_of_failing() -> None:
    rng = np.random.default_rng(11)
    result = classify(normal_table(12, rng), normal_table(500, rng))
    assert result["auc"] is None and result["p_value"] is None
    assert not result["drifted"]
    assert result["message"].startswith("Too few rows")
    assert "12" in result["message"]


def test_it_is_reproducible_with_a_seed() -> None:
    rng = np.random.default_rng(12)
    reference, current = mixed_table(800, rng), mixed_table(800, rng)
    first = classify(reference, current, seed=3)
    assert classify(reference, current, seed=3) == first


def test_it_refuses_fewer_than_two_folds() -> None:
    rng = np.random.default_rng(13)
    with pytest.raises(ValueError, match="folds"):
        classify(normal_table(100, rng), normal_table(100, rng), folds=1)


# --- awkward data ---------------------------------------------------------------------------


def test_a_feature_empty_on_one_side_is_used_as_a_signal() -> None:
    rng = np.random.default_rng(14)
    reference = normal_table(1_000, rng).append_column("score", pa.array(rng.normal(size=1_000)))
    current = normal_table(1_000, rng).append_column("score", pa.nulls(1_000, pa.float64()))
    result = classify(reference, current)
    assert result["drifted"]
    assert result["importances"][0]["feature"] == "score"
    assert all(item["values"]["score"] is None for item in result["most_unlike"])


def test_a_column_of_arrow_null_type_does_not_break_it() -> None:
    rng = np.random.default_rng(15)
    reference = normal_table(500, rng).append_column("comment", pa.nulls(500))
    current = normal_table(500, rng).append_column("comment", pa.array(["late"] * 500))
    both_empty = normal_table(500, rng).append_column("comment", pa.nulls(500))
    result = classify(reference, current)
    assert "comment" in result["features_used"]
    assert result["importances"][0]["feature"] == "comment"
    skipped = classify(reference, both_empty)["skipped_features"]
    assert skipped == [{"feature": "comment", "reason": "is empty in both samples"}]


def test_unseen_categories_in_current_are_caught() -> None:
    rng = np.random.default_rng(16)
    reference, current = mixed_table(2_000, rng), mixed_table(2_000, rng)
    channel = current["channel"].to_numpy(zero_copy_only=False).copy()
    channel[rng.random(2_000) < 0.3] = "crypto"  # a category the reference never had
    current = current.set_column(2, "channel", pa.array(channel))
    merchant = current["merchant"].to_numpy(zero_copy_only=False).copy()
    merchant[:50] = "new-merchant"  # and a new one in the large vocabulary
    current = current.set_column(3, "merchant", pa.array(merchant))

    result = classify(reference, current)

    assert result["drifted"]
    assert result["importances"][0]["feature"] == "channel"
    assert result["most_unlike"][0]["values"]["channel"] == "crypto"


def test_constant_columns_are_skipped_with_a_reason() -> None:
    rng = np.random.default_rng(17)
    reference = normal_table(500, rng).append_column("country", pa.array(["NL"] * 500))
    current = normal_table(500, rng).append_column("country", pa.array(["NL"] * 500))
    result = classify(reference, current)
    assert result["skipped_features"] == [
        {"feature": "country", "reason": "has the same value in every row of both samples"}
    ]
    assert "country" not in {item["feature"] for item in result["importances"]}
    assert result["auc"] is not None


def test_only_constant_columns_give_a_message() -> None:
    reference = pa.table({"flag": [1] * 100, "kind": ["a"] * 100})
    result = classify(reference, reference)
    assert result["auc"] is None
    assert result["message"].startswith("No feature can be used")


def test_missing_and_mismatched_features_are_skipped_with_a_reason() -> None:
    rng = np.random.default_rng(18)
    reference = normal_table(300, rng).append_column("zip", pa.array(rng.normal(size=300)))
    current = normal_table(300, rng).append_column("zip", pa.array(["1011"] * 300))
    result = domain_classifier(
        reference, current, [*reference.column_names, "gone"], thresholds=THRESHOLDS
    )
    reasons = {item["feature"]: item["reason"] for item in result["skipped_features"]}
    assert reasons["gone"] == "is missing from the reference data"
    assert reasons["zip"].startswith("is numeric (double) in the reference data but categorical")
    assert "zip" not in result["features_used"]
    assert result["auc"] is not None


def test_times_decimals_infinities_and_nulls_stay_json_safe() -> None:
    rows = 200
    rng = np.random.default_rng(19)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def table(offset_days: int) -> pa.Table:
        values = rng.normal(size=rows)
        values[:5] = [np.inf, -np.inf, np.nan, 1e308, -0.0]
        return pa.table(
            {
                "value": pa.array(values),
                "at": pa.array(
                    [start + timedelta(days=offset_days, hours=int(h)) for h in range(rows)]
                ),
                "day": pa.array([date(2026, 1, 1) + timedelta(days=offset_days)] * rows),
                "price": pa.array([Decimal("1.25")] * (rows - 1) + [None]),
                "grade": pa.array(["a", "b"] * (rows // 2)).dictionary_encode(),
            }
        )

    result = classify(table(0), table(30))
    text = json.dumps(result, allow_nan=False)
    assert result["drifted"]  # the timestamps moved by a month
    assert result["auc"] > 0.99
    assert {"value", "at", "day", "price", "grade"} == set(result["features_used"])
    assert '"at": "2026-02-' in text  # most unlike rows show times as ISO text
    assert result["most_unlike"][0]["values"]["day"] == "2026-01-31"


# --- prediction drift ----------------------------------------------------------------------


def predict(
    reference: Any, current: Any, reference_confidence: Any = None,
    current_confidence: Any = None, *, task: str = "classification",
) -> dict[str, Any]:  # fmt: skip
    result = prediction_drift(
        np.asarray(reference),
        np.asarray(current),
        reference_confidence,
        current_confidence,
        task=task,
        thresholds=THRESHOLDS,
    )
    json.dumps(result, allow_nan=False)
    return result


def test_a_rising_positive_share_is_prediction_drift() -> None:
    rng = np.random.default_rng(20)
    result = predict(rng.random(5_000) < 0.1, rng.random(5_000) < 0.3)
    predictions = result["predictions"]
    assert result["drifted"] and predictions["drifted"]
    assert predictions["test"] == "chi2"
    assert predictions["p_value"] < 1e-10
    assert predictions["effect"] > THRESHOLDS.jensen_shannon
    shares = dict(
        zip(predictions["histogram"]["values"], predictions["histogram"]["current"], strict=True)
    )
    assert shares["true"] == pytest.approx(0.3, abs=0.02)
    assert "true" in result["message"]


def test_lower_confidence_is_reported() -> None:
    rng = np.random.default_rng(21)
    labels = rng.integers(0, 3, 4_000)
    result = predict(labels, labels, rng.beta(9, 1, 4_000), rng.beta(6, 3, 4_000))
    confidence = result["confidence"]
    assert confidence["p_value"] < 1e-10
    assert confidence["current_mean"] < confidence["reference_mean"]
    assert confidence["mean_change"] < -0.1
    assert confidence["drifted"] and result["drifted"]
    assert not result["predictions"]["drifted"]
    assert len(confidence["histogram"]["edges"]) == domain.CONFIDENCE_BINS + 1
    assert sum(confidence["histogram"]["current"]) == pytest.approx(1.0)
    assert "Confidence fell" in result["message"]


def test_identical_prediction_distributions_are_not_drift() -> None:
    rng = np.random.default_rng(22)
    classes = np.array(["approve", "review", "decline"])
    result = predict(
        classes[rng.integers(0, 3, 3_000)],
        classes[rng.integers(0, 3, 3_000)],
        rng.beta(8, 2, 3_000),
        rng.beta(8, 2, 3_000),
    )
    assert not result["drifted"]
    assert not result["predictions"]["drifted"] and not result["confidence"]["drifted"]
    assert result["predictions"]["new_classes"] == [] == result["predictions"]["vanished_classes"]


def test_regression_predictions_are_compared_as_values() -> None:
    rng = np.random.default_rng(23)
    reference = rng.normal(100, 10, 3_000)
    same = predict(reference, rng.normal(100, 10, 3_000), task="regression")
    moved = predict(reference, rng.normal(104, 10, 3_000), task="regression")
    assert same["task"] == "regression" and same["confidence"] is None
    assert not same["drifted"]
    assert moved["drifted"]
    assert moved["predictions"]["wasserstein"] == pytest.approx(0.4, abs=0.08)
    assert moved["predictions"]["current_mean"] > moved["predictions"]["reference_mean"]
    assert len(moved["predictions"]["histogram"]["edges"]) == domain.PREDICTION_BINS + 1


def test_class_labels_keep_their_identity_and_missing_predictions_are_counted() -> None:
    result = predict([0, 1, 1, 0] * 50, [0.0, 1.0, 2.0, None] * 50)
    predictions = result["predictions"]
    assert predictions["new_classes"] == [2.0]
    assert predictions["vanished_classes"] == []
    assert predictions["current_missing_rate"] == pytest.approx(0.25)
    assert predictions["drifted"]


def test_predictions_missing_on_one_side_give_a_message() -> None:
    result = predict(["a", "b"] * 10, [None, None], task="classification")
    assert not result["drifted"]
    assert result["predictions"]["p_value"] is None
    assert "no predictions" in result["message"]
    one_sided = predict([1, 2], [1, 2], np.array([0.9, 0.8]), None)
    assert one_sided["confidence"] is None
    assert "only available on one side" in one_sided["message"]


def test_an_unknown_task_is_refused() -> None:
    with pytest.raises(ValueError, match="task"):
        predict([1], [1], task="ranking")
