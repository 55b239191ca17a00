"""Writing the prediction log: batches of records stored once each (the request UUID is
unique, and a record already stored is skipped, not counted, not aggregated twice), their
hourly aggregates appended in the same transaction, and ground truth joined later."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from lineage.models import ModelVersion, RegisteredModel
from monitoring import rollups, serving
from monitoring.models import PredictionRecord, PredictionRollup

COLUMNS = (
    "request_id",
    "model_id",
    "model_version_id",
    "logged_at",
    "source",
    "inputs",
    "prediction",
    "probabilities",
    "confidence",
    "latency_ms",
    "label",
    "labelled_at",
)
JSON_COLUMNS = frozenset({"inputs", "prediction", "probabilities", "label"})
# SQLite takes at most 32,766 parameters a statement.
SQLITE_ROWS_PER_INSERT = 32_000 // len(COLUMNS)


def store_predictions(rows: Sequence[dict[str, Any]]) -> list[uuid.UUID]:
    """Store the records whose request UUID is new; return those UUIDs.

    Rows carry the keys of `COLUMNS` (label and labelled_at optional). Rows of a model
    version deleted meanwhile are dropped with it. The aggregates of the new rows are
    appended in the same transaction, so a retried batch changes nothing.
    """
    if not rows:
        return []
    live_versions = _tasks_of(rows)
    # The first of a UUID sent twice in one batch is the one kept.
    unique: dict[uuid.UUID, dict[str, Any]] = {}
    for row in rows:
        if row["model_version_id"] in live_versions:
            unique.setdefault(_as_uuid(row["request_id"]), row)
    rows = list(unique.values())
    with transaction.atomic():
        if connection.vendor == "postgresql":
            new_ids = _insert_postgresql(rows)
        else:
            new_ids = _insert_portable(rows)
        new_rows = [row for row in rows if _as_uuid(row["request_id"]) in new_ids]
        _append_rollups(
            new_rows, live_versions, lambda rows, task: rollups.partials(rows, task=task)
        )
    return [_as_uuid(row["request_id"]) for row in new_rows]


def store_errors(rows: Sequence[dict[str, Any]]) -> None:
    """Count requests that could not be scored (refused records, model failures), for the
    error rate: rows of {model_version_id, logged_at}."""
    if not rows:
        return
    tasks = _tasks_of(rows)
    rows = [row for row in rows if row["model_version_id"] in tasks]
    with transaction.atomic():
        _append_rollups(rows, tasks, lambda rows, task: rollups.error_partials(rows))


def _tasks_of(rows: Sequence[dict[str, Any]]) -> dict[int, str]:
    """The task of each (still existing) model version the rows name."""
    return dict(
        ModelVersion.objects.filter(pk__in={row["model_version_id"] for row in rows}).values_list(
            "pk", "model__task"
        )
    )


def _append_rollups(rows: Sequence[dict[str, Any]], tasks: dict[int, str], aggregate: Any) -> None:
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_task[tasks[row["model_version_id"]]].append(row)
    model_of = {row["model_version_id"]: row["model_id"] for row in rows}
    PredictionRollup.objects.bulk_create(
        [
            PredictionRollup(
                model_id=model_of[partial["model_version_id"]],
                model_version_id=partial["model_version_id"],
                hour=partial["hour"],
                requests=partial["requests"],
                errors=partial["errors"],
                labelled=partial["labelled"],
                stats=partial["stats"],
            )
            for task, task_rows in by_task.items()
            for partial in aggregate(task_rows, task)
        ]
    )


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


# One encoder for every value: `json.dumps` with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def _dump(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return _ENCODER.encode(value)
    except ValueError:
        # JSON has no NaN: a model's non-finite output is stored as null, not refused.
        return _ENCODER.encode(_finite(value))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


POSTGRESQL_TYPES = {
    "request_id": "uuid",
    "model_id": "bigint",
    "model_version_id": "bigint",
    "logged_at": "timestamptz",
    "source": "text",
    "inputs": "jsonb",
    "prediction": "jsonb",
    "probabilities": "jsonb",
    "confidence": "float8",
    "latency_ms": "float8",
    "label": "jsonb",
    "labelled_at": "timestamptz",
}


def _insert_postgresql(rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """COPY the batch into a session's temporary table (emptied at commit), then one
    INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING: the fastest way in."""
    table = PredictionRecord._meta.db_table
    columns = ", ".join(COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS prediction_batch ("
            + ", ".join(f"{column} {POSTGRESQL_TYPES[column]}" for column in COLUMNS)
            + ") ON COMMIT DELETE ROWS"
        )
        with cursor.cursor.copy(f"COPY prediction_batch ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        _dump(row.get(column)) if column in JSON_COLUMNS else row.get(column)
                        for column in COLUMNS
                    ]
                )
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM prediction_batch "
            "ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
        )
        found = {_as_uuid(value) for (value,) in cursor.fetchall()}
        # Emptied now too, for a caller whose transaction goes on.
        cursor.execute("TRUNCATE prediction_batch")
        return found


def _insert_portable(rows: Sequence[dict[str, Any]]) -> set[uuid.UUID]:
    """Multi-row INSERT … ON CONFLICT DO NOTHING RETURNING (SQLite 3.35+), in chunks."""
    table = PredictionRecord._meta.db_table
    placeholders = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    new: set[uuid.UUID] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), SQLITE_ROWS_PER_INSERT):
            chunk = rows[start : start + SQLITE_ROWS_PER_INSERT]
            params: list[Any] = []
            for row in chunk:
                for column in COLUMNS:
                    value = row.get(column)
                    if column in JSON_COLUMNS:
                        value = _dump(value)
                    elif column == "request_id":
                        value = _as_uuid(value).hex
                    elif column in ("logged_at", "labelled_at") and value is not None:
                        value = value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(" ")
                    params.append(value)
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES "
                + ", ".join([placeholders] * len(chunk))
                + " ON CONFLICT (request_id) DO NOTHING RETURNING request_id",
                params,
            )
            new.update(_as_uuid(found) for (found,) in cursor.fetchall())
    return new


# Ground truth ------------------------------------------------------------------------------


@dataclass
class FeedbackResult:
    labelled: int = 0
    unchanged: int = 0
    # Position in the request -> why the record was refused.
    refused: dict[int, list[str]] = field(default_factory=dict)


def record_feedback(
    records: Sequence[dict[str, Any]], *, may_label: Callable[[int], bool]
) -> FeedbackResult:
    """Join true labels (or values) to logged predictions by request UUID.

    Records are {"position", "request_id", "label"}; `may_label(project_id)` says whether
    the caller may label that project's predictions. A UUID with no logged prediction is
    refused by name. Sending the same label again changes nothing; a different one
    replaces it, and the aggregates take the old one back.
    """
    result = FeedbackResult()
    if not records:
        return result
    now = timezone.now()
    wanted = {_as_uuid(record["request_id"]) for record in records}
    with transaction.atomic():
        found = PredictionRecord.objects.filter(request_id__in=wanted)
        if connection.vendor == "postgresql":
            found = found.select_for_update()
        stored = {
            row.request_id: row
            for row in found.only(
                "request_id",
                "model_id",
                "model_version_id",
                "logged_at",
                "prediction",
                "probabilities",
                "label",
                "labelled_at",
            ).iterator(chunk_size=2000)
        }
        models = {
            pk: (task, project_id, project_name)
            for pk, task, project_id, project_name in RegisteredModel.objects.filter(
                pk__in={row.model_id for row in stored.values()}
            ).values_list("pk", "task", "project_id", "project__name")
        }
        allowed = {project_id: may_label(project_id) for _, project_id, _ in models.values()}
        changed: dict[uuid.UUID, PredictionRecord] = {}
        retracted: list[dict[str, Any]] = []
        for record in records:
            request_id = _as_uuid(record["request_id"])
            row = stored.get(request_id)
            if row is None:
                result.refused[record["position"]] = [
                    f"No prediction was logged with request_id {request_id}."
                ]
                continue
            task, project_id, project_name = models[row.model_id]
            if not allowed[project_id]:
                result.refused[record["position"]] = [
                    f"You need the contributor role in project '{project_name}' to label its "
                    "predictions."
                ]
                continue
            problem = serving.check_output(record["label"], task, "label")
            if problem:
                result.refused[record["position"]] = [problem]
                continue
            if row.labelled_at is not None and row.label == record["label"]:
                result.unchanged += 1
                continue
            if row.labelled_at is not None and request_id not in changed:
                retracted.append(_label_row(row))
            row.label = record["label"]
            row.labelled_at = now
            changed[request_id] = row
        if changed:
            PredictionRecord.objects.bulk_update(
                list(changed.values()), ["label", "labelled_at"], batch_size=1000
            )
            tasks = {row.model_version_id: models[row.model_id][0] for row in (*changed.values(),)}
            _append_rollups(
                retracted,
                tasks,
                lambda rows, task: rollups.label_partials(rows, task=task, sign=-1),
            )
            _append_rollups(
                [_label_row(row) for row in changed.values()],
                tasks,
                lambda rows, task: rollups.label_partials(rows, task=task, sign=1),
            )
        result.labelled = len(changed)
    return result


def _label_row(row: PredictionRecord) -> dict[str, Any]:
    return {
        "model_id": row.model_id,
        "model_version_id": row.model_version_id,
        "logged_at": row.logged_at,
        "prediction": row.prediction,
        "probabilities": row.probabilities,
        "confidence": None,
        "latency_ms": None,
        "label": row.label,
    }
