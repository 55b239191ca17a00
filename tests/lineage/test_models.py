"""Rules that live on the catalog's models: versions are immutable, a job is claimed by one
worker only, a stage change keeps its history, roles rank as documented."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import AnonymousUser, User

from lineage.choices import Role
from lineage.models import (
    Dataset,
    DatasetVersion,
    ImmutableError,
    Job,
    ModelVersion,
    Project,
    RegisteredModel,
    StageTransition,
)
from lineage.permissions import can_administer, can_contribute, project_of

pytestmark = pytest.mark.django_db


# Immutability ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("row_count", 1), ("sha256", "0" * 64), ("description", "rewritten"), ("version", 9)],
)
def test_a_dataset_version_refuses_changes(
    dataset: Dataset, add_version: Callable[..., DatasetVersion], field: str, value: object
) -> None:
    version = add_version(dataset)
    original = getattr(version, field)
    setattr(version, field, value)

    with pytest.raises(ImmutableError, match="immutable"):
        version.save()
    with pytest.raises(ImmutableError):
        version.save(update_fields=[field])
    with pytest.raises(ImmutableError):
        version.save(update_fields=[field, "profile_status"])

    version.refresh_from_db()
    assert getattr(version, field) == original


def test_only_the_profile_of_a_dataset_version_may_change(
    dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> None:
    version = add_version(dataset)
    version.profile = {"row_count": 40, "column_count": 4, "columns": []}
    version.profile_status = "succeeded"

    version.save(update_fields=["profile", "profile_status", "profile_error"])

    version.refresh_from_db()
    assert version.profile_status == "succeeded"
    assert version.profile["row_count"] == 40


@pytest.mark.parametrize(
    ("field", "value"),
    [("metrics", {"f1": 0.99}), ("artifact_sha256", "f" * 64), ("estimator_class", "x.Y")],
)
def test_a_model_version_refuses_changes(
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
    field: str,
    value: object,
) -> None:
    version = register_version(classifier, metrics={"f1": 0.5})
    original = getattr(version, field)
    setattr(version, field, value)

    with pytest.raises(ImmutableError, match="immutable"):
        version.save()
    with pytest.raises(ImmutableError):
        version.save(update_fields=[field, "stage"])

    version.refresh_from_db()
    assert getattr(version, field) == original


def test_a_model_version_stage_may_change(
    classifier: RegisteredModel, register_version: Callable[..., ModelVersion]
) -> None:
    version = register_version(classifier)
    version.stage = "staging"

    version.save(update_fields=["stage"])

    version.refresh_from_db()
    assert version.stage == "staging"


# Jobs ------------------------------------------------------------------------------------


@pytest.fixture
def job(dataset: Dataset, add_version: Callable[..., DatasetVersion]) -> Job:
    return Job.objects.get(target_id=add_version(dataset).pk)


def test_a_job_is_claimed_by_one_worker_only(job: Job) -> None:
    first_worker = Job.objects.get(pk=job.pk)
    second_worker = Job.objects.get(pk=job.pk)

    assert first_worker.claim() is True
    assert second_worker.claim() is False

    job.refresh_from_db()
    assert job.state == "running"
    assert job.attempts == 1
    assert job.started_at is not None


def test_a_deleted_job_cannot_be_claimed(job: Job) -> None:
    stale = Job.objects.get(pk=job.pk)
    Job.objects.filter(pk=job.pk).delete()

    assert stale.claim() is False


def test_progress_is_clamped_to_0_to_100(job: Job) -> None:
    job.set_progress(150.4)
    assert Job.objects.get(pk=job.pk).progress == 100
    job.set_progress(-3)
    assert Job.objects.get(pk=job.pk).progress == 0
    job.set_progress(42.6)
    assert Job.objects.get(pk=job.pk).progress == 43


def test_a_job_succeeds_at_100_percent(job: Job) -> None:
    job.claim()

    job.succeed()

    job.refresh_from_db()
    assert (job.state, job.progress, job.is_finished) == ("succeeded", 100, True)
    assert job.finished_at is not None


def test_only_a_failed_job_is_requeued(job: Job) -> None:
    assert job.requeue() is False
    job.claim()
    job.set_progress(40)
    job.fail("The stored file is missing.")

    assert job.requeue() is True

    job.refresh_from_db()
    assert (job.state, job.progress, job.error) == ("queued", 0, "")
    assert job.started_at is None
    assert job.finished_at is None
    assert job.claim() is True
    assert Job.objects.get(pk=job.pk).attempts == 2


def test_a_job_points_at_its_target(job: Job) -> None:
    version = job.target

    assert isinstance(version, DatasetVersion)
    assert job.result_url == version.get_absolute_url()
    assert job.get_absolute_url() == f"/jobs/{job.pk}/"


# Stages ----------------------------------------------------------------------------------


def test_change_stage_records_every_move(
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
    contributor: User,
    reviewer: User,
) -> None:
    version = register_version(classifier)

    version.change_stage("staging", contributor, "Shadow traffic")
    version.change_stage("production", reviewer, "Approved")

    history = list(version.stage_transitions.order_by("changed_at", "pk"))
    assert [(t.from_stage, t.to_stage, t.changed_by, t.comment) for t in history] == [
        ("none", "staging", contributor, "Shadow traffic"),
        ("staging", "production", reviewer, "Approved"),
    ]
    version.refresh_from_db()
    assert version.stage == "production"
    assert version.stage_changed_at == history[-1].changed_at


def test_one_version_of_a_model_is_in_production_at_a_time(
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
    owner: User,
) -> None:
    first, second, third = (register_version(classifier) for _ in range(3))
    first.change_stage("production", owner)
    second.change_stage("production", owner)

    third.change_stage("production", owner)

    stages = dict(classifier.versions.values_list("version", "stage"))
    assert stages == {1: "archived", 2: "archived", 3: "production"}
    assert StageTransition.objects.filter(to_stage="archived").count() == 2


def test_promoting_in_one_model_leaves_other_models_alone(
    classifier: RegisteredModel,
    project: Project,
    register_version: Callable[..., ModelVersion],
    owner: User,
) -> None:
    other = RegisteredModel.objects.create(project=project, name="other", task="classification")
    theirs = register_version(other)
    theirs.change_stage("production", owner)

    register_version(classifier).change_stage("production", owner)

    theirs.refresh_from_db()
    assert theirs.stage == "production"


def test_an_anonymous_stage_change_is_recorded_without_a_user(
    classifier: RegisteredModel, register_version: Callable[..., ModelVersion]
) -> None:
    version = register_version(classifier)

    transition = version.change_stage("staging", AnonymousUser())

    assert transition.changed_by is None


def test_next_version_numbers_count_from_the_highest(
    dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> None:
    assert dataset.next_version_number() == 1
    add_version(dataset)
    add_version(dataset)
    assert dataset.next_version_number() == 3


# Roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "role", "contributes", "administers"),
    [
        ("owner", Role.ADMIN, True, True),
        ("reviewer", Role.REVIEWER, True, False),
        ("contributor", Role.CONTRIBUTOR, True, False),
        ("viewer", Role.VIEWER, False, False),
        ("outsider", None, False, False),
    ],
)
def test_roles_rank_as_documented(
    request: pytest.FixtureRequest,
    project: Project,
    other_project: Project,
    actor: str,
    role: str | None,
    contributes: bool,
    administers: bool,
) -> None:
    user = request.getfixturevalue(actor)

    assert project.role_of(user) == role
    assert can_contribute(user, project) is contributes
    assert can_administer(user, project) is administers


def test_a_superuser_is_admin_everywhere(
    make_user: Callable[..., User], project: Project, other_project: Project
) -> None:
    root = make_user("root", is_superuser=True)

    assert project.role_of(root) == Role.ADMIN
    assert can_administer(root, other_project)


def test_an_anonymous_user_has_no_role(project: Project) -> None:
    assert project.role_of(AnonymousUser()) is None
    assert not can_contribute(AnonymousUser(), project)


def test_every_catalog_object_knows_its_project(
    project: Project,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    version = add_version(dataset)
    model_version = register_version(classifier)
    job = Job.objects.get(target_id=version.pk)

    for obj in (project, dataset, version, classifier, model_version, job):
        assert project_of(obj) == project
    with pytest.raises(TypeError):
        project_of(object())
