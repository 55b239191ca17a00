"""The observability pages: the overview of every production model's last 24 hours (and the
home page's card built from the same rows), a model's dashboard over a chosen range and
version, and the look-up of one prediction by its request id with its inputs (hidden from
non-members when the training data is restricted), outputs, version, lineage and
environment. Every page needs a sign-in; the figures are read from the rollups in a fixed
number of queries."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lineage.choices import DriftStatus, ModelTask, QualityStatus, Sensitivity, Stage
from lineage.models import Dataset, DatasetVersion, ModelVersion, Project, RegisteredModel
from monitoring import rollups
from monitoring.choices import AlertMetric, PredictionSource
from monitoring.models import AlertIncident, AlertRule, PredictionRecord, PredictionRollup
from monitoring.serving_views import example_inputs, production_health

pytestmark = pytest.mark.django_db

FEATURES = [{"name": "amount", "type": "float64"}, {"name": "merchant", "type": "object"}]


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def figure(response: Any, chart_id: str) -> dict[str, Any]:
    html = response.content.decode()
    start = html.index(f'<script id="{chart_id}" type="application/json">')
    body = html[start:].split(">", 1)[1].split("</script>", 1)[0]
    return json.loads(body)  # type: ignore[no-any-return]


def chart_ids(response: Any) -> set[str]:
    html = response.content.decode()
    return {chunk.split('"', 1)[0] for chunk in html.split('data-plotly="')[1:]}


# Fixtures -----------------------------------------------------------------------------------


def make_training(project: Project, sensitivity: str, **dataset: Any) -> DatasetVersion:
    data = Dataset.objects.create(
        project=project, name=f"training-{sensitivity}", sensitivity=sensitivity, **dataset
    )
    return DatasetVersion.objects.create(
        dataset=data,
        version=1,
        format="csv",
        external_uri="s3://bucket/training.csv",
        quality_status=QualityStatus.WARNING,
    )


def make_version(
    model: RegisteredModel,
    number: int,
    *,
    stage: str = Stage.NONE,
    training: DatasetVersion | None = None,
) -> ModelVersion:
    return ModelVersion.objects.create(
        model=model,
        version=number,
        artifact=f"models/{model.pk}/v{number}.skops",
        artifact_sha256="0" * 64,
        artifact_size=1,
        estimator_class="sklearn.ensemble.GradientBoostingClassifier",
        framework_version="1.5.2",
        python_version="3.11.9",
        packages={"scikit-learn": "1.5.2", "numpy": "2.1.0"},
        code_repository="https://git.example.com/fraud",
        code_commit="abc1234",
        signature=FEATURES,
        training_dataset_version=training,
        stage=stage,
    )


@pytest.fixture
def training(project: Project) -> DatasetVersion:
    return make_training(project, Sensitivity.CONFIDENTIAL)


@pytest.fixture
def model(project: Project, contributor: User) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=project, name="fraud-detector", task=ModelTask.CLASSIFICATION, owner=contributor
    )


@pytest.fixture
def old_version(model: RegisteredModel, training: DatasetVersion) -> ModelVersion:
    return make_version(model, 1, stage=Stage.ARCHIVED, training=training)


@pytest.fixture
def served(model: RegisteredModel, training: DatasetVersion) -> ModelVersion:
    version = make_version(model, 2, stage=Stage.PRODUCTION, training=training)
    ModelVersion.objects.filter(pk=version.pk).update(drift_status=DriftStatus.DRIFTED)
    version.refresh_from_db()
    return version


def log(
    version: ModelVersion,
    when: datetime,
    predictions: list[str],
    *,
    labels: list[str | None] | None = None,
    inputs: dict[str, Any] | None = None,
    latency_ms: float = 10.0,
) -> list[PredictionRecord]:
    """Log predictions as the portal does: the records and their rollup partials."""
    records = []
    for index, predicted in enumerate(predictions):
        confidence = 0.9 if index % 2 else 0.7
        other = "1" if predicted == "0" else "0"
        records.append(
            PredictionRecord(
                request_id=uuid.uuid4(),
                model=version.model,
                model_version=version,
                logged_at=when + timedelta(seconds=index),
                source=PredictionSource.SERVED,
                inputs=inputs or {"amount": 12.5 + index, "merchant": "grocery"},
                prediction=predicted,
                probabilities={predicted: confidence, other: round(1 - confidence, 6)},
                confidence=confidence,
                latency_ms=latency_ms,
                label=labels[index] if labels else None,
            )
        )
    PredictionRecord.objects.bulk_create(records)
    rows = [
        {
            "model_version_id": record.model_version_id,
            "logged_at": record.logged_at,
            "prediction": record.prediction,
            "probabilities": record.probabilities,
            "confidence": record.confidence,
            "latency_ms": record.latency_ms,
            "label": record.label,
        }
        for record in records
    ]
    for part in rollups.partials(rows, task=version.model.task):
        PredictionRollup.objects.create(
            model=version.model,
            model_version_id=part["model_version_id"],
            hour=part["hour"],
            requests=part["requests"],
            errors=part["errors"],
            labelled=part["labelled"],
            stats=part["stats"],
        )
    return records


def hours_ago(hours: float) -> datetime:
    return timezone.now() - timedelta(hours=hours)


@pytest.fixture
def traffic(served: ModelVersion, old_version: ModelVersion) -> list[PredictionRecord]:
    """Two hours ago: 6 predictions of v2, 4 labelled (3 right); three days ago: 5 of v1."""
    recent = log(
        served,
        hours_ago(2),
        ["1", "0", "0", "1", "0", "0"],
        labels=["1", "0", "1", "1", None, None],
        latency_ms=20.0,
    )
    older = log(old_version, hours_ago(72), ["0"] * 5, latency_ms=50.0)
    return recent + older


# Sign-in -----------------------------------------------------------------------------------


def test_every_page_asks_for_a_sign_in(model: RegisteredModel) -> None:
    for url in (
        reverse("monitoring-overview"),
        reverse("model-monitoring", args=[model.pk]),
        reverse("prediction-lookup"),
        reverse("prediction-detail", args=[uuid.uuid4()]),
    ):
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


# The overview and the home card -------------------------------------------------------------


def test_production_health_gives_each_production_model_its_last_day(
    outsider: User, model: RegisteredModel, traffic: list[PredictionRecord], served: ModelVersion
) -> None:
    AlertIncident.objects.create(
        rule=AlertRule.objects.create(model=model, metric=AlertMetric.LATENCY_P95, threshold=5),
        model=model,
        value=20.0,
    )

    [row] = production_health(outsider)

    assert row["model"] == model
    assert row["version"] == served
    assert row["requests"] == 6  # the three-day-old predictions of v1 are out of the window
    assert row["summary"]["labelled"] == 4
    assert row["performance_name"] == "accuracy"
    assert row["performance"] == "0.750"
    # Performance looks back a week (ground truth is late): 4 labelled of all 11.
    assert row["labelled_fraction"] == "36.4%"
    assert row["latency_p95"].endswith(" ms")
    assert float(row["latency_p95"].split()[0]) == pytest.approx(20.0, rel=0.05)
    assert row["error_rate"] == "0.00%"
    assert row["confidence_mean"] == "0.800"
    assert row["open_incidents"] == 1
    assert row["training"].quality_status == QualityStatus.WARNING
    # An outsider sees the status of a confidential dataset, not a link into it.
    assert row["training_visible"] is False


def test_production_health_costs_the_same_queries_for_one_model_or_many(
    viewer: User,
    project: Project,
    served: ModelVersion,
    traffic: list[PredictionRecord],
    django_assert_max_num_queries: Any,
) -> None:
    with django_assert_max_num_queries(10) as one:
        production_health(viewer)
    for index in range(4):
        other = RegisteredModel.objects.create(
            project=project, name=f"model-{index}", task=ModelTask.REGRESSION
        )
        version = make_version(
            other, 1, stage=Stage.PRODUCTION, training=make_training(project, f"internal-{index}")
        )
        log(version, hours_ago(1), ["1.5", "2.5"])

    with django_assert_max_num_queries(len(one.captured_queries)):
        rows = production_health(viewer)

    assert len(rows) == 5


def test_the_overview_lists_production_models_with_their_health(
    viewer: User,
    model: RegisteredModel,
    served: ModelVersion,
    traffic: list[PredictionRecord],
    project: Project,
) -> None:
    staging_only = RegisteredModel.objects.create(
        project=project, name="churn-candidate", task=ModelTask.CLASSIFICATION
    )

    response = signed_in(viewer).get(reverse("monitoring-overview"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "fraud-detector" in html
    assert reverse("model-monitoring", args=[model.pk]) in html
    assert "accuracy 0.750" in html
    assert "36.4% labelled" in html  # over the week performance looks back on
    assert '<span class="badge badge-drift" title="Drift of the production version' in html
    assert ">Warning</span>" in html  # the training data's quality
    assert reverse("model-alerts", args=[model.pk]) in html
    # Models without a production version are listed apart, with their dashboards.
    assert reverse("model-monitoring", args=[staging_only.pk]) in html
    assert response.context["total_requests"] == 6


def test_the_overview_says_what_to_do_without_a_production_model(viewer: User) -> None:
    response = signed_in(viewer).get(reverse("monitoring-overview"))
    assert response.status_code == 200
    assert "No model in production yet" in response.content.decode()


def test_the_home_card_renders_the_same_rows(
    viewer: User, model: RegisteredModel, traffic: list[PredictionRecord]
) -> None:
    html = render_to_string(
        "monitoring/_production_health.html", {"rows": production_health(viewer)}
    )
    assert "Production models, last 24 hours" in html
    assert reverse("model-monitoring", args=[model.pk]) in html
    assert "accuracy 0.750" in html
    assert "No model in production yet" in render_to_string(
        "monitoring/_production_health.html", {"rows": []}
    )


# A model's dashboard ------------------------------------------------------------------------


def test_the_dashboard_shows_a_week_by_hour_with_every_chart(
    viewer: User, model: RegisteredModel, traffic: list[PredictionRecord]
) -> None:
    response = signed_in(viewer).get(reverse("model-monitoring", args=[model.pk]))

    assert response.status_code == 200
    assert chart_ids(response) == {
        "serving-volume",
        "serving-latency",
        "serving-predictions",
        "serving-confidence",
        "serving-confidence-trend",
        "serving-performance",
    }
    volume = figure(response, "serving-volume")
    assert len(volume["data"][0]["x"]) == 7 * 24
    assert {trace["name"]: sum(trace["y"]) for trace in volume["data"]} == {"v1": 5, "v2": 6}
    tiles = {tile["label"]: tile["value"] for tile in response.context["tiles"]}
    assert tiles["Requests"] == "11"
    assert tiles["Accuracy"] == "0.750"
    assert tiles["Labelled"] == "36.4%"  # 4 of 11
    html = response.content.decode()
    assert reverse("model-alerts", args=[model.pk]) in html
    assert reverse("model-drift", args=[model.pk]) in html


def test_the_dashboard_lists_the_newest_predictions_of_the_model_only(
    viewer: User,
    project: Project,
    model: RegisteredModel,
    served: ModelVersion,
    traffic: list[PredictionRecord],
) -> None:
    newest = log(served, hours_ago(1), ["1"] * 25)
    other = RegisteredModel.objects.create(
        project=project, name="other", task=ModelTask.CLASSIFICATION
    )
    intruder = log(make_version(other, 1), hours_ago(0.5), ["1"])

    response = signed_in(viewer).get(reverse("model-monitoring", args=[model.pk]))

    recent = response.context["recent"]
    assert [record.request_id for record in recent] == [
        record.request_id for record in reversed(newest[-20:])
    ]
    html = response.content.decode()
    assert reverse("prediction-detail", args=[newest[-1].request_id]) in html
    assert str(intruder[0].request_id) not in html


def test_longer_ranges_are_drawn_by_day_and_an_unknown_range_is_the_week(
    viewer: User, model: RegisteredModel, traffic: list[PredictionRecord]
) -> None:
    client = signed_in(viewer)
    month = client.get(reverse("model-monitoring", args=[model.pk]), {"range": "30d"})
    assert len(figure(month, "serving-volume")["data"][0]["x"]) == 30
    assert figure(month, "serving-volume")["data"][0]["xperiod"] == 86_400_000
    day = client.get(reverse("model-monitoring", args=[model.pk]), {"range": "24h"})
    # The last day holds only the recent predictions of v2.
    assert {trace["name"]: sum(trace["y"]) for trace in figure(day, "serving-volume")["data"]} == {
        "v2": 6
    }
    unknown = client.get(reverse("model-monitoring", args=[model.pk]), {"range": "1y"})
    assert unknown.context["time_range"].key == "7d"


def test_one_version_can_be_shown_alone(
    viewer: User, model: RegisteredModel, traffic: list[PredictionRecord]
) -> None:
    response = signed_in(viewer).get(
        reverse("model-monitoring", args=[model.pk]), {"version": "1", "range": "7d"}
    )

    assert response.context["version"].version == 1
    assert {
        trace["name"]: sum(trace["y"]) for trace in figure(response, "serving-volume")["data"]
    } == {"v1": 5}
    assert {record.version_number for record in response.context["recent"]} == {1}


def test_an_unknown_version_shows_all_versions_and_says_so(
    viewer: User, model: RegisteredModel, traffic: list[PredictionRecord]
) -> None:
    response = signed_in(viewer).get(reverse("model-monitoring", args=[model.pk]), {"version": "9"})

    assert response.context["version"] is None
    assert "This model has no version 9: showing all versions." in response.content.decode()
    assert {trace["name"] for trace in figure(response, "serving-volume")["data"]} == {"v1", "v2"}


def test_the_dashboard_reads_a_fixed_number_of_queries_whatever_the_traffic(
    viewer: User,
    model: RegisteredModel,
    served: ModelVersion,
    traffic: list[PredictionRecord],
    django_assert_max_num_queries: Any,
) -> None:
    client = signed_in(viewer)
    url = reverse("model-monitoring", args=[model.pk])
    with django_assert_max_num_queries(30) as before:
        client.get(url)
    for hours in range(1, 40):
        log(served, hours_ago(hours), ["0", "1"])

    with django_assert_max_num_queries(len(before.captured_queries)):
        response = client.get(url)

    assert response.status_code == 200


def test_a_model_without_predictions_shows_how_to_send_them(
    viewer: User, model: RegisteredModel, served: ModelVersion
) -> None:
    response = signed_in(viewer).get(reverse("model-monitoring", args=[model.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "No predictions yet" in html
    assert f"/api/v1/models/{model.pk}/predict" in html
    assert (
        "{&quot;inputs&quot;: {&quot;amount&quot;: 0.0, &quot;merchant&quot;: &quot;…&quot;}}"
        in html
    )
    assert "/api/v1/predictions" in html
    assert chart_ids(response) == set()


def test_a_regressor_dashboard_draws_values_and_errors_not_confidence(
    viewer: User, project: Project
) -> None:
    model = RegisteredModel.objects.create(
        project=project, name="basket-value", task=ModelTask.REGRESSION
    )
    version = make_version(model, 1, stage=Stage.PRODUCTION)
    log(version, hours_ago(3), ["10.0", "20.0"], labels=None)
    PredictionRecord.objects.filter(model=model).update(probabilities=None, confidence=None)

    response = signed_in(viewer).get(reverse("model-monitoring", args=[model.pk]))

    assert response.status_code == 200
    assert "serving-confidence" not in chart_ids(response)
    assert figure(response, "serving-predictions")["layout"]["title"]["text"].startswith(
        "Predicted values"
    )
    assert "MAE" in {tile["label"] for tile in response.context["tiles"]}


def test_an_unknown_model_is_not_found(viewer: User) -> None:
    assert signed_in(viewer).get(reverse("model-monitoring", args=[999_999])).status_code == 404


# Looking up a prediction --------------------------------------------------------------------


def test_a_known_request_id_opens_its_prediction(
    viewer: User, traffic: list[PredictionRecord]
) -> None:
    record = traffic[0]
    pasted = f"  {str(record.request_id).upper()}\n"

    response = signed_in(viewer).get(reverse("prediction-lookup"), {"request_id": pasted})

    assert response.status_code == 302
    assert response["Location"] == reverse("prediction-detail", args=[record.request_id])


def test_a_malformed_request_id_is_refused_by_name(viewer: User) -> None:
    response = signed_in(viewer).get(reverse("prediction-lookup"), {"request_id": "abc-123"})

    assert response.status_code == 200
    assert response.context["form"].errors["request_id"] == [
        "“abc-123” is not a UUID: a request id has 32 hexadecimal digits, like "
        "3f2b8c1e-5d4a-4e8f-9a61-0c7d2b9e4f10."
    ]


def test_an_unknown_request_id_is_reported(viewer: User) -> None:
    unknown = uuid.uuid4()
    response = signed_in(viewer).get(reverse("prediction-lookup"), {"request_id": str(unknown)})

    assert response.status_code == 200
    assert f"No prediction with request id {unknown}." in response.content.decode()
    assert signed_in(viewer).get(reverse("prediction-detail", args=[unknown])).status_code == 404


def test_the_prediction_page_traces_it_to_its_version_lineage_and_environment(
    viewer: User, served: ModelVersion, traffic: list[PredictionRecord]
) -> None:
    record = traffic[0]  # predicted "1", labelled "1", confidence 0.7

    response = signed_in(viewer).get(record.get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert str(record.request_id) in html
    assert "70.00%" in html and "30.00%" in html  # both class probabilities
    assert "0.7000" in html  # confidence
    assert "20.00 ms" in html
    assert '<span class="badge badge-ok" title="The prediction matches the ground truth">' in html
    assert served.get_absolute_url() in html
    assert f"{served.get_absolute_url()}#environment" in html
    assert f"{reverse('lineage-graph')}?type=model_version&amp;id={served.pk}" in html
    assert "3.11.9" in html and "abc1234" in html
    # A member sees the inputs of a model trained on confidential data.
    assert [row["name"] for row in response.context["inputs"]] == ["amount", "merchant"]
    assert "grocery" in html


def test_an_outsider_does_not_see_inputs_of_a_model_trained_on_confidential_data(
    outsider: User, traffic: list[PredictionRecord]
) -> None:
    response = signed_in(outsider).get(traffic[0].get_absolute_url())

    assert response.status_code == 200
    html = response.content.decode()
    assert response.context["inputs_hidden"] is True
    assert "The inputs are hidden" in html
    assert "grocery" not in html
    # The outputs are still there: the model is visible to every signed-in user.
    assert "70.00%" in html


def test_an_outsider_sees_inputs_of_internal_data_but_not_its_pii_columns(
    outsider: User, project: Project, model: RegisteredModel
) -> None:
    internal = make_training(
        project, Sensitivity.INTERNAL, column_sensitivity={"merchant": Sensitivity.PII}
    )
    version = make_version(model, 3, training=internal)
    [record] = log(version, hours_ago(1), ["0"], inputs={"amount": 99.5, "merchant": "casino"})

    response = signed_in(outsider).get(record.get_absolute_url())

    html = response.content.decode()
    assert response.context["inputs_hidden"] is False
    assert "99.5" in html
    assert "casino" not in html
    assert "1 PII feature hidden" in html


def test_the_example_record_has_a_value_of_each_features_type() -> None:
    version = ModelVersion(
        signature=[
            {"name": "card_present", "type": "boolean"},
            {"name": "hour", "type": "integer"},
            {"name": "amount", "type": "float"},
            {"name": "seen_at", "type": "datetime"},
            {"name": "day", "type": "date"},
            {"name": "channel", "type": "string"},
        ]
    )

    assert example_inputs(version) == {
        "card_present": False,
        "hour": 0,
        "amount": 0.0,
        "seen_at": "2026-11-26T14:03:00Z",
        "day": "2026-11-26",
        "channel": "…",
    }
    assert example_inputs(None) == {"feature": 0}
