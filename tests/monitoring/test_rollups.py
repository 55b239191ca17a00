"""Rollups: prediction rows -> additive partials -> figures, checked against numpy and
scikit-learn on random data. No database: the module is plain Python."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from sklearn import metrics

from monitoring import rollups

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROWS = 5_000


def classified_rows(
    rows: int = ROWS, *, seed: int = 1, version: int = 1, labelled: float = 1.0
) -> list[dict[str, Any]]:
    """A binary classifier with some skill: probabilities of class 1, labels drawn from them."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=rows)
    positive = 1 / (1 + np.exp(-2 * signal))
    truth = (rng.random(rows) < positive).astype(int)
    has_label = rng.random(rows) < labelled
    return [
        {
            "model_version_id": version,
            "logged_at": START + timedelta(seconds=int(index * 7_200 / rows)),
            "prediction": int(positive[index] >= 0.5),
            "probabilities": {"0": 1 - float(positive[index]), "1": float(positive[index])},
            "confidence": float(max(positive[index], 1 - positive[index])),
            "latency_ms": float(rng.lognormal(mean=1.5, sigma=0.6)),
            "label": int(truth[index]) if has_label[index] else None,
        }
        for index in range(rows)
    ]


def regression_rows(
    rows: int = ROWS, *, seed: int = 2, offset: float = 0.0
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    predictions = rng.lognormal(mean=3.0, sigma=0.5, size=rows) + offset
    labels = predictions + rng.normal(scale=4.0, size=rows)
    return [
        {
            "model_version_id": 7,
            "logged_at": START + timedelta(seconds=index),
            "prediction": float(predictions[index]),
            "probabilities": None,
            "confidence": None,
            "latency_ms": 2.0,
            "label": float(labels[index]),
        }
        for index in range(rows)
    ]


def summarise(parts: Sequence[Mapping[str, Any]], task: str) -> dict[str, Any]:
    """What a reader does: sum the partials' counts and merge their stats."""
    return rollups.summary(
        rollups.merge(part["stats"] for part in parts),
        requests=sum(part["requests"] for part in parts),
        errors=sum(part["errors"] for part in parts),
        labelled=sum(part["labelled"] for part in parts),
        task=task,
    )


def with_labels(rows: list[dict[str, Any]], labels: Sequence[Any]) -> list[dict[str, Any]]:
    return [{**row, "label": label} for row, label in zip(rows, labels, strict=True)]


def close(estimate: float | None, expected: float, relative: float) -> bool:
    assert estimate is not None
    return abs(estimate - expected) <= relative * abs(expected)


# Hours and partials ------------------------------------------------------------------------


def test_it_floors_a_time_to_its_hour_in_the_same_zone() -> None:
    paris = timezone(timedelta(hours=1))
    assert rollups.hour_of(datetime(2026, 3, 2, 10, 59, 59, 999, tzinfo=paris)) == datetime(
        2026, 3, 2, 10, tzinfo=paris
    )
    assert rollups.hour_of(datetime(2026, 3, 2, 10, 59, tzinfo=paris)).tzinfo is paris


def test_it_floors_half_hour_zones_to_the_utc_hour() -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    floored = rollups.hour_of(datetime(2026, 3, 2, 10, 15, tzinfo=india))  # 04:45 UTC
    assert floored == datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
    assert floored.tzinfo is india


def test_it_makes_one_partial_per_version_and_hour() -> None:
    rows = [
        {**row, "model_version_id": version, "logged_at": START + timedelta(minutes=minutes)}
        for row, (version, minutes) in zip(
            classified_rows(5),
            [(1, 0), (1, 59), (1, 60), (2, 30), (2, 30)],
            strict=True,
        )
    ]
    rows[0]["label"] = None

    parts = rollups.partials(rows, task="classification")

    assert sorted(
        (part["model_version_id"], part["hour"], part["requests"], part["labelled"])
        for part in parts
    ) == [
        (1, START, 2, 1),
        (1, START + timedelta(hours=1), 1, 1),
        (2, START, 2, 2),
    ]
    assert all(part["errors"] == 0 and part["hour"].tzinfo is not None for part in parts)


def test_its_stats_are_compact_json_with_text_keys() -> None:
    parts = rollups.partials(classified_rows(10_000), task="classification")
    stats = rollups.merge(part["stats"] for part in parts)

    encoded = json.dumps(stats)
    assert json.loads(encoded) == stats
    # Sparse histograms: 10,000 predictions fit in a few kilobytes.
    assert len(encoded) < 8_000


def test_it_counts_errors_apart_from_requests() -> None:
    failures = [
        {"model_version_id": 1, "logged_at": START + timedelta(minutes=m)} for m in range(10)
    ]
    parts = rollups.partials(classified_rows(30), task="classification")
    parts += rollups.error_partials(failures)

    figures = summarise(parts, "classification")

    assert (figures["requests"], figures["errors"]) == (30, 10)
    assert figures["error_rate"] == 0.25
    assert rollups.error_partials(failures)[0] == {
        "model_version_id": 1,
        "hour": START,
        "requests": 0,
        "errors": 10,
        "labelled": 0,
        "stats": {},
    }


# Latency, confidence, predictions ----------------------------------------------------------


def test_latency_percentiles_are_within_five_percent_of_numpy() -> None:
    rows = classified_rows(20_000, seed=3)
    latencies = np.array([row["latency_ms"] for row in rows])

    latency = summarise(rollups.partials(rows, task="classification"), "classification")["latency"]

    for name, level in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert close(latency[name], float(np.percentile(latencies, level)), 0.05), name
    assert latency["mean"] == pytest.approx(latencies.mean(), rel=1e-9)


def test_latency_percentiles_hold_across_scales() -> None:
    """Sub-millisecond and multi-second answers are read as precisely as the usual ones."""
    rows = classified_rows(3_000, seed=4)
    rng = np.random.default_rng(4)
    latencies = np.exp(rng.uniform(np.log(0.05), np.log(30_000), size=len(rows)))
    rows = [{**row, "latency_ms": float(ms)} for row, ms in zip(rows, latencies, strict=True)]

    latency = summarise(rollups.partials(rows, task="classification"), "classification")["latency"]

    for name, level in (("p50", 50), ("p95", 95), ("p99", 99)):
        assert close(latency[name], float(np.percentile(latencies, level)), 0.05), name


def test_confidence_histogram_matches_numpy() -> None:
    rows = classified_rows(seed=5)
    confidences = np.array([row["confidence"] for row in rows])

    confidence = summarise(rollups.partials(rows, task="classification"), "classification")[
        "confidence"
    ]

    expected_counts, expected_edges = np.histogram(confidences, bins=20, range=(0, 1))
    assert confidence["histogram"]["counts"] == expected_counts.tolist()
    assert confidence["histogram"]["edges"] == pytest.approx(expected_edges.tolist())
    assert confidence["mean"] == pytest.approx(confidences.mean(), rel=1e-9)
    assert confidence["p10"] == pytest.approx(np.percentile(confidences, 10), abs=0.01)


def test_confidence_falls_back_to_the_largest_probability() -> None:
    rows = [{**row, "confidence": None} for row in classified_rows(100, seed=6)]
    expected = np.mean([max(row["probabilities"].values()) for row in rows])

    confidence = summarise(rollups.partials(rows, task="classification"), "classification")[
        "confidence"
    ]

    assert confidence["mean"] == pytest.approx(expected)


def test_it_counts_predicted_classes_as_text() -> None:
    rows = classified_rows(6)
    for row, prediction in zip(rows, [1, "1", 1.0, "1.0", "yes", 0], strict=True):
        row["prediction"] = prediction

    predictions = summarise(rollups.partials(rows, task="classification"), "classification")[
        "predictions"
    ]

    assert predictions == {"kind": "classes", "counts": {"0": 1, "1": 4, "yes": 1}}


def test_regression_predictions_match_numpy() -> None:
    rows = regression_rows()
    values = np.array([row["prediction"] for row in rows])

    predictions = summarise(rollups.partials(rows, task="regression"), "regression")["predictions"]

    assert predictions["kind"] == "values"
    assert predictions["mean"] == pytest.approx(values.mean(), rel=1e-9)
    assert predictions["std"] == pytest.approx(values.std(), rel=1e-6)
    assert predictions["min"] == pytest.approx(values.min())
    assert predictions["max"] == pytest.approx(values.max())
    for name, level in (("p05", 5), ("p50", 50), ("p95", 95)):
        assert close(predictions[name], float(np.percentile(values, level)), 0.05), name


def test_regression_quantiles_handle_negative_values_and_zero() -> None:
    rows = regression_rows(seed=8, offset=-200.0)  # all negative, around -180
    rows[:50] = [{**row, "prediction": 0.0} for row in rows[:50]]
    values = np.array([row["prediction"] for row in rows])

    predictions = summarise(rollups.partials(rows, task="regression"), "regression")["predictions"]

    for name, level in (("p05", 5), ("p50", 50), ("p95", 95)):
        assert close(predictions[name], float(np.percentile(values, level)), 0.05), name
    assert predictions["max"] == 0.0


# Performance -------------------------------------------------------------------------------


def test_binary_performance_matches_scikit_learn() -> None:
    rows = classified_rows(seed=9, labelled=0.6)
    labelled = [row for row in rows if row["label"] is not None]
    truth = [row["label"] for row in labelled]
    predicted = [row["prediction"] for row in labelled]
    scores = [row["probabilities"]["1"] for row in labelled]

    figures = summarise(rollups.partials(rows, task="classification"), "classification")

    assert figures["labelled"] == len(labelled)
    assert figures["labelled_fraction"] == pytest.approx(len(labelled) / len(rows))
    performance = figures["performance"]
    assert performance["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted))
    assert performance["f1"] == pytest.approx(metrics.f1_score(truth, predicted, average="macro"))
    assert performance["roc_auc"] == pytest.approx(metrics.roc_auc_score(truth, scores), abs=0.01)


def test_labels_and_predictions_compare_as_text() -> None:
    """Integer predictions, labels sent back as text, probability keys as text: one answer."""
    rows = classified_rows(2_000, seed=10)
    as_text = with_labels(rows, [str(row["label"]) for row in rows])
    as_floats = with_labels(rows, [float(row["label"]) for row in rows])

    expected = summarise(rollups.partials(rows, task="classification"), "classification")

    for variant in (as_text, as_floats):
        figures = summarise(rollups.partials(variant, task="classification"), "classification")
        assert figures["performance"] == expected["performance"]
    assert expected["performance"]["accuracy"] > 0.6


def test_the_positive_class_is_the_second_in_sorted_order() -> None:
    rows = classified_rows(2_000, seed=11)
    names = {0: "fraud", 1: "legit"}  # "legit" sorts second: its probability is the score
    textual = [
        {
            **row,
            "prediction": names[row["prediction"]],
            "probabilities": {
                "legit": row["probabilities"]["1"],
                "fraud": row["probabilities"]["0"],
            },
            "label": names[row["label"]],
        }
        for row in rows
    ]
    truth = [row["label"] for row in rows]
    scores = [row["probabilities"]["1"] for row in rows]

    performance = summarise(rollups.partials(textual, task="classification"), "classification")[
        "performance"
    ]

    assert performance["roc_auc"] == pytest.approx(metrics.roc_auc_score(truth, scores), abs=0.01)
    stats = rollups.merge(p["stats"] for p in rollups.partials(textual, task="classification"))
    assert list(stats["labels"]["roc"]) == ["legit"]


def test_multiclass_performance_is_macro_one_vs_rest() -> None:
    rng = np.random.default_rng(12)
    classes = ["bird", "cat", "dog"]
    logits = rng.normal(size=(ROWS, 3))
    truth_index = np.array([rng.choice(3, p=np.exp(row) / np.exp(row).sum()) for row in logits])
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    rows = [
        {
            "model_version_id": 3,
            "logged_at": START,
            "prediction": classes[int(probabilities[index].argmax())],
            "probabilities": dict(zip(classes, probabilities[index].tolist(), strict=True)),
            "confidence": float(probabilities[index].max()),
            "latency_ms": 1.0,
            "label": classes[truth_index[index]],
        }
        for index in range(ROWS)
    ]
    truth = [row["label"] for row in rows]
    predicted = [row["prediction"] for row in rows]

    performance = summarise(rollups.partials(rows, task="classification"), "classification")[
        "performance"
    ]

    assert performance["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted))
    assert performance["f1"] == pytest.approx(metrics.f1_score(truth, predicted, average="macro"))
    expected_auc = metrics.roc_auc_score(truth, probabilities, multi_class="ovr", average="macro")
    assert performance["roc_auc"] == pytest.approx(expected_auc, abs=0.01)


def test_classes_may_bear_the_names_of_the_stats() -> None:
    """A sentiment model's classes are "negative" and "positive"; others may say "min"."""
    rng = np.random.default_rng(20)
    classes = ["bins", "max", "min", "negative", "positive"]
    probabilities = rng.dirichlet(np.ones(len(classes)), size=2_000)
    truth = [classes[rng.choice(len(classes), p=row)] for row in probabilities]
    rows = [
        {
            "model_version_id": 1,
            "logged_at": START + timedelta(minutes=index % 120),
            "prediction": classes[int(probabilities[index].argmax())],
            "probabilities": dict(zip(classes, probabilities[index].tolist(), strict=True)),
            "confidence": float(probabilities[index].max()),
            "latency_ms": 1.0,
            "label": truth[index],
        }
        for index in range(len(truth))
    ]
    predicted = [row["prediction"] for row in rows]

    figures = summarise(rollups.partials(rows, task="classification"), "classification")

    assert figures["predictions"]["counts"] == {name: predicted.count(name) for name in classes}
    performance = figures["performance"]
    assert performance["f1"] == pytest.approx(metrics.f1_score(truth, predicted, average="macro"))
    expected_auc = metrics.roc_auc_score(truth, probabilities, multi_class="ovr", average="macro")
    assert performance["roc_auc"] == pytest.approx(expected_auc, abs=0.01)


def test_f1_covers_classes_only_predicted() -> None:
    rows = classified_rows(4)
    rows = [
        {**row, "prediction": prediction, "label": label}
        for row, (prediction, label) in zip(
            rows, [("a", "a"), ("a", "b"), ("c", "b"), ("b", "b")], strict=True
        )
    ]
    truth = [row["label"] for row in rows]
    predicted = [row["prediction"] for row in rows]

    performance = summarise(rollups.partials(rows, task="classification"), "classification")[
        "performance"
    ]

    assert performance["f1"] == pytest.approx(metrics.f1_score(truth, predicted, average="macro"))


def test_without_probabilities_there_is_no_roc_auc() -> None:
    rows = [{**row, "probabilities": None} for row in classified_rows(500, seed=13)]

    performance = summarise(rollups.partials(rows, task="classification"), "classification")[
        "performance"
    ]

    assert performance["roc_auc"] is None
    assert performance["accuracy"] is not None and performance["f1"] is not None


def test_outputs_that_are_not_numbers_are_left_out() -> None:
    """A model's NaN is logged as null; a multi-output regressor logs lists."""
    rows = classified_rows(4)
    rows[0]["probabilities"] = {"0": None, "1": None}
    rows[0]["confidence"] = None
    rows[1]["probabilities"] = {"0": None, "1": 0.75}
    rows[1]["confidence"] = None
    values = regression_rows(3)
    values[0]["prediction"] = None
    values[1]["prediction"] = [1.0, 2.0]
    values[2]["label"] = "unknown"

    confidence = summarise(rollups.partials(rows, task="classification"), "classification")[
        "confidence"
    ]
    regression = summarise(rollups.partials(values, task="regression"), "regression")

    assert sum(confidence["histogram"]["counts"]) == 3
    assert regression["requests"] == 3
    assert regression["predictions"]["mean"] == pytest.approx(values[2]["prediction"])
    assert regression["performance"] == {"mae": None, "rmse": None}


def test_one_labelled_class_has_no_roc_auc() -> None:
    rows = with_labels(classified_rows(200, seed=14), [1] * 200)

    performance = summarise(rollups.partials(rows, task="classification"), "classification")[
        "performance"
    ]

    assert performance["roc_auc"] is None


def test_regression_performance_matches_scikit_learn() -> None:
    rows = regression_rows(seed=15)
    truth = [row["label"] for row in rows]
    predicted = [row["prediction"] for row in rows]

    performance = summarise(rollups.partials(rows, task="regression"), "regression")["performance"]

    assert performance["mae"] == pytest.approx(metrics.mean_absolute_error(truth, predicted))
    assert performance["rmse"] == pytest.approx(
        np.sqrt(metrics.mean_squared_error(truth, predicted))
    )


def test_performance_is_unknown_without_labels() -> None:
    rows = with_labels(classified_rows(100), [None] * 100)

    figures = summarise(rollups.partials(rows, task="classification"), "classification")

    assert figures["labelled"] == 0 and figures["labelled_fraction"] == 0.0
    assert figures["performance"] == {"accuracy": None, "f1": None, "roc_auc": None}


# Additivity and label corrections ----------------------------------------------------------


@pytest.mark.parametrize(
    ("make_rows", "task"),
    [(classified_rows, "classification"), (regression_rows, "regression")],
)
def test_partials_add_up_to_the_whole(make_rows: Any, task: str) -> None:
    rows = make_rows(seed=16)
    rows[::3] = [{**row, "model_version_id": 99} for row in rows[::3]]
    first, second = rows[:1_234], rows[1_234:]

    in_two = rollups.partials(first, task=task) + rollups.partials(second, task=task)
    at_once = rollups.partials(rows, task=task)

    assert summarise(in_two, task) == summarise(at_once, task)
    # A merged partial merges again like any other.
    merged_once = {"requests": 0, "errors": 0, "labelled": 0, "stats": rollups.merge([])}
    for part in in_two[:2]:
        merged_once = {
            "requests": merged_once["requests"] + part["requests"],
            "errors": 0,
            "labelled": merged_once["labelled"] + part["labelled"],
            "stats": rollups.merge([merged_once["stats"], part["stats"]]),
        }
    assert summarise([merged_once, *in_two[2:]], task) == summarise(at_once, task)


def test_a_replaced_label_counts_only_once() -> None:
    rows = classified_rows(1_000, seed=17)
    unlabelled = with_labels(rows, [None] * len(rows))
    first_labels = with_labels(rows, [1 - row["label"] for row in rows])  # all wrong
    corrected = rows

    parts = rollups.partials(unlabelled, task="classification")
    parts += rollups.label_partials(first_labels, task="classification", sign=1)
    parts += rollups.label_partials(first_labels, task="classification", sign=-1)
    parts += rollups.label_partials(corrected, task="classification", sign=1)

    assert summarise(parts, "classification") == summarise(
        rollups.partials(corrected, task="classification"), "classification"
    )
    # The retraction leaves no trace in the merged stats.
    assert rollups.merge(p["stats"] for p in parts) == rollups.merge(
        p["stats"] for p in rollups.partials(corrected, task="classification")
    )


def test_a_replaced_regression_label_counts_only_once() -> None:
    rows = regression_rows(500, seed=18)
    first_labels = with_labels(rows, [row["label"] + 100 for row in rows])

    parts = rollups.partials(first_labels, task="regression")
    parts += rollups.label_partials(first_labels, task="regression", sign=-1)
    parts += rollups.label_partials(rows, task="regression", sign=1)

    got = summarise(parts, "regression")
    expected = summarise(rollups.partials(rows, task="regression"), "regression")
    assert got["labelled"] == expected["labelled"] == 500
    assert got["performance"] == pytest.approx(expected["performance"], rel=1e-9)


def test_label_partials_hold_only_the_ground_truth() -> None:
    rows = [{**row, "logged_at": START} for row in classified_rows(10, labelled=0.5, seed=19)]
    labelled = sum(row["label"] is not None for row in rows)

    (part,) = rollups.label_partials(rows, task="classification", sign=-1)

    assert (part["requests"], part["errors"], part["labelled"]) == (0, 0, -labelled)
    assert set(part["stats"]) == {"labels"}
    assert part["stats"]["labels"]["n"] == -labelled


def test_it_refuses_an_unknown_task_or_sign() -> None:
    with pytest.raises(ValueError, match="task"):
        rollups.partials(classified_rows(1), task="ranking")
    with pytest.raises(ValueError, match="sign"):
        rollups.label_partials(classified_rows(1), task="classification", sign=2)


# Empty inputs ------------------------------------------------------------------------------


def test_empty_inputs_give_empty_partials() -> None:
    assert rollups.partials([], task="classification") == []
    assert rollups.label_partials([], task="regression", sign=1) == []
    assert rollups.error_partials([]) == []
    assert rollups.merge([]) == {}
    assert rollups.merge([{}, {}]) == {}


def test_a_summary_without_data_has_every_key_and_no_figures() -> None:
    empty_histogram = {"edges": [i / 20 for i in range(21)], "counts": [0] * 20}
    classification = rollups.summary({}, requests=0, errors=0, labelled=0, task="classification")
    assert classification == {
        "requests": 0,
        "errors": 0,
        "error_rate": None,
        "labelled": 0,
        "labelled_fraction": None,
        "latency": {"p50": None, "p95": None, "p99": None, "mean": None},
        "confidence": {"mean": None, "p10": None, "histogram": empty_histogram},
        "predictions": {"kind": "classes", "counts": {}},
        "performance": {"accuracy": None, "f1": None, "roc_auc": None},
    }
    regression = rollups.summary({}, requests=0, errors=0, labelled=0, task="regression")
    assert regression["predictions"] == {
        "kind": "values",
        "mean": None,
        "std": None,
        "min": None,
        "max": None,
        "p05": None,
        "p50": None,
        "p95": None,
    }
    assert regression["performance"] == {"mae": None, "rmse": None}


def test_rows_without_latency_or_confidence_leave_those_figures_empty() -> None:
    rows = [
        {**row, "latency_ms": None, "confidence": None, "probabilities": None}
        for row in classified_rows(20)
    ]

    figures = summarise(rollups.partials(rows, task="classification"), "classification")

    assert figures["requests"] == 20
    assert figures["latency"] == {"p50": None, "p95": None, "p99": None, "mean": None}
    assert figures["confidence"]["mean"] is None
