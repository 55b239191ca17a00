"""Drift analyses as jobs: a large analysis is shared among workers by groups of features
and ends exactly once with the same result as in one piece; windows show when the data
moved; a drifted result tells the team (in the portal and on the project's webhook);
unreadable data fails the job in words and the retry button queues it again; the schedule
compares the production version's training data with the newest data; and the lineage
graph carries the verdict."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import skops.io as sio
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from lineage import governance
from lineage import services as catalog
from lineage.choices import ModelTask, Stage
from lineage.demo.transactions import make_transactions
from lineage.models import (
    Dataset,
    DatasetVersion,
    Job,
    ModelVersion,
    Notification,
    Project,
    RegisteredModel,
)
from monitoring import drift_runs
from monitoring.models import DriftAnalysis, DriftFeatureChunk

pytestmark = pytest.mark.django_db

Inline = Callable[[], AbstractContextManager[Any]]
Upload = Callable[..., DatasetVersion]
Train = Callable[..., ModelVersion]

ROWS = 1_500
FEATURES = [
    "total_value",
    "account_age_days",
    "hour",
    "distance_from_home_km",
    "transactions_last_24h",
]
FAST = {"classifier_rows": 2_000}


@pytest.fixture(autouse=True)
def _one_thread_per_test() -> Iterator[None]:
    """The domain classifier's OpenMP threads crawl on a busy shared machine: one each."""
    with threadpool_limits(limits=1):
        yield


def transactions_csv(
    seed: int,
    *,
    start: str = "2026-09-01",
    days: int = 30,
    shift: dict[str, float] | None = None,
    shift_from: str | None = None,
    drop: tuple[str, ...] = (),
) -> bytes:
    """Demo transactions as CSV; `shift` adds a constant to columns, from `shift_from` on
    when given (a change that starts mid-way); `drop` leaves columns out."""
    frame = make_transactions(ROWS, seed=seed, start=start, days=days)
    rows = frame["timestamp"] >= shift_from if shift_from else slice(None)
    for column, amount in (shift or {}).items():
        frame.loc[rows, column] = frame.loc[rows, column] + amount
    return frame.drop(columns=list(drop)).to_csv(index=False).encode()


def logistic_artifact() -> bytes:
    frame = make_transactions(400, seed=99)
    return sio.dumps(LogisticRegression(max_iter=2_000).fit(frame[FEATURES], frame["is_fraud"]))


@pytest.fixture
def model(project: Project, contributor: User) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=project, name="fraud-detector", task=ModelTask.CLASSIFICATION, owner=contributor
    )


@pytest.fixture
def train_on(model: RegisteredModel, contributor: User) -> Train:
    def train(version: DatasetVersion | None) -> ModelVersion:
        metadata: dict[str, Any] = {"target_column": "is_fraud"}
        if version is not None:
            metadata["training_dataset_version"] = version.pk
        return catalog.register_model_version(
            model,
            SimpleUploadedFile("model.skops", logistic_artifact()),
            metadata,
            user=contributor,
        )

    return train


@pytest.fixture
def september(dataset: Dataset, upload_version: Upload) -> DatasetVersion:
    return upload_version(dataset, transactions_csv(1))


@pytest.fixture
def october(dataset: Dataset, upload_version: Upload) -> DatasetVersion:
    return upload_version(dataset, transactions_csv(2, start="2026-10-01"))


@pytest.fixture
def older_accounts(dataset: Dataset, upload_version: Upload) -> DatasetVersion:
    """Accounts 1,500 days older on average: a clear mean shift of one feature."""
    return upload_version(
        dataset, transactions_csv(3, start="2026-11-01", shift={"account_age_days": 1_500})
    )


@pytest.fixture
def trained(september: DatasetVersion, train_on: Train) -> ModelVersion:
    return train_on(september)


@pytest.fixture
def analyse(contributor: User, inline: Inline) -> Callable[..., DriftAnalysis]:
    """Start an analysis and let its job (and any subtasks) run to the end."""

    def run(version: ModelVersion, current: DatasetVersion, **options: Any) -> DriftAnalysis:
        options.setdefault("thresholds", dict(FAST))
        with inline():
            analysis = drift_runs.start_drift_analysis(
                version, user=contributor, trigger="manual", current_version=current, **options
            )
        analysis.refresh_from_db()
        return analysis

    return run


def job_of(analysis: DriftAnalysis) -> Job:
    return Job.objects.get(job_type="run_drift_analysis", target_id=analysis.pk)


def by_name(analysis: DriftAnalysis) -> dict[str, dict[str, Any]]:
    assert analysis.result is not None, analysis.error
    return {feature["name"]: feature for feature in analysis.result["features"]}


# Shared among workers ----------------------------------------------------------------------


@pytest.fixture
def in_groups_of_two(settings: Any) -> Any:
    """Every input counts as large: two features to a subtask."""
    settings.DRIFT_CHUNK_ROWS = 10
    settings.DRIFT_FEATURES_PER_CHUNK = 2
    return settings


def test_a_large_analysis_is_shared_by_groups_of_features_and_ends_once(
    in_groups_of_two: Any,
    trained: ModelVersion,
    older_accounts: DatasetVersion,
    analyse: Callable[..., DriftAnalysis],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    finishes: list[int] = []
    real_finish = drift_runs._finish

    def counted_finish(analysis_id: int, job: Job | None) -> None:
        finishes.append(analysis_id)
        real_finish(analysis_id, job)

    monkeypatch.setattr(drift_runs, "_finish", counted_finish)

    analysis = analyse(trained, older_accounts)

    assert analysis.state == "succeeded", analysis.error
    chunks = list(DriftFeatureChunk.objects.filter(analysis=analysis).order_by("index"))
    assert [chunk.features for chunk in chunks] == [FEATURES[0:2], FEATURES[2:4], FEATURES[4:]]
    assert analysis.chunks_total == 3
    assert finishes == [analysis.pk]
    job = job_of(analysis)
    assert (job.state, job.progress, job.error) == ("succeeded", 100, "")
    assert job.finished_at is not None
    assert [feature["name"] for feature in analysis.result["features"]] == FEATURES  # type: ignore[index]
    assert analysis.drifted is True
    assert by_name(analysis)["account_age_days"]["drifted"] is True


def test_shared_and_whole_analyses_reach_the_same_result(
    settings: Any,
    trained: ModelVersion,
    older_accounts: DatasetVersion,
    analyse: Callable[..., DriftAnalysis],
) -> None:
    settings.DRIFT_CHUNK_ROWS = 10
    settings.DRIFT_FEATURES_PER_CHUNK = 2
    shared = analyse(trained, older_accounts)
    settings.DRIFT_CHUNK_ROWS = 1_000_000
    whole = analyse(trained, older_accounts)

    assert (shared.chunks_total, whole.chunks_total) == (3, 1)
    assert DriftFeatureChunk.objects.filter(analysis=whole).count() == 1
    for name in FEATURES:
        in_groups, in_one = by_name(shared)[name], by_name(whole)[name]
        for key in ("statistic", "p_value", "p_value_adjusted", "effect_size", "drifted"):
            assert in_groups[key] == pytest.approx(in_one[key]), (name, key)
    assert shared.result["summary"] == whole.result["summary"]  # type: ignore[index]
    assert shared.domain_auc == pytest.approx(whole.domain_auc)
    assert (shared.drifted, shared.drift_share) == (whole.drifted, whole.drift_share)


def test_a_finished_analysis_counts_every_group_done(
    settings: Any,
    trained: ModelVersion,
    older_accounts: DatasetVersion,
    analyse: Callable[..., DriftAnalysis],
) -> None:
    """chunks_done / chunks_total is the analysis's progress: done means all of them."""
    settings.DRIFT_CHUNK_ROWS = 10
    settings.DRIFT_FEATURES_PER_CHUNK = 2
    shared = analyse(trained, older_accounts)
    settings.DRIFT_CHUNK_ROWS = 1_000_000
    whole = analyse(trained, older_accounts)

    assert (shared.chunks_done, shared.chunks_total) == (3, 3)
    assert (whole.chunks_done, whole.chunks_total) == (1, 1)


def test_a_group_delivered_again_after_the_end_changes_nothing(
    in_groups_of_two: Any,
    trained: ModelVersion,
    older_accounts: DatasetVersion,
    analyse: Callable[..., DriftAnalysis],
    contributor: User,
) -> None:
    analysis = analyse(trained, older_accounts)
    finished_at, result = analysis.finished_at, analysis.result
    notified = Notification.objects.filter(kind="drift_detected").count()

    drift_runs.analyse_drift_chunk(analysis.pk, 0, FEATURES[0:2])
    drift_runs.analyse_drift_chunk(analysis.pk, 2, FEATURES[4:])

    analysis.refresh_from_db()
    assert (analysis.state, analysis.finished_at, analysis.result) == (
        "succeeded",
        finished_at,
        result,
    )
    assert DriftFeatureChunk.objects.filter(analysis=analysis).count() == 3
    assert Notification.objects.filter(kind="drift_detected").count() == notified


GROUPS = [FEATURES[0:2], FEATURES[2:4], FEATURES[4:]]


@pytest.fixture
def handed_out(
    in_groups_of_two: Any,
    contributor: User,
    trained: ModelVersion,
    older_accounts: DatasetVersion,
    django_capture_on_commit_callbacks: Any,
) -> DriftAnalysis:
    """An analysis whose job has handed its three groups to the workers, none run yet."""
    from lineage.tasks import DEFERRED

    analysis = drift_runs.start_drift_analysis(
        trained, user=contributor, trigger="manual", current_version=older_accounts, thresholds=FAST
    )
    job = job_of(analysis)
    assert job.claim()
    with django_capture_on_commit_callbacks(execute=False) as sends:
        assert drift_runs.execute_drift_analysis(job) == DEFERRED
    assert len(sends) == 3
    analysis.refresh_from_db()
    assert (analysis.state, analysis.chunks_total) == ("running", 3)
    return analysis


def test_a_group_stored_but_not_counted_is_counted_when_it_is_delivered_again(
    handed_out: DriftAnalysis,
) -> None:
    """The worker of group 0 stored its statistics, then lost the database before counting
    them (autoretry on OperationalError, or a worker lost with acks_late): the task comes
    again, and the analysis must still end."""
    drift_runs._analyse_chunk(drift_runs._load(handed_out.pk), 0, GROUPS[0])

    for index, group in enumerate(GROUPS):
        drift_runs.analyse_drift_chunk(handed_out.pk, index, group)

    handed_out.refresh_from_db()
    assert handed_out.state == "succeeded", (handed_out.chunks_done, handed_out.error)
    assert job_of(handed_out).state == "succeeded"


def test_a_final_step_cut_short_is_run_again_when_its_task_is_delivered_again(
    handed_out: DriftAnalysis,
) -> None:
    """The worker of the last group claimed the final step and was lost in it (the domain
    classifier is the longest part): acks_late delivers its task again, which must finish
    the analysis rather than leave it running for ever."""
    for index, group in enumerate(GROUPS):
        drift_runs._analyse_chunk(drift_runs._load(handed_out.pk), index, group)
    # What the three counts and the claim of the final step leave behind.
    DriftAnalysis.objects.filter(pk=handed_out.pk).update(chunks_done=len(GROUPS) + 1)

    drift_runs.analyse_drift_chunk(handed_out.pk, 2, GROUPS[2])

    handed_out.refresh_from_db()
    assert handed_out.state == "succeeded", (handed_out.chunks_done, handed_out.error)
    assert job_of(handed_out).state == "succeeded"


def test_running_the_job_again_replaces_its_groups_instead_of_adding_to_them(
    trained: ModelVersion,
    october: DatasetVersion,
    analyse: Callable[..., DriftAnalysis],
) -> None:
    """A worker that dies after storing a group gets the job again: no duplicate rows."""
    analysis = analyse(trained, october)
    job = job_of(analysis)

    drift_runs.execute_drift_analysis(job)

    analysis.refresh_from_db()
    assert analysis.state == "succeeded"
    assert DriftFeatureChunk.objects.filter(analysis=analysis).count() == 1
    assert [feature["name"] for feature in analysis.result["features"]] == FEATURES  # type: ignore[index]


# Over time ---------------------------------------------------------------------------------


def test_daily_windows_show_the_day_the_data_moved(
    trained: ModelVersion,
    dataset: Dataset,
    upload_version: Upload,
    analyse: Callable[..., DriftAnalysis],
) -> None:
    six_days = upload_version(
        dataset,
        transactions_csv(
            4,
            start="2026-10-01",
            days=6,
            shift={"account_age_days": 3_000},
            shift_from="2026-10-04",
        ),
    )

    analysis = analyse(trained, six_days, window_column="timestamp", window_frequency="day")

    assert analysis.state == "succeeded", analysis.error
    windows = analysis.result["windows"]  # type: ignore[index]
    assert [window["label"] for window in windows] == [
        "2026-10-01",
        "2026-10-02",
        "2026-10-03",
        "2026-10-04",
        "2026-10-05",
        "2026-10-06",
    ]
    assert [window["drifted"] for window in windows] == [False, False, False, True, True, True]
    assert windows[0]["start"] == "2026-10-01T00:00:00"
    assert windows[0]["end"] == "2026-10-02T00:00:00"
    assert sum(window["current_rows"] for window in windows) == ROWS
    for window in windows:
        assert [feature["name"] for feature in window["features"]] == FEATURES
        drifted = [feature["name"] for feature in window["features"] if feature["drifted"]]
        assert drifted == (["account_age_days"] if window["label"] >= "2026-10-04" else [])
    # The model scored both sides, so each window has its mean confidence.
    assert all(0.5 <= window["confidence_mean"] <= 1 for window in windows)
    assert analysis.drifted is True


def test_windows_are_computed_the_same_when_shared_among_workers(
    settings: Any,
    trained: ModelVersion,
    dataset: Dataset,
    upload_version: Upload,
    analyse: Callable[..., DriftAnalysis],
) -> None:
    six_days = upload_version(
        dataset,
        transactions_csv(
            4,
            start="2026-10-01",
            days=6,
            shift={"account_age_days": 3_000},
            shift_from="2026-10-04",
        ),
    )
    whole = analyse(trained, six_days, window_column="timestamp", window_frequency="day")
    settings.DRIFT_CHUNK_ROWS = 10
    settings.DRIFT_FEATURES_PER_CHUNK = 2

    shared = analyse(trained, six_days, window_column="timestamp", window_frequency="day")

    assert shared.chunks_total == 3
    assert shared.result["windows"] == whole.result["windows"]  # type: ignore[index]


# Telling the team --------------------------------------------------------------------------


def test_a_drifted_result_notifies_the_team_and_calls_the_webhook_once(
    project: Project,
    contributor: User,
    reviewer: User,
    owner: User,
    viewer: User,
    trained: ModelVersion,
    older_accounts: DatasetVersion,
    analyse: Callable[..., DriftAnalysis],
    receiver: Any,
) -> None:
    project.webhook_url = receiver.url
    project.save()

    analysis = analyse(trained, older_accounts)

    assert analysis.drifted is True
    notified = Notification.objects.filter(kind="drift_detected")
    assert {note.user for note in notified} == {contributor, reviewer, owner}
    assert notified.count() == 3
    assert not notified.filter(user=viewer).exists()
    assert all(note.url == analysis.get_absolute_url() for note in notified)
    assert all("fraud-detector v1" in note.message for note in notified)
    assert all("account_age_days" in note.message for note in notified)
    assert receiver.kinds == ["drift_detected"]
    [call] = receiver.received
    assert call["project"] == "card-fraud"
    assert call["url"] == analysis.get_absolute_url()


def test_an_unchanged_month_notifies_nobody(
    project: Project,
    trained: ModelVersion,
    october: DatasetVersion,
    analyse: Callable[..., DriftAnalysis],
    receiver: Any,
) -> None:
    project.webhook_url = receiver.url
    project.save()

    analysis = analyse(trained, october)

    assert analysis.drifted is False
    assert not Notification.objects.filter(kind="drift_detected").exists()
    assert receiver.received == []


# Failing in words, and retrying ------------------------------------------------------------


def test_current_data_destroyed_after_queueing_fails_the_job_in_words(
    owner: User,
    contributor: User,
    trained: ModelVersion,
    october: DatasetVersion,
    inline: Inline,
) -> None:
    with inline():
        analysis = drift_runs.start_drift_analysis(
            trained, user=contributor, trigger="manual", current_version=october, thresholds=FAST
        )
        # Destroyed before a worker picks the analysis up.
        governance.destroy_dataset_version(october, owner, "Retention period over")

    analysis.refresh_from_db()
    job = job_of(analysis)
    assert job.state == "failed"
    assert "destroyed" in job.error
    assert "transactions v2" in job.error
    assert (analysis.state, analysis.error) == ("failed", job.error)
    assert analysis.finished_at is not None
    assert analysis.result is None
    trained.refresh_from_db()
    assert trained.drift_status == "not_analysed"

    assert catalog.retry_job(job) is True

    analysis.refresh_from_db()
    job.refresh_from_db()
    assert (analysis.state, analysis.error, analysis.finished_at) == ("queued", "", None)
    assert (job.state, job.error) == ("queued", "")


def test_a_retried_analysis_on_readable_data_succeeds(
    contributor: User,
    trained: ModelVersion,
    october: DatasetVersion,
    inline: Inline,
) -> None:
    """A worker lost mid-way (here: a failure recorded by hand) is retried to the result."""
    analysis = drift_runs.start_drift_analysis(
        trained, user=contributor, trigger="manual", current_version=october, thresholds=FAST
    )
    job = job_of(analysis)
    job.fail("Worker lost")
    drift_runs.mark_drift_analysis_failed(job, "Worker lost")

    with inline():
        assert catalog.retry_job(job) is True

    analysis.refresh_from_db()
    job.refresh_from_db()
    assert (analysis.state, analysis.error, analysis.drifted) == ("succeeded", "", False)
    assert job.state == "succeeded"


def test_a_feature_missing_from_the_current_data_is_reported_drifted(
    trained: ModelVersion,
    dataset: Dataset,
    upload_version: Upload,
    analyse: Callable[..., DriftAnalysis],
) -> None:
    without_hour = upload_version(dataset, transactions_csv(2, start="2026-10-01", drop=("hour",)))

    analysis = analyse(trained, without_hour)

    assert analysis.state == "succeeded", analysis.error
    hour = by_name(analysis)["hour"]
    assert (hour["status"], hour["drifted"]) == ("missing_in_current", True)
    assert any("missing from the current data" in reason for reason in hour["reasons"])
    assert analysis.result["summary"]["drifted_features"] == ["hour"]  # type: ignore[index]
    # The model cannot be scored without it; that is said, not crashed on.
    assert "lacks model features" in analysis.result["prediction"]["message"]  # type: ignore[index]


# On schedule -------------------------------------------------------------------------------


def test_the_schedule_compares_the_production_version_with_the_newest_data(
    model: RegisteredModel,
    contributor: User,
    dataset: Dataset,
    september: DatasetVersion,
    october: DatasetVersion,
    older_accounts: DatasetVersion,
    train_on: Train,
    inline: Inline,
) -> None:
    in_production = train_on(september)
    in_production.change_stage(Stage.PRODUCTION, contributor)
    train_on(october)  # newer, but not in production
    # Newer than the stored versions but nothing to read: the schedule skips it.
    catalog.create_external_dataset_version(
        dataset, "s3://fraud-lake/transactions/2026-12.parquet", user=contributor
    )
    drift_runs.save_settings(
        model,
        thresholds=FAST,
        window_column="timestamp",
        window_frequency="week",
        schedule_kind="daily",
    )

    with inline():
        analysis_id = drift_runs.run_scheduled_drift_analysis(model.pk)

    analysis = DriftAnalysis.objects.get(pk=analysis_id)
    assert analysis.model_version == in_production
    assert analysis.reference_version == september
    assert analysis.current_version == older_accounts
    assert (analysis.window_column, analysis.window_frequency) == ("timestamp", "week")
    assert (analysis.trigger, analysis.created_by) == ("schedule", None)
    assert analysis.thresholds["classifier_rows"] == 2_000
    assert analysis.state == "succeeded", analysis.error
    assert analysis.drifted is True
    assert [window["label"] for window in analysis.result["windows"]][:2] == [  # type: ignore[index]
        "2026-W44",
        "2026-W45",
    ]
    in_production.refresh_from_db()
    assert in_production.drift_status == "drifted"


def test_the_schedule_does_nothing_without_training_data(
    model: RegisteredModel, train_on: Train, september: DatasetVersion
) -> None:
    train_on(None)

    assert drift_runs.run_scheduled_drift_analysis(model.pk) is None
    assert not DriftAnalysis.objects.exists()


def test_the_schedule_does_nothing_for_a_deleted_model(model: RegisteredModel) -> None:
    model_id = model.pk
    model.delete()

    assert drift_runs.run_scheduled_drift_analysis(model_id) is None
    assert not DriftAnalysis.objects.exists()


# Where others read it ----------------------------------------------------------------------


def test_the_lineage_graph_reports_the_drift_status_of_model_versions(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    trained: ModelVersion,
    train_on: Train,
    september: DatasetVersion,
    older_accounts: DatasetVersion,
    analyse: Callable[..., DriftAnalysis],
) -> None:
    never_analysed = train_on(september)
    analyse(trained, older_accounts)

    response = api_client_for(viewer).get(
        "/api/v1/lineage/graph", {"type": "model_version", "id": trained.pk}
    )

    assert response.status_code == 200, response.data
    nodes = {(node["kind"], node["object_id"]): node for node in response.data["nodes"]}
    assert nodes[("model_version", trained.pk)]["drift_status"] == "drifted"
    assert nodes[("dataset_version", september.pk)]["drift_status"] is None
    other = api_client_for(viewer).get(
        "/api/v1/lineage/graph", {"type": "model_version", "id": never_analysed.pk}
    )
    [node] = [
        node
        for node in other.data["nodes"]
        if (node["kind"], node["object_id"]) == ("model_version", never_analysed.pk)
    ]
    assert node["drift_status"] == "not_analysed"


def test_the_latest_analysis_decides_the_drift_status(
    trained: ModelVersion,
    october: DatasetVersion,
    older_accounts: DatasetVersion,
    analyse: Callable[..., DriftAnalysis],
) -> None:
    analyse(trained, older_accounts)
    trained.refresh_from_db()
    assert trained.drift_status == "drifted"

    calm = analyse(trained, october)

    trained.refresh_from_db()
    assert trained.drift_status == "not_drifted"
    assert trained.drift_checked_at == calm.finished_at
