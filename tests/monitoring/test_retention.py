"""The retention of the prediction log: each model's records older than its setting go
(90 days without one, never with an empty one), in batches; rollups stay."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from lineage.choices import ModelTask, Stage
from lineage.models import ModelVersion, Project, RegisteredModel
from monitoring import retention
from monitoring.models import PredictionRecord, PredictionRollup, ServingSettings

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def production_version(model: RegisteredModel) -> ModelVersion:
    return ModelVersion.objects.create(
        model=model,
        version=1,
        artifact="models/m.skops",
        artifact_sha256="0" * 64,
        artifact_size=1,
        stage=Stage.PRODUCTION,
    )


@pytest.fixture
def scorer(project: Project, contributor: User) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=project, name="scorer", task=ModelTask.CLASSIFICATION, owner=contributor
    )


@pytest.fixture
def pricer(project: Project) -> RegisteredModel:
    return RegisteredModel.objects.create(project=project, name="pricer", task=ModelTask.REGRESSION)


def log(model: RegisteredModel, *, days_ago: float, count: int = 1) -> list[uuid.UUID]:
    """`count` logged predictions of the model, `days_ago` days before NOW."""
    version = ModelVersion.objects.filter(model=model).first() or production_version(model)
    records = [
        PredictionRecord(
            request_id=uuid.uuid4(),
            model=model,
            model_version=version,
            logged_at=NOW - dt.timedelta(days=days_ago),
            source="served",
            inputs={"amount": 1.0},
            prediction="0",
        )
        for _ in range(count)
    ]
    PredictionRecord.objects.bulk_create(records)
    return [record.request_id for record in records]


def kept(model: RegisteredModel) -> int:
    return PredictionRecord.objects.filter(model=model).count()


def test_it_deletes_only_the_records_older_than_the_models_retention(
    scorer: RegisteredModel, pricer: RegisteredModel
) -> None:
    ServingSettings.objects.create(model=scorer, retention_days=7)
    ServingSettings.objects.create(model=pricer, retention_days=30)
    old_scores = log(scorer, days_ago=8, count=3)
    recent_scores = log(scorer, days_ago=6, count=2)
    log(pricer, days_ago=8, count=4)  # inside the pricer's 30 days
    log(pricer, days_ago=31, count=1)

    deleted = retention.apply_retention(NOW)

    assert deleted == {scorer.pk: 3, pricer.pk: 1}
    assert not PredictionRecord.objects.filter(request_id__in=old_scores).exists()
    assert set(
        PredictionRecord.objects.filter(model=scorer).values_list("request_id", flat=True)
    ) == set(recent_scores)
    assert kept(pricer) == 4


def test_a_model_without_settings_keeps_90_days(scorer: RegisteredModel) -> None:
    log(scorer, days_ago=89, count=2)
    log(scorer, days_ago=91, count=5)

    assert retention.apply_retention(NOW) == {scorer.pk: 5}
    assert kept(scorer) == 2


def test_an_empty_retention_keeps_everything(scorer: RegisteredModel) -> None:
    ServingSettings.objects.create(model=scorer, retention_days=None)
    log(scorer, days_ago=3_000, count=2)

    assert retention.apply_retention(NOW) == {}
    assert kept(scorer) == 2


def test_it_deletes_in_batches_of_ids(scorer: RegisteredModel) -> None:
    ServingSettings.objects.create(model=scorer, retention_days=1)
    log(scorer, days_ago=2, count=25)
    log(scorer, days_ago=0.5, count=3)

    with CaptureQueriesContext(connection) as queries:
        deleted = retention.apply_retention(NOW, batch_size=10)

    assert deleted == {scorer.pk: 25}
    assert kept(scorer) == 3
    deletes = [query["sql"] for query in queries if query["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 10 + 10 + 5, each its own statement


def test_the_hourly_rollups_are_kept(scorer: RegisteredModel) -> None:
    ServingSettings.objects.create(model=scorer, retention_days=1)
    log(scorer, days_ago=10)
    version = ModelVersion.objects.get(model=scorer)
    PredictionRollup.objects.create(
        model=scorer, model_version=version, hour=NOW - dt.timedelta(days=10), requests=1
    )

    retention.apply_retention(NOW)

    assert kept(scorer) == 0
    assert PredictionRollup.objects.filter(model=scorer).count() == 1


def test_the_settings_default_to_90_days_without_being_saved(scorer: RegisteredModel) -> None:
    found = retention.settings_of(scorer)

    assert found.retention_days == 90
    assert found.pk is None

    saved: Any = retention.save_retention(scorer, 14)
    assert retention.settings_of(scorer).retention_days == 14
    assert ServingSettings.objects.get().pk == saved.pk
