"""The drift API: POST /api/v1/drift-analyses/ starts an analysis of a model version's data
and answers 202 with its job; GET returns the stored result (per feature the test, p-values
raw and corrected, effect size and verdict; the domain classifier; the decision), and the
model version's drift status follows the decision. Requests that can be refused up front
are refused with a 400 naming the field; viewers cannot start analyses, outsiders do not
see analyses of confidential data, and PII values stay with the project's members. A
model's drift settings (thresholds, schedule) are read and written at
/api/v1/models/<id>/drift-settings."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
import skops.io as sio
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask
from pandas.api.types import is_numeric_dtype
from rest_framework.test import APIClient
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from threadpoolctl import threadpool_limits

from lineage import governance
from lineage import services as catalog
from lineage.choices import ModelTask
from lineage.demo.transactions import make_transactions
from lineage.models import Dataset, DatasetVersion, Job, ModelVersion, Project, RegisteredModel
from monitoring.models import DriftAnalysis, DriftSettings

pytestmark = pytest.mark.django_db

Inline = Callable[[], AbstractContextManager[Any]]
Upload = Callable[..., DatasetVersion]
Train = Callable[..., ModelVersion]

ANALYSES = "/api/v1/drift-analyses/"
MASK = "•••• (PII)"
ROWS = 1_500
# The model's inputs: five numeric features of the demo transactions.
FEATURES = [
    "total_value",
    "account_age_days",
    "hour",
    "distance_from_home_km",
    "transactions_last_24h",
]
# A model that also reads a category (the PII merchant category in the shared dataset).
MIXED_FEATURES = ["total_value", "merchant_category", "account_age_days", "hour"]
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
    shift: dict[str, float] | None = None,
    replace_category: tuple[str, str] | None = None,
) -> bytes:
    """Demo transactions as CSV; `shift` adds a constant to columns (a mean shift),
    `replace_category` renames one merchant category (a new category appears)."""
    frame = make_transactions(ROWS, seed=seed, start=start)
    for column, amount in (shift or {}).items():
        frame[column] = frame[column] + amount
    if replace_category:
        old, new = replace_category
        frame["merchant_category"] = frame["merchant_category"].replace(old, new)
    return frame.to_csv(index=False).encode()


def artifact_for(features: list[str]) -> bytes:
    """A fitted classifier whose feature names are `features` (one-hot for the categories)."""
    frame = make_transactions(400, seed=99)[[*features, "is_fraud"]]
    categorical = [name for name in features if not is_numeric_dtype(frame[name])]
    estimator: Any = LogisticRegression(max_iter=2_000)
    if categorical:
        estimator = make_pipeline(
            make_column_transformer(
                (OneHotEncoder(handle_unknown="ignore"), categorical), remainder="passthrough"
            ),
            LogisticRegression(max_iter=2_000),
        )
    estimator.fit(frame[features], frame["is_fraud"])
    return sio.dumps(estimator)


@pytest.fixture
def model(project: Project, contributor: User) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=project, name="fraud-detector", task=ModelTask.CLASSIFICATION, owner=contributor
    )


@pytest.fixture
def train_on(model: RegisteredModel, contributor: User) -> Train:
    """Register the model's next version, trained on `version` (or on nothing recorded)."""

    def train(version: DatasetVersion | None, features: list[str] = FEATURES) -> ModelVersion:
        metadata: dict[str, Any] = {"target_column": "is_fraud"}
        if version is not None:
            metadata["training_dataset_version"] = version.pk
        return catalog.register_model_version(
            model,
            SimpleUploadedFile("model.skops", artifact_for(features)),
            metadata,
            user=contributor,
        )

    return train


@pytest.fixture
def september(dataset: Dataset, upload_version: Upload) -> DatasetVersion:
    return upload_version(dataset, transactions_csv(1))


@pytest.fixture
def october(dataset: Dataset, upload_version: Upload) -> DatasetVersion:
    """Another month from the same distribution."""
    return upload_version(dataset, transactions_csv(2, start="2026-10-01"))


@pytest.fixture
def older_accounts(dataset: Dataset, upload_version: Upload) -> DatasetVersion:
    """A month whose accounts are on average 1,500 days older: a clear mean shift."""
    return upload_version(
        dataset, transactions_csv(3, start="2026-11-01", shift={"account_age_days": 1_500})
    )


@pytest.fixture
def trained(september: DatasetVersion, train_on: Train) -> ModelVersion:
    return train_on(september)


def start(client: APIClient, inline: Inline, **body: Any) -> Any:
    """POST an analysis; its job runs when the request's transaction would have committed."""
    body.setdefault("thresholds", dict(FAST))
    with inline():
        response = client.post(ANALYSES, body, format="json")
    return response


def analysis_of(client: APIClient, response: Any) -> dict[str, Any]:
    assert response.status_code == 202, response.data
    found = client.get(f"{ANALYSES}{response.data['id']}/")
    assert found.status_code == 200, found.data
    return found.data  # type: ignore[no-any-return]


def feature(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(item for item in data["result"]["features"] if item["name"] == name)


# Starting and reading ---------------------------------------------------------------------


def test_posting_an_analysis_answers_202_with_its_queued_job(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    trained: ModelVersion,
    october: DatasetVersion,
) -> None:
    response = api_client_for(contributor).post(
        ANALYSES, {"model_version": trained.pk, "current_version": october.pk}, format="json"
    )

    assert response.status_code == 202, response.data
    analysis = DriftAnalysis.objects.get(pk=response.data["id"])
    assert (response.data["state"], response.data["trigger"]) == ("queued", "api")
    assert response.data["job"]["job_type"] == "run_drift_analysis"
    assert response.data["job"]["state"] == "queued"
    assert response.data["job"]["target_id"] == analysis.pk
    assert response.data["url"] == f"/drift/analyses/{analysis.pk}/"
    assert analysis.created_by == contributor
    assert Job.objects.filter(pk=response.data["job"]["id"], state="queued").exists()


def test_a_clear_mean_shift_is_reported_drifted_with_every_figure(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    trained: ModelVersion,
    september: DatasetVersion,
    older_accounts: DatasetVersion,
    inline: Inline,
) -> None:
    client = api_client_for(contributor)

    data = analysis_of(
        client,
        start(client, inline, model_version=trained.pk, current_version=older_accounts.pk),
    )

    assert data["state"] == "succeeded", data["error"]
    assert data["job"]["state"] == "succeeded"
    assert data["job"]["progress"] == 100
    assert data["reference_version"] == september.pk  # the training data by default
    assert (data["reference_rows"], data["current_rows"]) == (ROWS, ROWS)
    result = data["result"]
    assert [item["name"] for item in result["features"]] == FEATURES
    for item in result["features"]:
        assert item["test"] == "ks"
        for key in ("statistic", "p_value", "p_value_adjusted", "effect_size"):
            assert isinstance(item[key], float), (item["name"], key)
        assert item["p_value_adjusted"] >= item["p_value"]
        assert isinstance(item["drifted"], bool)
    shifted = feature(data, "account_age_days")
    assert shifted["drifted"] is True
    assert shifted["p_value_adjusted"] < 0.001
    assert shifted["effect_size"] > 0.5
    assert [item["name"] for item in result["features"] if item["drifted"]] == ["account_age_days"]
    domain = result["domain_classifier"]
    assert domain["auc_low"] <= domain["auc"] <= domain["auc_high"]
    assert domain["auc"] > 0.6
    assert domain["drifted"] is True
    assert domain["importances"][0]["feature"] == "account_age_days"
    assert {item["feature"] for item in domain["importances"]} == set(FEATURES)
    assert result["summary"]["drifted"] is True
    assert result["summary"]["drifted_features"] == ["account_age_days"]
    assert data["drifted"] is True
    assert data["domain_auc"] == pytest.approx(domain["auc"])
    trained.refresh_from_db()
    assert trained.drift_status == "drifted"
    assert trained.drift_checked_at == DriftAnalysis.objects.get(pk=data["id"]).finished_at


def test_a_month_from_the_same_distribution_is_not_drifted(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    trained: ModelVersion,
    october: DatasetVersion,
    inline: Inline,
) -> None:
    client = api_client_for(contributor)

    data = analysis_of(
        client, start(client, inline, model_version=trained.pk, current_version=october.pk)
    )

    assert data["state"] == "succeeded", data["error"]
    assert data["drifted"] is False
    assert not any(item["drifted"] for item in data["result"]["features"])
    assert data["result"]["summary"]["drifted"] is False
    assert data["result"]["domain_classifier"]["drifted"] is False
    assert 0.3 < data["result"]["domain_classifier"]["auc"] < 0.6
    trained.refresh_from_db()
    assert trained.drift_status == "not_drifted"


def test_an_explicit_reference_version_replaces_the_training_data(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    trained: ModelVersion,
    october: DatasetVersion,
    older_accounts: DatasetVersion,
    inline: Inline,
) -> None:
    client = api_client_for(contributor)

    data = analysis_of(
        client,
        start(
            client,
            inline,
            model_version=trained.pk,
            reference_version=older_accounts.pk,
            current_version=older_accounts.pk,
        ),
    )

    assert data["reference_version"] == older_accounts.pk
    assert data["state"] == "succeeded", data["error"]
    # The same data on both sides: nothing moved at all.
    assert data["drifted"] is False
    assert all(item["effect_size"] == 0 for item in data["result"]["features"])


def test_a_model_version_without_training_data_needs_a_reference(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    train_on: Train,
    september: DatasetVersion,
    october: DatasetVersion,
    inline: Inline,
) -> None:
    untracked = train_on(None)
    client = api_client_for(contributor)

    refused = client.post(
        ANALYSES, {"model_version": untracked.pk, "current_version": october.pk}, format="json"
    )

    assert refused.status_code == 400
    assert "reference_version" in refused.data
    assert "no training data" in str(refused.data["reference_version"][0])
    assert not DriftAnalysis.objects.exists()
    data = analysis_of(
        client,
        start(
            client,
            inline,
            model_version=untracked.pk,
            reference_version=september.pk,
            current_version=october.pk,
        ),
    )
    assert data["state"] == "succeeded", data["error"]


# Refused up front --------------------------------------------------------------------------


@pytest.fixture
def post_as_contributor(
    api_client_for: Callable[[User], APIClient], contributor: User
) -> Callable[..., Any]:
    def post(**body: Any) -> Any:
        return api_client_for(contributor).post(ANALYSES, body, format="json")

    return post


def test_current_data_without_any_of_the_model_features_is_refused(
    post_as_contributor: Callable[..., Any],
    trained: ModelVersion,
    dataset: Dataset,
    upload_version: Upload,
) -> None:
    unrelated = upload_version(dataset, b"store,visits\nlyon,3\nnantes,5\n")

    refused = post_as_contributor(model_version=trained.pk, current_version=unrelated.pk)

    assert refused.status_code == 400
    assert list(refused.data) == ["current_version"]
    assert "none of the model's features" in str(refused.data["current_version"][0])
    assert not DriftAnalysis.objects.exists()


@pytest.mark.parametrize(
    ("windowing", "field"),
    [
        ({"window_frequency": "day"}, "window_column"),
        ({"window_column": "timestamp"}, "window_frequency"),
        ({"window_column": "total_value", "window_frequency": "day"}, "window_column"),
        ({"window_column": "no_such_column", "window_frequency": "day"}, "window_column"),
        ({"window_column": "timestamp", "window_frequency": "fortnight"}, "window_frequency"),
    ],
)
def test_incomplete_or_wrong_windowing_is_refused_naming_the_field(
    post_as_contributor: Callable[..., Any],
    trained: ModelVersion,
    october: DatasetVersion,
    windowing: dict[str, str],
    field: str,
) -> None:
    refused = post_as_contributor(model_version=trained.pk, current_version=october.pk, **windowing)

    assert refused.status_code == 400
    assert list(refused.data) == [field]
    assert not DriftAnalysis.objects.exists()


def test_a_window_column_that_holds_numbers_is_refused_in_words(
    post_as_contributor: Callable[..., Any], trained: ModelVersion, october: DatasetVersion
) -> None:
    refused = post_as_contributor(
        model_version=trained.pk,
        current_version=october.pk,
        window_column="total_value",
        window_frequency="day",
    )

    assert "'total_value' holds float values, not timestamps" in str(
        refused.data["window_column"][0]
    )


@pytest.mark.parametrize(
    ("thresholds", "field"),
    [
        ({"alpha": 5}, "thresholds.alpha"),
        ({"alpha": "often"}, "thresholds.alpha"),
        ({"domain_auc": 0.3}, "thresholds.domain_auc"),
        ({"classifier_rows": 2.5}, "thresholds.classifier_rows"),
        ({"sensitivity": 1}, "thresholds.sensitivity"),
    ],
)
def test_a_bad_threshold_is_refused_naming_it(
    post_as_contributor: Callable[..., Any],
    trained: ModelVersion,
    october: DatasetVersion,
    thresholds: dict[str, Any],
    field: str,
) -> None:
    refused = post_as_contributor(
        model_version=trained.pk, current_version=october.pk, thresholds=thresholds
    )

    assert refused.status_code == 400
    assert list(refused.data) == [field]
    assert not DriftAnalysis.objects.exists()


def test_a_window_of_logged_inputs_with_nothing_logged_is_refused_by_name(
    post_as_contributor: Callable[..., Any], trained: ModelVersion
) -> None:
    refused = post_as_contributor(
        model_version=trained.pk,
        current_source="predictions",
        current_start="2026-10-01T00:00:00Z",
        current_end="2026-10-02T00:00:00Z",
    )

    assert refused.status_code == 400
    assert list(refused.data) == ["current_start"]
    assert "were logged between 2026-10-01 00:00 and 2026-10-02 00:00" in str(
        refused.data["current_start"][0]
    )
    assert not DriftAnalysis.objects.exists()


def test_a_missing_current_version_is_refused(
    post_as_contributor: Callable[..., Any], trained: ModelVersion
) -> None:
    refused = post_as_contributor(model_version=trained.pk)

    assert refused.status_code == 400
    assert list(refused.data) == ["current_version"]


def test_data_stored_elsewhere_cannot_be_compared(
    post_as_contributor: Callable[..., Any],
    trained: ModelVersion,
    dataset: Dataset,
    october: DatasetVersion,
    contributor: User,
) -> None:
    elsewhere = catalog.create_external_dataset_version(
        dataset, "s3://fraud-lake/transactions/2026-12.parquet", user=contributor
    )

    as_current = post_as_contributor(model_version=trained.pk, current_version=elsewhere.pk)
    as_reference = post_as_contributor(
        model_version=trained.pk, reference_version=elsewhere.pk, current_version=october.pk
    )

    assert as_current.status_code == 400
    assert "stored elsewhere" in str(as_current.data["current_version"][0])
    assert as_reference.status_code == 400
    assert "stored elsewhere" in str(as_reference.data["reference_version"][0])
    assert not DriftAnalysis.objects.exists()


def test_destroyed_data_cannot_be_compared(
    post_as_contributor: Callable[..., Any],
    trained: ModelVersion,
    september: DatasetVersion,
    october: DatasetVersion,
    owner: User,
    inline: Inline,
) -> None:
    with inline():
        governance.destroy_dataset_version(october, owner, "Retention period over")

    as_current = post_as_contributor(model_version=trained.pk, current_version=october.pk)

    assert as_current.status_code == 400
    assert "was destroyed" in str(as_current.data["current_version"][0])
    with inline():
        governance.destroy_dataset_version(september, owner, "Consent withdrawn")
    # The training data is gone: the default reference is refused too.
    as_reference = post_as_contributor(model_version=trained.pk, current_version=september.pk)
    assert as_reference.status_code == 400
    assert "reference_version" in as_reference.data
    assert not DriftAnalysis.objects.exists()


# Who may do what ---------------------------------------------------------------------------


def test_a_viewer_cannot_start_an_analysis(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    trained: ModelVersion,
    october: DatasetVersion,
) -> None:
    refused = api_client_for(viewer).post(
        ANALYSES, {"model_version": trained.pk, "current_version": october.pk}, format="json"
    )

    assert refused.status_code == 403
    assert not DriftAnalysis.objects.exists()


def test_an_outsider_does_not_see_analyses_of_confidential_data(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    viewer: User,
    outsider: User,
    trained: ModelVersion,
    october: DatasetVersion,
    inline: Inline,
) -> None:
    response = start(
        api_client_for(contributor), inline, model_version=trained.pk, current_version=october.pk
    )
    assert response.status_code == 202
    pk = response.data["id"]

    hidden = api_client_for(outsider).get(f"{ANALYSES}{pk}/")
    listed = api_client_for(outsider).get(ANALYSES)

    assert hidden.status_code == 404
    assert listed.status_code == 200
    assert pk not in [item["id"] for item in listed.data["results"]]
    # The job that ran it is not theirs to follow either.
    job = api_client_for(outsider).get(f"/api/v1/jobs/{response.data['job']['id']}/")
    assert job.status_code == 404
    # Project members, viewers included, read it.
    assert api_client_for(viewer).get(f"{ANALYSES}{pk}/").status_code == 200
    assert [item["id"] for item in api_client_for(viewer).get(ANALYSES).data["results"]] == [pk]


def test_a_member_of_another_project_cannot_start_one_on_this_projects_model(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    internal_dataset: Dataset,
    upload_version: Upload,
    train_on: Train,
) -> None:
    shared = upload_version(internal_dataset, transactions_csv(1))
    trained = train_on(shared)

    refused = api_client_for(outsider).post(
        ANALYSES, {"model_version": trained.pk, "current_version": shared.pk}, format="json"
    )

    assert refused.status_code == 403
    assert not DriftAnalysis.objects.exists()


def test_a_member_of_another_project_cannot_use_this_projects_confidential_data(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    october: DatasetVersion,
    trained: ModelVersion,
) -> None:
    """The confidential version does not exist for them (as a missing one would not)."""
    refused = api_client_for(outsider).post(
        ANALYSES, {"model_version": trained.pk, "current_version": october.pk}, format="json"
    )

    assert refused.status_code == 400
    assert list(refused.data) == ["current_version"]
    assert refused.data["current_version"][0].code == "does_not_exist"
    assert "transactions" not in json.dumps(refused.data)
    assert not DriftAnalysis.objects.exists()


def test_analyses_filter_by_model_and_by_decision(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    project: Project,
    trained: ModelVersion,
    october: DatasetVersion,
    older_accounts: DatasetVersion,
    inline: Inline,
) -> None:
    client = api_client_for(contributor)
    calm = start(client, inline, model_version=trained.pk, current_version=october.pk)
    drifted = start(client, inline, model_version=trained.pk, current_version=older_accounts.pk)
    other_model = RegisteredModel.objects.create(
        project=project, name="churn", task=ModelTask.CLASSIFICATION
    )
    other_version = catalog.register_model_version(
        other_model,
        SimpleUploadedFile("model.skops", artifact_for(FEATURES)),
        {"training_dataset_version": october.pk},
        user=contributor,
    )
    elsewhere = start(client, inline, model_version=other_version.pk, current_version=october.pk)

    def ids(**query: Any) -> list[int]:
        response = client.get(ANALYSES, query)
        assert response.status_code == 200, response.data
        return [item["id"] for item in response.data["results"]]

    assert ids(model=trained.model_id) == [drifted.data["id"], calm.data["id"]]
    assert ids(model=other_model.pk) == [elsewhere.data["id"]]
    assert ids(drifted="true") == [drifted.data["id"]]
    assert set(ids(drifted="false")) == {calm.data["id"], elsewhere.data["id"]}
    assert ids(model=trained.model_id, drifted="false") == [calm.data["id"]]
    # Lists leave the large result out.
    listed = client.get(ANALYSES).data["results"][0]
    assert "result" not in listed
    assert listed["model_name"] in ("fraud-detector", "churn")


# Settings ----------------------------------------------------------------------------------


def settings_url(model: RegisteredModel) -> str:
    return f"/api/v1/models/{model.pk}/drift-settings"


def test_saved_thresholds_are_used_by_the_next_analysis(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    model: RegisteredModel,
    trained: ModelVersion,
    october: DatasetVersion,
    inline: Inline,
) -> None:
    client = api_client_for(contributor)
    defaults = client.get(settings_url(model))
    assert defaults.status_code == 200
    assert defaults.data["thresholds"] == {}
    assert defaults.data["effective_thresholds"]["alpha"] == 0.05

    saved = client.put(
        settings_url(model),
        {"thresholds": {"alpha": 0.01, "wasserstein": 0.2, "classifier_rows": 2_000}},
        format="json",
    )

    assert saved.status_code == 200, saved.data
    assert saved.data["effective_thresholds"]["alpha"] == 0.01
    assert saved.data["effective_thresholds"]["psi"] == 0.2  # untouched defaults stay
    with inline():
        response = client.post(
            ANALYSES, {"model_version": trained.pk, "current_version": october.pk}, format="json"
        )
    data = analysis_of(client, response)
    assert data["thresholds"]["alpha"] == 0.01
    assert data["result"]["thresholds"]["alpha"] == 0.01
    assert data["result"]["thresholds"]["wasserstein"] == 0.2
    assert all(item["effect_threshold"] == 0.2 for item in data["result"]["features"])
    # A request's own thresholds override the model's for that analysis only.
    with inline():
        override = client.post(
            ANALYSES,
            {
                "model_version": trained.pk,
                "current_version": october.pk,
                "thresholds": {"alpha": 0.1},
            },
            format="json",
        )
    assert override.data["thresholds"]["alpha"] == 0.1
    assert override.data["thresholds"]["wasserstein"] == 0.2
    assert DriftSettings.objects.get(model=model).thresholds["alpha"] == 0.01


def test_a_bad_saved_threshold_is_refused_naming_it(
    api_client_for: Callable[[User], APIClient], contributor: User, model: RegisteredModel
) -> None:
    refused = api_client_for(contributor).put(
        settings_url(model), {"thresholds": {"jensen_shannon": 1.5}}, format="json"
    )

    assert refused.status_code == 400
    assert list(refused.data) == ["thresholds.jensen_shannon"]
    assert not DriftSettings.objects.filter(model=model).exclude(thresholds={}).exists()


def test_a_cron_schedule_is_a_beat_entry_for_the_scheduled_analysis(
    api_client_for: Callable[[User], APIClient], contributor: User, model: RegisteredModel
) -> None:
    from mlops_portal.celery import app

    client = api_client_for(contributor)

    saved = client.put(
        settings_url(model),
        {
            "schedule_kind": "cron",
            "schedule_cron": "15 4 * * 1-5",
            "window_column": "timestamp",
            "window_frequency": "day",
        },
        format="json",
    )

    assert saved.status_code == 200, saved.data
    assert (saved.data["schedule_kind"], saved.data["schedule_cron"]) == ("cron", "15 4 * * 1-5")
    assert (saved.data["window_column"], saved.data["window_frequency"]) == ("timestamp", "day")
    settings = DriftSettings.objects.get(model=model)
    task = settings.periodic_task
    assert task is not None
    assert task.task == "monitoring.drift_runs.run_scheduled_drift_analysis"
    assert json.loads(task.kwargs) == {"model_id": model.pk}
    assert task.enabled
    assert task.crontab is not None
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == (
        "15",
        "4",
        "1-5",
    )
    # A worker knows the task beat will send.
    assert task.task in app.tasks

    removed = client.put(settings_url(model), {"schedule_kind": "none"}, format="json")

    assert removed.status_code == 200, removed.data
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    settings.refresh_from_db()
    assert (settings.schedule_kind, settings.periodic_task) == ("none", None)


def test_a_bad_cron_expression_is_refused_naming_it(
    api_client_for: Callable[[User], APIClient], contributor: User, model: RegisteredModel
) -> None:
    refused = api_client_for(contributor).put(
        settings_url(model), {"schedule_kind": "cron", "schedule_cron": "61 * * * *"}, format="json"
    )

    assert refused.status_code == 400
    assert list(refused.data) == ["schedule_cron"]
    assert not PeriodicTask.objects.filter(task__contains="drift").exists()


def test_a_viewer_reads_the_settings_but_cannot_change_them(
    api_client_for: Callable[[User], APIClient], viewer: User, model: RegisteredModel
) -> None:
    client = api_client_for(viewer)

    assert client.get(settings_url(model)).status_code == 200
    refused = client.put(settings_url(model), {"thresholds": {"alpha": 0.01}}, format="json")

    assert refused.status_code == 403
    assert not DriftSettings.objects.filter(model=model).exclude(thresholds={}).exists()


# PII ---------------------------------------------------------------------------------------


@pytest.fixture
def shared_analysis(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    internal_dataset: Dataset,
    upload_version: Upload,
    train_on: Train,
    inline: Inline,
) -> int:
    """An analysis of the shared transactions (merchant category PII), where the current
    month has older accounts and a merchant category the reference never had."""
    september = upload_version(internal_dataset, transactions_csv(1))
    november = upload_version(
        internal_dataset,
        transactions_csv(
            3,
            start="2026-11-01",
            shift={"account_age_days": 1_500},
            replace_category=("pharmacy", "casino"),
        ),
    )
    trained = train_on(september, MIXED_FEATURES)
    response = start(
        api_client_for(contributor), inline, model_version=trained.pk, current_version=november.pk
    )
    assert response.status_code == 202, response.data
    return int(response.data["id"])


def places_quoting(value: Any, text: str, path: str = "") -> list[str]:
    """Where in a JSON document `text` appears (as "result.features[1].reasons[2]")."""
    if isinstance(value, dict):
        return [
            found
            for key, item in value.items()
            for found in places_quoting(item, text, f"{path}.{key}" if path else str(key))
        ]
    if isinstance(value, list):
        return [
            found
            for index, item in enumerate(value)
            for found in places_quoting(item, text, f"{path}[{index}]")
        ]
    return [path] if text in str(value) else []


def test_an_outsider_reads_a_pii_feature_without_its_values(
    api_client_for: Callable[[User], APIClient], outsider: User, shared_analysis: int
) -> None:
    data = api_client_for(outsider).get(f"{ANALYSES}{shared_analysis}/").data

    assert data["state"] == "succeeded", data["error"]
    masked = feature(data, "merchant_category")
    assert masked["masked"] is True
    for key in (
        "histogram",
        "new_categories",
        "vanished_categories",
        "reference_summary",
        "current_summary",
    ):
        assert key not in masked
    # Its verdict and figures stay: an outsider still learns that it drifted.
    assert masked["drifted"] is True
    assert isinstance(masked["effect_size"], float)
    plain = feature(data, "total_value")
    assert "masked" not in plain
    assert plain["histogram"] is not None
    unlike = data["result"]["domain_classifier"]["most_unlike"]
    assert unlike
    assert all(row["values"]["merchant_category"] == MASK for row in unlike)
    assert all(isinstance(row["values"]["total_value"], float) for row in unlike)


def test_an_outsider_never_reads_a_value_of_a_pii_column(
    api_client_for: Callable[[User], APIClient], outsider: User, shared_analysis: int
) -> None:
    """Not in the reasons, the notes or anywhere else of what the API answers."""
    data = api_client_for(outsider).get(f"{ANALYSES}{shared_analysis}/").data

    for category in ("casino", "pharmacy", "grocery"):
        assert not places_quoting(data, category), (category, places_quoting(data, category))


def test_a_member_reads_the_values_of_a_pii_feature(
    api_client_for: Callable[[User], APIClient], viewer: User, shared_analysis: int
) -> None:
    data = api_client_for(viewer).get(f"{ANALYSES}{shared_analysis}/").data

    category = feature(data, "merchant_category")
    assert "masked" not in category
    assert category["new_categories"] == ["casino"]
    assert category["vanished_categories"] == ["pharmacy"]
    assert "casino" in category["histogram"]["values"]
    assert category["test"] == "chi2"
    unlike = data["result"]["domain_classifier"]["most_unlike"]
    assert any(row["values"]["merchant_category"] != MASK for row in unlike)


# The schema --------------------------------------------------------------------------------


def test_the_drift_endpoints_are_in_the_openapi_schema(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(target),
    )
    paths = json.loads(target.read_text())["paths"]

    methods = {"get", "post", "put", "patch", "delete"}
    assert set(paths["/api/v1/drift-analyses/"]) & methods == {"get", "post"}
    assert set(paths["/api/v1/drift-analyses/{id}/"]) & methods == {"get"}
    assert set(paths["/api/v1/models/{id}/drift-settings"]) & methods == {"get", "put", "patch"}
    assert "202" in paths["/api/v1/drift-analyses/"]["post"]["responses"]
    filters = {item["name"] for item in paths["/api/v1/drift-analyses/"]["get"]["parameters"]}
    assert {"model", "model_version", "project", "drifted", "state"} <= filters
