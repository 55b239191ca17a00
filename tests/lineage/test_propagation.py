"""Classification along lineage: the sensitivities and tags of the data upstream reach every
dataset version and model version built on it, through a path a person can follow; they
are computed on read (lowering the source clears them downstream), and sources a user may
not see keep their sensitivity but lose their names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from lineage import capture
from lineage.api.serializers import set_tags
from lineage.choices import EdgeKind, Sensitivity
from lineage.models import Dataset, DatasetVersion, ModelVersion, Project, RegisteredModel
from lineage.propagation import classify

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pii_dataset(project: Project, contributor: User) -> Dataset:
    dataset = Dataset.objects.create(
        project=project,
        name="cardholder-emails",
        owner=contributor,
        sensitivity=Sensitivity.PII,
    )
    set_tags(dataset, ["gdpr", "customers"])
    return dataset


@pytest.fixture
def pii_version(pii_dataset: Dataset, add_version: Callable[..., DatasetVersion]) -> DatasetVersion:
    return add_version(pii_dataset)


@pytest.fixture
def trained_on_pii(
    classifier: RegisteredModel,
    pii_version: DatasetVersion,
    register_version: Callable[..., ModelVersion],
) -> ModelVersion:
    return register_version(classifier, training_dataset_version=pii_version.pk)


@pytest.fixture
def derived_dataset(project: Project, contributor: User) -> Dataset:
    """Features computed from the PII data: internal, but built on PII."""
    return Dataset.objects.create(
        project=project,
        name="card-features",
        owner=contributor,
        sensitivity=Sensitivity.INTERNAL,
    )


@pytest.fixture
def trained_on_derived(
    classifier: RegisteredModel,
    pii_version: DatasetVersion,
    derived_dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    register_version: Callable[..., ModelVersion],
) -> ModelVersion:
    features = add_version(derived_dataset)
    capture.link(pii_version, features, EdgeKind.DERIVED_FROM)
    return register_version(classifier, training_dataset_version=features.pk)


def reaches_of(classification: Any, sensitivity: str) -> list[Any]:
    return [reach for reach in classification.sensitivities if reach.sensitivity == sensitivity]


# Reaching downstream ------------------------------------------------------------------------


def test_a_model_trained_on_a_pii_dataset_version_is_classified_pii(
    trained_on_pii: ModelVersion,
) -> None:
    classification = classify(trained_on_pii)

    assert classification.highest == "pii"
    [reach] = reaches_of(classification, "pii")
    assert reach.source_label == "cardholder-emails"
    assert reach.column is None


def test_the_pii_path_runs_from_the_dataset_through_its_version_to_the_model_version(
    trained_on_pii: ModelVersion,
) -> None:
    [reach] = reaches_of(classify(trained_on_pii), "pii")

    assert reach.path_labels == [
        "cardholder-emails",
        "cardholder-emails v1",
        "fraud-detector v1",
    ]


def test_pii_reaches_a_model_through_an_intermediate_derived_dataset(
    trained_on_derived: ModelVersion,
) -> None:
    classification = classify(trained_on_derived)

    assert classification.highest == "pii"
    [reach] = reaches_of(classification, "pii")
    assert reach.source_label == "cardholder-emails"
    assert reach.path_labels[-1] == "fraud-detector v1"
    assert "cardholder-emails v1" in reach.path_labels
    assert "card-features v1" in reach.path_labels
    assert reach.path_labels.index("cardholder-emails v1") < reach.path_labels.index(
        "card-features v1"
    )
    assert reach.depth > 1


def test_the_derived_dataset_version_itself_is_classified_pii_too(
    trained_on_derived: ModelVersion, derived_dataset: Dataset
) -> None:
    features = derived_dataset.versions.get()

    classification = classify(features)

    assert classification.highest == "pii"
    assert [reach.source_label for reach in reaches_of(classification, "pii")] == [
        "cardholder-emails"
    ]
    # Its own, weaker mark is still listed, at depth 0.
    [own] = reaches_of(classification, "internal")
    assert own.depth == 0


def test_a_dataset_whose_versions_derive_from_pii_data_is_classified_pii(
    trained_on_derived: ModelVersion, derived_dataset: Dataset
) -> None:
    classification = classify(derived_dataset)

    assert classification.highest == "pii"
    [reach] = reaches_of(classification, "pii")
    assert reach.source_label == "cardholder-emails"


def test_lowering_the_upstream_dataset_to_internal_clears_pii_downstream(
    trained_on_derived: ModelVersion, pii_dataset: Dataset
) -> None:
    assert classify(trained_on_derived).highest == "pii"

    Dataset.objects.filter(pk=pii_dataset.pk).update(sensitivity=Sensitivity.INTERNAL)

    classification = classify(trained_on_derived)
    assert classification.highest == "internal"
    assert reaches_of(classification, "pii") == []


def test_a_pii_column_of_an_internal_dataset_reaches_downstream_naming_the_column(
    derived_dataset: Dataset,
    classifier: RegisteredModel,
    add_version: Callable[..., DatasetVersion],
    register_version: Callable[..., ModelVersion],
) -> None:
    derived_dataset.column_sensitivity = {"email": "pii"}
    derived_dataset.save()
    model_version = register_version(
        classifier, training_dataset_version=add_version(derived_dataset).pk
    )

    classification = classify(model_version)

    assert classification.highest == "pii"
    [reach] = reaches_of(classification, "pii")
    assert reach.column == "email"
    assert reach.source_label == "card-features"
    assert reach.as_dict()["column"] == "email"


def test_a_column_no_more_sensitive_than_its_dataset_adds_nothing(
    pii_dataset: Dataset, trained_on_pii: ModelVersion
) -> None:
    pii_dataset.column_sensitivity = {"amount": "internal"}
    pii_dataset.save()

    classification = classify(trained_on_pii)

    assert [reach.column for reach in classification.sensitivities] == [None]


def test_the_tags_of_upstream_datasets_are_listed(trained_on_derived: ModelVersion) -> None:
    classification = classify(trained_on_derived).as_dict()

    assert classification["tags"] == ["customers", "gdpr"]


def test_a_model_version_without_training_data_has_no_classification(
    classifier: RegisteredModel, register_version: Callable[..., ModelVersion]
) -> None:
    classification = classify(register_version(classifier))

    assert classification.highest is None
    assert classification.as_dict() == {
        "highest_sensitivity": None,
        "sensitivities": [],
        "tags": [],
    }


# Redaction ----------------------------------------------------------------------------------


def test_a_member_sees_the_pii_source_by_name(trained_on_pii: ModelVersion, viewer: User) -> None:
    [reach] = reaches_of(classify(trained_on_pii, viewer), "pii")

    assert reach.source_label == "cardholder-emails"


def test_a_non_member_sees_the_sensitivity_but_not_the_pii_datasets_name(
    trained_on_derived: ModelVersion, outsider: User, other_project: Project
) -> None:
    classification = classify(trained_on_derived, outsider)

    assert classification.highest == "pii"
    [reach] = reaches_of(classification, "pii")
    assert "cardholder-emails" not in reach.source_label
    assert "PII" in reach.source_label
    assert not any("cardholder-emails" in step for step in reach.path_labels)
    assert reach.path_labels[-1] == "fraud-detector v1"


def test_a_non_member_does_not_see_the_tags_of_a_pii_dataset(
    trained_on_pii: ModelVersion, outsider: User, other_project: Project
) -> None:
    assert classify(trained_on_pii, outsider).as_dict()["tags"] == []


def test_a_non_member_does_not_see_the_pii_column_name_either(
    project: Project,
    contributor: User,
    outsider: User,
    other_project: Project,
    classifier: RegisteredModel,
    add_version: Callable[..., DatasetVersion],
    register_version: Callable[..., ModelVersion],
) -> None:
    secret = Dataset.objects.create(
        project=project,
        name="chargeback-notes",
        owner=contributor,
        sensitivity=Sensitivity.CONFIDENTIAL,
        column_sensitivity={"cardholder_name": "pii"},
    )
    model_version = register_version(classifier, training_dataset_version=add_version(secret).pk)

    classification = classify(model_version, outsider)

    assert classification.highest == "pii"
    assert [reach.column for reach in classification.sensitivities] == [None, None]
    assert "chargeback-notes" not in str(classification.as_dict())


# The API and the pages ----------------------------------------------------------------------


def test_the_model_version_api_carries_its_classification(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    trained_on_pii: ModelVersion,
) -> None:
    response = api_client_for(viewer).get(f"/api/v1/model-versions/{trained_on_pii.pk}/")

    assert response.status_code == 200
    classification = response.data["classification"]
    assert classification["highest_sensitivity"] == "pii"
    assert classification["sensitivities"][0]["source"] == "cardholder-emails"
    assert classification["sensitivities"][0]["path"][-1] == "fraud-detector v1"
    assert classification["tags"] == ["customers", "gdpr"]


def test_the_model_version_api_redacts_the_pii_source_for_a_non_member(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    trained_on_pii: ModelVersion,
) -> None:
    response = api_client_for(outsider).get(f"/api/v1/model-versions/{trained_on_pii.pk}/")

    assert response.status_code == 200
    assert response.data["classification"]["highest_sensitivity"] == "pii"
    assert "cardholder-emails" not in response.content.decode()


def test_the_dataset_api_carries_its_classification(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    pii_dataset: Dataset,
) -> None:
    response = api_client_for(viewer).get(f"/api/v1/datasets/{pii_dataset.pk}/")

    assert response.status_code == 200
    assert response.data["classification"] == {
        "highest_sensitivity": "pii",
        "sensitivities": [
            {
                "sensitivity": "pii",
                "dataset": pii_dataset.pk,
                "source": "cardholder-emails",
                "column": None,
                "depth": 0,
                "path": ["cardholder-emails"],
            }
        ],
        "tags": ["customers", "gdpr"],
    }


def test_the_model_version_page_says_pii_and_shows_the_path_to_members(
    trained_on_pii: ModelVersion, viewer: User
) -> None:
    response = signed_in(viewer).get(trained_on_pii.get_absolute_url())

    assert response.status_code == 200
    page = response.content.decode()
    assert "PII" in page
    assert "<strong>cardholder-emails</strong>" in page
    assert "<span>cardholder-emails v1</span>" in page
    assert "<span>fraud-detector v1</span>" in page


def test_the_model_version_page_says_pii_without_the_name_to_a_non_member(
    trained_on_pii: ModelVersion, outsider: User, other_project: Project
) -> None:
    response = signed_in(outsider).get(trained_on_pii.get_absolute_url())

    assert response.status_code == 200
    page = response.content.decode()
    assert "PII" in page
    assert "cardholder-emails" not in page


def test_the_dataset_list_api_does_not_classify_each_row(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    project: Project,
    contributor: User,
    trained_on_derived: ModelVersion,
    add_version: Callable[..., DatasetVersion],
    django_assert_max_num_queries: Any,
) -> None:
    client = api_client_for(viewer)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/api/v1/datasets/").status_code == 200
    for index in range(6):
        more = Dataset.objects.create(
            project=project, name=f"extra-{index}", owner=contributor, column_sensitivity={}
        )
        set_tags(more, ["extra"])
        features = add_version(more)
        capture.link(trained_on_derived.training_dataset_version, features, "derived_from")

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/api/v1/datasets/")

    assert response.status_code == 200
    assert response.data["count"] == 8
    assert all("classification" not in row for row in response.data["results"])
