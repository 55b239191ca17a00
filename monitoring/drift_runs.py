"""Drift analyses in the database: starting one (with every check that can be made up
front), running it as a job whose features are split across workers when the data is
large, and storing what the pages and the API read. The statistics are the plain modules
`monitoring.drift` (per feature) and `monitoring.domain` (domain classifier, predictions).

How a large analysis is shared: the job's handler splits the features into groups and
sends one `analyse_drift_chunk` task per group; each stores its raw statistics and counts
itself done with a conditional update, and the one that completes the count runs the
final step (the correction across features, the domain classifier, prediction drift, the
decision) and ends the job. More workers, more groups at once."""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from celery import shared_task
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import OperationalError, transaction
from django.db.models import F
from django.utils import timezone

from lineage import artifacts, governance, profiling
from lineage import services as catalog
from lineage.choices import (
    DataFormat,
    DriftStatus,
    JobState,
    JobType,
    NotificationKind,
    Role,
)
from lineage.models import DatasetVersion, Job, ModelVersion, RegisteredModel
from monitoring import domain, drift
from monitoring.choices import CurrentSource, RunTrigger, ScheduleKind, WindowFrequency
from monitoring.models import DriftAnalysis, DriftFeatureChunk, DriftSettings

# Above DRIFT_CHUNK_ROWS rows (both sides together) the features are shared among workers,
# DRIFT_FEATURES_PER_CHUNK to a task.
SCHEDULED_TASK = "monitoring.drift_runs.run_scheduled_drift_analysis"


@dataclass(frozen=True)
class CurrentReader:
    """Current data other than a dataset version (the prediction log registers one).

    `check(model_version, start, end)` refuses a bad request with DriftError and returns
    the effective (start, end) and the data's schema {column: portable type};
    `read(analysis, columns)` returns the data as a pyarrow Table; `time_column` is the
    column windows use by default.
    """

    check: Callable[[ModelVersion, Any, Any], tuple[Any, Any, dict[str, str]]]
    read: Callable[[DriftAnalysis, list[str]], pa.Table]
    time_column: str


CURRENT_READERS: dict[str, CurrentReader] = {}


class DriftError(ValueError):
    """A refused drift request; `field` names the part at fault, `status` the HTTP status."""

    def __init__(self, message: str, field: str = "non_field_errors", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


# Settings -----------------------------------------------------------------------------------


def settings_of(model: RegisteredModel) -> DriftSettings:
    found, _ = DriftSettings.objects.get_or_create(model=model)
    return found


def thresholds_for(
    model: RegisteredModel, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The model's thresholds (its settings over the defaults, then `overrides`), validated."""
    stored = DriftSettings.objects.filter(model=model).values_list("thresholds", flat=True).first()
    merged = {**(stored or {}), **(overrides or {})}
    try:
        return drift.DriftThresholds.from_dict(merged).as_dict()
    except drift.DriftConfigError as exc:
        raise DriftError(exc.message, f"thresholds.{exc.field}") from exc


def save_settings(
    model: RegisteredModel,
    *,
    thresholds: dict[str, Any] | None = None,
    window_column: str | None = None,
    window_frequency: str | None = None,
    schedule_kind: str | None = None,
    schedule_cron: str | None = None,
) -> DriftSettings:
    """Validate and save a model's drift settings and (re)build its schedule."""
    from monitoring.services import QualityError, schedule_entry

    with transaction.atomic():
        current = settings_of(model)
        if thresholds is not None:
            try:
                drift.DriftThresholds.from_dict(thresholds)
            except drift.DriftConfigError as exc:
                raise DriftError(exc.message, f"thresholds.{exc.field}") from exc
            current.thresholds = thresholds
        if window_frequency is not None:
            if window_frequency not in WindowFrequency.values:
                raise DriftError(
                    f"Unknown window frequency '{window_frequency}'.", "window_frequency"
                )
            current.window_frequency = window_frequency
        if window_column is not None:
            current.window_column = window_column.strip()
        if current.window_frequency and not current.window_column:
            raise DriftError("Name the timestamp column to window by.", "window_column")
        if schedule_kind is not None:
            try:
                current.periodic_task = schedule_entry(
                    current.periodic_task,
                    name=f"drift-model-{model.pk}",
                    task=SCHEDULED_TASK,
                    kwargs={"model_id": model.pk},
                    kind=schedule_kind,
                    cron=schedule_cron or "",
                )
            except QualityError as exc:
                raise DriftError(exc.message, exc.field) from exc
            current.schedule_kind = schedule_kind
            current.schedule_cron = (
                (schedule_cron or "").strip() if schedule_kind == ScheduleKind.CRON else ""
            )
        current.save()
    return current


# Starting -----------------------------------------------------------------------------------


def start_drift_analysis(
    model_version: ModelVersion,
    *,
    user: Any,
    trigger: str,
    reference_version: DatasetVersion | None = None,
    current_source: str = CurrentSource.DATASET_VERSION,
    current_version: DatasetVersion | None = None,
    current_start: Any = None,
    current_end: Any = None,
    window_column: str = "",
    window_frequency: str = "",
    thresholds: dict[str, Any] | None = None,
) -> DriftAnalysis:
    """Check what can be checked up front (every refusal names its field), then queue the
    analysis; a worker runs it once the transaction commits."""
    from lineage.tasks import dispatch

    reference_version = reference_version or model_version.training_dataset_version
    if reference_version is None:
        raise DriftError(
            f"{model_version} has no training data recorded: choose a reference version.",
            "reference_version",
        )
    _require_stored(reference_version, "reference_version")
    if current_source == CurrentSource.DATASET_VERSION:
        if current_version is None:
            raise DriftError("Choose the dataset version to compare.", "current_version")
        _require_stored(current_version, "current_version")
        current_schema = {column["name"]: column["type"] for column in current_version.schema}
    elif current_source in CURRENT_READERS:
        reader = CURRENT_READERS[current_source]
        current_start, current_end, current_schema = reader.check(
            model_version, current_start, current_end
        )
        if window_frequency and not window_column:
            window_column = reader.time_column
    else:
        raise DriftError(
            "This portal has no log of production inputs for this model yet: compare a "
            "dataset version instead.",
            "current_source",
        )
    effective = thresholds_for(model_version.model, thresholds)
    if window_frequency and window_frequency not in WindowFrequency.values:
        raise DriftError(f"Unknown window frequency '{window_frequency}'.", "window_frequency")
    if window_frequency and not window_column:
        raise DriftError("Name the timestamp column to window by.", "window_column")
    if window_column and not window_frequency:
        raise DriftError("Choose hourly, daily or weekly windows.", "window_frequency")
    if window_column and current_schema is not None:
        kind = current_schema.get(window_column)
        if kind is None:
            raise DriftError(f"The current data has no column '{window_column}'.", "window_column")
        if kind not in ("datetime", "date"):
            raise DriftError(
                f"'{window_column}' holds {kind} values, not timestamps: windows need a "
                "date or time column.",
                "window_column",
            )
    features = model_features(model_version, reference_version)
    if current_schema is not None and not set(features) & set(current_schema):
        raise DriftError(
            f"{current_version or 'The current data'} has none of the model's features "
            f"({', '.join(features[:8])}{'…' if len(features) > 8 else ''}).",
            "current_version",
        )
    with transaction.atomic():
        analysis = DriftAnalysis.objects.create(
            model_version=model_version,
            reference_version=reference_version,
            current_source=current_source,
            current_version=current_version,
            current_start=current_start,
            current_end=current_end,
            window_column=window_column,
            window_frequency=window_frequency,
            thresholds=effective,
            trigger=trigger,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        job = Job.objects.create(
            job_type=JobType.RUN_DRIFT_ANALYSIS,
            project_id=model_version.model.project_id,
            target_type=ContentType.objects.get_for_model(DriftAnalysis),
            target_id=analysis.pk,
            created_by=analysis.created_by,
        )
        transaction.on_commit(lambda: dispatch(job.pk))
    analysis.job = job  # type: ignore[attr-defined]
    return analysis


def _require_stored(version: DatasetVersion, field: str) -> None:
    if version.format == DataFormat.EXTERNAL:
        raise DriftError(
            f"{version} references data stored elsewhere: only stored versions can be compared.",
            field,
        )
    if version.destroyed_at:
        raise DriftError(f"The data of {version} was destroyed: it cannot be compared.", field)


def model_features(
    model_version: ModelVersion, reference: DatasetVersion | None = None
) -> list[str]:
    """The model's input features (its signature), else the reference's columns but the
    target."""
    names = [feature["name"] for feature in model_version.signature or [] if feature.get("name")]
    if names:
        return names
    reference = reference or model_version.training_dataset_version
    columns = [column["name"] for column in (reference.schema if reference else [])]
    return [name for name in columns if name != model_version.target_column]


def job_of(analysis: DriftAnalysis) -> Job | None:
    return Job.objects.for_target(analysis).first()


# Running ------------------------------------------------------------------------------------


def execute_drift_analysis(job: Job) -> str | None:
    """The job's handler: split the features into groups and analyse them, here for small
    inputs or on other workers for large ones (then the job ends with the last group)."""
    from lineage.tasks import DEFERRED

    analysis = _load(job.target_id)
    features = model_features(analysis.model_version, analysis.reference_version)
    rows = (analysis.reference_version.row_count or 0) + (
        analysis.current_version.row_count if analysis.current_version else 0
    ) or 0
    size = (
        settings.DRIFT_FEATURES_PER_CHUNK
        if rows > settings.DRIFT_CHUNK_ROWS
        else max(len(features), 1)
    )
    groups = [features[start : start + size] for start in range(0, len(features), size)] or [[]]
    with transaction.atomic():
        DriftFeatureChunk.objects.filter(analysis=analysis).delete()
        DriftAnalysis.objects.filter(pk=analysis.pk).update(
            state=JobState.RUNNING,
            error="",
            chunks_total=len(groups),
            chunks_done=0,
            result=None,
        )
    job.set_progress(5)
    if len(groups) == 1:
        _analyse_chunk(analysis, 0, groups[0])
        _count_chunk(analysis.pk, 0)
        _finish(analysis.pk, job)
        return None
    for index, group in enumerate(groups):
        transaction.on_commit(
            lambda index=index, group=group: _send_chunk(analysis.pk, index, group)
        )
    return DEFERRED


def _send_chunk(analysis_id: int, index: int, features: list[str]) -> None:
    from kombu.exceptions import OperationalError as BrokerError

    try:
        analyse_drift_chunk.delay(analysis_id, index, features)
    except BrokerError:
        # No broker: do the group here rather than leave the analysis hanging.
        analyse_drift_chunk(analysis_id, index, features)


@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=True, retry_jitter=True, max_retries=5
)
def analyse_drift_chunk(analysis_id: int, index: int, features: list[str]) -> None:
    """One group of features. Safe to deliver again: a stored group is not recomputed, a
    group is counted once, and whichever delivery sees every group counted runs the final
    step, whose outcome is written once (see `_finish`)."""
    from lineage.tasks import USER_FACING_ERRORS, fail_job

    analysis = DriftAnalysis.objects.filter(pk=analysis_id, state=JobState.RUNNING).first()
    if analysis is None:
        return  # gone, failed meanwhile, or already finished
    job = job_of(analysis)
    try:
        if not DriftFeatureChunk.objects.filter(analysis=analysis, index=index).exists():
            _analyse_chunk(_load(analysis_id), index, features)
        _count_chunk(analysis_id, index)
        analysis.refresh_from_db(fields=["chunks_done", "chunks_total", "state"])
        if job is not None:
            job.set_progress(5 + 75 * analysis.chunks_done / max(analysis.chunks_total, 1))
        if analysis.state == JobState.RUNNING and analysis.chunks_done >= analysis.chunks_total:
            _finish(analysis_id, job)
    except USER_FACING_ERRORS as exc:
        if job is not None:
            fail_job(job, str(exc))
    except OperationalError:
        raise
    except Exception as exc:  # a crashed group must not leave the job running forever
        if job is not None:
            fail_job(job, f"Unexpected error ({type(exc).__name__}): {exc}")


def _count_chunk(analysis_id: int, index: int) -> None:
    with transaction.atomic():
        if DriftFeatureChunk.objects.filter(
            analysis_id=analysis_id, index=index, counted=False
        ).update(counted=True):
            DriftAnalysis.objects.filter(pk=analysis_id).update(chunks_done=F("chunks_done") + 1)


def _load(analysis_id: int) -> DriftAnalysis:
    return DriftAnalysis.objects.select_related(
        "model_version__model__project",
        "reference_version__dataset",
        "current_version__dataset",
    ).get(pk=analysis_id)


def _thresholds(analysis: DriftAnalysis) -> drift.DriftThresholds:
    return drift.DriftThresholds.from_dict(analysis.thresholds)


def _analyse_chunk(analysis: DriftAnalysis, index: int, features: list[str]) -> None:
    """Raw statistics of a group of features over the whole period and per window."""
    thresholds = _thresholds(analysis)
    reference = read_reference(analysis, features)
    extra = [analysis.window_column] if analysis.window_column else []
    current = read_current(analysis, features + extra)
    # Each reference column is sorted once, then compared with the whole and every window.
    reference_cache: dict[str, Any] = {}
    statistics = drift.feature_statistics(
        reference, current, features, thresholds, reference_cache=reference_cache
    )
    windows = []
    if analysis.window_column and analysis.window_frequency:
        for label, start, end, indices in drift.split_windows(
            current, analysis.window_column, analysis.window_frequency
        ):
            in_window = current.take(pa.array(indices, type=pa.int64()))
            windows.append(
                {
                    "label": label,
                    "start": start,
                    "end": end,
                    "current_rows": len(indices),
                    "features": drift.feature_statistics(
                        reference, in_window, features, thresholds, reference_cache=reference_cache
                    )
                    if len(indices)
                    else [],
                }
            )
    DriftFeatureChunk.objects.update_or_create(
        analysis=analysis,
        index=index,
        defaults={
            "features": features,
            "result": _json_safe(
                {
                    "features": statistics,
                    "windows": windows,
                    "reference_rows": reference.num_rows,
                    "current_rows": current.num_rows,
                }
            ),
        },
    )


def _finish(analysis_id: int, job: Job | None) -> None:
    """The final step: the correction across all features, the domain classifier,
    prediction drift, windows, the decision; then the model version's drift status, a
    notification when drifted, and (when the groups ran as tasks) the end of the job."""
    started = time.perf_counter()
    analysis = _load(analysis_id)
    thresholds = _thresholds(analysis)
    chunks = list(analysis.chunks.order_by("index"))
    statistics = [feature for chunk in chunks for feature in chunk.result.get("features", [])]
    features = drift.decide(statistics, thresholds)
    analysed = [feature["name"] for feature in features if feature.get("status") == "ok"]
    messages = [feature["message"] for feature in features if feature.get("message")]
    if not analysed:
        messages.insert(0, "Reference and current data have no feature in common to compare.")
    if job is not None:
        job.set_progress(82)
    reference = read_reference(analysis, analysed)
    extra = [analysis.window_column] if analysis.window_column else []
    current = read_current(analysis, analysed + extra)
    domain_result = None
    if analysed:
        domain_result = domain.domain_classifier(
            reference.select(analysed), current.select(analysed), analysed, thresholds=thresholds
        )
    if job is not None:
        job.set_progress(92)
    prediction, confidence_by_row = _prediction_drift(analysis, reference, current, thresholds)
    windows = _merge_windows(chunks, thresholds, current, analysis, confidence_by_row)
    summary = drift.summarise(features, domain_result, thresholds)
    if prediction and prediction.get("drifted"):
        summary["drifted"] = True
        summary.setdefault("reasons", []).append("The model's predictions drifted.")
    result = _json_safe(
        {
            "features": features,
            "domain_classifier": domain_result,
            "prediction": prediction,
            "windows": windows,
            "summary": summary,
            "messages": messages,
            "rows": {
                "reference": chunks[0].result.get("reference_rows") if chunks else None,
                "current": chunks[0].result.get("current_rows") if chunks else None,
            },
            "thresholds": thresholds.as_dict(),
        }
    )
    elapsed = time.perf_counter() - started
    with transaction.atomic():
        # Written once: two deliveries that both saw every group done may both get here;
        # only the first records the outcome, notifies and ends the job.
        won = DriftAnalysis.objects.filter(pk=analysis.pk, state=JobState.RUNNING).update(
            state=JobState.SUCCEEDED,
            drifted=bool(summary.get("drifted")),
            drift_share=summary.get("drift_share"),
            score=summary.get("score"),
            domain_auc=(domain_result or {}).get("auc"),
            domain_auc_low=(domain_result or {}).get("auc_low"),
            domain_auc_high=(domain_result or {}).get("auc_high"),
            domain_p_value=(domain_result or {}).get("p_value"),
            reference_rows=result["rows"]["reference"],
            current_rows=result["rows"]["current"],
            duration_seconds=elapsed,
            finished_at=timezone.now(),
            result=result,
        )
        if not won:
            return
        refresh_drift_status(analysis.model_version_id)
        if summary.get("drifted"):
            analysis.refresh_from_db()
            _notify_drift(analysis, summary)
    if job is not None and analysis.chunks_total > 1:
        # Groups ran as tasks: the handler returned DEFERRED, so the job ends here.
        job.succeed()


def _prediction_drift(
    analysis: DriftAnalysis,
    reference: pa.Table,
    current: pa.Table,
    thresholds: drift.DriftThresholds,
) -> tuple[dict[str, Any] | None, dict[int, float] | None]:
    """Score samples of both sides with the model version, when its artifact loads."""
    version = analysis.model_version
    features = [feature["name"] for feature in version.signature or []]
    if not version.artifact or not features:
        return None, None
    missing = [name for name in features if name not in current.column_names]
    if missing or any(name not in reference.column_names for name in features):
        return {
            "drifted": False,
            "message": "Predictions were not compared: the data lacks model features "
            f"({', '.join(missing[:5])}).",
        }, None
    try:
        with version.artifact.open("rb") as handle:
            estimator = artifacts.load_estimator(handle, extra_trusted=settings.MODEL_TRUSTED_TYPES)
    except (artifacts.ArtifactError, OSError) as exc:
        return {"drifted": False, "message": f"Predictions were not compared: {exc}"}, None
    rng = np.random.default_rng(0)
    limit = thresholds.classifier_rows
    reference_rows = _sample(rng, reference.num_rows, limit)
    current_rows = _sample(rng, current.num_rows, limit)
    try:
        reference_predictions, reference_confidence = _score(
            estimator, reference.take(pa.array(reference_rows)), features
        )
        current_predictions, current_confidence = _score(
            estimator, current.take(pa.array(current_rows)), features
        )
    except Exception as exc:  # the model refusing the data is a finding, not a crash
        return {
            "drifted": False,
            "message": f"The model could not score the data ({type(exc).__name__}: {exc}).",
        }, None
    result = domain.prediction_drift(
        reference_predictions,
        current_predictions,
        reference_confidence,
        current_confidence,
        task=version.model.task,
        thresholds=thresholds,
    )
    confidence_by_row = (
        dict(zip(current_rows.tolist(), current_confidence.tolist(), strict=True))
        if current_confidence is not None
        else None
    )
    return result, confidence_by_row


def _sample(rng: np.random.Generator, rows: int, limit: int) -> np.ndarray:
    if rows <= limit:
        return np.arange(rows)
    return np.sort(rng.choice(rows, size=limit, replace=False))


def _score(
    estimator: Any, table: pa.Table, features: list[str]
) -> tuple[np.ndarray, np.ndarray | None]:
    frame = table.select(features).to_pandas()
    predictions = np.asarray(estimator.predict(frame))
    confidence = None
    if hasattr(estimator, "predict_proba"):
        confidence = np.asarray(estimator.predict_proba(frame)).max(axis=1)
    return predictions, confidence


def _merge_windows(
    chunks: Sequence[DriftFeatureChunk],
    thresholds: drift.DriftThresholds,
    current: pa.Table,
    analysis: DriftAnalysis,
    confidence_by_row: dict[int, float] | None,
) -> list[dict[str, Any]]:
    """Each window's features from every group, corrected together, with its share of
    drifted features and (when predictions were scored) its mean confidence."""
    if not chunks or not chunks[0].result.get("windows"):
        return []
    confidence_windows: dict[str, list[float]] = {}
    if confidence_by_row:
        for label, _start, _end, indices in drift.split_windows(
            current, analysis.window_column, analysis.window_frequency
        ):
            confidence_windows[label] = [
                confidence_by_row[row] for row in indices.tolist() if row in confidence_by_row
            ]
    merged = []
    for position, first in enumerate(chunks[0].result["windows"]):
        statistics = [
            feature
            for chunk in chunks
            for feature in (chunk.result["windows"][position]["features"] or [])
        ]
        decided = drift.decide(statistics, thresholds) if statistics else []
        ok = [feature for feature in decided if feature.get("status") == "ok"]
        drifted = [feature for feature in decided if feature.get("drifted")]
        confidences = confidence_windows.get(first["label"]) or []
        merged.append(
            {
                "label": first["label"],
                "start": first["start"],
                "end": first["end"],
                "current_rows": first["current_rows"],
                "features": [
                    {
                        "name": feature["name"],
                        "effect_size": feature.get("effect_size"),
                        "effect_threshold": feature.get("effect_threshold"),
                        "drifted": bool(feature.get("drifted")),
                        "p_value_adjusted": feature.get("p_value_adjusted"),
                    }
                    for feature in decided
                ],
                "drift_share": len(drifted) / len(ok) if ok else None,
                "drifted": bool(drifted),
                "confidence_mean": float(np.mean(confidences)) if confidences else None,
                "message": "" if first["current_rows"] else "No rows in this window.",
            }
        )
    return merged


def mark_drift_analysis_failed(job: Job, error: str) -> None:
    DriftAnalysis.objects.filter(pk=job.target_id).update(
        state=JobState.FAILED, error=error, finished_at=timezone.now()
    )


def mark_drift_analysis_queued(job: Job) -> None:
    DriftAnalysis.objects.filter(pk=job.target_id).update(
        state=JobState.QUEUED, error="", finished_at=None, chunks_done=0
    )


def refresh_drift_status(model_version_id: int) -> str:
    """A model version's drift status: the decision of its latest finished analysis."""
    latest = (
        DriftAnalysis.objects.filter(model_version_id=model_version_id, state=JobState.SUCCEEDED)
        .order_by("-created_at", "-pk")
        .values("drifted", "finished_at")
        .first()
    )
    if latest is None:
        status, checked = DriftStatus.NOT_ANALYSED, None
    else:
        status = DriftStatus.DRIFTED if latest["drifted"] else DriftStatus.NOT_DRIFTED
        checked = latest["finished_at"]
    ModelVersion.objects.filter(pk=model_version_id).update(
        drift_status=status, drift_checked_at=checked
    )
    return str(status)


def _notify_drift(analysis: DriftAnalysis, summary: dict[str, Any]) -> None:
    version = analysis.model_version
    project = version.model.project
    people = governance.project_people(project, (Role.CONTRIBUTOR, Role.REVIEWER, Role.ADMIN))
    if version.model.owner is not None:
        people.append(version.model.owner)
    drifted = summary.get("drifted_features") or []
    detail = (
        f"Drifted features: {', '.join(drifted[:5])}{'…' if len(drifted) > 5 else ''}."
        if drifted
        else "; ".join(summary.get("reasons") or [])
    )
    governance.notify(
        people,
        project,
        NotificationKind.DRIFT_DETECTED,
        f"{version}: {analysis.current_label} drifted from {analysis.reference_version}. {detail}",
        analysis.get_absolute_url(),
    )


# Reading ------------------------------------------------------------------------------------


def read_reference(analysis: DriftAnalysis, columns: list[str]) -> pa.Table:
    return _read_version(analysis.reference_version, columns, "reference")


def read_current(analysis: DriftAnalysis, columns: list[str]) -> pa.Table:
    if analysis.current_source == CurrentSource.DATASET_VERSION:
        return _read_version(analysis.current_version, columns, "current")
    reader = CURRENT_READERS.get(analysis.current_source)
    if reader is None:
        raise profiling.DataFileError("There is no log of production inputs to read.")
    return reader.read(analysis, columns)


def _read_version(version: DatasetVersion | None, columns: list[str], side: str) -> pa.Table:
    """The columns of a stored version that exist in it (absent ones are the engine's to
    report)."""
    if version is None:
        raise profiling.DataFileError(f"The {side} dataset version no longer exists.")
    table = catalog.read_version_table(version)
    return table.select([name for name in dict.fromkeys(columns) if name in table.column_names])


def _json_safe(value: Any) -> Any:
    """Plain JSON values: numpy scalars and arrays as Python ones, NaN and infinities as
    None, timestamps as ISO text (the engine's results already are; this is the guard)."""
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, np.ndarray):
        return [_json_safe(item) for item in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, str):
        return value
    return str(value)


# Schedules ----------------------------------------------------------------------------------


@shared_task
def run_scheduled_drift_analysis(model_id: int) -> int | None:
    """Beat: compare the production version's training data with the inputs logged in
    production over the last schedule period (a day; an hour when hourly), or, when none
    were logged, with the newest stored version of the training dataset."""
    model = RegisteredModel.objects.filter(pk=model_id).first()
    if model is None:
        return None
    version = (
        model.versions.filter(stage="production").order_by("-version").first()
        or model.versions.order_by("-version").first()
    )
    if version is None or version.training_dataset_version is None:
        return None
    current_settings = settings_of(model)
    end = timezone.now()
    span = dt.timedelta(hours=1 if current_settings.schedule_kind == ScheduleKind.HOURLY else 24)
    try:
        analysis = start_drift_analysis(
            version,
            user=None,
            trigger=RunTrigger.SCHEDULE,
            current_source=CurrentSource.PREDICTIONS,
            current_start=end - span,
            current_end=end,
            window_frequency=WindowFrequency.HOUR,
        )
        return analysis.pk
    except DriftError:
        pass  # nothing logged in the period: fall back on the dataset
    newest = (
        version.training_dataset_version.dataset.versions.exclude(file="")
        .filter(destroyed_at__isnull=True)
        .order_by("-version")
        .first()
    )
    if newest is None:
        return None
    try:
        analysis = start_drift_analysis(
            version,
            user=None,
            trigger=RunTrigger.SCHEDULE,
            current_version=newest,
            window_column=current_settings.window_column,
            window_frequency=current_settings.window_frequency,
        )
    except DriftError:
        return None
    return analysis.pk


# What a viewer may read --------------------------------------------------------------------

# Keys of a feature's result that quote data values (categories, extremes, histograms, and
# the sentences that name them).
VALUE_KEYS = (
    "histogram",
    "new_categories",
    "vanished_categories",
    "reference_summary",
    "current_summary",
    "reasons",
    "message",
)


def _masked_feature(feature: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in feature.items() if key not in VALUE_KEYS}
    verdict = "Drifted" if feature.get("drifted") else "Not drifted"
    note = (
        f"{verdict}; this column holds PII, so its values and the reasons quoting them are hidden."
    )
    return {**kept, "masked": True, "reasons": [note], "message": ""}


def visible_result(analysis: DriftAnalysis, user: Any) -> dict[str, Any]:
    """The stored result as this user may read it: PII columns (of either side) without
    their values unless the user may see PII."""
    from lineage.permissions import may_see_pii, pii_columns

    result = analysis.result or {}
    hidden: set[str] = set()
    everything = False
    for version in (analysis.reference_version, analysis.current_version):
        if version is None or may_see_pii(user, version.dataset.project):
            continue
        columns = pii_columns(version.dataset)
        if columns is None:
            everything = True
        else:
            hidden |= columns
    if not everything and not hidden:
        return result

    def is_hidden(name: str) -> bool:
        return everything or name in hidden

    masked = dict(result)
    masked["features"] = [
        _masked_feature(feature) if is_hidden(feature.get("name", "")) else feature
        for feature in result.get("features") or []
    ]
    quoting = {
        feature.get("message")
        for feature in result.get("features") or []
        if is_hidden(feature.get("name", "")) and feature.get("message")
    }
    masked["messages"] = [text for text in result.get("messages") or [] if text not in quoting]
    domain_result = result.get("domain_classifier")
    if domain_result and domain_result.get("most_unlike"):
        masked["domain_classifier"] = {
            **domain_result,
            "most_unlike": [
                {
                    **row,
                    "values": {
                        column: ("•••• (PII)" if is_hidden(column) else value)
                        for column, value in (row.get("values") or {}).items()
                    },
                }
                for row in domain_result["most_unlike"]
            ],
        }
    return masked
