"""Who may do what, on the API and on the pages: every role of the project (viewer,
contributor, reviewer, admin) and an outsider (admin of another project) against each action.
Confidential data does not exist for outsiders (404), writes need the contributor role,
the project itself the admin role, decisions the reviewer role (never the requester's own),
destroying data the admin role; and another project's ids never let anyone in."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from lineage import governance
from lineage.choices import ReviewState, Sensitivity, Stage
from lineage.models import (
    Dataset,
    DatasetVersion,
    Job,
    ModelVersion,
    Project,
    RegisteredModel,
    Review,
)

pytestmark = pytest.mark.django_db

MEMBERS = ["viewer", "contributor", "reviewer", "owner"]
EVERYONE = [*MEMBERS, "outsider"]
CONTRIBUTORS = ["contributor", "reviewer", "owner"]
NOT_CONTRIBUTORS = ["viewer", "outsider"]


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def actor(request: pytest.FixtureRequest, other_project: Project, project: Project) -> User:
    """The user named by the test's `role` parameter (the outsider administers Churn)."""
    return request.getfixturevalue(request.param)


def by_role(roles: list[str]) -> Any:
    return pytest.mark.parametrize("actor", roles, indirect=True)


@pytest.fixture
def internal_dataset(project: Project, contributor: User) -> Dataset:
    return Dataset.objects.create(
        project=project, name="holidays", owner=contributor, sensitivity=Sensitivity.INTERNAL
    )


@pytest.fixture
def internal_version(
    internal_dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> DatasetVersion:
    return add_version(internal_dataset)


@pytest.fixture
def confidential_version(
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> DatasetVersion:
    """The confidential transactions, stored and profiled (with its profiling job)."""
    with django_capture_on_commit_callbacks(execute=True):
        version = add_version(dataset)
    version.refresh_from_db()
    return version


@pytest.fixture
def model_version(
    classifier: RegisteredModel,
    confidential_version: DatasetVersion,
    register_version: Callable[..., ModelVersion],
) -> ModelVersion:
    return register_version(classifier, training_dataset_version=confidential_version.pk)


@pytest.fixture
def pending(model_version: ModelVersion, contributor: User) -> Review:
    return governance.request_review(model_version, contributor, "Ready")


def upload_file(content: bytes, name: str) -> Any:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


# Reading ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sensitivity", [Sensitivity.PUBLIC, Sensitivity.INTERNAL])
@by_role(EVERYONE)
def test_everyone_signed_in_reads_public_and_internal_data(
    actor: User,
    sensitivity: str,
    internal_dataset: Dataset,
    internal_version: DatasetVersion,
    api_client_for: Callable[[User], APIClient],
) -> None:
    Dataset.objects.filter(pk=internal_dataset.pk).update(sensitivity=sensitivity)
    api, pages = api_client_for(actor), signed_in(actor)

    assert api.get(f"/api/v1/datasets/{internal_dataset.pk}/").status_code == 200
    assert api.get(f"/api/v1/dataset-versions/{internal_version.pk}/").status_code == 200
    assert pages.get(f"/datasets/{internal_dataset.pk}/").status_code == 200
    assert pages.get(f"/datasets/{internal_dataset.pk}/versions/1/").status_code == 200
    assert pages.get(f"/datasets/{internal_dataset.pk}/versions/1/download").status_code == 200


def confidential_urls(version: DatasetVersion) -> dict[str, str]:
    job = Job.objects.get(target_id=version.pk, job_type="profile_dataset_version")
    dataset_id = version.dataset_id
    return {
        "dataset api": f"/api/v1/datasets/{dataset_id}/",
        "version api (with profile)": f"/api/v1/dataset-versions/{version.pk}/",
        "job api": f"/api/v1/jobs/{job.pk}/",
        "dataset page": f"/datasets/{dataset_id}/",
        "version page (with profile)": f"/datasets/{dataset_id}/versions/1/",
        "download": f"/datasets/{dataset_id}/versions/1/download",
        "job page": f"/jobs/{job.pk}/",
    }


def answers(client: Any, urls: dict[str, str]) -> dict[str, int]:
    return {name: client.get(url).status_code for name, url in urls.items()}


@by_role(MEMBERS)
def test_members_read_confidential_data_its_versions_profile_download_and_jobs(
    actor: User,
    confidential_version: DatasetVersion,
    api_client_for: Callable[[User], APIClient],
) -> None:
    urls = confidential_urls(confidential_version)
    api, pages = api_client_for(actor), signed_in(actor)

    statuses = answers(api, {k: v for k, v in urls.items() if "api" in k})
    statuses |= answers(pages, {k: v for k, v in urls.items() if "api" not in k})

    assert statuses == dict.fromkeys(urls, 200)
    profile = api.get(urls["version api (with profile)"]).data["profile"]
    assert profile and profile["columns"]


@pytest.mark.parametrize("sensitivity", [Sensitivity.CONFIDENTIAL, Sensitivity.PII])
def test_an_outsider_gets_404_for_restricted_data_everywhere(
    outsider: User,
    other_project: Project,
    sensitivity: str,
    confidential_version: DatasetVersion,
    api_client_for: Callable[[User], APIClient],
) -> None:
    Dataset.objects.filter(pk=confidential_version.dataset_id).update(sensitivity=sensitivity)
    urls = confidential_urls(confidential_version)
    api, pages = api_client_for(outsider), signed_in(outsider)

    statuses = answers(api, {k: v for k, v in urls.items() if "api" in k})
    statuses |= answers(pages, {k: v for k, v in urls.items() if "api" not in k})

    assert statuses == dict.fromkeys(urls, 404)


def test_an_outsider_does_not_find_restricted_data_in_lists(
    outsider: User,
    other_project: Project,
    confidential_version: DatasetVersion,
    internal_dataset: Dataset,
    api_client_for: Callable[[User], APIClient],
) -> None:
    api = api_client_for(outsider)

    datasets = api.get("/api/v1/datasets/", {"project": "card-fraud"}).data["results"]
    versions = api.get("/api/v1/dataset-versions/", {"project": "card-fraud"}).data["results"]
    jobs = api.get("/api/v1/jobs/", {"project": "card-fraud"}).data["results"]
    page = signed_in(outsider).get("/datasets/").content.decode()

    assert [row["name"] for row in datasets] == ["holidays"]
    assert versions == []
    assert jobs == []
    assert "transactions" not in page


# Creating in the project ------------------------------------------------------------------


@by_role(CONTRIBUTORS)
def test_contributors_create_datasets_and_models(
    actor: User, api_client_for: Callable[[User], APIClient]
) -> None:
    api = api_client_for(actor)

    dataset = api.post(
        "/api/v1/datasets/", {"project": "card-fraud", "name": "chargebacks"}, format="json"
    )
    model = api.post(
        "/api/v1/models/",
        {"project": "card-fraud", "name": "chargeback-model", "task": "classification"},
        format="json",
    )

    assert (dataset.status_code, model.status_code) == (201, 201)
    assert Dataset.objects.get(name="chargebacks").owner == actor
    assert RegisteredModel.objects.get(name="chargeback-model").project.slug == "card-fraud"


@by_role(NOT_CONTRIBUTORS)
def test_viewers_and_outsiders_cannot_create_datasets_or_models(
    actor: User, api_client_for: Callable[[User], APIClient]
) -> None:
    api = api_client_for(actor)

    dataset = api.post(
        "/api/v1/datasets/", {"project": "card-fraud", "name": "chargebacks"}, format="json"
    )
    model = api.post(
        "/api/v1/models/",
        {"project": "card-fraud", "name": "chargeback-model", "task": "classification"},
        format="json",
    )

    assert (dataset.status_code, model.status_code) == (400, 400)
    assert "contributor role" in str(dataset.data["project"])
    assert "contributor role" in str(model.data["project"])
    assert not Dataset.objects.filter(name="chargebacks").exists()
    assert not RegisteredModel.objects.filter(name="chargeback-model").exists()


@by_role(EVERYONE)
def test_the_new_dataset_page_only_creates_where_one_may_contribute(
    actor: User, project: Project
) -> None:
    response = signed_in(actor).post(
        "/datasets/new", {"project": project.pk, "name": "chargebacks", "sensitivity": "internal"}
    )

    created = Dataset.objects.filter(name="chargebacks").exists()
    if actor.username in ("carl", "rita", "olivia"):
        assert response.status_code == 302
        assert created
    else:
        assert response.status_code == 200  # the form again, with the project refused
        assert "Select a valid choice" in response.content.decode()
        assert not created


# Uploading versions and registering model versions ----------------------------------------


def post_upload(client: APIClient, dataset: Dataset, csv: bytes) -> Any:
    return client.post(
        "/api/v1/dataset-versions/",
        {"dataset": dataset.pk, "file": upload_file(csv, "holidays.csv")},
        format="multipart",
    )


@by_role(EVERYONE)
def test_uploading_a_version_needs_the_contributor_role(
    actor: User,
    internal_dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    api_client_for: Callable[[User], APIClient],
) -> None:
    api_response = post_upload(api_client_for(actor), internal_dataset, transactions_csv())
    page_response = signed_in(actor).post(
        f"/datasets/{internal_dataset.pk}/versions/new",
        {"file": upload_file(transactions_csv(), "holidays.csv")},
    )

    if actor.username in ("carl", "rita", "olivia"):
        assert (api_response.status_code, page_response.status_code) == (201, 302)
        assert internal_dataset.versions.count() == 2
    else:
        assert (api_response.status_code, page_response.status_code) == (400, 403)
        assert "contributor role" in str(api_response.data["dataset"])
        assert internal_dataset.versions.count() == 0


def post_registration(
    client: APIClient, model: RegisteredModel, artifact: bytes, **meta: Any
) -> Any:
    return client.post(
        "/api/v1/model-versions/",
        {
            "model": model.pk,
            "artifact": upload_file(artifact, "model.skops"),
            "metadata": json.dumps(meta),
        },
        format="multipart",
    )


@by_role(EVERYONE)
def test_registering_a_model_version_needs_the_contributor_role(
    actor: User,
    classifier: RegisteredModel,
    logistic_skops: bytes,
    api_client_for: Callable[[User], APIClient],
) -> None:
    api_response = post_registration(api_client_for(actor), classifier, logistic_skops)
    page_response = signed_in(actor).post(
        f"/models/{classifier.pk}/versions/new",
        {"artifact": upload_file(logistic_skops, "model.skops")},
    )

    if actor.username in ("carl", "rita", "olivia"):
        assert (api_response.status_code, page_response.status_code) == (201, 302)
        assert classifier.versions.count() == 2
    else:
        assert (api_response.status_code, page_response.status_code) == (400, 403)
        assert "contributor role" in str(api_response.data["model"])
        assert classifier.versions.count() == 0


# The project itself -----------------------------------------------------------------------


@by_role(EVERYONE)
def test_only_the_projects_admin_edits_it(
    actor: User, project: Project, api_client_for: Callable[[User], APIClient]
) -> None:
    api_response = api_client_for(actor).patch(
        "/api/v1/projects/card-fraud/", {"description": "Changed"}, format="json"
    )
    page = signed_in(actor)
    shown = page.get("/projects/card-fraud/edit")
    posted = page.post("/projects/card-fraud/edit", {"name": "Card fraud", "slug": "card-fraud"})

    project.refresh_from_db()
    if actor.username == "olivia":
        assert (api_response.status_code, shown.status_code, posted.status_code) == (
            200,
            200,
            302,
        )
    else:
        assert (api_response.status_code, shown.status_code, posted.status_code) == (
            403,
            403,
            403,
        )
        assert project.description == ""


# Reviews ----------------------------------------------------------------------------------


@by_role(EVERYONE)
def test_requesting_a_review_needs_the_contributor_role(
    actor: User, model_version: ModelVersion, api_client_for: Callable[[User], APIClient]
) -> None:
    response = api_client_for(actor).post(
        "/api/v1/reviews/", {"model_version": model_version.pk}, format="json"
    )

    if actor.username in ("carl", "rita", "olivia"):
        assert response.status_code == 201
        assert Review.objects.get().requested_by == actor
    else:
        assert response.status_code == 403
        assert not Review.objects.exists()


@by_role(EVERYONE)
def test_requesting_a_review_from_the_page_needs_the_contributor_role(
    actor: User, model_version: ModelVersion
) -> None:
    signed_in(actor).post(f"/models/{model_version.model_id}/versions/1/review")

    assert Review.objects.exists() == (actor.username in ("carl", "rita", "olivia"))


@by_role(EVERYONE)
def test_deciding_a_review_needs_the_reviewer_role_and_not_being_the_requester(
    actor: User,
    pending: Review,
    model_version: ModelVersion,
    api_client_for: Callable[[User], APIClient],
) -> None:
    response = api_client_for(actor).post(
        f"/api/v1/reviews/{pending.pk}/approve/", {"comment": "Checked"}, format="json"
    )

    pending.refresh_from_db()
    model_version.refresh_from_db()
    if actor.username in ("rita", "olivia"):
        assert response.status_code == 200
        assert pending.state == ReviewState.APPROVED
        assert model_version.stage == Stage.PRODUCTION
    else:  # the requester (carl) and a viewer are refused; to an outsider it does not exist
        assert response.status_code == (404 if actor.username == "otto" else 403)
        assert pending.state == ReviewState.PENDING
        assert model_version.stage == Stage.NONE


@by_role(EVERYONE)
def test_deciding_a_review_from_the_page_follows_the_same_rule(
    actor: User, pending: Review, model_version: ModelVersion
) -> None:
    signed_in(actor).post(
        f"/reviews/{pending.pk}/decide", {"decision": "reject", "comment": "Not yet"}
    )

    pending.refresh_from_db()
    decided = actor.username in ("rita", "olivia")
    assert pending.state == (ReviewState.REJECTED if decided else ReviewState.PENDING)


# Destroying data --------------------------------------------------------------------------


@by_role(EVERYONE)
def test_only_the_admin_destroys_data(
    actor: User,
    confidential_version: DatasetVersion,
    api_client_for: Callable[[User], APIClient],
) -> None:
    response = api_client_for(actor).post(
        f"/api/v1/dataset-versions/{confidential_version.pk}/destroy-data/",
        {"reason": "Retention over"},
        format="json",
    )

    confidential_version.refresh_from_db()
    expected = {"olivia": 200, "otto": 404}.get(actor.username, 403)
    assert response.status_code == expected
    assert (confidential_version.destroyed_at is not None) == (actor.username == "olivia")


# Guessing ids -----------------------------------------------------------------------------


def test_an_outsider_cannot_upload_into_a_confidential_dataset_by_its_id(
    outsider: User,
    other_project: Project,
    dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    api_client_for: Callable[[User], APIClient],
    media_files: Callable[[], list[Path]],
) -> None:
    response = post_upload(api_client_for(outsider), dataset, transactions_csv())

    assert response.status_code == 400
    assert "does not exist" in str(response.data["dataset"])
    assert not DatasetVersion.objects.exists()
    assert media_files() == []


def test_an_outsider_cannot_upload_into_an_internal_dataset_by_its_id(
    outsider: User,
    other_project: Project,
    internal_dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    api_client_for: Callable[[User], APIClient],
) -> None:
    response = post_upload(api_client_for(outsider), internal_dataset, transactions_csv())

    assert response.status_code == 400
    assert not DatasetVersion.objects.exists()


def test_an_outsider_cannot_train_on_this_projects_data_by_its_id(
    outsider: User,
    other_classifier: RegisteredModel,
    confidential_version: DatasetVersion,
    internal_version: DatasetVersion,
    logistic_skops: bytes,
    api_client_for: Callable[[User], APIClient],
    media_files: Callable[[], list[Path]],
) -> None:
    api = api_client_for(outsider)

    training = post_registration(
        api, other_classifier, logistic_skops, training_dataset_version=confidential_version.pk
    )
    evaluation = post_registration(
        api, other_classifier, logistic_skops, evaluation_dataset_version=internal_version.pk
    )

    assert (training.status_code, evaluation.status_code) == (400, 400)
    assert "does not exist in this project" in str(training.data["training_dataset_version"])
    assert "does not exist in this project" in str(evaluation.data["evaluation_dataset_version"])
    assert not other_classifier.versions.exists()
    assert not [path for path in media_files() if "models" in path.parts]


def test_a_contributor_cannot_train_on_another_projects_data_by_its_id(
    contributor: User,
    classifier: RegisteredModel,
    other_dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    outsider: User,
    logistic_skops: bytes,
    api_client_for: Callable[[User], APIClient],
) -> None:
    theirs = add_version(other_dataset, user=outsider)

    response = post_registration(
        api_client_for(contributor), classifier, logistic_skops, training_dataset_version=theirs.pk
    )

    assert response.status_code == 400
    assert not classifier.versions.exists()


def test_an_outsider_cannot_register_a_version_of_this_projects_model(
    outsider: User,
    other_project: Project,
    classifier: RegisteredModel,
    logistic_skops: bytes,
    api_client_for: Callable[[User], APIClient],
) -> None:
    response = post_registration(api_client_for(outsider), classifier, logistic_skops)

    assert response.status_code == 400
    assert not classifier.versions.exists()


def test_an_outsider_cannot_act_on_a_review_by_its_id(
    outsider: User,
    other_project: Project,
    pending: Review,
    model_version: ModelVersion,
    api_client_for: Callable[[User], APIClient],
) -> None:
    api = api_client_for(outsider)

    approve = api.post(f"/api/v1/reviews/{pending.pk}/approve/", {"comment": "x"}, format="json")
    reject = api.post(f"/api/v1/reviews/{pending.pk}/reject/", {"comment": "x"}, format="json")
    withdraw = api.post(f"/api/v1/reviews/{pending.pk}/withdraw/")
    again = api.post("/api/v1/reviews/", {"model_version": model_version.pk}, format="json")

    # Reviews are for project members: to an outsider they do not exist.
    assert (approve.status_code, reject.status_code, withdraw.status_code) == (404, 404, 404)
    assert again.status_code == 403
    pending.refresh_from_db()
    assert pending.state == ReviewState.PENDING
    assert Review.objects.count() == 1


def test_an_unknown_review_id_is_404(
    reviewer: User, project: Project, api_client_for: Callable[[User], APIClient]
) -> None:
    response = api_client_for(reviewer).post(
        "/api/v1/reviews/999999/approve/", {"comment": "x"}, format="json"
    )

    assert response.status_code == 404
    assert signed_in(reviewer).post("/reviews/999999/decide").status_code == 404


# Names of restricted data never leak ------------------------------------------------------


def test_an_outsider_does_not_read_the_confidential_datasets_name_in_a_review(
    outsider: User,
    other_project: Project,
    pending: Review,
    model_version: ModelVersion,
    api_client_for: Callable[[User], APIClient],
) -> None:
    assert "transactions" in json.dumps(pending.checklist)  # members see it named

    review = api_client_for(outsider).get(f"/api/v1/reviews/{pending.pk}/")
    page = signed_in(outsider).get(model_version.get_absolute_url())

    listed = api_client_for(outsider).get("/api/v1/reviews/")

    assert review.status_code == 404  # reviews and their checklists are for members
    assert listed.status_code == 200 and listed.data["count"] == 0
    assert page.status_code == 200
    assert "transactions" not in page.content.decode()


def test_an_outsider_does_not_read_the_confidential_datasets_name_in_a_flag(
    owner: User,
    outsider: User,
    other_project: Project,
    confidential_version: DatasetVersion,
    model_version: ModelVersion,
    api_client_for: Callable[[User], APIClient],
) -> None:
    governance.destroy_dataset_version(confidential_version, owner, "Retention over")

    api = api_client_for(outsider).get(f"/api/v1/model-versions/{model_version.pk}/")
    governance_page = signed_in(outsider).get("/governance/").content.decode()
    version_page = signed_in(outsider).get(model_version.get_absolute_url()).content.decode()

    assert api.data["needs_review"] is True
    assert "transactions" not in json.dumps(api.data)
    assert "transactions" not in governance_page
    assert "transactions" not in version_page
