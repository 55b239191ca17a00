"""/api/v1/models/ and /api/v1/model-versions/: registering a skops artifact records how it
was built (estimator, parameters, data, signature, environment); unsafe or mismatched
artifacts and bad metadata are refused with nothing stored; stages keep their history."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn
import skops.io as sio
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from sklearn.linear_model import LogisticRegression

from lineage.models import (
    Dataset,
    DatasetVersion,
    ModelVersion,
    Project,
    RegisteredModel,
    StageTransition,
)

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"
VERSIONS = "/api/v1/model-versions/"


class HomeMadeClassifier(LogisticRegression):
    """A subclass nobody reviewed: skops does not trust it, so the portal must refuse it."""


@pytest.fixture
def contributor_client(api_client_for: Callable[[User], APIClient], contributor: User) -> APIClient:
    return api_client_for(contributor)


@pytest.fixture
def training_version(
    dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> DatasetVersion:
    return add_version(dataset)


def register(
    client: APIClient,
    model: RegisteredModel | int,
    artifact: bytes,
    metadata: dict[str, Any] | str | None = None,
    filename: str = "model.skops",
) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    body: dict[str, Any] = {
        "model": getattr(model, "pk", model),
        "artifact": SimpleUploadedFile(filename, artifact),
    }
    if metadata is not None:
        body["metadata"] = metadata if isinstance(metadata, str) else json.dumps(metadata)
    return client.post(VERSIONS, body, format="multipart")


# Registered models -----------------------------------------------------------------------


def test_a_contributor_creates_a_model(contributor_client: APIClient, project: Project) -> None:
    response = contributor_client.post(
        MODELS,
        {
            "project": "card-fraud",
            "name": "chargeback-scorer",
            "task": "classification",
            "description": "Predicts disputes",
            "tags": ["Fraud", "disputes"],
        },
        format="json",
    )

    assert response.status_code == 201, response.data
    model = RegisteredModel.objects.get(name="chargeback-scorer")
    assert model.project == project
    assert model.owner.username == "carl"
    assert model.task == "classification"
    assert response.data["tags"] == ["disputes", "fraud"]


def test_a_new_model_reports_it_has_no_versions_yet(
    contributor_client: APIClient, project: Project
) -> None:
    response = contributor_client.post(
        MODELS, {"project": "card-fraud", "name": "fresh", "task": "regression"}, format="json"
    )

    assert response.status_code == 201
    # The same shape as the list and detail (and the OpenAPI schema) promise.
    assert response.data["version_count"] == 0
    assert response.data["latest_version"] is None
    assert response.data["production_version"] is None


def test_it_refuses_a_duplicate_model_name_naming_name(
    contributor_client: APIClient, classifier: RegisteredModel
) -> None:
    response = contributor_client.post(
        MODELS,
        {"project": "card-fraud", "name": "fraud-detector", "task": "regression"},
        format="json",
    )

    assert response.status_code == 400
    assert "name" in response.data
    assert RegisteredModel.objects.filter(name="fraud-detector").count() == 1


@pytest.mark.parametrize("actor", ["viewer", "outsider"])
def test_a_viewer_or_outsider_cannot_create_a_model_in_the_project(
    api_client_for: Callable[[User], APIClient],
    request: pytest.FixtureRequest,
    project: Project,
    other_project: Project,
    actor: str,
) -> None:
    response = api_client_for(request.getfixturevalue(actor)).post(
        MODELS, {"project": "card-fraud", "name": "planted", "task": "regression"}, format="json"
    )

    assert response.status_code in (400, 403)
    assert not RegisteredModel.objects.filter(name="planted").exists()


def test_the_task_cannot_change_once_the_model_has_versions(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    register_version(classifier)

    response = contributor_client.patch(
        f"{MODELS}{classifier.pk}/", {"task": "regression"}, format="json"
    )

    assert response.status_code == 400
    assert "task" in response.data
    classifier.refresh_from_db()
    assert classifier.task == "classification"


def test_a_viewer_cannot_edit_a_model(
    api_client_for: Callable[[User], APIClient], viewer: User, classifier: RegisteredModel
) -> None:
    response = api_client_for(viewer).patch(
        f"{MODELS}{classifier.pk}/", {"description": "defaced"}, format="json"
    )

    assert response.status_code == 403
    classifier.refresh_from_db()
    assert classifier.description == "Scores card transactions"


# Registering versions --------------------------------------------------------------------


def test_it_registers_a_version_with_everything_needed_to_rebuild_it(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    training_version: DatasetVersion,
    logistic_skops: bytes,
    media_files: Callable[[], list[Path]],
) -> None:
    import hashlib

    response = register(
        contributor_client,
        classifier,
        logistic_skops,
        {
            "description": "Weekly retrain",
            "training_dataset_version": training_version.pk,
            "target_column": "is_fraud",
            "metrics": {"roc_auc": 0.91, "f1": 0.7},
            "code_repository": "https://git.example.com/fraud/scorer",
            "code_commit": "4f2a9c1",
            "python_version": "3.11.7",
            "packages": "numpy==2.1.0\nscikit-learn==1.9.1\n# a comment\n\npandas==3.0.0\n",
        },
    )

    assert response.status_code == 201, response.data
    body = response.data
    assert body["version"] == 1
    assert body["model"] == classifier.pk
    assert body["project"] == "card-fraud"
    assert body["estimator_class"] == "sklearn.linear_model.LogisticRegression"
    assert body["framework"] == "scikit-learn"
    assert body["framework_version"] == sklearn.__version__
    assert body["hyperparameters"]["C"] == 0.5
    assert body["hyperparameters"]["max_iter"] == 300
    assert body["metrics"] == {"roc_auc": 0.91, "f1": 0.7}
    assert body["training_dataset_version"] == training_version.pk
    assert body["target_column"] == "is_fraud"
    assert body["signature"] == [
        {"name": "amount", "type": "float"},
        {"name": "hour", "type": "integer"},
    ]
    assert body["packages"] == {"numpy": "2.1.0", "scikit-learn": "1.9.1", "pandas": "3.0.0"}
    assert body["code_commit"] == "4f2a9c1"
    assert body["python_version"] == "3.11.7"
    assert body["artifact_sha256"] == hashlib.sha256(logistic_skops).hexdigest()
    assert body["artifact_size"] == len(logistic_skops)
    assert body["stage"] == "none"
    assert body["stage_history"] == []
    assert body["created_by"] == "carl"

    version = ModelVersion.objects.get(pk=body["id"])
    assert version.artifact.read() == logistic_skops
    assert version.artifact.name.startswith(f"models/{classifier.pk}/")
    assert version.artifact.name.endswith(".skops")
    assert Path(version.artifact.path) in media_files()


def test_it_registers_a_gradient_boosting_model_whose_trees_are_trusted(
    contributor_client: APIClient, classifier: RegisteredModel, boosting_skops: bytes
) -> None:
    response = register(contributor_client, classifier, boosting_skops)

    assert response.status_code == 201, response.data
    assert response.data["estimator_class"] == "sklearn.ensemble.HistGradientBoostingClassifier"
    assert response.data["hyperparameters"]["max_iter"] == 5
    assert [feature["name"] for feature in response.data["signature"]] == ["amount", "hour"]
    assert {feature["type"] for feature in response.data["signature"]} == {"unknown"}


def test_given_hyperparameters_and_signature_win_over_the_estimators(
    contributor_client: APIClient, classifier: RegisteredModel, logistic_skops: bytes
) -> None:
    response = register(
        contributor_client,
        classifier,
        logistic_skops,
        {
            "hyperparameters": {"search": "grid", "C": 0.5},
            "signature": [{"name": "amount_eur", "type": "float"}],
            "packages": {"numpy": "2.1.0"},
        },
    )

    assert response.status_code == 201, response.data
    assert response.data["hyperparameters"] == {"search": "grid", "C": 0.5}
    assert response.data["signature"] == [{"name": "amount_eur", "type": "float"}]
    assert response.data["packages"] == {"numpy": "2.1.0"}


def test_without_feature_names_the_signature_comes_from_the_training_schema(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    training_version: DatasetVersion,
) -> None:
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 3))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))

    response = register(
        contributor_client,
        classifier,
        sio.dumps(model),
        {"training_dataset_version": training_version.pk, "target_column": "is_fraud"},
    )

    assert response.status_code == 201, response.data
    assert response.data["signature"] == [
        {"name": "amount", "type": "float"},
        {"name": "hour", "type": "integer"},
        {"name": "merchant", "type": "string"},
    ]


def test_without_names_or_training_data_features_are_numbered(
    contributor_client: APIClient, classifier: RegisteredModel
) -> None:
    X = np.random.default_rng(4).normal(size=(30, 2))
    model = LogisticRegression().fit(X, (X[:, 1] > 0).astype(int))

    response = register(contributor_client, classifier, sio.dumps(model))

    assert response.status_code == 201, response.data
    assert response.data["signature"] == [
        {"name": "x0", "type": "float"},
        {"name": "x1", "type": "float"},
    ]
    assert response.data["training_dataset_version"] is None


def test_version_numbers_follow_each_other(
    contributor_client: APIClient, classifier: RegisteredModel, logistic_skops: bytes
) -> None:
    numbers = [
        register(contributor_client, classifier, logistic_skops).data["version"] for _ in "abc"
    ]

    assert numbers == [1, 2, 3]


# Refusals: a 400 naming the problem, no version row and no stored artifact ---------------


def assert_nothing_registered(media_files: Callable[[], list[Path]]) -> None:
    assert not ModelVersion.objects.exists()
    assert media_files() == []


def test_it_refuses_a_training_version_that_does_not_exist(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    logistic_skops: bytes,
    media_files: Callable[[], list[Path]],
) -> None:
    response = register(
        contributor_client, classifier, logistic_skops, {"training_dataset_version": 987654}
    )

    assert response.status_code == 400
    assert "987654" in str(response.data["training_dataset_version"])
    assert_nothing_registered(media_files)


def test_it_refuses_another_projects_dataset_version_as_if_it_did_not_exist(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    other_dataset: Dataset,
    outsider: User,
    add_version: Callable[..., DatasetVersion],
    logistic_skops: bytes,
    media_files: Callable[[], list[Path]],
) -> None:
    theirs = add_version(other_dataset, user=outsider)
    stored_before = media_files()

    response = register(
        contributor_client,
        classifier,
        logistic_skops,
        {"training_dataset_version": theirs.pk, "evaluation_dataset_version": None},
    )

    assert response.status_code == 400
    assert "does not exist in this project" in str(response.data["training_dataset_version"])
    assert not ModelVersion.objects.exists()
    assert media_files() == stored_before


def test_it_refuses_another_projects_version_as_evaluation_data(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    other_dataset: Dataset,
    outsider: User,
    add_version: Callable[..., DatasetVersion],
    logistic_skops: bytes,
) -> None:
    theirs = add_version(other_dataset, user=outsider)

    response = register(
        contributor_client, classifier, logistic_skops, {"evaluation_dataset_version": theirs.pk}
    )

    assert response.status_code == 400
    assert "evaluation_dataset_version" in response.data
    assert not ModelVersion.objects.exists()


def test_it_refuses_a_target_column_missing_from_the_training_data(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    training_version: DatasetVersion,
    logistic_skops: bytes,
) -> None:
    response = register(
        contributor_client,
        classifier,
        logistic_skops,
        {"training_dataset_version": training_version.pk, "target_column": "chargeback"},
    )

    assert response.status_code == 400
    assert "chargeback" in str(response.data["target_column"])
    assert not ModelVersion.objects.exists()


def test_it_refuses_a_pickle(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    media_files: Callable[[], list[Path]],
) -> None:
    X = np.random.default_rng(5).normal(size=(20, 2))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))

    response = register(contributor_client, classifier, pickle.dumps(model), filename="model.pkl")

    assert response.status_code == 400
    assert "pickle" in str(response.data["artifact"]).lower()
    assert_nothing_registered(media_files)


def test_it_refuses_random_bytes(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    media_files: Callable[[], list[Path]],
) -> None:
    noise = np.random.default_rng(6).integers(0, 256, size=512, dtype=np.uint8).tobytes()

    response = register(contributor_client, classifier, b"\x01" + noise)

    assert response.status_code == 400
    assert "not a skops file" in str(response.data["artifact"])
    assert_nothing_registered(media_files)


def test_it_refuses_an_empty_artifact(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    media_files: Callable[[], list[Path]],
) -> None:
    response = register(contributor_client, classifier, b"")

    assert response.status_code == 400
    assert "empty" in str(response.data["artifact"])
    assert_nothing_registered(media_files)


def test_it_refuses_an_untrusted_type_naming_it(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    media_files: Callable[[], list[Path]],
) -> None:
    X = np.random.default_rng(7).normal(size=(20, 2))
    artifact = sio.dumps(HomeMadeClassifier().fit(X, (X[:, 0] > 0).astype(int)))
    [untrusted] = sio.get_untrusted_types(data=artifact)
    assert untrusted.endswith("HomeMadeClassifier")

    response = register(contributor_client, classifier, artifact)

    assert response.status_code == 400
    assert untrusted in str(response.data["artifact"])
    assert "not trusted" in str(response.data["artifact"])
    assert_nothing_registered(media_files)


def test_it_refuses_a_regressor_for_a_classification_model(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    regressor_skops: bytes,
    media_files: Callable[[], list[Path]],
) -> None:
    response = register(contributor_client, classifier, regressor_skops)

    assert response.status_code == 400
    message = str(response.data["artifact"])
    assert "regression" in message
    assert "LinearRegression" in message
    assert_nothing_registered(media_files)


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        pytest.param({"metrics": {"roc_auc": "high"}}, "metrics", id="non-numeric-metric"),
        pytest.param('{"metrics": {"loss": 1e999}}', "metrics", id="infinite-metric"),
        pytest.param({"metrics": [0.9]}, "metrics", id="metrics-not-an-object"),
        pytest.param({"code_commit": "abc; rm -rf /"}, "code_commit", id="bad-commit"),
        pytest.param({"python_version": "three"}, "python_version", id="bad-python-version"),
        pytest.param({"packages": 42}, "packages", id="packages-not-text"),
        pytest.param({"signature": [{"name": "amount"}]}, "signature", id="signature-no-type"),
        pytest.param({"training_dataset_version": "v1"}, "training_dataset_version", id="bad-id"),
    ],
)
def test_it_refuses_bad_metadata_naming_the_field(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    logistic_skops: bytes,
    media_files: Callable[[], list[Path]],
    metadata: dict[str, Any] | str,
    field: str,
) -> None:
    response = register(contributor_client, classifier, logistic_skops, metadata)

    assert response.status_code == 400
    assert field in str(response.data), response.data
    assert_nothing_registered(media_files)


def test_a_non_numeric_metric_is_named(
    contributor_client: APIClient, classifier: RegisteredModel, logistic_skops: bytes
) -> None:
    response = register(
        contributor_client, classifier, logistic_skops, {"metrics": {"roc_auc": "high"}}
    )

    assert response.status_code == 400
    assert "roc_auc" in str(response.data["metadata"]["metrics"])


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        pytest.param('{"metrics": {"f1": 0.7}', "JSON", id="malformed-json"),
        pytest.param("[1, 2]", "JSON object", id="json-array"),
        pytest.param('{"metrics": {"loss": NaN}}', "JSON", id="nan-is-not-json"),
    ],
)
def test_it_refuses_metadata_that_is_not_a_json_object(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    logistic_skops: bytes,
    media_files: Callable[[], list[Path]],
    metadata: str,
    message: str,
) -> None:
    response = register(contributor_client, classifier, logistic_skops, metadata)

    assert response.status_code == 400
    assert message in str(response.data["metadata"])
    assert_nothing_registered(media_files)


def test_it_refuses_a_model_that_does_not_exist(
    contributor_client: APIClient, logistic_skops: bytes, media_files: Callable[[], list[Path]]
) -> None:
    response = register(contributor_client, 424242, logistic_skops)

    assert response.status_code == 400
    assert "model" in response.data
    assert_nothing_registered(media_files)


@pytest.mark.parametrize("actor", ["viewer", "outsider"])
def test_a_viewer_or_outsider_cannot_register_a_version(
    api_client_for: Callable[[User], APIClient],
    request: pytest.FixtureRequest,
    classifier: RegisteredModel,
    other_project: Project,
    logistic_skops: bytes,
    media_files: Callable[[], list[Path]],
    actor: str,
) -> None:
    response = register(api_client_for(request.getfixturevalue(actor)), classifier, logistic_skops)

    assert response.status_code in (400, 403)
    assert "contributor role" in str(response.data)
    assert_nothing_registered(media_files)


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_model_versions_cannot_be_changed_or_deleted(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
    method: str,
) -> None:
    version = register_version(classifier, metrics={"f1": 0.5})

    response = getattr(contributor_client, method)(
        f"{VERSIONS}{version.pk}/", {"metrics": {"f1": 0.99}}, format="json"
    )

    assert response.status_code == 405
    version.refresh_from_db()
    assert version.metrics == {"f1": 0.5}


# Stages ----------------------------------------------------------------------------------


def test_a_stage_change_is_recorded_with_who_and_when(
    contributor_client: APIClient,
    contributor: User,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    version = register_version(classifier)

    response = contributor_client.post(
        f"{VERSIONS}{version.pk}/stage/",
        {"stage": "staging", "comment": "Shadow traffic first"},
        format="json",
    )

    assert response.status_code == 200, response.data
    assert response.data["stage"] == "staging"
    version.refresh_from_db()
    assert version.stage == "staging"
    assert version.stage_changed_at is not None
    transition = StageTransition.objects.get(model_version=version)
    assert (transition.from_stage, transition.to_stage) == ("none", "staging")
    assert transition.changed_by == contributor
    assert transition.changed_at == version.stage_changed_at
    assert transition.comment == "Shadow traffic first"
    [history] = response.data["stage_history"]
    assert history["changed_by"] == "carl"
    assert history["from_stage"] == "none"
    assert history["to_stage"] == "staging"


def test_promoting_a_second_version_archives_the_first(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    reviewer: User,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    requester, decider = api_client_for(contributor), api_client_for(reviewer)
    first = register_version(classifier)
    second = register_version(classifier)
    for version in (first, second):
        review = requester.post("/api/v1/reviews/", {"model_version": version.pk}, format="json")
        assert review.status_code == 201, review.data
        response = decider.post(
            f"/api/v1/reviews/{review.data['id']}/approve/", {"comment": "ok"}, format="json"
        )

    assert response.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.stage == "archived"
    assert second.stage == "production"
    archived = first.stage_transitions.first()
    assert (archived.from_stage, archived.to_stage) == ("production", "archived")
    assert archived.changed_by == reviewer
    assert "version 2" in archived.comment
    assert ModelVersion.objects.filter(model=classifier, stage="production").count() == 1
    shown = decider.get(f"{MODELS}{classifier.pk}/")
    assert shown.data["production_version"] == 2


def test_the_stage_endpoint_never_moves_a_version_to_production(
    api_client_for: Callable[[User], APIClient],
    owner: User,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    version = register_version(classifier)

    response = api_client_for(owner).post(
        f"{VERSIONS}{version.pk}/stage/", {"stage": "production"}, format="json"
    )

    assert response.status_code == 409
    assert "approved review" in str(response.data)
    version.refresh_from_db()
    assert version.stage == "none"


@pytest.mark.parametrize("actor", ["viewer", "outsider"])
def test_a_viewer_or_outsider_cannot_change_a_stage(
    api_client_for: Callable[[User], APIClient],
    request: pytest.FixtureRequest,
    classifier: RegisteredModel,
    other_project: Project,
    register_version: Callable[..., ModelVersion],
    actor: str,
) -> None:
    version = register_version(classifier)

    response = api_client_for(request.getfixturevalue(actor)).post(
        f"{VERSIONS}{version.pk}/stage/", {"stage": "staging"}, format="json"
    )

    assert response.status_code == 403
    version.refresh_from_db()
    assert version.stage == "none"
    assert not StageTransition.objects.exists()


def test_it_refuses_an_unknown_stage(
    contributor_client: APIClient,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    version = register_version(classifier)

    response = contributor_client.post(
        f"{VERSIONS}{version.pk}/stage/", {"stage": "canary"}, format="json"
    )

    assert response.status_code == 400
    assert "stage" in response.data
    assert not StageTransition.objects.exists()


# Filters and query counts ----------------------------------------------------------------


@pytest.fixture
def registry(
    classifier: RegisteredModel,
    other_classifier: RegisteredModel,
    project: Project,
    owner: User,
    outsider: User,
    register_version: Callable[..., ModelVersion],
    regressor_skops: bytes,
) -> dict[str, RegisteredModel]:
    """fraud-detector (carl, fraud, v1 in production), limit-setter (olivia, regression,
    v1 staging), churn (otto, no versions)."""
    from lineage.api.serializers import set_tags

    limits = RegisteredModel.objects.create(
        project=project, name="limit-setter", task="regression", owner=owner
    )
    set_tags(limits, ["credit"])
    register_version(classifier).change_stage("production", owner)
    register_version(limits, regressor_skops).change_stage("staging", owner)
    return {"fraud-detector": classifier, "limit-setter": limits, "churn": other_classifier}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["churn", "fraud-detector", "limit-setter"]),
        ("stage=production", ["fraud-detector"]),
        ("stage=staging", ["limit-setter"]),
        ("stage=archived", []),
        ("tag=fraud", ["fraud-detector"]),
        ("tag=credit", ["limit-setter"]),
        ("owner=olivia", ["limit-setter"]),
        ("owner=otto", ["churn"]),
        ("task=regression", ["limit-setter"]),
        ("project=churn", ["churn"]),
        ("q=scores", ["fraud-detector"]),
    ],
)
def test_it_filters_models(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    registry: dict[str, RegisteredModel],
    query: str,
    expected: list[str],
) -> None:
    response = api_client_for(viewer).get(f"{MODELS}?{query}")

    assert response.status_code == 200
    assert sorted(item["name"] for item in response.data["results"]) == expected


def test_it_filters_model_versions(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    registry: dict[str, RegisteredModel],
    register_version: Callable[..., ModelVersion],
    training_version: DatasetVersion,
) -> None:
    classifier = registry["fraud-detector"]
    trained = register_version(classifier, training_dataset_version=training_version.pk)
    client = api_client_for(viewer)

    by_model = client.get(f"{VERSIONS}?model={classifier.pk}")
    by_stage = client.get(f"{VERSIONS}?stage=staging")
    by_data = client.get(f"{VERSIONS}?training_dataset_version={training_version.pk}")

    assert sorted(item["version"] for item in by_model.data["results"]) == [1, 2]
    assert [item["model_name"] for item in by_stage.data["results"]] == ["limit-setter"]
    assert [item["id"] for item in by_data.data["results"]] == [trained.pk]


def test_the_model_list_costs_a_fixed_number_of_queries(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    owner: User,
    project: Project,
    register_version: Callable[..., ModelVersion],
    django_assert_max_num_queries: Any,
) -> None:
    from lineage.api.serializers import set_tags

    def add_models(count: int, start: int) -> None:
        for index in range(start, start + count):
            model = RegisteredModel.objects.create(
                project=project, name=f"model-{index}", task="classification", owner=owner
            )
            set_tags(model, [f"tag-{index}", "shared"])
            register_version(model).change_stage("production", owner)

    client = api_client_for(viewer)
    add_models(3, 0)
    with CaptureQueriesContext(connection) as baseline:
        assert client.get(MODELS).status_code == 200

    add_models(10, 3)

    with django_assert_max_num_queries(len(baseline)):
        response = client.get(MODELS)
    assert response.data["count"] == 13


def test_the_model_version_list_costs_a_fixed_number_of_queries(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    owner: User,
    reviewer: User,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
    training_version: DatasetVersion,
    django_assert_max_num_queries: Any,
) -> None:
    def add_versions(count: int) -> None:
        for index in range(count):
            version = register_version(
                classifier,
                user=[owner, reviewer][index % 2],
                training_dataset_version=training_version.pk,
            )
            version.change_stage("staging", reviewer)
            version.change_stage("production", owner)

    client = api_client_for(viewer)
    add_versions(3)
    with CaptureQueriesContext(connection) as baseline:
        assert client.get(VERSIONS).status_code == 200

    add_versions(10)

    with django_assert_max_num_queries(len(baseline)):
        response = client.get(VERSIONS)
    assert response.data["count"] == 13
