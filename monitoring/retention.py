"""How long the prediction log is kept: each model's retention setting and the scheduled
deletion of older records. The hourly rollups stay (aggregates without inputs), so the
dashboards keep their history after the log is gone."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from lineage.models import RegisteredModel
from monitoring.models import PredictionRecord, ServingSettings

DEFAULT_RETENTION_DAYS = 90
DELETE_BATCH = 10_000


def settings_of(model: RegisteredModel) -> ServingSettings:
    """The model's serving settings; the defaults, unsaved, when it has none yet."""
    found = ServingSettings.objects.filter(model=model).first()
    return found if found is not None else ServingSettings(model=model)


def save_retention(model: RegisteredModel, retention_days: int | None) -> ServingSettings:
    saved, _ = ServingSettings.objects.update_or_create(
        model=model, defaults={"retention_days": retention_days}
    )
    return saved


def apply_retention(
    now: dt.datetime | None = None, *, batch_size: int = DELETE_BATCH
) -> dict[int, int]:
    """Delete each model's logged predictions older than its retention (90 days without
    settings; never when its setting is empty); return the rows deleted by model id, for
    the models that lost any.

    Deletes by batches of ids, each its own statement and (outside a transaction) its own
    commit: PostgreSQL never holds millions of deleted rows in one transaction, and an
    interrupted run resumes where it stopped on the next day.
    """
    now = now or timezone.now()
    deleted: dict[int, int] = {}
    models = RegisteredModel.objects.values_list(
        "pk", "serving_settings__pk", "serving_settings__retention_days"
    )
    for model_id, settings_id, days in models:
        if settings_id is None:
            days = DEFAULT_RETENTION_DAYS
        if days is None:
            continue
        count = _delete_before(model_id, now - dt.timedelta(days=days), batch_size)
        if count:
            deleted[model_id] = count
    return deleted


def _delete_before(model_id: int, cutoff: dt.datetime, batch_size: int) -> int:
    total = 0
    old = PredictionRecord.objects.filter(model_id=model_id, logged_at__lt=cutoff)
    while True:
        # Walks the (model, logged_at) index; the delete by primary keys is one statement.
        ids = list(old.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return total
        count, _ = PredictionRecord.objects.filter(pk__in=ids).delete()
        total += count
