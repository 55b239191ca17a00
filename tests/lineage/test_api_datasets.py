"""/api/v1/datasets/: contributors add and edit datasets; names are unique per project; tags,
owner, sensitivity and text filters; external datasets named by namespace and name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from lineage.api.serializers import set_tags
from lineage.models import Dataset, DatasetVersion, Membership, Project, Tag

pytestmark = pytest.mark.django_db

URL = "/api/v1/datasets/"

# A viewer is refused (403); to an outsider a confidential dataset does not exist (404).
DENIED = {"viewer": 403, "outsider": 404}


def detail_url(dataset: Dataset) -> str:
    return f"{URL}{dataset.pk}/"


def names(response: Any) -> list[str]:
    return sorted(item["name"] for item in response.data["results"])


# Creating -------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ["contributor", "reviewer", "owner"])
def test_a_contributor_or_higher_creates_a_dataset(
    api_client_for: Callable[[User], APIClient],
    request: pytest.FixtureRequest,
    project: Project,
    actor: str,
) -> None:
    user = request.getfixturevalue(actor)

    response = api_client_for(user).post(
        URL,
        {
            "project": "card-fraud",
            "name": "chargebacks",
            "description": "Disputed payments",
            "sensitivity": "pii",
            "retain_until": "2030-01-31",
        },
        format="json",
    )

    assert response.status_code == 201, response.data
    dataset = Dataset.objects.get(project=project, name="chargebacks")
    assert dataset.owner == user
    assert dataset.sensitivity == "pii"
    assert str(dataset.retain_until) == "2030-01-31"
    assert response.data["owner"] == user.username
    assert response.data["project"] == "card-fraud"
    assert response.data["is_external"] is False
    assert response.data["namespace"] == ""


def test_a_new_dataset_reports_it_has_no_versions_yet(
    api_client_for: Callable[[User], APIClient], contributor: User, project: Project
) -> None:
    response = api_client_for(contributor).post(
        URL, {"project": "card-fraud", "name": "fresh"}, format="json"
    )

    assert response.status_code == 201
    # The same shape as the list and detail (and the OpenAPI schema) promise.
    assert response.data["version_count"] == 0
    assert response.data["latest_version"] is None


def test_a_viewer_cannot_create_a_dataset(
    api_client_for: Callable[[User], APIClient], viewer: User, project: Project
) -> None:
    response = api_client_for(viewer).post(
        URL, {"project": "card-fraud", "name": "chargebacks"}, format="json"
    )

    assert response.status_code in (400, 403)
    assert "contributor role" in str(response.data)
    assert not Dataset.objects.exists()


def test_an_outsider_cannot_add_a_dataset_to_another_teams_project(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    project: Project,
    other_project: Project,
) -> None:
    response = api_client_for(outsider).post(
        URL, {"project": "card-fraud", "name": "planted"}, format="json"
    )

    assert response.status_code in (400, 403)
    assert not Dataset.objects.filter(name="planted").exists()


def test_an_outsider_adds_datasets_to_their_own_project(
    api_client_for: Callable[[User], APIClient], outsider: User, other_project: Project
) -> None:
    response = api_client_for(outsider).post(
        URL, {"project": "churn", "name": "customers"}, format="json"
    )

    assert response.status_code == 201
    assert Dataset.objects.get(name="customers").project == other_project


def test_it_refuses_a_project_that_does_not_exist(
    api_client_for: Callable[[User], APIClient], contributor: User, project: Project
) -> None:
    response = api_client_for(contributor).post(
        URL, {"project": "no-such-project", "name": "x"}, format="json"
    )

    assert response.status_code == 400
    assert "project" in response.data
    assert not Dataset.objects.exists()


def test_it_refuses_a_duplicate_name_in_the_same_project(
    api_client_for: Callable[[User], APIClient], contributor: User, dataset: Dataset
) -> None:
    response = api_client_for(contributor).post(
        URL, {"project": "card-fraud", "name": "transactions"}, format="json"
    )

    assert response.status_code == 400
    assert "name" in response.data
    assert "transactions" in str(response.data["name"])
    assert Dataset.objects.filter(name="transactions").count() == 1


def test_the_same_name_is_fine_in_another_project(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    dataset: Dataset,
    other_project: Project,
) -> None:
    response = api_client_for(outsider).post(
        URL, {"project": "churn", "name": "transactions"}, format="json"
    )

    assert response.status_code == 201
    assert Dataset.objects.filter(name="transactions").count() == 2


def test_it_normalises_tags(
    api_client_for: Callable[[User], APIClient], contributor: User, project: Project
) -> None:
    response = api_client_for(contributor).post(
        URL,
        {"project": "card-fraud", "name": "chargebacks", "tags": [" Fraud", "payments", "FRAUD"]},
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response.data["tags"] == ["fraud", "payments"]
    dataset = Dataset.objects.get(name="chargebacks")
    assert sorted(tag.name for tag in dataset.tags.all()) == ["fraud", "payments"]
    assert Tag.objects.filter(name="fraud").count() == 1


def test_it_accepts_tags_as_comma_separated_text(
    api_client_for: Callable[[User], APIClient], contributor: User, project: Project
) -> None:
    response = api_client_for(contributor).post(
        URL,
        {"project": "card-fraud", "name": "chargebacks", "tags": "Disputes, payments"},
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response.data["tags"] == ["disputes", "payments"]


def test_it_refuses_a_tag_with_spaces_naming_it(
    api_client_for: Callable[[User], APIClient], contributor: User, project: Project
) -> None:
    response = api_client_for(contributor).post(
        URL,
        {"project": "card-fraud", "name": "chargebacks", "tags": ["two words"]},
        format="json",
    )

    assert response.status_code == 400
    assert "two words" in str(response.data["tags"])
    assert not Dataset.objects.exists()
    assert not Tag.objects.exists()


# Reading and filtering -------------------------------------------------------------------


@pytest.fixture
def catalog(
    dataset: Dataset,
    project: Project,
    other_project: Project,
    owner: User,
    outsider: User,
    viewer: User,
) -> None:
    """transactions (carl, confidential, fraud+payments), merchants (olivia, public, payments),
    customers in the other project (otto, pii, churn). The viewer reads both projects."""
    Membership.objects.create(project=other_project, user=viewer, role="viewer")
    merchants = Dataset.objects.create(
        project=project,
        name="merchants",
        description="Merchant directory",
        owner=owner,
        sensitivity="public",
    )
    set_tags(merchants, ["payments"])
    customers = Dataset.objects.create(
        project=other_project,
        name="customers",
        description="Churn labels per customer",
        owner=outsider,
        sensitivity="pii",
    )
    set_tags(customers, ["churn"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["customers", "merchants", "transactions"]),
        ("tag=payments", ["merchants", "transactions"]),
        ("tag=fraud", ["transactions"]),
        ("tag=nothing", []),
        ("owner=olivia", ["merchants"]),
        ("owner=carl", ["transactions"]),
        ("sensitivity=pii", ["customers"]),
        ("sensitivity=confidential", ["transactions"]),
        ("q=directory", ["merchants"]),
        ("q=TRANS", ["transactions"]),
        ("project=churn", ["customers"]),
        ("project=card-fraud&tag=payments&owner=olivia", ["merchants"]),
        ("search=churn", ["customers"]),
    ],
)
def test_it_filters_datasets(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    catalog: None,
    query: str,
    expected: list[str],
) -> None:
    response = api_client_for(viewer).get(f"{URL}?{query}")

    assert response.status_code == 200
    assert names(response) == expected
    assert response.data["count"] == len(expected)


def test_it_refuses_an_unknown_sensitivity_filter(
    api_client_for: Callable[[User], APIClient], viewer: User, catalog: None
) -> None:
    response = api_client_for(viewer).get(f"{URL}?sensitivity=secret")

    assert response.status_code == 400
    assert "sensitivity" in response.data


def test_it_lists_tags_and_version_counts(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
) -> None:
    add_version(dataset)
    add_version(dataset)

    response = api_client_for(viewer).get(detail_url(dataset))

    assert response.status_code == 200
    assert response.data["tags"] == ["fraud", "payments"]
    assert response.data["version_count"] == 2
    assert response.data["latest_version"] == 2
    assert response.data["owner"] == "carl"
    assert response.data["sensitivity"] == "confidential"


def test_a_tag_shared_by_two_datasets_lists_each_once(
    api_client_for: Callable[[User], APIClient], viewer: User, catalog: None
) -> None:
    response = api_client_for(viewer).get(f"{URL}?tag=payments")

    assert [item["name"] for item in response.data["results"]].count("transactions") == 1


# Updating --------------------------------------------------------------------------------


def test_a_contributor_updates_a_dataset_and_replaces_its_tags(
    api_client_for: Callable[[User], APIClient], contributor: User, dataset: Dataset
) -> None:
    response = api_client_for(contributor).patch(
        detail_url(dataset),
        {"description": "Card payments, labelled", "sensitivity": "pii", "tags": ["Labelled"]},
        format="json",
    )

    assert response.status_code == 200, response.data
    dataset.refresh_from_db()
    assert dataset.description == "Card payments, labelled"
    assert dataset.sensitivity == "pii"
    assert [tag.name for tag in dataset.tags.all()] == ["labelled"]
    assert response.data["tags"] == ["labelled"]


def test_renaming_onto_another_dataset_is_refused(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    dataset: Dataset,
    project: Project,
) -> None:
    Dataset.objects.create(project=project, name="merchants")

    response = api_client_for(contributor).patch(
        detail_url(dataset), {"name": "merchants"}, format="json"
    )

    assert response.status_code == 400
    assert "name" in response.data
    dataset.refresh_from_db()
    assert dataset.name == "transactions"


def test_a_dataset_cannot_move_to_another_project(
    api_client_for: Callable[[User], APIClient],
    owner: User,
    dataset: Dataset,
    other_project: Project,
    outsider: User,
) -> None:
    from lineage.models import Membership

    Membership.objects.create(project=other_project, user=owner, role="admin")

    response = api_client_for(owner).patch(detail_url(dataset), {"project": "churn"}, format="json")

    assert response.status_code == 400
    assert "project" in response.data
    dataset.refresh_from_db()
    assert dataset.project.slug == "card-fraud"


@pytest.mark.parametrize("actor", ["viewer", "outsider"])
def test_a_viewer_or_outsider_cannot_update_or_delete_a_dataset(
    api_client_for: Callable[[User], APIClient],
    request: pytest.FixtureRequest,
    dataset: Dataset,
    other_project: Project,
    actor: str,
) -> None:
    client = api_client_for(request.getfixturevalue(actor))

    patched = client.patch(detail_url(dataset), {"description": "defaced"}, format="json")
    deleted = client.delete(detail_url(dataset))

    assert patched.status_code == DENIED[actor]
    assert deleted.status_code == DENIED[actor]
    dataset.refresh_from_db()
    assert dataset.description == "Card transactions labelled by the fraud team"


def test_anonymous_clients_cannot_list_datasets(dataset: Dataset) -> None:
    assert APIClient().get(URL).status_code in (401, 403)


# External datasets -----------------------------------------------------------------------


def test_an_external_dataset_takes_its_name_from_the_first_uri(
    api_client_for: Callable[[User], APIClient], contributor: User, project: Project
) -> None:
    client = api_client_for(contributor)
    created = client.post(URL, {"project": "card-fraud", "name": "lake-events"}, format="json")
    dataset_id = created.data["id"]

    version = client.post(
        "/api/v1/dataset-versions/",
        {"dataset": dataset_id, "external_uri": "s3://bucket/a/b.parquet"},
        format="json",
    )
    shown = client.get(f"{URL}{dataset_id}/")
    filtered = client.get(f"{URL}?external=true")
    stored = client.get(f"{URL}?external=false")

    assert version.status_code == 201, version.data
    assert shown.data["namespace"] == "s3://bucket"
    assert shown.data["source_name"] == "a/b.parquet"
    assert shown.data["is_external"] is True
    assert names(filtered) == ["lake-events"]
    assert names(stored) == []


def test_namespace_and_source_name_cannot_be_written_directly(
    api_client_for: Callable[[User], APIClient], contributor: User, dataset: Dataset
) -> None:
    response = api_client_for(contributor).patch(
        detail_url(dataset),
        {"namespace": "s3://elsewhere", "source_name": "stolen"},
        format="json",
    )

    assert response.status_code == 200
    dataset.refresh_from_db()
    assert (dataset.namespace, dataset.source_name) == ("", "")


# Deleting --------------------------------------------------------------------------------


def test_a_contributor_deletes_a_dataset_with_its_versions_and_files(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    media_files: Callable[[], list[Any]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    add_version(dataset)
    add_version(dataset)
    assert len(media_files()) == 2

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(contributor).delete(detail_url(dataset))

    assert response.status_code == 204
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not DatasetVersion.objects.exists()
    assert media_files() == []


def test_a_dataset_that_trained_a_model_cannot_be_deleted(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    classifier: Any,
    register_version: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    training = add_version(dataset)
    register_version(classifier, training_dataset_version=training.pk)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(contributor).delete(detail_url(dataset))

    # Lineage is protected: a clear refusal, not a server error, and every file stays.
    assert response.status_code in (400, 409)
    assert "fraud-detector" in str(response.data)
    assert DatasetVersion.objects.filter(pk=training.pk).exists()
    assert training.file.storage.exists(training.file.name)


def test_the_dataset_list_costs_a_fixed_number_of_queries(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    owner: User,
    outsider: User,
    project: Project,
    other_project: Project,
    django_assert_max_num_queries: Any,
) -> None:
    def add_datasets(count: int, start: int) -> None:
        for index in range(start, start + count):
            dataset = Dataset.objects.create(
                project=[project, other_project][index % 2],
                name=f"extract-{index}",
                owner=[owner, outsider][index % 2],
            )
            set_tags(dataset, [f"tag-{index}", "shared"])

    client = api_client_for(viewer)
    add_datasets(3, 0)
    with CaptureQueriesContext(connection) as baseline:
        assert client.get(URL).status_code == 200

    add_datasets(10, 3)

    with django_assert_max_num_queries(len(baseline)):
        response = client.get(URL)
    assert response.data["count"] == 13


def test_an_owner_can_be_named_by_username_and_defaults_to_the_creator(
    api_client_for: Callable[[User], APIClient], project: Project, contributor: User, viewer: User
) -> None:
    client = api_client_for(contributor)

    named = client.post(
        "/api/v1/datasets/", {"project": project.slug, "name": "named", "owner": viewer.username}
    )
    defaulted = client.post("/api/v1/datasets/", {"project": project.slug, "name": "defaulted"})
    unknown = client.post(
        "/api/v1/datasets/", {"project": project.slug, "name": "ghost", "owner": "nobody"}
    )

    assert (named.status_code, named.data["owner"]) == (201, viewer.username)
    assert (defaulted.status_code, defaulted.data["owner"]) == (201, contributor.username)
    assert unknown.status_code == 400 and "owner" in unknown.data
    assert not Dataset.objects.filter(name="ghost").exists()
