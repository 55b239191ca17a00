"""Scoring rules on their own (monitoring/serving.py, no Django): each record is checked
against the version's signature feature by feature (missing, extra, wrong type, NaN and
infinities, whole numbers), every problem is named, the good records become the model's
frame in signature order, and the model's outputs come back as JSON-ready values with
class probabilities that sum to 1 and the largest as the confidence."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from monitoring import serving
from monitoring.serving import Feature

SIGNATURE = [
    {"name": "amount", "type": "float"},
    {"name": "items", "type": "integer"},
    {"name": "channel", "type": "string"},
]
FEATURES = serving.features_of(SIGNATURE)
GOOD = {"amount": 12.5, "items": 2, "channel": "online"}
NOW = dt.datetime(2026, 11, 26, 14, 0, tzinfo=dt.UTC)


def test_a_signature_becomes_features_and_a_missing_type_is_unknown() -> None:
    assert serving.features_of([*SIGNATURE, {"name": "note"}]) == [
        Feature("amount", "float"),
        Feature("items", "integer"),
        Feature("channel", "string"),
        Feature("note", "unknown"),
    ]


def test_a_good_record_has_no_problem() -> None:
    assert serving.check_record(GOOD, FEATURES) == []


def test_a_null_is_a_missing_value_and_passes() -> None:
    assert serving.check_record({"amount": None, "items": None, "channel": None}, FEATURES) == []


def test_it_names_a_missing_feature() -> None:
    assert serving.check_record({"amount": 1.0, "channel": "chip"}, FEATURES) == [
        "Missing feature 'items'."
    ]


def test_it_names_an_extra_feature_and_lists_what_the_model_takes() -> None:
    (problem,) = serving.check_record({**GOOD, "colour": "red"}, FEATURES)
    assert problem == "Unknown feature 'colour': the model takes amount, items, channel."


def test_it_names_up_to_five_extra_features_and_counts_the_rest() -> None:
    extra = {f"x{number}": 1 for number in range(7)}
    (problem,) = serving.check_record({**GOOD, **extra}, FEATURES)
    assert problem.startswith("Unknown features 'x0', 'x1', 'x2', 'x3', 'x4' and 2 more:")


def test_a_misspelt_feature_is_named_both_missing_and_unknown() -> None:
    assert serving.check_record({"amount": 1.0, "item": 2, "channel": "chip"}, FEATURES) == [
        "Missing feature 'items'.",
        "Unknown feature 'item': the model takes amount, items, channel.",
    ]


def test_a_string_where_a_number_belongs_is_refused_by_name() -> None:
    assert serving.check_record({**GOOD, "amount": "12.5"}, FEATURES) == [
        "Feature 'amount' must be a number, not the text \"12.5\"."
    ]


def test_true_or_false_is_not_a_number() -> None:
    assert serving.check_record({**GOOD, "items": True}, FEATURES) == [
        "Feature 'items' must be a number, not true/false."
    ]


@pytest.mark.parametrize(
    ("value", "said"),
    [(math.nan, "NaN"), (math.inf, "infinite"), (-math.inf, "minus infinity")],
)
def test_nan_and_infinities_are_refused_by_name(value: float, said: str) -> None:
    assert serving.check_record({**GOOD, "amount": value}, FEATURES) == [
        f"Feature 'amount' is {said}: send a finite number."
    ]


def test_an_integer_feature_takes_whole_floats_but_not_fractions() -> None:
    assert serving.check_record({**GOOD, "items": 3.0}, FEATURES) == []
    assert serving.check_record({**GOOD, "items": 2.5}, FEATURES) == [
        "Feature 'items' must be a whole number, not 2.5."
    ]


def test_a_number_where_text_belongs_is_refused() -> None:
    assert serving.check_record({**GOOD, "channel": 3}, FEATURES) == [
        "Feature 'channel' must be text, not the number 3."
    ]


def test_every_problem_of_a_record_is_listed() -> None:
    problems = serving.check_record({"amount": "x", "channel": [1], "zip": 1}, FEATURES)
    assert problems == [
        "Feature 'amount' must be a number, not the text \"x\".",
        "Missing feature 'items'.",
        "Feature 'channel' must be text, not a list.",
        "Unknown feature 'zip': the model takes amount, items, channel.",
    ]


def test_a_record_that_is_not_an_object_is_refused() -> None:
    assert serving.check_record([1, 2, 3], FEATURES) == [
        "A record is a JSON object of feature values, not a list."
    ]


def test_booleans_times_and_unknown_types() -> None:
    features = [
        Feature("flag", "boolean"),
        Feature("seen", "datetime"),
        Feature("day", "date"),
        Feature("other", "unknown"),
    ]
    good = {"flag": True, "seen": "2026-11-26T14:03:00Z", "day": "2026-11-26", "other": "x"}
    assert serving.check_record(good, features) == []
    bad = {"flag": 1, "seen": "yesterday", "day": 20261126, "other": {"a": 1}}
    assert serving.check_record(bad, features) == [
        "Feature 'flag' must be true or false, not the number 1.",
        "Feature 'seen' must be an ISO-8601 datetime string.",
        "Feature 'day' must be an ISO-8601 date string.",
        "Feature 'other' must be a single value, not an object.",
    ]
    assert serving.check_record({**good, "other": math.nan}, features) == [
        "Feature 'other' is NaN: send a finite number."
    ]


def test_a_batch_keeps_the_good_records_with_their_positions() -> None:
    records = [GOOD, {**GOOD, "amount": math.inf}, {**GOOD, "items": 5}, "nope"]
    checked = serving.check_records(records, FEATURES)
    assert checked.good == [GOOD, {**GOOD, "items": 5}]
    assert checked.positions == [0, 2]
    assert checked.refused == {
        1: ["Feature 'amount' is infinite: send a finite number."],
        3: ['A record is a JSON object of feature values, not the text "nope".'],
    }


def test_the_frame_follows_the_signature_with_nulls_as_nan() -> None:
    frame = serving.frame_of(
        [
            {"channel": "chip", "items": 2, "amount": 1.5},
            {"amount": None, "items": 3, "channel": None},
        ],
        FEATURES,
    )
    assert list(frame.columns) == ["amount", "items", "channel"]
    assert frame["amount"].dtype == np.float64 and frame["items"].dtype == np.float64
    assert frame["amount"].tolist()[0] == 1.5 and math.isnan(frame["amount"].tolist()[1])
    assert frame["channel"].tolist() == ["chip", None]


def test_the_frame_parses_times() -> None:
    frame = serving.frame_of(
        [{"seen": "2026-11-26T14:03:00+00:00"}, {"seen": "2026-11-27T01:00:00+00:00"}],
        [Feature("seen", "datetime")],
    )
    assert pd.api.types.is_datetime64_any_dtype(frame["seen"])
    assert frame["seen"].iloc[1] == pd.Timestamp("2026-11-27T01:00:00Z")


def _training() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"amount": rng.normal(50, 20, 200), "items": rng.integers(1, 8, 200)})
    frame["label"] = np.where(frame["amount"] > 50, "fraud", "ok")
    return frame


def test_a_classifier_answers_its_classes_with_probabilities_summing_to_one() -> None:
    frame = _training()
    model = LogisticRegression().fit(frame[["amount", "items"]], frame["label"])
    scores = serving.score(model, pd.DataFrame({"amount": [10.0, 95.0], "items": [1.0, 2.0]}))
    assert scores.predictions == ["ok", "fraud"]
    assert scores.probabilities is not None and scores.confidence is not None
    for probabilities, confidence in zip(scores.probabilities, scores.confidence, strict=True):
        assert set(probabilities) == {"fraud", "ok"}
        assert sum(probabilities.values()) == pytest.approx(1.0)
        assert confidence == max(probabilities.values())
        assert all(type(value) is float for value in probabilities.values())


def test_numeric_classes_become_plain_numbers_with_string_keys() -> None:
    frame = _training()
    target = (frame["label"] == "fraud").astype(int)
    model = LogisticRegression().fit(frame[["amount", "items"]], target)
    scores = serving.score(model, pd.DataFrame({"amount": [95.0], "items": [1.0]}))
    assert scores.predictions == [1] and type(scores.predictions[0]) is int
    assert scores.probabilities is not None and set(scores.probabilities[0]) == {"0", "1"}


def test_a_regressor_answers_numbers_without_probabilities() -> None:
    frame = _training()
    model = LinearRegression().fit(frame[["amount", "items"]], frame["amount"] * 2)
    scores = serving.score(model, pd.DataFrame({"amount": [10.0], "items": [1.0]}))
    assert scores.predictions == [pytest.approx(20.0)] and type(scores.predictions[0]) is float
    assert scores.probabilities is None and scores.confidence is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(np.int64(3), 3), (np.float32(0.5), 0.5), (np.bool_(True), True), (np.nan, None), ("a", "a")],
)
def test_plain_makes_numpy_values_json_ready(value: Any, expected: Any) -> None:
    result = serving.plain(value)
    assert result == expected and type(result) is type(expected)


def test_outputs_of_records_predicted_elsewhere() -> None:
    assert serving.check_output(None, "classification", "prediction") == "'prediction' is required."
    assert serving.check_output("fraud", "classification", "prediction") is None
    assert serving.check_output(1, "classification", "label") is None
    assert serving.check_output([1], "classification", "label") == (
        "'label' must be a single class, not a list."
    )
    assert serving.check_output(3.5, "regression", "label") is None
    assert serving.check_output("3.5", "regression", "label") == (
        "'label' must be a number, not the text \"3.5\"."
    )
    assert serving.check_output(math.inf, "regression", "prediction") == (
        "'prediction' is infinite: send a finite number."
    )


def test_probabilities_must_be_numbers_from_zero_to_one() -> None:
    assert serving.check_probabilities({"0": 0.2, "1": 0.8}) is None
    assert serving.check_probabilities([]) == (
        "'probabilities' must be an object of class -> probability."
    )
    assert serving.check_probabilities({"0": 1.2}) == (
        "'probabilities' of class '0' must be a number from 0 to 1."
    )
    assert serving.check_probabilities({"0": math.nan}) is not None


def test_fractions_and_latencies() -> None:
    assert serving.check_fraction(0.3, "confidence") is None
    assert serving.check_fraction(1.5, "confidence") == (
        "'confidence' must be a number from 0 to 1."
    )
    assert serving.check_fraction(250.0, "latency_ms", upper=None) is None
    assert serving.check_fraction(-1, "latency_ms", upper=None) == (
        "'latency_ms' must be a number of 0 or more."
    )
    assert serving.check_fraction("fast", "latency_ms", upper=None) == (
        "'latency_ms' must be a finite number, not the text \"fast\"."
    )


def test_timestamps_are_utc_when_they_name_no_zone_and_not_in_the_future() -> None:
    parsed, problem = serving.parse_timestamp("2026-11-26T13:00:00", NOW)
    assert problem is None and parsed == dt.datetime(2026, 11, 26, 13, 0, tzinfo=dt.UTC)
    parsed, problem = serving.parse_timestamp("2026-11-26T15:00:00+02:00", NOW)
    assert problem is None and parsed == dt.datetime(2026, 11, 26, 13, 0, tzinfo=dt.UTC)
    assert serving.parse_timestamp("2026-11-27T14:00:00Z", NOW) == (
        None,
        "'timestamp' 2026-11-27T14:00:00Z is in the future.",
    )
    assert serving.parse_timestamp(1764165780, NOW)[1] == (
        "'timestamp' must be an ISO-8601 date and time, like 2026-11-26T14:03:00Z."
    )


# The array fast path ---------------------------------------------------------------------------

NUMERIC = serving.features_of([{"name": "a", "type": "float"}, {"name": "b", "type": "integer"}])


def numeric_frame(rows: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.integers(0, 5, rows)})
    return frame, (frame["a"] + frame["b"] > 2).astype(int).to_numpy()


def test_a_model_fitted_on_a_frame_of_numbers_is_scored_from_arrays_with_the_same_answers() -> None:
    from sklearn.ensemble import GradientBoostingClassifier

    frame, target = numeric_frame()
    model = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(frame, target)
    records = frame.head(20).to_dict("records")
    from_frame = serving.score(model, serving.frame_of(records, NUMERIC))

    assert serving.takes_arrays(model, NUMERIC)
    from_array = serving.score(model, serving.array_of(records, NUMERIC))
    assert from_array.predictions == from_frame.predictions
    assert from_array.probabilities is not None and from_frame.probabilities is not None
    for fast, slow in zip(from_array.probabilities, from_frame.probabilities, strict=True):
        assert fast == pytest.approx(slow)


def test_a_pipeline_picking_columns_by_name_keeps_frames() -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame, target = numeric_frame()
    model = make_pipeline(
        ColumnTransformer([("scale", StandardScaler(), ["a", "b"])]), LogisticRegression()
    ).fit(frame, target)

    assert not serving.takes_arrays(model, NUMERIC)
    # The probe left the model as it was: frames still work.
    assert (
        len(serving.score(model, serving.frame_of([{"a": 1.0, "b": 2}], NUMERIC)).predictions) == 1
    )


def test_a_signature_with_text_or_another_column_order_keeps_frames() -> None:
    frame, target = numeric_frame()
    model = LogisticRegression().fit(frame, target)
    reversed_order = list(reversed(NUMERIC))

    assert not serving.takes_arrays(model, FEATURES)
    assert not serving.takes_arrays(model, reversed_order)
    assert list(model.feature_names_in_) == ["a", "b"]
