"""/api/v1/dataset-versions/: uploads become immutable, hashed, profiled versions; external
URIs are recorded by name; every bad input is a 400 naming the problem and leaves nothing
behind; failed profiling says why and can be retried."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from lineage.models import Dataset, DatasetVersion, Job, Project

pytestmark = pytest.mark.django_db

URL = "/api/v1/dataset-versions/"

# A viewer is refused (403); to an outsider a confidential dataset does not exist (404).
DENIED = {"viewer": 403, "outsider": 404}


def detail_url(version: DatasetVersion | int) -> str:
    return f"{URL}{getattr(version, 'pk', version)}/"


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where uploads are spooled while they are checked; it must be empty afterwards."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def contributor_client(api_client_for: Callable[[User], APIClient], contributor: User) -> APIClient:
    return api_client_for(contributor)


# Uploading files -------------------------------------------------------------------------


def test_it_stores_a_csv_upload_as_version_1_with_its_hash_schema_and_job(
    contributor_client: APIClient,
    dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., Any],
    media_files: Callable[[], list[Path]],
) -> None:
    content = transactions_csv(40)

    response = contributor_client.post(
        URL,
        {"dataset": dataset.pk, "file": upload(content), "description": "March extract"},
        format="multipart",
    )

    assert response.status_code == 201, response.data
    body = response.data
    assert body["version"] == 1
    assert body["dataset"] == dataset.pk
    assert body["project"] == "card-fraud"
    assert body["format"] == "csv"
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["size_bytes"] == len(content)
    assert body["row_count"] == 40
    assert body["schema"] == [
        {"name": "amount", "type": "float"},
        {"name": "hour", "type": "integer"},
        {"name": "merchant", "type": "string"},
        {"name": "is_fraud", "type": "integer"},
    ]
    assert body["original_filename"] == "transactions.csv"
    assert body["source"] == "api"
    assert body["description"] == "March extract"
    assert body["created_by"] == "carl"
    assert body["profile_status"] == "pending"
    assert body["download_url"].endswith(f"/datasets/{dataset.pk}/versions/1/download")

    version = DatasetVersion.objects.get(pk=body["id"])
    assert version.file.read() == content
    assert media_files() == [Path(version.file.path)]
    assert Path(version.file.name).suffix == ".csv"
    assert "transactions" not in version.file.name  # never the user's file name on disk
    job = Job.objects.get(pk=body["job"])
    assert job.target == version
    assert job.project_id == dataset.project_id
    assert job.created_by.username == "carl"
    assert job.state == "queued"


def test_it_stores_a_parquet_upload(
    contributor_client: APIClient,
    dataset: Dataset,
    transactions_parquet: Callable[..., bytes],
    upload: Callable[..., Any],
) -> None:
    content = transactions_parquet(25)

    response = contributor_client.post(
        URL, {"dataset": dataset.pk, "file": upload(content, "march.parquet")}, format="multipart"
    )

    assert response.status_code == 201, response.data
    assert response.data["format"] == "parquet"
    assert response.data["row_count"] == 25
    assert response.data["sha256"] == hashlib.sha256(content).hexdigest()
    assert [column["type"] for column in response.data["schema"]] == [
        "float",
        "integer",
        "string",
        "integer",
    ]
    version = DatasetVersion.objects.get(pk=response.data["id"])
    assert version.file.name.endswith(".parquet")


def test_the_profiling_job_runs_and_stores_the_profile(
    contributor_client: APIClient,
    dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., Any],
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = contributor_client.post(
            URL, {"dataset": dataset.pk, "file": upload(transactions_csv(40))}, format="multipart"
        )

    assert response.status_code == 201, response.data
    job = Job.objects.get(pk=response.data["job"])
    assert job.state == "succeeded"
    assert job.progress == 100
    assert job.attempts == 1
    assert job.error == ""
    assert job.started_at is not None
    assert job.finished_at is not None
    assert job.finished_at >= job.started_at

    version = DatasetVersion.objects.get(pk=response.data["id"])
    assert version.profile_status == "succeeded"
    assert version.profile_error == ""
    profile = version.profile
    assert profile["row_count"] == 40
    assert profile["column_count"] == 4
    columns = {column["name"]: column for column in profile["columns"]}
    assert list(columns) == ["amount", "hour", "merchant", "is_fraud"]
    assert columns["amount"]["kind"] == "numeric"
    assert columns["amount"]["count"] == 40
    assert sum(columns["amount"]["histogram"]["counts"]) == 40
    assert columns["merchant"]["kind"] == "categorical"
    assert columns["merchant"]["distinct"] == 4
    assert {entry["value"]: entry["count"] for entry in columns["merchant"]["top_values"]} == {
        "grocer": 10,
        "fuel": 10,
        "online": 10,
        "travel": 10,
    }

    shown = contributor_client.get(detail_url(version))
    assert shown.data["profile_status"] == "succeeded"
    assert shown.data["profile"]["row_count"] == 40


def test_version_numbers_follow_each_other(
    contributor_client: APIClient,
    dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., Any],
) -> None:
    numbers = [
        contributor_client.post(
            URL,
            {"dataset": dataset.pk, "file": upload(transactions_csv(10, seed))},
            format="multipart",
        ).data["version"]
        for seed in range(3)
    ]

    assert numbers == [1, 2, 3]
    assert list(dataset.versions.order_by("version").values_list("version", flat=True)) == [1, 2, 3]


def test_each_dataset_numbers_its_own_versions(
    contributor_client: APIClient,
    dataset: Dataset,
    project: Project,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., Any],
) -> None:
    merchants = Dataset.objects.create(project=project, name="merchants")
    contributor_client.post(
        URL, {"dataset": dataset.pk, "file": upload(transactions_csv())}, format="multipart"
    )

    response = contributor_client.post(
        URL, {"dataset": merchants.pk, "file": upload(transactions_csv())}, format="multipart"
    )

    assert response.data["version"] == 1


# External URIs ---------------------------------------------------------------------------


def test_an_external_uri_names_the_dataset_by_namespace_and_name(
    contributor_client: APIClient, dataset: Dataset
) -> None:
    response = contributor_client.post(
        URL,
        {
            "dataset": dataset.pk,
            "external_uri": "s3://bucket/a/b.parquet",
            "schema": [{"name": "amount", "type": "float"}],
            "row_count": 1200,
        },
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response.data["format"] == "external"
    assert response.data["external_uri"] == "s3://bucket/a/b.parquet"
    assert response.data["profile_status"] == "not_applicable"
    assert response.data["schema"] == [{"name": "amount", "type": "float"}]
    assert response.data["row_count"] == 1200
    assert response.data["download_url"] is None
    assert response.data["job"] is None
    dataset.refresh_from_db()
    assert dataset.namespace == "s3://bucket"
    assert dataset.source_name == "a/b.parquet"
    assert dataset.is_external
    assert not Job.objects.exists()


def test_an_external_dataset_keeps_its_name_as_versions_are_added(
    contributor_client: APIClient, dataset: Dataset
) -> None:
    contributor_client.post(
        URL, {"dataset": dataset.pk, "external_uri": "s3://bucket/a/b.parquet"}, format="json"
    )

    second = contributor_client.post(
        URL, {"dataset": dataset.pk, "external_uri": "s3://bucket/a/b-v2.parquet"}, format="json"
    )

    assert second.status_code == 201
    assert second.data["version"] == 2
    dataset.refresh_from_db()
    assert dataset.source_name == "a/b.parquet"


def test_two_datasets_cannot_claim_the_same_external_data(
    contributor_client: APIClient, dataset: Dataset, project: Project
) -> None:
    twin = Dataset.objects.create(project=project, name="twin")
    contributor_client.post(
        URL, {"dataset": dataset.pk, "external_uri": "s3://bucket/a/b.parquet"}, format="json"
    )

    response = contributor_client.post(
        URL, {"dataset": twin.pk, "external_uri": "s3://bucket/a/b.parquet"}, format="json"
    )

    assert response.status_code == 400
    assert "already registered" in str(response.data["external_uri"])
    assert not twin.versions.exists()
    twin.refresh_from_db()
    assert twin.source_name == ""


def test_an_external_dataset_refuses_a_file_upload(
    contributor_client: APIClient,
    dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., Any],
    media_files: Callable[[], list[Path]],
) -> None:
    contributor_client.post(
        URL, {"dataset": dataset.pk, "external_uri": "s3://bucket/a/b.parquet"}, format="json"
    )

    response = contributor_client.post(
        URL, {"dataset": dataset.pk, "file": upload(transactions_csv())}, format="multipart"
    )

    assert response.status_code == 400
    assert "external" in str(response.data["file"])
    assert dataset.versions.count() == 1
    assert media_files() == []


# Bad input: a 400 naming the problem, and nothing left behind ----------------------------


BAD_FILES = [
    pytest.param(
        "broken.csv", b"amount,hour\n1.5,3\n2.5,4,extra\n", "file", "3 fields", id="malformed-csv"
    ),
    pytest.param("empty.csv", b"", "file", "empty", id="empty-file"),
    pytest.param("header.csv", b"amount,hour\n", "file", "no data rows", id="header-only-csv"),
    pytest.param("book.xlsx", b"PK\x03\x04 not really", "file", ".xlsx", id="xlsx-extension"),
    pytest.param("notes.txt", b"amount,hour\n1,2\n", "file", ".txt", id="txt-extension"),
    pytest.param("latin1.csv", b"name\ncaf\xe9\n", "file", "UTF-8", id="not-utf8"),
    pytest.param("fake.parquet", b"amount,hour\n1,2\n", "file", "Parquet", id="not-parquet"),
    pytest.param("noext", b"amount,hour\n1,2\n", "file", "extension", id="no-extension"),
]


@pytest.mark.parametrize(("name", "content", "field", "message"), BAD_FILES)
def test_it_refuses_a_bad_file_and_keeps_nothing(
    contributor_client: APIClient,
    dataset: Dataset,
    upload: Callable[..., Any],
    media_files: Callable[[], list[Path]],
    spool_dir: Path,
    name: str,
    content: bytes,
    field: str,
    message: str,
) -> None:
    response = contributor_client.post(
        URL, {"dataset": dataset.pk, "file": upload(content, name)}, format="multipart"
    )

    assert response.status_code == 400
    assert field in response.data, response.data
    assert message.lower() in str(response.data[field]).lower()
    assert not DatasetVersion.objects.exists()
    assert not Job.objects.exists()
    assert media_files() == []
    assert list(spool_dir.iterdir()) == []


def test_it_refuses_a_file_over_the_size_limit_and_keeps_nothing(
    contributor_client: APIClient,
    dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., Any],
    media_files: Callable[[], list[Path]],
    spool_dir: Path,
    settings: Any,
) -> None:
    settings.MAX_UPLOAD_BYTES = 200
    content = transactions_csv(40)
    assert len(content) > 200

    response = contributor_client.post(
        URL, {"dataset": dataset.pk, "file": upload(content)}, format="multipart"
    )

    assert response.status_code == 400
    assert "upload limit" in str(response.data["file"])
    assert not DatasetVersion.objects.exists()
    assert media_files() == []
    assert list(spool_dir.iterdir()) == []


def test_a_file_just_under_the_limit_is_accepted(
    contributor_client: APIClient,
    dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., Any],
    settings: Any,
) -> None:
    content = transactions_csv(5)
    settings.MAX_UPLOAD_BYTES = len(content)

    response = contributor_client.post(
        URL, {"dataset": dataset.pk, "file": upload(content)}, format="multipart"
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ftp://x/y", "Unknown URI scheme 'ftp'"),
        ("just-a-name", "not a URI"),
        ("s3://", "needs a host or bucket"),
        ("s3://bucket/", "names no object"),
        ("postgres://admin:hunter2@db:5432/sales/public.orders", "Remove the password"),
    ],
)
def test_it_refuses_an_unusable_external_uri(
    contributor_client: APIClient, dataset: Dataset, uri: str, message: str
) -> None:
    response = contributor_client.post(
        URL, {"dataset": dataset.pk, "external_uri": uri}, format="json"
    )

    assert response.status_code == 400
    assert message in str(response.data["external_uri"])
    assert not DatasetVersion.objects.exists()
    dataset.refresh_from_db()
    assert (dataset.namespace, dataset.source_name) == ("", "")


def test_it_refuses_both_a_file_and_a_uri(
    contributor_client: APIClient,
    dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., Any],
    media_files: Callable[[], list[Path]],
) -> None:
    response = contributor_client.post(
        URL,
        {
            "dataset": dataset.pk,
            "file": upload(transactions_csv()),
            "external_uri": "s3://bucket/a.csv",
        },
        format="multipart",
    )

    assert response.status_code == 400
    assert "not both" in str(response.data["non_field_errors"])
    assert not DatasetVersion.objects.exists()
    assert media_files() == []


def test_it_refuses_neither_a_file_nor_a_uri(
    contributor_client: APIClient, dataset: Dataset
) -> None:
    response = contributor_client.post(URL, {"dataset": dataset.pk}, format="json")

    assert response.status_code == 400
    assert "either a file" in str(response.data["non_field_errors"])
    assert not DatasetVersion.objects.exists()


def test_it_refuses_a_dataset_that_does_not_exist(
    contributor_client: APIClient,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., Any],
    media_files: Callable[[], list[Path]],
) -> None:
    response = contributor_client.post(
        URL, {"dataset": 999999, "file": upload(transactions_csv())}, format="multipart"
    )

    assert response.status_code == 400
    assert "dataset" in response.data
    assert media_files() == []


@pytest.mark.parametrize("actor", ["viewer", "outsider"])
def test_a_viewer_or_outsider_cannot_add_a_version(
    api_client_for: Callable[[User], APIClient],
    request: pytest.FixtureRequest,
    dataset: Dataset,
    other_project: Project,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., Any],
    media_files: Callable[[], list[Path]],
    actor: str,
) -> None:
    client = api_client_for(request.getfixturevalue(actor))

    uploaded = client.post(
        URL, {"dataset": dataset.pk, "file": upload(transactions_csv())}, format="multipart"
    )
    referenced = client.post(
        URL, {"dataset": dataset.pk, "external_uri": "s3://bucket/planted.csv"}, format="json"
    )

    assert uploaded.status_code in (400, 403)
    assert referenced.status_code in (400, 403)
    # The viewer is told about the role; to the outsider a confidential dataset does not exist.
    expected = "contributor role" if actor == "viewer" else "does not exist"
    assert expected in str(uploaded.data)
    assert expected in str(referenced.data)
    assert not DatasetVersion.objects.exists()
    assert not Job.objects.exists()
    assert media_files() == []
    dataset.refresh_from_db()
    assert dataset.source_name == ""


# Immutability ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_versions_cannot_be_changed_or_deleted(
    contributor_client: APIClient,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    method: str,
) -> None:
    version = add_version(dataset)

    response = getattr(contributor_client, method)(
        detail_url(version), {"description": "rewritten", "row_count": 1}, format="json"
    )

    assert response.status_code == 405
    version.refresh_from_db()
    assert version.description == ""
    assert version.row_count == 40


# Reading and filtering -------------------------------------------------------------------


def test_the_list_leaves_out_the_profile_and_the_detail_has_it(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
) -> None:
    version = add_version(dataset)
    DatasetVersion.objects.filter(pk=version.pk).update(
        profile={"row_count": 40, "column_count": 4, "columns": []}, profile_status="succeeded"
    )
    client = api_client_for(viewer)

    listed = client.get(URL)
    shown = client.get(detail_url(version))

    assert listed.status_code == 200
    assert "profile" not in listed.data["results"][0]
    assert listed.data["results"][0]["profile_status"] == "succeeded"
    assert shown.status_code == 200
    assert shown.data["profile"] == {"row_count": 40, "column_count": 4, "columns": []}


def test_an_outsider_reads_internal_versions_but_not_confidential_ones(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
) -> None:
    confidential = add_version(dataset)  # the fixture's dataset is confidential
    merchants = Dataset.objects.create(
        project=dataset.project, name="merchants", sensitivity="internal"
    )
    internal = add_version(merchants)
    client = api_client_for(outsider)

    assert client.get(detail_url(confidential)).status_code == 404
    response = client.get(detail_url(internal))

    assert response.status_code == 200
    assert response.data["sha256"] == internal.sha256


@pytest.fixture
def mixed_versions(
    dataset: Dataset,
    other_dataset: Dataset,
    outsider: User,
    add_version: Callable[..., DatasetVersion],
    transactions_parquet: Callable[..., bytes],
) -> dict[str, DatasetVersion]:
    first = add_version(dataset)
    second = add_version(dataset, transactions_parquet(), "v2.parquet")
    theirs = add_version(other_dataset, user=outsider)
    DatasetVersion.objects.filter(pk=first.pk).update(profile_status="succeeded")
    DatasetVersion.objects.filter(pk=theirs.pk).update(profile_status="failed")
    return {"first": first, "second": second, "theirs": theirs}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"first", "second", "theirs"}),
        ("project=card-fraud", {"first", "second"}),
        ("project=churn", {"theirs"}),
        ("profile_status=succeeded", {"first"}),
        ("profile_status=pending", {"second"}),
        ("profile_status=failed", {"theirs"}),
        ("file_format=parquet", {"second"}),
        ("version=2", {"second"}),
    ],
)
def test_it_filters_versions(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    mixed_versions: dict[str, DatasetVersion],
    query: str,
    expected: set[str],
) -> None:
    ids = {version.pk: label for label, version in mixed_versions.items()}

    response = api_client_for(viewer).get(f"{URL}?{query}")

    assert response.status_code == 200
    assert {ids[item["id"]] for item in response.data["results"]} == expected


def test_it_filters_versions_by_dataset(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    mixed_versions: dict[str, DatasetVersion],
    other_dataset: Dataset,
) -> None:
    response = api_client_for(viewer).get(f"{URL}?dataset={other_dataset.pk}")

    assert [item["id"] for item in response.data["results"]] == [mixed_versions["theirs"].pk]


def test_the_list_costs_a_fixed_number_of_queries(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    owner: User,
    outsider: User,
    dataset: Dataset,
    other_dataset: Dataset,
    project: Project,
    add_version: Callable[..., DatasetVersion],
    django_assert_max_num_queries: Any,
) -> None:
    client = api_client_for(viewer)
    for _ in range(3):
        add_version(dataset)
    with CaptureQueriesContext(connection) as baseline:
        assert client.get(URL).status_code == 200

    extra = [Dataset.objects.create(project=project, name=f"extract-{n}") for n in range(3)]
    for index in range(10):
        target = [dataset, other_dataset, *extra][index % 5]
        add_version(target, user=[owner, outsider][index % 2])

    with django_assert_max_num_queries(len(baseline)):
        response = client.get(URL)
    assert response.data["count"] == 13


# Profiling again, failures and retries ---------------------------------------------------


def test_reprofile_starts_a_new_job_that_runs(
    contributor_client: APIClient,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    version = add_version(dataset)
    first_job = Job.objects.get(target_id=version.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = contributor_client.post(f"{detail_url(version)}reprofile/")

    assert response.status_code == 202, response.data
    assert response.data["id"] != first_job.pk
    job = Job.objects.get(pk=response.data["id"])
    assert job.state == "succeeded"
    assert job.progress == 100
    version.refresh_from_db()
    assert version.profile_status == "succeeded"
    assert version.profile["row_count"] == 40


@pytest.mark.parametrize("actor", ["viewer", "outsider"])
def test_a_viewer_or_outsider_cannot_reprofile(
    api_client_for: Callable[[User], APIClient],
    request: pytest.FixtureRequest,
    dataset: Dataset,
    other_project: Project,
    add_version: Callable[..., DatasetVersion],
    actor: str,
) -> None:
    version = add_version(dataset)

    response = api_client_for(request.getfixturevalue(actor)).post(
        f"{detail_url(version)}reprofile/"
    )

    assert response.status_code == DENIED[actor]
    assert Job.objects.filter(target_id=version.pk).count() == 1


def test_an_external_version_cannot_be_profiled(
    contributor_client: APIClient, dataset: Dataset
) -> None:
    created = contributor_client.post(
        URL, {"dataset": dataset.pk, "external_uri": "s3://bucket/a.csv"}, format="json"
    )

    response = contributor_client.post(f"{detail_url(created.data['id'])}reprofile/")

    assert response.status_code == 400
    assert "no stored file" in str(response.data)
    assert not Job.objects.exists()


def test_a_failed_profile_says_why_and_a_retry_runs_it_again(
    contributor_client: APIClient,
    dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., Any],
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    content = transactions_csv(30)
    with django_capture_on_commit_callbacks() as start_profiling:
        created = contributor_client.post(
            URL, {"dataset": dataset.pk, "file": upload(content)}, format="multipart"
        )
    version = DatasetVersion.objects.get(pk=created.data["id"])
    stored_name = version.file.name
    version.file.storage.delete(stored_name)

    for callback in start_profiling:
        callback()

    job = Job.objects.get(pk=created.data["job"])
    assert job.state == "failed"
    assert job.error == "The stored file is missing."
    assert job.finished_at is not None
    version.refresh_from_db()
    assert version.profile_status == "failed"
    assert version.profile_error == "The stored file is missing."
    assert version.profile is None
    shown = contributor_client.get(f"/api/v1/jobs/{job.pk}/")
    assert shown.data["state"] == "failed"
    assert shown.data["error"] == "The stored file is missing."

    # The file comes back (restored from a backup, say) and the user presses retry.
    assert version.file.storage.save(stored_name, ContentFile(content)) == stored_name
    with django_capture_on_commit_callbacks(execute=True):
        retried = contributor_client.post(f"/api/v1/jobs/{job.pk}/retry/")

    assert retried.status_code == 202, retried.data
    job.refresh_from_db()
    assert job.state == "succeeded"
    assert job.progress == 100
    assert job.error == ""
    assert job.attempts == 2
    version.refresh_from_db()
    assert version.profile_status == "succeeded"
    assert version.profile_error == ""
    assert version.profile["row_count"] == 30
