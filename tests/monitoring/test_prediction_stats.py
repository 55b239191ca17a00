"""The read side of the rollups: series, window summaries, the health of many models (each one
query), and the compaction of an hour's partials (which must not change any figure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from lineage.choices import ModelTask
from lineage.models import ModelVersion, Project, RegisteredModel
from monitoring import prediction_stats, rollups
from monitoring.models import PredictionRollup

MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture
def classifier(project: Project, contributor: User) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=project, name="fraud-detector", task=ModelTask.CLASSIFICATION, owner=contributor
    )


@pytest.fixture
def regressor(project: Project, contributor: User) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=project, name="basket-value", task=ModelTask.REGRESSION, owner=contributor
    )


def make_version(model: RegisteredModel, number: int) -> ModelVersion:
    return ModelVersion.objects.create(
        model=model,
        version=number,
        artifact=f"models/{model.name}-{number}.skops",
        artifact_sha256="0" * 64,
        artifact_size=1,
    )


@pytest.fixture
def first(classifier: RegisteredModel) -> ModelVersion:
    return make_version(classifier, 1)


@pytest.fixture
def second(classifier: RegisteredModel) -> ModelVersion:
    return make_version(classifier, 2)


def predictions(
    version: ModelVersion, times: Sequence[datetime], *, seed: int = 1
) -> list[dict[str, Any]]:
    """Scored requests at `times`: a classifier's probabilities and labels, or a regressor's
    values, with latencies; every other one labelled."""
    rng = np.random.default_rng(seed)
    rows = []
    for index, logged_at in enumerate(times):
        score = float(rng.random())
        row: dict[str, Any] = {
            "model_version_id": version.pk,
            "logged_at": logged_at,
            "latency_ms": float(rng.lognormal(1.0, 0.5)),
        }
        if version.model.task == ModelTask.CLASSIFICATION:
            row.update(
                prediction=int(score >= 0.5),
                probabilities={"0": 1 - score, "1": score},
                confidence=max(score, 1 - score),
                label=int(rng.random() < score) if index % 2 else None,
            )
        else:
            row.update(
                prediction=score * 100,
                probabilities=None,
                confidence=None,
                label=score * 100 + float(rng.normal()) if index % 2 else None,
            )
        rows.append(row)
    return rows


def store(parts: Sequence[dict[str, Any]], model: RegisteredModel) -> None:
    """Append partials the way the prediction log does."""
    PredictionRollup.objects.bulk_create(
        PredictionRollup(
            model=model,
            model_version_id=part["model_version_id"],
            hour=part["hour"],
            requests=part["requests"],
            errors=part["errors"],
            labelled=part["labelled"],
            stats=part["stats"],
        )
        for part in parts
    )


def log(rows: Sequence[dict[str, Any]], model: RegisteredModel) -> None:
    store(rollups.partials(rows, task=model.task), model)


def fail(version: ModelVersion, at: datetime, count: int) -> None:
    """Record `count` failed requests."""
    failures = [{"model_version_id": version.pk, "logged_at": at}] * count
    store(rollups.error_partials(failures), version.model)


def expected_summary(rows: Sequence[dict[str, Any]], task: str, errors: int = 0) -> dict[str, Any]:
    """The figures of `rows` computed in one go, without the database."""
    parts = rollups.partials(rows, task=task)
    return rollups.summary(
        rollups.merge(part["stats"] for part in parts),
        requests=len(rows),
        errors=errors,
        labelled=sum(row["label"] is not None for row in rows),
        task=task,
    )


def every(start: datetime, count: int, step: timedelta) -> list[datetime]:
    return [start + index * step for index in range(count)]


# Series ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_series_has_one_item_per_hour_with_empty_hours(
    classifier: RegisteredModel,
    first: ModelVersion,
    second: ModelVersion,
    django_assert_num_queries: Any,
) -> None:
    nine = MONDAY.replace(hour=9)
    at_nine = predictions(first, every(nine, 30, timedelta(minutes=2)))
    at_nine_v2 = predictions(second, every(nine + timedelta(minutes=1), 10, timedelta(minutes=5)))
    at_eleven = predictions(first, every(nine + timedelta(hours=2), 20, timedelta(minutes=3)))
    for batch in (at_nine, at_nine_v2, at_eleven):
        log(batch, classifier)
    log(predictions(first, [nine - timedelta(minutes=1)]), classifier)  # before the range
    log(predictions(first, [nine + timedelta(hours=4)]), classifier)  # after it

    with django_assert_num_queries(1):
        items = prediction_stats.series(
            classifier, nine + timedelta(minutes=20), nine + timedelta(hours=4), bucket="hour"
        )

    assert [item["start"] for item in items] == every(nine, 4, timedelta(hours=1))
    assert [item["summary"]["requests"] for item in items] == [40, 0, 20, 0]
    assert [item["by_version"] for item in items] == [{1: 30, 2: 10}, {}, {1: 20}, {}]
    assert items[0]["summary"] == expected_summary(at_nine + at_nine_v2, "classification")
    assert items[2]["summary"] == expected_summary(at_eleven, "classification")
    assert items[1]["summary"] == expected_summary([], "classification")


@pytest.mark.django_db
def test_series_by_day_sums_the_hours_of_each_utc_day(
    classifier: RegisteredModel, first: ModelVersion, django_assert_num_queries: Any
) -> None:
    rows = predictions(first, every(MONDAY + timedelta(hours=20), 40, timedelta(hours=1)))
    log(rows, classifier)

    with django_assert_num_queries(1):
        items = prediction_stats.series(
            classifier, MONDAY + timedelta(hours=5), MONDAY + timedelta(days=3), bucket="day"
        )

    assert [item["start"] for item in items] == every(MONDAY, 3, timedelta(days=1))
    # 20:00 to 23:00 on Monday, all of Tuesday, 00:00 to 11:00 on Wednesday.
    assert [item["summary"]["requests"] for item in items] == [4, 24, 12]
    assert items[1]["summary"] == expected_summary(rows[4:28], "classification")


@pytest.mark.django_db
def test_series_of_one_version_leaves_the_others_out(
    classifier: RegisteredModel, first: ModelVersion, second: ModelVersion
) -> None:
    log(predictions(first, every(MONDAY, 5, timedelta(minutes=1))), classifier)
    only_second = predictions(second, every(MONDAY, 7, timedelta(minutes=1)))
    log(only_second, classifier)

    (item,) = prediction_stats.series(
        classifier, MONDAY, MONDAY + timedelta(hours=1), bucket="hour", version=second
    )

    assert item["by_version"] == {2: 7}
    assert item["summary"] == expected_summary(only_second, "classification")


def test_series_refuses_an_unknown_bucket(classifier: RegisteredModel) -> None:
    with pytest.raises(ValueError, match="bucket"):
        prediction_stats.series(classifier, MONDAY, MONDAY + timedelta(days=7), bucket="week")


# Window summaries and health ---------------------------------------------------------------


@pytest.mark.django_db
def test_window_summary_reads_the_hours_overlapping_the_window(
    classifier: RegisteredModel,
    first: ModelVersion,
    second: ModelVersion,
    django_assert_num_queries: Any,
) -> None:
    rows = predictions(first, every(MONDAY, 60, timedelta(minutes=6)))  # 10:00 to 05:54
    log(rows, classifier)
    other_version = predictions(second, every(MONDAY + timedelta(hours=2), 5, timedelta(0)))
    log(other_version, classifier)
    store(
        rollups.error_partials([{"model_version_id": first.pk, "logged_at": MONDAY}] * 3),
        classifier,
    )

    with django_assert_num_queries(1):
        figures = prediction_stats.window_summary(
            classifier, MONDAY + timedelta(hours=1, minutes=30), until=MONDAY + timedelta(hours=3)
        )

    # The hours from 01:00 (holding 01:30) to 02:00 (before 03:00), both versions.
    assert figures == expected_summary(
        [row for row in rows if 1 <= row["logged_at"].hour < 3] + other_version, "classification"
    )
    everything = prediction_stats.window_summary(classifier, MONDAY)
    assert (everything["requests"], everything["errors"]) == (65, 3)
    assert everything["error_rate"] == pytest.approx(3 / 68)
    assert prediction_stats.window_summary(classifier, MONDAY, version=first) == expected_summary(
        rows, "classification", errors=3
    )


@pytest.mark.django_db
def test_health_summarises_many_models_in_one_query(
    classifier: RegisteredModel,
    regressor: RegisteredModel,
    first: ModelVersion,
    project: Project,
    django_assert_num_queries: Any,
) -> None:
    now = MONDAY + timedelta(hours=12)
    idle = RegisteredModel.objects.create(project=project, name="idle", task=ModelTask.REGRESSION)
    regressor_version = make_version(regressor, 1)
    recent = predictions(first, every(now - timedelta(hours=5), 50, timedelta(minutes=5)))
    log(recent, classifier)
    log(predictions(first, [now - timedelta(days=2)]), classifier)  # too old
    values = predictions(regressor_version, every(now - timedelta(hours=1), 40, timedelta(0)))
    log(values, regressor)

    with django_assert_num_queries(1):
        health = prediction_stats.health([classifier, regressor, idle], now - timedelta(hours=24))

    assert health[classifier.pk] == expected_summary(recent, "classification")
    assert health[regressor.pk] == expected_summary(values, "regression")
    assert health[regressor.pk]["performance"]["mae"] is not None
    assert health[idle.pk] == expected_summary([], "regression")
    assert prediction_stats.health([], now) == {}


# Compaction --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_compaction_merges_past_hours_and_keeps_every_figure(
    classifier: RegisteredModel, first: ModelVersion, second: ModelVersion
) -> None:
    this_hour = rollups.hour_of(timezone.now())
    start = this_hour - timedelta(hours=3)
    rows = predictions(first, every(start, 240, timedelta(minutes=1)), seed=5)
    for batch in range(0, 240, 20):  # twelve batches: several partials in every hour
        log(rows[batch : batch + 20], classifier)
    log(predictions(second, every(start, 30, timedelta(minutes=3)), seed=6), classifier)
    # A label arrives and is then corrected; a few requests fail.
    corrected = [{**row, "label": 1 - row["label"]} for row in rows[1:40:2]]
    store(rollups.label_partials(rows[1:40:2], task="classification", sign=-1), classifier)
    store(rollups.label_partials(corrected, task="classification", sign=1), classifier)
    store(
        rollups.error_partials([{"model_version_id": first.pk, "logged_at": start}] * 4), classifier
    )
    before = prediction_stats.series(classifier, start, this_hour + timedelta(hours=1))
    current_hour_rows = PredictionRollup.objects.filter(hour=this_hour).count()
    total = PredictionRollup.objects.count()

    removed = prediction_stats.compact_rollups()

    # Past hours: one row per version and hour (first: 3 hours, second: 2); this hour untouched.
    assert PredictionRollup.objects.filter(hour__lt=this_hour).count() == 5
    assert PredictionRollup.objects.filter(hour=this_hour).count() == current_hour_rows
    assert removed == total - 5 - current_hour_rows
    assert prediction_stats.series(classifier, start, this_hour + timedelta(hours=1)) == before
    assert prediction_stats.compact_rollups() == 0


@pytest.mark.django_db
def test_compaction_stops_at_the_hour_it_is_given(
    classifier: RegisteredModel, first: ModelVersion
) -> None:
    for minute in (0, 10, 70, 80):
        log(predictions(first, [MONDAY + timedelta(minutes=minute)]), classifier)

    assert prediction_stats.compact_rollups(before=MONDAY + timedelta(hours=1)) == 1

    assert sorted(
        PredictionRollup.objects.values_list("hour", "requests").order_by("hour", "requests")
    ) == [(MONDAY, 2), (MONDAY + timedelta(hours=1), 1), (MONDAY + timedelta(hours=1), 1)]


def test_the_series_total_is_the_window_summary_of_its_range(
    classifier: RegisteredModel,
    first: ModelVersion,
    second: ModelVersion,
    django_assert_num_queries: Any,
) -> None:
    times = [MONDAY + timedelta(minutes=37 * step) for step in range(120)]
    log(predictions(first, times[:60]), classifier)
    log(predictions(second, times[60:], seed=2), classifier)
    start, end = MONDAY, MONDAY + timedelta(days=4)

    with django_assert_num_queries(1):
        items, total = prediction_stats.series_with_total(classifier, start, end, bucket="day")

    assert items == prediction_stats.series(classifier, start, end, bucket="day")
    assert total == prediction_stats.window_summary(classifier, start, end)
    assert total["requests"] == 120
