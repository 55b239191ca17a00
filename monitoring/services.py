"""Data quality operations that touch the database: saving suites as new versions,
starting and executing runs, keeping each dataset version's quality status, scheduling,
and masking sample rows. The UI and the API both call these, so they follow one set of
rules; the checking itself is the plain-Python engine in `monitoring.quality`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from celery.schedules import crontab
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from lineage import audit, governance
from lineage import services as catalog
from lineage.choices import (
    AuditAction,
    DataFormat,
    JobState,
    JobType,
    NotificationKind,
    ProfileStatus,
    QualityStatus,
    Role,
)
from lineage.models import Dataset, DatasetVersion, Job
from lineage.permissions import pii_columns
from monitoring import checks, quality, suggest
from monitoring.choices import CheckOutcome, RunTrigger, ScheduleKind, Severity
from monitoring.models import QualityCheckResult, QualityRun, QualitySuite, QualitySuiteVersion

MASK = "•••• (PII)"
SCHEDULED_TASK = "monitoring.tasks.run_scheduled_quality_suite"


class QualityError(ValueError):
    """A refused quality operation; `field` names the part of the request at fault and
    `status` the HTTP status that fits."""

    def __init__(self, message: str, field: str = "non_field_errors", status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


# Suites -------------------------------------------------------------------------------------


def validate_checks(raw_checks: Any) -> list[dict[str, Any]]:
    """The checks in canonical form, or a QualityError naming the faulty field
    (`checks[2].min`)."""
    if not isinstance(raw_checks, list):
        raise QualityError("Give the checks as a list.", "checks")
    try:
        return checks.normalise_checks(raw_checks)
    except checks.CheckDefinitionError as exc:
        field = exc.field if exc.field.startswith("checks") else f"checks.{exc.field}"
        raise QualityError(exc.message, field) from exc


def save_suite(
    dataset: Dataset,
    raw_checks: Any,
    *,
    user: Any,
    change_note: str = "",
    description: str | None = None,
    run_on_new_versions: bool | None = None,
    run_latest: bool = True,
) -> QualitySuite:
    """Create the dataset's suite or save its checks as a new suite version.

    Steps: validate every check (nothing is saved if one is malformed); lock the suite;
    add a version only when the checks changed; record it in the audit log; then run the
    new checks on the latest stored version, so the page shows where the data stands."""
    normalised = validate_checks(raw_checks)
    with transaction.atomic():
        suite, created = QualitySuite.objects.select_for_update().get_or_create(
            dataset=dataset, defaults={"created_by": _user_or_none(user)}
        )
        before = {
            "checks": suite.latest.checks if suite.latest else [],
            "description": suite.description,
            "run_on_new_versions": suite.run_on_new_versions,
        }
        if description is not None:
            suite.description = description
        if run_on_new_versions is not None:
            suite.run_on_new_versions = run_on_new_versions
        checks_changed = created or before["checks"] != normalised
        if checks_changed:
            suite.current_version += 1
            QualitySuiteVersion.objects.create(
                suite=suite,
                version=suite.current_version,
                checks=normalised,
                change_note=change_note[:300],
                created_by=_user_or_none(user),
            )
        suite.save()
        after = {
            "checks": normalised,
            "description": suite.description,
            "run_on_new_versions": suite.run_on_new_versions,
        }
        changes = {key: value for key, value in after.items() if before[key] != value}
        if created or changes:
            audit.record(
                AuditAction.CREATE if created else AuditAction.UPDATE,
                suite,
                before=None if created else {key: before[key] for key in changes},
                after={**changes, "suite_version": suite.current_version},
                actor=user,
                project=dataset.project_id,
            )
        if checks_changed and run_latest and normalised:
            latest = latest_checkable_version(dataset)
            if latest is not None:
                start_quality_run(latest, user=user, trigger=RunTrigger.SUITE_CHANGE, suite=suite)
    return suite


def delete_suite(suite: QualitySuite, *, user: Any) -> None:
    """Delete a suite with its versions, runs and schedule. Its versions go back to "not
    checked": a status no run explains any more would mislead the gate."""
    with transaction.atomic():
        version_ids = list(
            QualityRun.objects.filter(suite_version__suite=suite)
            .values_list("dataset_version_id", flat=True)
            .distinct()
        )
        audit.record(
            AuditAction.DELETE,
            suite,
            before={"suite_version": suite.current_version},
            actor=user,
            project=suite.dataset.project_id,
        )
        if suite.periodic_task is not None:
            suite.periodic_task.delete()
        suite.delete()
        for version_id in version_ids:
            refresh_version_status(version_id)


def latest_checkable_version(dataset: Dataset) -> DatasetVersion | None:
    """The newest version with a stored file (external and destroyed data cannot be read)."""
    return (
        dataset.versions.exclude(file="")
        .filter(destroyed_at__isnull=True)
        .order_by("-version")
        .first()
    )


# Runs ---------------------------------------------------------------------------------------


def start_quality_run(
    version: DatasetVersion,
    *,
    user: Any,
    trigger: str,
    suite: QualitySuite | None = None,
) -> QualityRun:
    """Queue a run of the dataset's current suite over `version`; a worker executes it
    once the transaction commits."""
    from lineage.tasks import dispatch

    suite = suite or QualitySuite.objects.filter(dataset_id=version.dataset_id).first()
    if suite is None or suite.current_version == 0:
        raise QualityError(
            f"{version.dataset.name} has no quality suite yet: add checks first.", "dataset"
        )
    suite_version = suite.versions.get(version=suite.current_version)
    if not suite_version.checks:
        # A run of nothing would "pass" the version: the gate would claim what no check saw.
        raise QualityError(
            f"The quality suite of {version.dataset.name} has no checks: add some first.",
            "dataset",
        )
    if version.format == DataFormat.EXTERNAL:
        raise QualityError(
            f"{version} references data stored elsewhere: only stored versions can be checked.",
            "dataset_version",
        )
    with transaction.atomic():
        run = QualityRun.objects.create(
            suite_version=suite_version,
            dataset_version=version,
            trigger=trigger,
            created_by=_user_or_none(user),
        )
        job = Job.objects.create(
            job_type=JobType.RUN_QUALITY_SUITE,
            project_id=version.dataset.project_id,
            target_type=ContentType.objects.get_for_model(QualityRun),
            target_id=run.pk,
            created_by=_user_or_none(user),
        )
        transaction.on_commit(lambda: dispatch(job.pk))
    run.job = job  # type: ignore[attr-defined]
    return run


def job_of(run: QualityRun) -> Job | None:
    return Job.objects.for_target(run).first()


def execute_quality_run(job: Job) -> None:
    """The worker's part: read the version, run every check, store the results and the
    version's new quality status. Safe to run again after a crash: earlier partial
    results of the run are replaced."""
    run = QualityRun.objects.select_related(
        "suite_version", "dataset_version__dataset__project"
    ).get(pk=job.target_id)
    version = run.dataset_version
    QualityRun.objects.filter(pk=run.pk).update(state=JobState.RUNNING, error="")
    table = catalog.read_version_table(version)
    job.set_progress(20)
    started = time.perf_counter()
    results = quality.run_suite(
        table,
        run.suite_version.checks,
        progress=lambda fraction: job.set_progress(20 + 75 * fraction),
    )
    duration = time.perf_counter() - started
    status = quality.run_status(results)
    with transaction.atomic():
        QualityCheckResult.objects.filter(run=run).delete()
        QualityCheckResult.objects.bulk_create(
            _result_row(run, position, result, definition)
            for position, (result, definition) in enumerate(
                zip(results, run.suite_version.checks, strict=True)
            )
        )
        counts = _outcome_counts(results)
        QualityRun.objects.filter(pk=run.pk).update(
            state=JobState.SUCCEEDED,
            status=status,
            row_count=table.num_rows,
            duration_seconds=duration,
            finished_at=timezone.now(),
            **counts,
        )
        refresh_version_status(version.pk)
        if status == QualityStatus.FAILED:
            run.refresh_from_db()
            _notify_failure(run, _failure_summary(results))


def _result_row(
    run: QualityRun, position: int, result: quality.CheckResult, definition: Mapping[str, Any]
) -> QualityCheckResult:
    return QualityCheckResult(
        run=run,
        position=position,
        name=result.name[:200],
        check_type=result.type,
        column=(result.column or "")[:500],
        severity=result.severity,
        outcome=result.outcome,
        message=result.message,
        failing_count=result.failing_count,
        failing_fraction=result.failing_fraction,
        observed=result.observed,
        definition=dict(definition),
        distribution=result.distribution,
        sample_rows=result.sample_rows,
    )


def _outcome_counts(results: Sequence[quality.CheckResult]) -> dict[str, int]:
    counts = {"checks_passed": 0, "checks_failed": 0, "checks_warned": 0, "checks_errored": 0}
    for result in results:
        if result.outcome == CheckOutcome.PASSED:
            counts["checks_passed"] += 1
        elif result.outcome == CheckOutcome.ERRORED:
            counts["checks_errored"] += 1
        elif result.severity == Severity.WARN:
            counts["checks_warned"] += 1
        else:
            counts["checks_failed"] += 1
    return counts


def _failure_summary(results: Sequence[quality.CheckResult]) -> str:
    failing = [
        result.name
        for result in results
        if result.outcome == CheckOutcome.FAILED and result.severity == Severity.FAIL
    ]
    shown = ", ".join(failing[:3]) + (f" and {len(failing) - 3} more" if len(failing) > 3 else "")
    return f"{len(failing)} check(s) failed: {shown}."


def mark_quality_run_failed(job: Job, error: str) -> None:
    """A run that could not execute (data destroyed or unreadable) fails the gate: data
    that cannot be checked must not pass silently."""
    run = QualityRun.objects.select_related("dataset_version__dataset__project").get(
        pk=job.target_id
    )
    with transaction.atomic():
        QualityRun.objects.filter(pk=run.pk).update(
            state=JobState.FAILED,
            status=QualityStatus.FAILED,
            error=error,
            finished_at=timezone.now(),
        )
        refresh_version_status(run.dataset_version_id)
        run.refresh_from_db()
        _notify_failure(run, f"The run could not check the data: {error}")


def mark_quality_run_queued(job: Job) -> None:
    QualityRun.objects.filter(pk=job.target_id).update(
        state=JobState.QUEUED, status=QualityStatus.NOT_CHECKED, error="", finished_at=None
    )


def refresh_version_status(version_id: int) -> str:
    """Set a version's quality status from its latest finished run (not checked without one)."""
    latest = (
        QualityRun.objects.finished()
        .filter(dataset_version_id=version_id)
        .order_by("-created_at", "-pk")
        .values("status", "finished_at")
        .first()
    )
    status = latest["status"] if latest else QualityStatus.NOT_CHECKED
    DatasetVersion.objects.filter(pk=version_id).update(
        quality_status=status, quality_checked_at=latest["finished_at"] if latest else None
    )
    return str(status)


def _notify_failure(run: QualityRun, detail: str) -> None:
    version = run.dataset_version
    project = version.dataset.project
    people = governance.project_people(project, (Role.CONTRIBUTOR, Role.REVIEWER, Role.ADMIN))
    if version.dataset.owner is not None:
        people.append(version.dataset.owner)
    governance.notify(
        people,
        project,
        NotificationKind.QUALITY_FAILED,
        f"{version} failed its quality checks. {detail}",
        run.get_absolute_url(),
    )


def on_new_dataset_version(version: DatasetVersion) -> QualityRun | None:
    """Check a newly stored version when its dataset's suite asks for it."""
    suite = QualitySuite.objects.filter(dataset_id=version.dataset_id).first()
    if (
        suite is None
        or not suite.run_on_new_versions
        or suite.latest is None
        or not suite.latest.checks
        or not version.file
    ):
        return None
    return start_quality_run(
        version, user=version.created_by, trigger=RunTrigger.NEW_VERSION, suite=suite
    )


def purge_samples(version: DatasetVersion) -> int:
    """Destroyed data leaves no copy behind: drop the failing rows kept as samples."""
    return QualityCheckResult.objects.filter(run__dataset_version=version).update(
        sample_rows=[], distribution=None
    )


# Suggestions and previews -------------------------------------------------------------------


def suggested_checks(version: DatasetVersion) -> list[suggest.Suggestion]:
    if version.profile_status != ProfileStatus.SUCCEEDED or not version.profile:
        raise QualityError(
            f"{version} has no profile yet ({version.get_profile_status_display()}): "
            "suggestions are made from a version's profile.",
            "dataset_version",
            status=409,
        )
    return suggest.suggest_checks(version.profile)


def suggestion_as_check(suggestion: suggest.Suggestion) -> dict[str, Any]:
    """A suggested check ready for a suite, its reason kept as its description."""
    return {
        **suggestion.check,
        "description": suggestion.check.get("description") or suggestion.reason,
    }


def suggested_suite(version: DatasetVersion) -> list[dict[str, Any]]:
    """The suggested checks of a version, ready to be saved as a suite as they are."""
    return [suggestion_as_check(suggestion) for suggestion in suggested_checks(version)]


def preview_check(version: DatasetVersion, raw_check: Mapping[str, Any]) -> dict[str, Any]:
    """Run one check, not saved, against a stored version (the editor's live preview)."""
    try:
        check = checks.normalise_check(raw_check)
    except checks.CheckDefinitionError as exc:
        raise QualityError(exc.message, exc.field) from exc
    table = catalog.read_version_table(version)
    (result,) = quality.run_suite(table, [check])
    return {"check": check, "description": checks.describe_check(check), **result.as_dict()}


# Schedules ----------------------------------------------------------------------------------


def set_schedule(suite: QualitySuite, kind: str, cron: str = "", *, user: Any = None) -> None:
    """Run the suite on the dataset's latest version hourly, daily or on a cron expression,
    through a django-celery-beat entry that beat picks up without a restart."""
    with transaction.atomic():
        before = {"schedule": suite.schedule_label}
        suite.periodic_task = schedule_entry(
            suite.periodic_task,
            name=f"quality-suite-{suite.pk}",
            task=SCHEDULED_TASK,
            kwargs={"suite_id": suite.pk},
            kind=kind,
            cron=cron,
        )
        suite.schedule_kind = kind
        suite.schedule_cron = " ".join(cron.split()) if kind == ScheduleKind.CRON else ""
        suite.save(update_fields=["periodic_task", "schedule_kind", "schedule_cron"])
        audit.record(
            AuditAction.UPDATE,
            suite,
            before=before,
            after={"schedule": suite.schedule_label},
            actor=user,
            project=suite.dataset.project_id,
        )


def schedule_entry(
    existing: PeriodicTask | None,
    *,
    name: str,
    task: str,
    kwargs: dict[str, Any],
    kind: str,
    cron: str = "",
) -> PeriodicTask | None:
    """Create, change or delete (kind "none") the django-celery-beat entry of a schedule:
    hourly, daily at 06:00, or a five-field cron expression (refused, naming
    `schedule_cron`, when it does not parse)."""
    cron = " ".join(cron.split())
    if kind not in ScheduleKind.values:
        raise QualityError(f"Unknown schedule '{kind}'.", "schedule_kind")
    fields = _cron_fields(cron) if kind == ScheduleKind.CRON else None
    if kind == ScheduleKind.NONE:
        if existing is not None:
            existing.delete()
        return None
    schedule: dict[str, Any]
    if kind == ScheduleKind.HOURLY:
        interval, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
        schedule = {"interval": interval, "crontab": None}
    else:
        minute, hour, day_of_month, month, day_of_week = fields or ("0", "6", "*", "*", "*")
        cron_row, _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
            timezone=timezone.get_default_timezone_name(),
        )
        schedule = {"crontab": cron_row, "interval": None}
    entry = existing or PeriodicTask(name=name, task=task)
    entry.kwargs = json.dumps(kwargs)
    entry.enabled = True
    for key, value in schedule.items():
        setattr(entry, key, value)
    entry.save()
    return entry


def _cron_fields(cron: str) -> tuple[str, str, str, str, str]:
    parts = cron.split()
    if len(parts) != 5:
        raise QualityError(
            "A cron expression has five fields: minute hour day-of-month month day-of-week "
            "(for example '30 2 * * 1-5').",
            "schedule_cron",
        )
    minute, hour, day_of_month, month, day_of_week = parts
    try:
        crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
        )
    except (ValueError, TypeError) as exc:
        raise QualityError(f"Invalid cron expression '{cron}': {exc}", "schedule_cron") from exc
    return minute, hour, day_of_month, month, day_of_week


def run_scheduled(suite_id: int) -> QualityRun | None:
    suite = QualitySuite.objects.select_related("dataset").filter(pk=suite_id).first()
    if suite is None or suite.latest is None or not suite.latest.checks:
        return None
    latest = latest_checkable_version(suite.dataset)
    if latest is None:
        return None
    return start_quality_run(latest, user=None, trigger=RunTrigger.SCHEDULE, suite=suite)


# Masking ------------------------------------------------------------------------------------


def masked_rows(
    rows: Iterable[Mapping[str, Any]], dataset: Dataset, *, reveal: bool
) -> list[dict[str, Any]]:
    """Sample rows as this viewer may see them: PII columns masked unless `reveal`."""
    rows = [dict(row) for row in rows]
    if reveal:
        return rows
    hidden = pii_columns(dataset)
    for row in rows:
        for column in list(row):
            if column != "_row" and (hidden is None or column in hidden):
                row[column] = MASK
    return rows


def _is_hidden(column: str | None, dataset: Dataset) -> bool:
    hidden = pii_columns(dataset)
    return hidden is None or (column or "") in hidden


def masked_observed(
    observed: Mapping[str, Any] | None, column: str | None, dataset: Dataset, *, reveal: bool
) -> dict[str, Any]:
    """Observed values quote data for some checks (unexpected categories): mask those too."""
    observed = dict(observed or {})
    if reveal:
        return observed
    if _is_hidden(column, dataset):
        for key in ("unexpected_values", "sentinel_counts", "newest", "min", "max"):
            if key in observed:
                observed[key] = MASK
    return observed


def masked_message(
    message: str,
    column: str | None,
    dataset: Dataset,
    *,
    reveal: bool,
    failing_count: int | None = None,
) -> str:
    """Messages quote data (the most frequent unexpected values, the observed minimum):
    for a PII column a non-member reads what failed, not the values."""
    if reveal or not column or not _is_hidden(column, dataset):
        return message
    counted = f" {failing_count:,} failing row(s)." if failing_count else ""
    return f"Values of {column} are PII and hidden from non-members.{counted}"


def masked_distribution(
    distribution: Mapping[str, Any] | None, column: str | None, dataset: Dataset, *, reveal: bool
) -> dict[str, Any] | None:
    """Category names are data: a PII column's categorical chart is withheld when masked."""
    if distribution is None:
        return None
    if reveal or distribution.get("kind") != "categorical":
        return dict(distribution)
    return None if _is_hidden(column, dataset) else dict(distribution)


def _user_or_none(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None
