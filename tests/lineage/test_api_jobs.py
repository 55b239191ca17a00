"""/api/v1/jobs/: read-only progress of background work, with a retry for failed jobs that
only contributors may press."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from lineage.models import Dataset, DatasetVersion, Job, Project

pytestmark = pytest.mark.django_db

URL = "/api/v1/jobs/"

# A viewer is refused (403); to an outsider a confidential dataset does not exist (404).
DENIED = {"viewer": 403, "outsider": 404}


def retry_url(job: Job) -> str:
    return f"{URL}{job.pk}/retry/"


@pytest.fixture
def version(dataset: Dataset, add_version: Callable[..., DatasetVersion]) -> DatasetVersion:
    return add_version(dataset)


@pytest.fixture
def job(version: DatasetVersion) -> Job:
    return Job.objects.get(target_id=version.pk)


@pytest.fixture
def failed_job(job: Job, version: DatasetVersion) -> Job:
    job.claim()
    job.set_progress(30)
    job.fail("The file could not be read as CSV.")
    DatasetVersion.objects.filter(pk=version.pk).update(
        profile_status="failed", profile_error="The file could not be read as CSV."
    )
    return job


def test_a_job_shows_its_state_progress_and_where_its_result_is(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    job: Job,
    version: DatasetVersion,
) -> None:
    response = api_client_for(viewer).get(f"{URL}{job.pk}/")

    assert response.status_code == 200
    body = response.data
    assert body["id"] == job.pk
    assert body["job_type"] == "profile_dataset_version"
    assert body["state"] == "queued"
    assert body["progress"] == 0
    assert body["project"] == "card-fraud"
    assert body["target_type"] == "datasetversion"
    assert body["target_id"] == version.pk
    assert body["result_url"] == f"/datasets/{version.dataset_id}/versions/1/"
    assert body["error"] == ""
    assert body["attempts"] == 0
    assert body["created_by"] == "carl"
    assert body["started_at"] is None
    assert body["finished_at"] is None


def test_the_list_shows_a_finished_job(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    job: Job,
    eager_tasks: Any,
) -> None:
    from lineage.tasks import run_job

    run_job.delay(job.pk)

    response = api_client_for(viewer).get(URL)

    assert response.status_code == 200
    [item] = response.data["results"]
    assert item["state"] == "succeeded"
    assert item["progress"] == 100
    assert item["attempts"] == 1
    assert item["started_at"] is not None
    assert item["finished_at"] is not None


def test_a_job_whose_target_is_gone_has_no_result_url(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    job: Job,
    version: DatasetVersion,
) -> None:
    version.delete()

    response = api_client_for(viewer).get(f"{URL}{job.pk}/")

    assert response.status_code == 200
    assert response.data["result_url"] is None


@pytest.fixture
def jobs(
    dataset: Dataset,
    other_dataset: Dataset,
    outsider: User,
    add_version: Callable[..., DatasetVersion],
    failed_job: Job,
) -> dict[str, Job]:
    theirs = add_version(other_dataset, user=outsider)
    second = add_version(dataset)
    return {
        "failed": failed_job,
        "theirs": Job.objects.get(target_id=theirs.pk),
        "second": Job.objects.get(target_id=second.pk),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"failed", "theirs", "second"}),
        ("state=failed", {"failed"}),
        ("state=queued", {"theirs", "second"}),
        ("state=succeeded", set()),
        ("project=churn", {"theirs"}),
        ("project=card-fraud", {"failed", "second"}),
        ("job_type=profile_dataset_version", {"failed", "theirs", "second"}),
    ],
)
def test_it_filters_jobs(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    jobs: dict[str, Job],
    query: str,
    expected: set[str],
) -> None:
    labels = {job.pk: label for label, job in jobs.items()}

    response = api_client_for(viewer).get(f"{URL}?{query}")

    assert response.status_code == 200
    assert {labels[item["id"]] for item in response.data["results"]} == expected


def test_it_filters_jobs_by_target(
    api_client_for: Callable[[User], APIClient], viewer: User, jobs: dict[str, Job]
) -> None:
    target = jobs["second"].target_id

    response = api_client_for(viewer).get(f"{URL}?target_id={target}")

    assert [item["id"] for item in response.data["results"]] == [jobs["second"].pk]


def test_it_refuses_an_unknown_state_filter(
    api_client_for: Callable[[User], APIClient], viewer: User, jobs: dict[str, Job]
) -> None:
    response = api_client_for(viewer).get(f"{URL}?state=exploded")

    assert response.status_code == 400
    assert "state" in response.data


def test_a_contributor_retries_a_failed_job(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    failed_job: Job,
    version: DatasetVersion,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks() as queued:
        response = api_client_for(contributor).post(retry_url(failed_job))

    assert response.status_code == 202, response.data
    assert response.data["state"] == "queued"
    assert response.data["progress"] == 0
    assert response.data["error"] == ""
    assert len(queued) == 1  # handed to a worker once the transaction commits
    failed_job.refresh_from_db()
    assert failed_job.state == "queued"
    assert failed_job.started_at is None
    assert failed_job.finished_at is None
    version.refresh_from_db()
    assert version.profile_status == "pending"
    assert version.profile_error == ""


@pytest.mark.parametrize("state", ["queued", "running", "succeeded"])
def test_only_a_failed_job_can_be_retried(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    job: Job,
    state: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    Job.objects.filter(pk=job.pk).update(state=state)

    with django_capture_on_commit_callbacks() as queued:
        response = api_client_for(contributor).post(retry_url(job))

    assert response.status_code == 400
    assert "Only a failed job" in str(response.data)
    assert queued == []
    job.refresh_from_db()
    assert job.state == state


@pytest.mark.parametrize("actor", ["viewer", "outsider"])
def test_a_viewer_or_outsider_cannot_retry(
    api_client_for: Callable[[User], APIClient],
    request: pytest.FixtureRequest,
    failed_job: Job,
    other_project: Project,
    actor: str,
) -> None:
    response = api_client_for(request.getfixturevalue(actor)).post(retry_url(failed_job))

    assert response.status_code == DENIED[actor]
    failed_job.refresh_from_db()
    assert failed_job.state == "failed"
    assert failed_job.error == "The file could not be read as CSV."


def test_an_outsider_retries_jobs_of_their_own_project(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
) -> None:
    theirs = Job.objects.get(target_id=add_version(other_dataset, user=outsider).pk)
    theirs.claim()
    theirs.fail("boom")

    response = api_client_for(outsider).post(retry_url(theirs))

    assert response.status_code == 202


@pytest.mark.parametrize(
    ("method", "path"), [("post", ""), ("delete", "{pk}/"), ("patch", "{pk}/"), ("put", "{pk}/")]
)
def test_jobs_are_read_only(
    api_client_for: Callable[[User], APIClient],
    owner: User,
    job: Job,
    method: str,
    path: str,
) -> None:
    response = getattr(api_client_for(owner), method)(
        URL + path.format(pk=job.pk), {"state": "succeeded"}, format="json"
    )

    assert response.status_code == 405
    job.refresh_from_db()
    assert job.state == "queued"


def test_anonymous_clients_cannot_see_or_retry_jobs(failed_job: Job) -> None:
    client = APIClient()

    assert client.get(URL).status_code in (401, 403)
    assert client.post(retry_url(failed_job)).status_code in (401, 403)
    failed_job.refresh_from_db()
    assert failed_job.state == "failed"


def test_the_job_list_costs_a_fixed_number_of_queries(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    owner: User,
    dataset: Dataset,
    other_dataset: Dataset,
    outsider: User,
    add_version: Callable[..., DatasetVersion],
    django_assert_max_num_queries: Any,
) -> None:
    client = api_client_for(viewer)
    for _ in range(3):
        add_version(dataset)
    with CaptureQueriesContext(connection) as baseline:
        assert client.get(URL).status_code == 200

    for index in range(10):
        if index % 2:
            add_version(other_dataset, user=outsider)
        else:
            add_version(dataset, user=owner)

    with django_assert_max_num_queries(len(baseline)):
        response = client.get(URL)
    assert response.data["count"] == 13
    assert all(item["result_url"] for item in response.data["results"])
