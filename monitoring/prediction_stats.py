"""The read side of the prediction rollups: time series, window summaries and the health of
many models, each from ONE query over `PredictionRollup` (never the prediction log), and the
compaction that merges an hour's partials into one row.

Rollups are hourly, so every window here is read at hour granularity: an hour counts when it
overlaps the window (its start is in [hour of `since`, `until`)). Days are UTC days, like the
hours. The figures are :func:`monitoring.rollups.summary` dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from lineage.models import ModelVersion, RegisteredModel
from monitoring import rollups
from monitoring.models import PredictionRollup

__all__ = [
    "BUCKETS",
    "compact_rollups",
    "health",
    "series",
    "series_with_total",
    "window_summary",
]

BUCKETS: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
_COUNTS = ("requests", "errors", "labelled", "stats")


@dataclass
class _Totals:
    """The partials of one bucket (or window), summed as they arrive."""

    requests: int = 0
    errors: int = 0
    labelled: int = 0
    stats: list[Mapping[str, Any]] = field(default_factory=list)

    def add(self, row: Mapping[str, Any]) -> None:
        self.requests += row["requests"]
        self.errors += row["errors"]
        self.labelled += row["labelled"]
        if row["stats"]:
            self.stats.append(row["stats"])

    def summary(self, task: str) -> dict[str, Any]:
        return rollups.summary(
            rollups.merge(self.stats),
            requests=self.requests,
            errors=self.errors,
            labelled=self.labelled,
            task=task,
        )


def series(
    model: RegisteredModel,
    start: datetime,
    end: datetime,
    *,
    bucket: str = "hour",
    version: ModelVersion | None = None,
) -> list[dict[str, Any]]:
    """One item per bucket from `start` (floored to its bucket) up to `end`, empty buckets
    included: {"start", "summary", "by_version": {version number: requests}}."""
    return series_with_total(model, start, end, bucket=bucket, version=version)[0]


def series_with_total(
    model: RegisteredModel,
    start: datetime,
    end: datetime,
    *,
    bucket: str = "hour",
    version: ModelVersion | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """`series` and the summary of its whole range, from the same single query (a
    dashboard needs both)."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}, not {bucket!r}")
    first = _bucket_start(start, bucket)
    rows = _rollups([model.pk], first, end, version).values(
        "model_version__version", "hour", *_COUNTS
    )
    totals: dict[datetime, _Totals] = {}
    overall = _Totals()
    by_version: dict[datetime, dict[int, int]] = {}
    for row in rows:
        key = _bucket_start(row["hour"], bucket)
        totals.setdefault(key, _Totals()).add(row)
        overall.add(row)
        if row["requests"]:
            counts = by_version.setdefault(key, {})
            number = row["model_version__version"]
            counts[number] = counts.get(number, 0) + row["requests"]
    items = []
    current = first
    while current < end:
        items.append(
            {
                "start": current,
                "summary": totals.get(current, _Totals()).summary(model.task),
                "by_version": dict(sorted(by_version.get(current, {}).items())),
            }
        )
        current += BUCKETS[bucket]
    return items, overall.summary(model.task)


def window_summary(
    model: RegisteredModel,
    since: datetime,
    until: datetime | None = None,
    version: ModelVersion | None = None,
) -> dict[str, Any]:
    """The figures of the hours overlapping [since, until) (until: no end)."""
    totals = _Totals()
    for row in _rollups([model.pk], rollups.hour_of(since), until, version).values(*_COUNTS):
        totals.add(row)
    return totals.summary(model.task)


def health(models: Iterable[RegisteredModel], since: datetime) -> dict[int, dict[str, Any]]:
    """The figures of every model since `since` (the hour holding it), in one query; models
    without predictions get an empty summary."""
    task_of = {model.pk: model.task for model in models}
    if not task_of:
        return {}
    totals = {model_id: _Totals() for model_id in task_of}
    for row in _rollups(list(task_of), rollups.hour_of(since), None, None).values(
        "model_id", *_COUNTS
    ):
        totals[row["model_id"]].add(row)
    return {model_id: totals[model_id].summary(task) for model_id, task in task_of.items()}


def compact_rollups(before: datetime | None = None) -> int:
    """Merge the partials of each (model version, hour) before `before` (default: the current
    hour, which is still being written) into one row; return the number of rows removed.

    Steps, for each hour with more than one partial, in a transaction of its own:
    1. lock its partials (select_for_update) and read them;
    2. write their sum into the oldest and delete the others, by id, so a partial appended
       meanwhile (a late record, a label) is left for the next run.
    """
    cutoff = before if before is not None else rollups.hour_of(timezone.now())
    groups = list(
        PredictionRollup.objects.filter(hour__lt=cutoff)
        .order_by()
        .values("model_version_id", "hour")
        .annotate(parts=Count("pk"))
        .filter(parts__gt=1)
    )
    removed = 0
    for group in groups:
        with transaction.atomic():
            parts = list(
                PredictionRollup.objects.select_for_update()
                .filter(model_version_id=group["model_version_id"], hour=group["hour"])
                .order_by("pk")
            )
            if len(parts) < 2:
                continue  # another compaction got there first
            kept, *merged = parts
            kept.requests = sum(part.requests for part in parts)
            kept.errors = sum(part.errors for part in parts)
            kept.labelled = sum(part.labelled for part in parts)
            kept.stats = rollups.merge(part.stats for part in parts)
            kept.save(update_fields=["requests", "errors", "labelled", "stats"])
            PredictionRollup.objects.filter(pk__in=[part.pk for part in merged]).delete()
            removed += len(merged)
    return removed


def _rollups(
    model_ids: list[int],
    since: datetime,
    until: datetime | None,
    version: ModelVersion | None,
) -> QuerySet[PredictionRollup]:
    queryset = PredictionRollup.objects.filter(hour__gte=since).order_by()
    queryset = (
        queryset.filter(model_id=model_ids[0])
        if len(model_ids) == 1
        else queryset.filter(model_id__in=model_ids)
    )
    if until is not None:
        queryset = queryset.filter(hour__lt=until)
    if version is not None:
        queryset = queryset.filter(model_version=version)
    return queryset


def _bucket_start(ts: datetime, bucket: str) -> datetime:
    hour = rollups.hour_of(ts).astimezone(UTC)
    return hour.replace(hour=0) if bucket == "day" else hour
