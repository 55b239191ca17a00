"""The quality gate in the life of a dataset: new versions are checked as they arrive, the
suite suggested from a clean month catches the month where field agents typed -1 in the
total value (with the failing rows shown, the team notified and the webhook called), suites
are versioned and audited, runs are scheduled through django-celery-beat, and the verdict
reaches the review checklist, the lineage graph and the retry button."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pandas as pd
import pytest
import skops.io as sio
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from rest_framework.test import APIClient
from sklearn.linear_model import LogisticRegression

from lineage import governance
from lineage import services as catalog
from lineage.choices import ModelTask
from lineage.models import (
    AuditEntry,
    Dataset,
    DatasetVersion,
    Job,
    ModelVersion,
    Notification,
    Project,
    RegisteredModel,
)
from monitoring import services
from monitoring.models import QualityRun, QualitySuite
from monitoring.tasks import run_scheduled_quality_suite

pytestmark = pytest.mark.django_db

Inline = Callable[[], AbstractContextManager[Any]]


def checklist_item(version: ModelVersion, key: str) -> dict[str, Any]:
    return next(item for item in governance.build_checklist(version) if item["key"] == key)


# Every new version is checked -------------------------------------------------------------


def test_a_new_version_of_a_dataset_with_a_suite_is_checked_on_arrival(
    suite: QualitySuite, next_clean_month: bytes, upload_version: Callable[..., DatasetVersion]
) -> None:
    october = upload_version(suite.dataset, next_clean_month)

    run = QualityRun.objects.get(dataset_version=october)
    assert (run.trigger, run.state, run.status) == ("new_version", "succeeded", "passed")
    assert run.suite_version.version == 1
    assert run.created_by is not None and run.created_by.username == "carl"
    assert october.quality_status == "passed"
    assert october.quality_checked_at == run.finished_at
    job = Job.objects.get(job_type="run_quality_suite", target_id=run.pk)
    assert (job.state, job.progress) == ("succeeded", 100)


def test_a_suite_that_does_not_run_on_new_versions_leaves_them_unchecked(
    suite: QualitySuite, next_clean_month: bytes, upload_version: Callable[..., DatasetVersion]
) -> None:
    suite.run_on_new_versions = False
    suite.save()

    october = upload_version(suite.dataset, next_clean_month)

    assert not QualityRun.objects.filter(dataset_version=october).exists()
    assert october.quality_status == "not_checked"


def test_a_dataset_without_a_suite_is_not_checked(
    clean_version: DatasetVersion,
) -> None:
    assert not QualityRun.objects.exists()
    assert clean_version.quality_status == "not_checked"


def test_an_external_version_is_never_checked(
    suite: QualitySuite, contributor: User, inline: Inline
) -> None:
    with inline():
        elsewhere = catalog.create_external_dataset_version(
            suite.dataset, "s3://fraud-lake/transactions/2026-10.parquet", user=contributor
        )

    assert not QualityRun.objects.filter(dataset_version=elsewhere).exists()
    elsewhere.refresh_from_db()
    assert elsewhere.quality_status == "not_checked"


# The demo story ---------------------------------------------------------------------------


def test_the_suggested_suite_catches_the_month_with_minus_one_total_values(
    project: Project,
    dataset: Dataset,
    contributor: User,
    reviewer: User,
    owner: User,
    viewer: User,
    clean_month: bytes,
    next_clean_month: bytes,
    month_with_sentinels: bytes,
    upload_version: Callable[..., DatasetVersion],
    receiver: Any,
    inline: Inline,
) -> None:
    project.webhook_url = receiver.url
    project.save()
    september = upload_version(dataset, clean_month)
    suggestions = services.suggested_checks(september)
    with inline():
        suite = services.save_suite(
            dataset,
            [suggestion.check for suggestion in suggestions],
            user=contributor,
            change_note="Accepted the suggestions from September",
        )
    september.refresh_from_db()
    assert september.quality_status == "passed"

    october = upload_version(dataset, next_clean_month)
    november = upload_version(dataset, month_with_sentinels)

    assert october.quality_status == "passed"
    assert november.quality_status == "failed"
    run = QualityRun.objects.get(dataset_version=november)
    assert (run.trigger, run.suite_version.version) == ("new_version", suite.current_version)
    result = run.results.get(name="range:total_value")
    assert (result.outcome, result.severity) == ("failed", "fail")
    assert result.failing_count == 60
    assert result.failing_fraction == pytest.approx(0.03)
    assert 0 < len(result.sample_rows) <= 20
    assert all(row["total_value"] == -1 for row in result.sample_rows)
    assert run.checks_failed >= 1
    # The team hears of it in the portal: contributors, reviewers and admins, not viewers.
    notified = Notification.objects.filter(kind="quality_failed")
    assert {note.user for note in notified} == {contributor, reviewer, owner}
    assert not notified.filter(user=viewer).exists()
    assert all("transactions v3" in note.message for note in notified)
    assert all(note.url == run.get_absolute_url() for note in notified)
    assert "range:total_value" in notified.first().message  # type: ignore[union-attr]
    # ...and once on the project's webhook, for the event rather than for each person.
    assert receiver.kinds == ["quality_failed"]
    [call] = receiver.received
    assert call["project"] == "card-fraud"
    assert call["url"] == run.get_absolute_url()
    assert "transactions v3" in call["message"]


def test_a_passing_run_notifies_nobody(
    project: Project,
    suite: QualitySuite,
    next_clean_month: bytes,
    upload_version: Callable[..., DatasetVersion],
    receiver: Any,
) -> None:
    project.webhook_url = receiver.url
    project.save()

    upload_version(suite.dataset, next_clean_month)

    assert not Notification.objects.filter(kind="quality_failed").exists()
    assert receiver.received == []


def test_a_warn_level_failure_only_warns(
    dataset: Dataset,
    contributor: User,
    clean_version: DatasetVersion,
    month_with_sentinels: bytes,
    upload_version: Callable[..., DatasetVersion],
) -> None:
    services.save_suite(
        dataset,
        [{"type": "sentinel", "column": "total_value", "values": [-1], "severity": "warn"}],
        user=contributor,
    )

    november = upload_version(dataset, month_with_sentinels)

    run = QualityRun.objects.get(dataset_version=november)
    assert (run.status, run.checks_warned, run.checks_failed) == ("warning", 1, 0)
    assert run.results.get().state_word == "warning"
    assert november.quality_status == "warning"
    assert not Notification.objects.filter(kind="quality_failed").exists()


# Suite versions ---------------------------------------------------------------------------


def test_saving_the_same_checks_again_keeps_the_suite_version(
    suite: QualitySuite, contributor: User, basic_checks: list[dict[str, Any]]
) -> None:
    entries_before = AuditEntry.objects.count()
    runs_before = QualityRun.objects.count()

    services.save_suite(suite.dataset, basic_checks, user=contributor)
    # The canonical form is the same checks too.
    services.save_suite(suite.dataset, suite.latest.checks, user=contributor)  # type: ignore[union-attr]

    suite.refresh_from_db()
    assert suite.current_version == 1
    assert suite.versions.count() == 1
    assert AuditEntry.objects.count() == entries_before
    assert QualityRun.objects.count() == runs_before


def test_changing_the_checks_saves_a_new_version_and_an_audit_entry(
    suite: QualitySuite, contributor: User, basic_checks: list[dict[str, Any]]
) -> None:
    basic_checks[0]["max"] = 5_000

    services.save_suite(
        suite.dataset, basic_checks, user=contributor, change_note="Tighter total value"
    )

    suite.refresh_from_db()
    assert suite.current_version == 2
    assert [version.version for version in suite.versions.order_by("version")] == [1, 2]
    assert suite.versions.get(version=1).checks[0]["max"] == 100_000
    assert suite.versions.get(version=2).checks[0]["max"] == 5_000
    assert suite.versions.get(version=2).change_note == "Tighter total value"
    entry = AuditEntry.objects.filter(object_type="qualitysuite", object_id=str(suite.pk)).first()
    assert entry is not None
    assert entry.action == "update"
    assert entry.actor == contributor
    assert entry.project_id == suite.dataset.project_id
    assert entry.after is not None and entry.after["suite_version"] == 2
    assert entry.before is not None and entry.before["checks"][0]["max"] == 100_000
    # The new checks run on the latest stored version straight away.
    assert QualityRun.objects.filter(suite_version__version=2, trigger="suite_change").exists()


def test_creating_a_suite_is_audited(
    dataset: Dataset, contributor: User, basic_checks: list[dict[str, Any]]
) -> None:
    suite = services.save_suite(dataset, basic_checks, user=contributor)

    entry = AuditEntry.objects.get(object_type="qualitysuite", object_id=str(suite.pk))
    assert entry.action == "create"
    assert entry.after is not None and entry.after["suite_version"] == 1


def test_a_malformed_check_saves_nothing(
    suite: QualitySuite, contributor: User, basic_checks: list[dict[str, Any]]
) -> None:
    basic_checks.append({"type": "regex", "column": "country", "pattern": "("})

    with pytest.raises(services.QualityError) as refused:
        services.save_suite(suite.dataset, basic_checks, user=contributor)

    assert refused.value.field == "checks[3].pattern"
    suite.refresh_from_db()
    assert suite.current_version == 1


# Schedules --------------------------------------------------------------------------------


def periodic_task_of(suite: QualitySuite) -> PeriodicTask:
    suite.refresh_from_db()
    assert suite.periodic_task is not None
    return suite.periodic_task


def test_an_hourly_schedule_is_a_beat_interval(suite: QualitySuite, contributor: User) -> None:
    services.set_schedule(suite, "hourly", user=contributor)

    task = periodic_task_of(suite)
    assert task.task == "monitoring.tasks.run_scheduled_quality_suite"
    assert json.loads(task.kwargs) == {"suite_id": suite.pk}
    assert task.enabled
    assert task.crontab is None
    assert task.interval is not None
    assert (task.interval.every, task.interval.period) == (1, IntervalSchedule.HOURS)
    assert suite.schedule_kind == "hourly"
    assert suite.schedule_label == "Hourly"


def test_a_daily_schedule_runs_at_six(suite: QualitySuite) -> None:
    services.set_schedule(suite, "daily")

    task = periodic_task_of(suite)
    assert task.interval is None
    assert task.crontab is not None
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("0", "6", "*")


def test_a_cron_schedule_replaces_the_hourly_one_in_the_same_beat_entry(
    suite: QualitySuite, contributor: User
) -> None:
    services.set_schedule(suite, "hourly", user=contributor)
    hourly = periodic_task_of(suite)

    services.set_schedule(suite, "cron", "30  2 * * 1-5", user=contributor)

    task = periodic_task_of(suite)
    assert task.pk == hourly.pk
    assert PeriodicTask.objects.filter(task=services.SCHEDULED_TASK).count() == 1
    assert task.interval is None
    assert task.crontab is not None
    assert (
        task.crontab.minute,
        task.crontab.hour,
        task.crontab.day_of_month,
        task.crontab.month_of_year,
        task.crontab.day_of_week,
    ) == ("30", "2", "*", "*", "1-5")
    assert json.loads(task.kwargs) == {"suite_id": suite.pk}
    assert (suite.schedule_kind, suite.schedule_cron) == ("cron", "30 2 * * 1-5")
    entry = AuditEntry.objects.filter(object_type="qualitysuite").first()
    assert entry is not None
    assert entry.before == {"schedule": "Hourly"}
    assert entry.after == {"schedule": "cron 30 2 * * 1-5"}


def test_no_schedule_removes_the_beat_entry(suite: QualitySuite) -> None:
    services.set_schedule(suite, "daily")
    task = periodic_task_of(suite)

    services.set_schedule(suite, "none")

    suite.refresh_from_db()
    assert suite.periodic_task is None
    assert (suite.schedule_kind, suite.schedule_cron) == ("none", "")
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


@pytest.mark.parametrize("cron", ["61 * * * *", "* * *", "0 25 * * *", "", "0 6 * * * *"])
def test_a_bad_cron_expression_is_refused_and_changes_nothing(
    suite: QualitySuite, cron: str
) -> None:
    services.set_schedule(suite, "hourly")
    hourly = periodic_task_of(suite)

    with pytest.raises(services.QualityError) as refused:
        services.set_schedule(suite, "cron", cron)

    assert refused.value.field == "schedule_cron"
    suite.refresh_from_db()
    assert suite.schedule_kind == "hourly"
    task = periodic_task_of(suite)
    assert task.pk == hourly.pk
    assert task.interval is not None
    assert not CrontabSchedule.objects.filter(minute="61").exists()


def test_an_unknown_schedule_kind_is_refused(suite: QualitySuite) -> None:
    with pytest.raises(services.QualityError) as refused:
        services.set_schedule(suite, "weekly")

    assert refused.value.field == "schedule_kind"
    assert PeriodicTask.objects.filter(name__startswith="quality-suite-").count() == 0


def test_the_scheduled_task_checks_the_latest_stored_version(
    suite: QualitySuite,
    contributor: User,
    failed_version: DatasetVersion,
    inline: Inline,
) -> None:
    # Newer than the stored versions but nothing to read: the schedule skips it.
    catalog.create_external_dataset_version(
        suite.dataset, "s3://fraud-lake/transactions/2026-12.parquet", user=contributor
    )

    with inline():
        run_id = run_scheduled_quality_suite(suite.pk)

    run = QualityRun.objects.get(pk=run_id)
    assert run.dataset_version == failed_version
    assert (run.trigger, run.state, run.status) == ("schedule", "succeeded", "failed")
    assert run.created_by is None


def test_the_scheduled_task_does_nothing_for_a_deleted_suite(suite: QualitySuite) -> None:
    suite_id = suite.pk
    suite.delete()
    runs_before = QualityRun.objects.count()

    assert run_scheduled_quality_suite(suite_id) is None
    assert QualityRun.objects.count() == runs_before


# The gate, where others read it -----------------------------------------------------------


@pytest.fixture
def logistic_artifact() -> bytes:
    frame = pd.DataFrame(
        {"total_value": [5.0, 80.0, 300.0, 12.0, 450.0, 33.0], "hour": [9, 2, 1, 14, 3, 18]}
    )
    model = LogisticRegression().fit(frame, [0, 0, 1, 0, 1, 0])
    return sio.dumps(model)


@pytest.fixture
def train_on(
    project: Project, contributor: User, logistic_artifact: bytes
) -> Callable[[DatasetVersion], ModelVersion]:
    model = RegisteredModel.objects.create(
        project=project, name="fraud-detector", task=ModelTask.CLASSIFICATION, owner=contributor
    )

    def train(version: DatasetVersion) -> ModelVersion:
        return catalog.register_model_version(
            model,
            SimpleUploadedFile("model.skops", logistic_artifact),
            {"training_dataset_version": version.pk, "target_column": "is_fraud"},
            user=contributor,
        )

    return train


def test_the_review_checklist_shows_training_data_that_passed(
    suite: QualitySuite,
    clean_version: DatasetVersion,
    train_on: Callable[[DatasetVersion], ModelVersion],
) -> None:
    item = checklist_item(train_on(clean_version), "training_data")

    assert item["status"] == "passed"
    assert "transactions v1 passed its quality checks" in item["detail"]


def test_the_review_checklist_flags_training_data_that_failed(
    failed_version: DatasetVersion, train_on: Callable[[DatasetVersion], ModelVersion]
) -> None:
    item = checklist_item(train_on(failed_version), "training_data")

    assert item["status"] == "failed"
    assert "FAILED its quality checks" in item["detail"]


def test_the_review_checklist_says_when_training_data_was_not_checked(
    clean_version: DatasetVersion, train_on: Callable[[DatasetVersion], ModelVersion]
) -> None:
    item = checklist_item(train_on(clean_version), "training_data")

    assert item["status"] == "not checked"
    assert "was not checked" in item["detail"]


def test_the_review_checklist_reads_a_verdict_reached_after_training(
    dataset: Dataset,
    contributor: User,
    clean_version: DatasetVersion,
    train_on: Callable[[DatasetVersion], ModelVersion],
    inline: Inline,
) -> None:
    trained = train_on(clean_version)
    assert checklist_item(trained, "training_data")["status"] == "not checked"

    with inline():
        services.save_suite(dataset, [{"type": "row_count", "min_rows": 10_000}], user=contributor)

    assert checklist_item(trained, "training_data")["status"] == "failed"


def test_a_model_trained_on_data_that_failed_its_checks_cannot_be_approved(
    failed_version: DatasetVersion,
    train_on: Callable[[DatasetVersion], ModelVersion],
    contributor: User,
    reviewer: User,
) -> None:
    trained = train_on(failed_version)
    review = governance.request_review(trained, contributor, "Better recall.")

    with pytest.raises(governance.GovernanceError) as refused:
        governance.decide_review(review, reviewer, approve=True, comment="Looks fine.")

    assert refused.value.status == 409
    assert "failed its quality checks" in refused.value.message
    trained.refresh_from_db()
    assert trained.stage != "production"
    review.refresh_from_db()
    assert review.state == "pending"
    # Rejecting stays possible: the reviewer can send it back.
    governance.decide_review(review, reviewer, approve=False, comment="Data fails its gate.")
    review.refresh_from_db()
    assert review.state == "rejected"


def test_a_model_trained_on_data_that_passed_can_be_approved(
    suite: QualitySuite,
    clean_version: DatasetVersion,
    train_on: Callable[[DatasetVersion], ModelVersion],
    contributor: User,
    reviewer: User,
) -> None:
    trained = train_on(clean_version)
    review = governance.request_review(trained, contributor, "First model.")

    governance.decide_review(review, reviewer, approve=True, comment="Checked.")

    trained.refresh_from_db()
    assert trained.stage == "production"


def test_the_lineage_graph_reports_the_quality_of_dataset_versions(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    clean_version: DatasetVersion,
    failed_version: DatasetVersion,
    train_on: Callable[[DatasetVersion], ModelVersion],
) -> None:
    trained = train_on(failed_version)

    response = api_client_for(viewer).get(
        "/api/v1/lineage/graph", {"type": "dataset_version", "id": failed_version.pk}
    )

    assert response.status_code == 200, response.data
    nodes = {(node["kind"], node["object_id"]): node for node in response.data["nodes"]}
    assert nodes[("dataset_version", failed_version.pk)]["quality_status"] == "failed"
    assert nodes[("model_version", trained.pk)]["quality_status"] is None
    september = api_client_for(viewer).get(
        "/api/v1/lineage/graph", {"type": "dataset_version", "id": clean_version.pk}
    )
    [node] = [n for n in september.data["nodes"] if n["kind"] == "dataset_version"]
    assert node["quality_status"] == "passed"


# Retrying ---------------------------------------------------------------------------------


def test_retrying_a_failed_quality_job_puts_the_run_back_in_the_queue(
    owner: User,
    suite: QualitySuite,
    clean_version: DatasetVersion,
    contributor: User,
    inline: Inline,
) -> None:
    with inline():
        governance.destroy_dataset_version(clean_version, owner, "Retention period over")
    with inline():
        run = services.start_quality_run(clean_version, user=contributor, trigger="manual")
    run.refresh_from_db()
    assert (run.state, run.status) == ("failed", "failed")
    job = Job.objects.get(job_type="run_quality_suite", target_id=run.pk)
    assert job.state == "failed"

    assert catalog.retry_job(job) is True

    run.refresh_from_db()
    job.refresh_from_db()
    assert (run.state, run.status, run.error, run.finished_at) == (
        "queued",
        "not_checked",
        "",
        None,
    )
    assert job.state == "queued"


def test_a_retried_run_on_readable_data_succeeds(
    suite: QualitySuite,
    clean_version: DatasetVersion,
    contributor: User,
    inline: Inline,
) -> None:
    """A worker crash (here: a failure recorded by hand) is retried to the real verdict."""
    run = services.start_quality_run(clean_version, user=contributor, trigger="manual")
    job = Job.objects.get(job_type="run_quality_suite", target_id=run.pk)
    job.fail("Worker lost")
    services.mark_quality_run_failed(job, "Worker lost")
    run.refresh_from_db()
    assert run.status == "failed"

    with inline():
        assert catalog.retry_job(job) is True

    run.refresh_from_db()
    assert (run.state, run.status, run.error) == ("succeeded", "passed", "")
    assert run.results.count() == 3
    clean_version.refresh_from_db()
    assert clean_version.quality_status == "passed"


def test_executing_a_run_again_replaces_its_results_instead_of_adding_to_them(
    suite: QualitySuite, clean_version: DatasetVersion
) -> None:
    """A worker that dies after storing results gets the job again: no duplicate rows."""
    run = QualityRun.objects.get(dataset_version=clean_version)
    job = Job.objects.get(job_type="run_quality_suite", target_id=run.pk)

    services.execute_quality_run(job)

    assert run.results.count() == 3
    assert list(run.results.values_list("position", flat=True)) == [0, 1, 2]


def test_sample_rows_are_json_as_stored(failed_version: DatasetVersion) -> None:
    result = QualityRun.objects.get(dataset_version=failed_version).results.get(
        name="range:total_value"
    )

    # What the worker stored reads back as plain JSON (no numpy types, no NaN).
    assert json.loads(json.dumps(result.sample_rows, allow_nan=False)) == result.sample_rows
