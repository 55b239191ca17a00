"""The serving API: POST /api/v1/models/<id>/predict scores one record or a batch with the
production version (or /versions/<n>/predict), answers each record with its request UUID,
the model version, the prediction and the class probabilities, and logs it; predictions
made elsewhere are ingested at POST /api/v1/predictions idempotently on their UUID; ground
truth joins them at POST /api/v1/feedback; GET /api/v1/predictions/<uuid> reads one back.

Every bad input of the issue is a 4xx naming the problem, a batch with some bad records
stores the good ones and lists the others with their reasons, and the roles hold: a
project's viewers score, its contributors ingest and label, outsiders do neither."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from lineage import artifacts, services
from lineage.choices import Stage
from lineage.models import DatasetVersion, ModelVersion, RegisteredModel
from monitoring import model_cache, prediction_stats
from monitoring.models import PredictionRecord, PredictionRollup

pytestmark = pytest.mark.django_db

Client = Callable[[User], APIClient]

RECORD = {"amount": 120.0, "items": 2, "channel": "online"}
SMALL = {"amount": 8.5, "items": 1, "channel": "chip"}
INGEST = "/api/v1/predictions"
FEEDBACK = "/api/v1/feedback"


@pytest.fixture(autouse=True)
def _fresh_model_cache() -> Iterator[None]:
    """Ids come back after a test's rollback: no estimator may outlive its test."""
    model_cache.forget_all()
    yield
    model_cache.forget_all()


def predict_url(model: RegisteredModel, version: int | None = None) -> str:
    if version is None:
        return f"/api/v1/models/{model.pk}/predict"
    return f"/api/v1/models/{model.pk}/versions/{version}/predict"


def predict(client: APIClient, model: RegisteredModel, body: Any, **options: Any) -> Any:
    return client.post(predict_url(model, **options), body, format="json")


def raw_post(client: APIClient, url: str, text: str, content_type: str = "application/json") -> Any:
    return client.post(url, data=text, content_type=content_type)


def requests_logged(model: RegisteredModel) -> int:
    return PredictionRollup.objects.filter(model=model).aggregate(n=Sum("requests"))["n"] or 0


def errors_logged(model: RegisteredModel) -> int:
    return PredictionRollup.objects.filter(model=model).aggregate(n=Sum("errors"))["n"] or 0


def last_hour(model: RegisteredModel) -> dict[str, Any]:
    return prediction_stats.window_summary(model, timezone.now() - dt.timedelta(hours=1))


def add_version(model: RegisteredModel, user: User, artifact: bytes | None = None) -> ModelVersion:
    """The model's next version (the same pipeline as version 1 unless given)."""
    if artifact is None:
        with model.versions.get(version=1).artifact.open("rb") as handle:
            artifact = handle.read()
    first = model.versions.get(version=1)
    return services.register_model_version(
        model,
        SimpleUploadedFile("model.skops", artifact),
        {"signature": first.signature, "target_column": first.target_column},
        user=user,
    )


def ingested(count: int, **fields: Any) -> list[dict[str, Any]]:
    return [
        {
            "request_id": str(uuid.uuid4()),
            "inputs": dict(RECORD),
            "prediction": 1,
            "probabilities": {"0": 0.25, "1": 0.75},
            "latency_ms": 3.5,
            **fields,
        }
        for _ in range(count)
    ]


# Predict --------------------------------------------------------------------------------------


def test_a_viewer_scores_one_record_and_gets_its_uuid_version_and_probabilities(
    served_model: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    response = predict(api_client_for(viewer), served_model, {"inputs": RECORD})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == served_model.pk and body["model_version"] == 1
    request_id = uuid.UUID(body["request_id"])
    assert response["X-Request-ID"] == str(request_id)
    assert body["prediction"] in (0, 1)
    assert set(body["probabilities"]) == {"0", "1"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    assert body["confidence"] == max(body["probabilities"].values())
    assert body["prediction"] == int(max(body["probabilities"], key=body["probabilities"].get))

    record = PredictionRecord.objects.get(request_id=request_id)
    assert record.model_version == served_model.versions.get(version=1)
    assert record.source == "served"
    assert record.inputs == RECORD
    assert record.prediction == body["prediction"]
    assert record.probabilities == body["probabilities"]
    assert record.confidence == body["confidence"]
    assert record.latency_ms is not None and record.latency_ms > 0
    assert record.label is None
    assert requests_logged(served_model) == 1


def test_the_answer_is_what_the_model_itself_says(
    served_model: RegisteredModel, viewer: User, api_client_for: Client, settings: Any
) -> None:
    records = [RECORD, SMALL, {"amount": 300.0, "items": 7, "channel": "contactless"}]
    response = predict(api_client_for(viewer), served_model, {"records": records})
    assert response.status_code == 200, response.content
    with served_model.versions.get(version=1).artifact.open("rb") as handle:
        estimator = artifacts.load_estimator(handle, extra_trusted=settings.MODEL_TRUSTED_TYPES)
    expected = estimator.predict_proba(pd.DataFrame(records)[["amount", "items", "channel"]])
    answered = [
        [answer["probabilities"]["0"], answer["probabilities"]["1"]]
        for answer in response.json()["predictions"]
    ]
    assert np.allclose(answered, expected)


def test_a_batch_answers_every_record_with_its_own_uuid(
    served_model: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    response = predict(api_client_for(viewer), served_model, {"records": [RECORD, SMALL] * 3})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model_version"] == 1 and body["refused"] == []
    assert [answer["index"] for answer in body["predictions"]] == list(range(6))
    request_ids = {answer["request_id"] for answer in body["predictions"]}
    assert len(request_ids) == 6
    stored = set(PredictionRecord.objects.values_list("request_id", flat=True))
    assert {str(request_id) for request_id in stored} == request_ids
    assert requests_logged(served_model) == 6


def test_a_regressor_answers_a_number_without_probabilities(
    served_regressor: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    response = predict(api_client_for(viewer), served_regressor, {"inputs": RECORD})
    assert response.status_code == 200, response.content
    body = response.json()
    assert isinstance(body["prediction"], float) and body["prediction"] > 0
    assert body["probabilities"] is None and body["confidence"] is None
    record = PredictionRecord.objects.get(request_id=body["request_id"])
    assert record.prediction == body["prediction"] and record.confidence is None


def test_a_batch_with_bad_records_scores_the_good_ones_and_lists_the_refused(
    served_model: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    records = [
        RECORD,
        {**RECORD, "amount": "a lot"},
        SMALL,
        {"amount": 1.0, "channel": "chip"},
        {**RECORD, "colour": "red"},
    ]
    response = predict(api_client_for(viewer), served_model, {"records": records})
    assert response.status_code == 200, response.content
    body = response.json()
    assert [answer["index"] for answer in body["predictions"]] == [0, 2]
    assert body["refused"] == [
        {"index": 1, "errors": ["Feature 'amount' must be a number, not the text \"a lot\"."]},
        {"index": 3, "errors": ["Missing feature 'items'."]},
        {
            "index": 4,
            "errors": ["Unknown feature 'colour': the model takes amount, items, channel."],
        },
    ]
    assert PredictionRecord.objects.count() == 2
    # Refused records count as errors of the model: its error rate shows bad callers.
    assert requests_logged(served_model) == 2 and errors_logged(served_model) == 3
    summary = last_hour(served_model)
    assert summary["errors"] == 3 and summary["error_rate"] == pytest.approx(3 / 5)


def test_nan_and_infinity_in_a_batch_name_the_record_and_the_feature(
    served_model: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    text = (
        '{"records": [{"amount": NaN, "items": 1, "channel": "chip"},'
        ' {"amount": 5.0, "items": 1, "channel": "chip"},'
        ' {"amount": Infinity, "items": 1, "channel": "chip"},'
        ' {"amount": -Infinity, "items": 1, "channel": "chip"}]}'
    )
    response = raw_post(api_client_for(viewer), predict_url(served_model), text)
    assert response.status_code == 200, response.content
    body = response.json()
    assert [answer["index"] for answer in body["predictions"]] == [1]
    assert body["refused"] == [
        {"index": 0, "errors": ["Feature 'amount' is NaN: send a finite number."]},
        {"index": 2, "errors": ["Feature 'amount' is infinite: send a finite number."]},
        {"index": 3, "errors": ["Feature 'amount' is minus infinity: send a finite number."]},
    ]


def test_nan_in_a_single_record_is_a_400_naming_the_feature(
    served_model: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    text = '{"inputs": {"amount": 5.0, "items": NaN, "channel": "chip"}}'
    response = raw_post(api_client_for(viewer), predict_url(served_model), text)
    assert response.status_code == 400
    assert response.json() == {"inputs": ["Feature 'items' is NaN: send a finite number."]}
    assert not PredictionRecord.objects.exists()


@pytest.mark.parametrize(
    ("inputs", "problem"),
    [
        ({**RECORD, "amount": "120"}, "Feature 'amount' must be a number, not the text \"120\"."),
        ({**RECORD, "items": "two"}, "Feature 'items' must be a number, not the text \"two\"."),
        ({"amount": 1.0, "channel": "chip"}, "Missing feature 'items'."),
        (
            {**RECORD, "merchant": "acme"},
            "Unknown feature 'merchant': the model takes amount, items, channel.",
        ),
        ({**RECORD, "items": 1.5}, "Feature 'items' must be a whole number, not 1.5."),
    ],
)
def test_a_bad_record_is_a_400_naming_the_feature(
    served_model: RegisteredModel,
    viewer: User,
    api_client_for: Client,
    inputs: dict[str, Any],
    problem: str,
) -> None:
    response = predict(api_client_for(viewer), served_model, {"inputs": inputs})
    assert response.status_code == 400
    assert response.json() == {"inputs": [problem]}
    assert not PredictionRecord.objects.exists()
    assert errors_logged(served_model) == 1


def test_a_batch_of_only_bad_records_is_a_400_listing_each(
    served_model: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    response = predict(
        api_client_for(viewer), served_model, {"records": [{**RECORD, "items": None, "x": 1}, 7]}
    )
    assert response.status_code == 400
    assert response.json() == {
        "records": [
            {
                "index": 0,
                "errors": ["Unknown feature 'x': the model takes amount, items, channel."],
            },
            {
                "index": 1,
                "errors": ["A record is a JSON object of feature values, not the number 7."],
            },
        ]
    }


def test_a_body_that_is_not_json_is_a_400_naming_json(
    served_model: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    response = raw_post(api_client_for(viewer), predict_url(served_model), "amount=5&items=1")
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_a_wrong_content_type_is_a_415(
    served_model: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    response = raw_post(
        api_client_for(viewer),
        predict_url(served_model),
        json.dumps({"inputs": RECORD}),
        "text/csv",
    )
    assert response.status_code == 415
    assert 'Unsupported media type "text/csv"' in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        (
            [RECORD],
            "non_field_errors",
            'Send a JSON object: {"inputs": {...}} or {"records": [...]}.',
        ),
        (
            {"rows": [RECORD]},
            "records",
            'Send the record under "inputs", or a batch under "records".',
        ),
        ({"records": RECORD}, "records", "A batch is a JSON list of records."),
        ({"records": []}, "records", "The batch is empty."),
    ],
)
def test_a_body_of_the_wrong_shape_says_what_to_send(
    served_model: RegisteredModel,
    viewer: User,
    api_client_for: Client,
    body: Any,
    field: str,
    problem: str,
) -> None:
    response = predict(api_client_for(viewer), served_model, body)
    assert response.status_code == 400
    assert response.json() == {field: [problem]}


def test_a_batch_over_the_limit_is_a_400_naming_the_limit(
    served_model: RegisteredModel, viewer: User, api_client_for: Client, settings: Any
) -> None:
    settings.SERVING_BATCH_LIMIT = 3
    client = api_client_for(viewer)
    response = predict(client, served_model, {"records": [RECORD] * 4})
    assert response.status_code == 400
    assert response.json() == {"records": ["A batch holds at most 3 records; this one has 4."]}
    assert not PredictionRecord.objects.exists()
    assert predict(client, served_model, {"records": [RECORD] * 3}).status_code == 200


def test_an_unknown_model_is_a_404(viewer: User, api_client_for: Client) -> None:
    response = api_client_for(viewer).post(
        "/api/v1/models/9999/predict", {"inputs": RECORD}, format="json"
    )
    assert response.status_code == 404
    assert response.json() == {"model": ["There is no model with id 9999."]}


def test_an_unknown_version_is_a_404(
    served_model: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    response = predict(api_client_for(viewer), served_model, {"inputs": RECORD}, version=7)
    assert response.status_code == 404
    assert response.json() == {"model_version": ["Model 'fraud-scorer' has no version 7."]}


def test_a_model_without_a_production_version_is_a_409(
    served_model: RegisteredModel, contributor: User, viewer: User, api_client_for: Client
) -> None:
    served_model.versions.get(version=1).change_stage(Stage.ARCHIVED, contributor)
    client = api_client_for(viewer)
    response = predict(client, served_model, {"inputs": RECORD})
    assert response.status_code == 409
    (problem,) = response.json()["model"]
    assert problem.startswith("Model 'fraud-scorer' has no version in production")
    # A named version is still served, whatever its stage.
    response = predict(client, served_model, {"inputs": RECORD}, version=1)
    assert response.status_code == 200, response.content
    assert response.json()["model_version"] == 1


def test_a_named_version_is_served_next_to_production(
    served_model: RegisteredModel, contributor: User, viewer: User, api_client_for: Client
) -> None:
    add_version(served_model, contributor)
    client = api_client_for(viewer)
    assert predict(client, served_model, {"inputs": RECORD}).json()["model_version"] == 1
    response = predict(client, served_model, {"inputs": RECORD}, version=2)
    assert response.json()["model_version"] == 2
    record = PredictionRecord.objects.get(request_id=response.json()["request_id"])
    assert record.model_version.version == 2


def test_a_model_that_refuses_the_data_is_a_422_and_counts_as_errors(
    served_model: RegisteredModel, contributor: User, viewer: User, api_client_for: Client
) -> None:
    """A pipeline whose encoder refuses categories it has not seen."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame(
        {"amount": [1.0, 200.0] * 20, "items": [1, 2] * 20, "channel": ["chip", "online"] * 20}
    )
    strict = Pipeline(
        [
            (
                "encode",
                ColumnTransformer(
                    [("channel", OneHotEncoder(handle_unknown="error"), ["channel"])],
                    remainder="passthrough",
                ),
            ),
            ("model", GradientBoostingClassifier(n_estimators=5)),
        ]
    ).fit(frame, [0, 1] * 20)
    add_version(served_model, contributor, sio.dumps(strict))
    response = predict(
        api_client_for(viewer),
        served_model,
        {"records": [RECORD, {**RECORD, "channel": "telepathy"}]},
        version=2,
    )
    assert response.status_code == 422, response.content
    (problem,) = response.json()["non_field_errors"]
    assert problem.startswith("The model could not score the records (ValueError:")
    assert not PredictionRecord.objects.exists()
    assert errors_logged(served_model) == 2


def test_an_outsider_cannot_score(
    served_model: RegisteredModel, outsider: User, api_client_for: Client
) -> None:
    response = predict(api_client_for(outsider), served_model, {"inputs": RECORD})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You need the viewer role in project 'Card fraud' to score with its models."
    }
    assert not PredictionRecord.objects.exists()


def test_an_anonymous_caller_is_asked_to_authenticate(served_model: RegisteredModel) -> None:
    response = APIClient().post(predict_url(served_model), {"inputs": RECORD}, format="json")
    assert response.status_code == 401


def test_a_new_production_version_takes_effect_without_a_restart(
    served_model: RegisteredModel,
    contributor: User,
    reviewer: User,
    viewer: User,
    api_client_for: Client,
) -> None:
    client = api_client_for(viewer)
    assert predict(client, served_model, {"inputs": RECORD}).json()["model_version"] == 1
    version = add_version(served_model, contributor)
    assert predict(client, served_model, {"inputs": RECORD}).json()["model_version"] == 1

    review = api_client_for(contributor).post(
        "/api/v1/reviews/", {"model_version": version.pk}, format="json"
    )
    assert review.status_code == 201, review.content
    approved = api_client_for(reviewer).post(
        f"/api/v1/reviews/{review.json()['id']}/approve/", {"comment": "Better AUC"}, format="json"
    )
    assert approved.status_code == 200, approved.content

    response = predict(client, served_model, {"inputs": RECORD})
    assert response.json()["model_version"] == 2
    record = PredictionRecord.objects.get(request_id=response.json()["request_id"])
    assert record.model_version == version


def test_each_artifact_is_loaded_once_per_process(
    served_model: RegisteredModel,
    contributor: User,
    viewer: User,
    api_client_for: Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loads: list[int] = []
    real_load = artifacts.load_estimator

    def counting_load(*args: Any, **kwargs: Any) -> Any:
        loads.append(1)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(artifacts, "load_estimator", counting_load)
    client = api_client_for(viewer)
    for _ in range(5):
        assert predict(client, served_model, {"inputs": RECORD}).status_code == 200
    assert predict(client, served_model, {"records": [RECORD, SMALL]}).status_code == 200
    assert len(loads) == 1
    add_version(served_model, contributor)
    for _ in range(3):
        assert predict(client, served_model, {"inputs": RECORD}, version=2).status_code == 200
    assert predict(client, served_model, {"inputs": RECORD}).status_code == 200
    assert len(loads) == 2
    assert set(model_cache._loaded) == set(served_model.versions.values_list("pk", flat=True))


def test_the_cache_keeps_the_most_recently_used_versions(
    served_model: RegisteredModel,
    contributor: User,
    viewer: User,
    api_client_for: Client,
    settings: Any,
) -> None:
    settings.SERVING_CACHE_SIZE = 1
    version = add_version(served_model, contributor)
    client = api_client_for(viewer)
    assert predict(client, served_model, {"inputs": RECORD}).status_code == 200
    assert predict(client, served_model, {"inputs": RECORD}, version=2).status_code == 200
    assert list(model_cache._loaded) == [version.pk]


def test_a_version_without_a_signature_cannot_be_served(
    served_model: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    ModelVersion.objects.filter(model=served_model).update(signature=[])
    response = predict(api_client_for(viewer), served_model, {"inputs": RECORD})
    assert response.status_code == 409
    (problem,) = response.json()["model_version"]
    assert "has no signature" in problem


def test_the_spool_full_answers_503_and_stores_nothing_of_that_request(
    served_model: RegisteredModel, viewer: User, api_client_for: Client, settings: Any
) -> None:
    settings.PREDICTION_SPOOL_MAX_BYTES = 10
    response = predict(api_client_for(viewer), served_model, {"inputs": RECORD})
    assert response.status_code == 503
    assert "retry shortly" in response.json()["detail"]
    assert not PredictionRecord.objects.exists()


# Ingesting predictions made elsewhere ------------------------------------------------------------


def test_a_contributor_ingests_a_batch_and_learns_how_many_were_new(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    records = ingested(5)
    records[0]["timestamp"] = "2026-01-02T03:04:05Z"
    records[1]["label"] = 1
    response = api_client_for(contributor).post(
        INGEST, {"model": served_model.pk, "records": records}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json() == {"received": 5, "stored": 5, "duplicates": 0, "refused": []}
    stored = {str(row.request_id): row for row in PredictionRecord.objects.all()}
    assert set(stored) == {record["request_id"] for record in records}
    first = stored[records[0]["request_id"]]
    assert first.source == "ingested" and first.model_version.version == 1
    assert first.logged_at == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert first.confidence == 0.75  # the largest probability, when none is sent
    assert first.latency_ms == 3.5 and first.inputs == RECORD
    assert stored[records[1]["request_id"]].label == 1
    assert requests_logged(served_model) == 5
    assert (
        PredictionRollup.objects.filter(model=served_model).aggregate(n=Sum("labelled"))["n"] == 1
    )


def test_a_retried_batch_stores_nothing_new_and_leaves_the_rollups_unchanged(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    client = api_client_for(contributor)
    records = ingested(4)
    body = {"model": served_model.pk, "records": records}
    assert client.post(INGEST, body, format="json").json()["stored"] == 4
    rollups_before = list(PredictionRollup.objects.values_list("requests", "errors", "labelled"))

    retried = client.post(INGEST, body, format="json")
    assert retried.status_code == 200
    assert retried.json() == {"received": 4, "stored": 0, "duplicates": 4, "refused": []}
    assert PredictionRecord.objects.count() == 4
    assert list(PredictionRollup.objects.values_list("requests", "errors", "labelled")) == (
        rollups_before
    )
    assert last_hour(served_model)["requests"] == 4

    overlapping = {"model": served_model.pk, "records": records[2:] + ingested(3)}
    response = client.post(INGEST, overlapping, format="json")
    assert response.json() == {"received": 5, "stored": 3, "duplicates": 2, "refused": []}
    assert PredictionRecord.objects.count() == 7 and requests_logged(served_model) == 7


def test_a_uuid_sent_twice_in_one_batch_is_stored_once(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    (record,) = ingested(1)
    response = api_client_for(contributor).post(
        INGEST,
        {"model": served_model.pk, "records": [record, {**record, "prediction": 0}]},
        format="json",
    )
    assert response.json() == {"received": 2, "stored": 1, "duplicates": 1, "refused": []}
    assert PredictionRecord.objects.get().prediction == 1  # the first one is kept
    assert requests_logged(served_model) == 1


def test_an_ingested_batch_with_bad_records_stores_the_good_ones(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    good = ingested(2)
    bad_id = {**ingested(1)[0], "request_id": "not-a-uuid"}
    bad_inputs = {**ingested(1)[0], "inputs": {**RECORD, "amount": "many"}}
    future = {**ingested(1)[0], "timestamp": "2999-01-01T00:00:00Z"}
    bad_prediction = {**ingested(1)[0], "prediction": None, "probabilities": {"0": 2}}
    unknown_version = {**ingested(1)[0], "model_version": 5}
    records = [good[0], bad_id, bad_inputs, future, bad_prediction, unknown_version, good[1]]
    response = api_client_for(contributor).post(
        INGEST, {"model": served_model.pk, "records": records}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["received"], body["stored"], body["duplicates"]) == (7, 2, 0)
    assert body["refused"] == [
        {"index": 1, "errors": ["'request_id' must be a UUID."], "request_id": "not-a-uuid"},
        {
            "index": 2,
            "errors": ["Feature 'amount' must be a number, not the text \"many\"."],
            "request_id": bad_inputs["request_id"],
        },
        {
            "index": 3,
            "errors": ["'timestamp' 2999-01-01T00:00:00Z is in the future."],
            "request_id": future["request_id"],
        },
        {
            "index": 4,
            "errors": [
                "'prediction' is required.",
                "'probabilities' of class '0' must be a number from 0 to 1.",
            ],
            "request_id": bad_prediction["request_id"],
        },
        {
            "index": 5,
            "errors": ["Model 'fraud-scorer' has no version 5."],
            "request_id": unknown_version["request_id"],
        },
    ]
    assert {str(pk) for pk in PredictionRecord.objects.values_list("request_id", flat=True)} == {
        good[0]["request_id"],
        good[1]["request_id"],
    }


def test_nan_in_an_ingested_record_names_the_record_and_the_feature(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    (good,) = ingested(1)
    infinite = (
        f'{{"request_id": "{uuid.uuid4()}", "prediction": 0,'
        ' "inputs": {"amount": Infinity, "items": 1, "channel": "chip"}}'
    )
    text = json.dumps({"model": served_model.pk, "records": [good]})[:-2] + f", {infinite}]}}"
    response = raw_post(api_client_for(contributor), INGEST, text)
    assert response.status_code == 200, response.content
    (refused,) = response.json()["refused"]
    assert refused["index"] == 1
    assert refused["errors"] == ["Feature 'amount' is infinite: send a finite number."]
    assert response.json()["stored"] == 1


def test_a_batch_of_only_bad_records_is_a_400(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    records = [{**ingested(1)[0], "prediction": [1]}]
    response = api_client_for(contributor).post(
        INGEST, {"model": served_model.pk, "records": records}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["refused"][0]["errors"] == [
        "'prediction' must be a single class, not a list."
    ]
    assert not PredictionRecord.objects.exists()


def test_ingesting_for_a_regressor_needs_numbers(
    served_regressor: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    records = [
        {"request_id": str(uuid.uuid4()), "inputs": RECORD, "prediction": 140.5},
        {"request_id": str(uuid.uuid4()), "inputs": RECORD, "prediction": "high"},
    ]
    response = api_client_for(contributor).post(
        INGEST, {"model": served_regressor.pk, "records": records}, format="json"
    )
    assert response.json()["stored"] == 1
    assert response.json()["refused"][0]["errors"] == [
        "'prediction' must be a number, not the text \"high\"."
    ]


def test_an_ingested_batch_over_the_limit_is_a_400_naming_the_limit(
    served_model: RegisteredModel, contributor: User, api_client_for: Client, settings: Any
) -> None:
    settings.PREDICTION_BATCH_LIMIT = 5
    response = api_client_for(contributor).post(
        INGEST, {"model": served_model.pk, "records": ingested(6)}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"records": ["A batch holds at most 5 records; this one has 6."]}
    assert not PredictionRecord.objects.exists()


def test_a_version_without_a_signature_takes_any_inputs_when_ingesting(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    ModelVersion.objects.filter(model=served_model).update(signature=[])
    records = ingested(1, inputs={"amount": 1.0, "postcode": "AB1"})
    response = api_client_for(contributor).post(
        INGEST, {"model": served_model.pk, "records": records}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == 1
    assert PredictionRecord.objects.get().inputs == {"amount": 1.0, "postcode": "AB1"}


def test_ingesting_for_an_unknown_or_unnamed_model_is_refused(
    contributor: User, api_client_for: Client
) -> None:
    client = api_client_for(contributor)
    response = client.post(INGEST, {"model": 4242, "records": ingested(1)}, format="json")
    assert response.status_code == 404
    assert response.json() == {"model": ["There is no model with id 4242."]}
    response = client.post(INGEST, {"records": ingested(1)}, format="json")
    assert response.status_code == 400 and response.json() == {"model": ["Name the model: its id."]}
    response = client.post(INGEST, {"model": "fraud", "records": ingested(1)}, format="json")
    assert response.status_code == 400
    assert response.json() == {"model": ["A model is named by its id (a number)."]}


def test_ingesting_into_a_model_without_production_needs_a_version(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    served_model.versions.get(version=1).change_stage(Stage.ARCHIVED, contributor)
    client = api_client_for(contributor)
    response = client.post(
        INGEST, {"model": served_model.pk, "records": ingested(1)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["refused"][0]["errors"] == [
        "Model 'fraud-scorer' has no version in production: name the 'model_version'."
    ]
    response = client.post(
        INGEST,
        {"model": served_model.pk, "model_version": 1, "records": ingested(1)},
        format="json",
    )
    assert response.json()["stored"] == 1
    response = client.post(
        INGEST,
        {"model": served_model.pk, "model_version": 3, "records": ingested(1)},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"model_version": ["Model 'fraud-scorer' has no version 3."]}


def test_only_contributors_ingest(
    served_model: RegisteredModel, viewer: User, outsider: User, api_client_for: Client
) -> None:
    for user in (viewer, outsider):
        response = api_client_for(user).post(
            INGEST, {"model": served_model.pk, "records": ingested(1)}, format="json"
        )
        assert response.status_code == 403, user
        assert response.json() == {
            "detail": "You need the contributor role in project 'Card fraud' to log its "
            "predictions."
        }
    assert not PredictionRecord.objects.exists()


def test_ingest_refuses_a_body_that_is_not_json(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    client = api_client_for(contributor)
    response = raw_post(client, INGEST, '{"model": 1, "records": [')
    assert response.status_code == 400 and "not valid JSON" in response.json()["detail"]
    response = raw_post(client, INGEST, "model=1", "application/x-www-form-urlencoded")
    assert response.status_code == 415


# Ground truth --------------------------------------------------------------------------------


def scored(client: APIClient, model: RegisteredModel, count: int) -> list[dict[str, Any]]:
    records = [{**RECORD, "amount": float(10 + 40 * number)} for number in range(count)]
    response = predict(client, model, {"records": records})
    assert response.status_code == 200, response.content
    return response.json()["predictions"]


def test_feedback_joins_labels_to_logged_predictions(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    client = api_client_for(contributor)
    answers = scored(client, served_model, 4)
    labels = [
        {"request_id": answer["request_id"], "label": answer["prediction"]} for answer in answers
    ]
    response = client.post(FEEDBACK, {"records": labels}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"received": 4, "labelled": 4, "unchanged": 0, "refused": []}
    for answer in answers:
        record = PredictionRecord.objects.get(request_id=answer["request_id"])
        assert record.label == answer["prediction"] and record.labelled_at is not None
    summary = last_hour(served_model)
    assert summary["requests"] == 4 and summary["labelled"] == 4
    assert summary["labelled_fraction"] == 1.0
    assert summary["performance"]["accuracy"] == 1.0


def test_one_label_can_be_sent_without_a_batch(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    client = api_client_for(contributor)
    (answer,) = scored(client, served_model, 1)
    response = client.post(
        FEEDBACK, {"request_id": answer["request_id"], "label": 1}, format="json"
    )
    assert response.status_code == 200 and response.json()["labelled"] == 1
    assert PredictionRecord.objects.get().label == 1


def test_a_changed_label_replaces_the_old_one_in_the_figures(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    client = api_client_for(contributor)
    answers = scored(client, served_model, 4)
    right = [
        {"request_id": answer["request_id"], "label": answer["prediction"]} for answer in answers
    ]
    client.post(FEEDBACK, {"records": right}, format="json")
    assert last_hour(served_model)["performance"]["accuracy"] == 1.0

    wrong = [{**label, "label": 1 - label["label"]} for label in right[:2]]
    response = client.post(FEEDBACK, {"records": wrong}, format="json")
    assert response.json() == {"received": 2, "labelled": 2, "unchanged": 0, "refused": []}
    summary = last_hour(served_model)
    assert summary["labelled"] == 4  # the old labels were taken back, not added to
    assert summary["performance"]["accuracy"] == 0.5
    assert (
        PredictionRecord.objects.get(request_id=wrong[0]["request_id"]).label == wrong[0]["label"]
    )

    rows_before = PredictionRollup.objects.count()
    again = client.post(FEEDBACK, {"records": wrong}, format="json")
    assert again.json() == {"received": 2, "labelled": 0, "unchanged": 2, "refused": []}
    assert PredictionRollup.objects.count() == rows_before
    assert last_hour(served_model)["performance"]["accuracy"] == 0.5


def test_regression_feedback_gives_the_error_figures(
    served_regressor: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    client = api_client_for(contributor)
    answers = scored(client, served_regressor, 2)
    labels = [
        {"request_id": answers[0]["request_id"], "label": answers[0]["prediction"] + 3.0},
        {"request_id": answers[1]["request_id"], "label": answers[1]["prediction"] - 1.0},
    ]
    assert client.post(FEEDBACK, {"records": labels}, format="json").json()["labelled"] == 2
    performance = last_hour(served_regressor)["performance"]
    assert performance["mae"] == pytest.approx(2.0)
    assert performance["rmse"] == pytest.approx(np.sqrt((9 + 1) / 2))
    text_label = {"request_id": answers[0]["request_id"], "label": "high"}
    response = client.post(FEEDBACK, {"records": [text_label]}, format="json")
    assert response.status_code == 400
    assert response.json()["refused"][0]["errors"] == [
        "'label' must be a number, not the text \"high\"."
    ]


def test_an_unknown_uuid_in_feedback_is_a_404_naming_it(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    unknown = str(uuid.uuid4())
    response = api_client_for(contributor).post(
        FEEDBACK, {"records": [{"request_id": unknown, "label": 1}]}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["refused"] == [
        {
            "index": 0,
            "errors": [f"No prediction was logged with request_id {unknown}."],
            "request_id": unknown,
        }
    ]


def test_feedback_with_some_unknown_uuids_labels_the_known_ones(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    client = api_client_for(contributor)
    (answer,) = scored(client, served_model, 1)
    unknown = str(uuid.uuid4())
    records = [
        {"request_id": unknown, "label": 0},
        {"request_id": answer["request_id"], "label": 1},
        {"request_id": "nope", "label": 1},
        {"request_id": answer["request_id"]},
    ]
    response = client.post(FEEDBACK, {"records": records}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["labelled"] == 1
    assert [(entry["index"], entry["errors"]) for entry in body["refused"]] == [
        (0, [f"No prediction was logged with request_id {unknown}."]),
        (2, ["'request_id' must be a UUID."]),
        (3, ["'label' is required: the true class or value."]),
    ]


def test_only_contributors_label(
    served_model: RegisteredModel,
    contributor: User,
    viewer: User,
    outsider: User,
    api_client_for: Client,
) -> None:
    (answer,) = scored(api_client_for(viewer), served_model, 1)
    for user in (viewer, outsider):
        response = api_client_for(user).post(
            FEEDBACK, {"records": [{"request_id": answer["request_id"], "label": 1}]}, format="json"
        )
        assert response.status_code == 403, user
        assert response.json()["refused"][0]["errors"] == [
            "You need the contributor role in project 'Card fraud' to label its predictions."
        ]
    assert PredictionRecord.objects.get().label is None
    assert last_hour(served_model)["labelled"] == 0


def test_feedback_refuses_bad_bodies(
    served_model: RegisteredModel, contributor: User, api_client_for: Client, settings: Any
) -> None:
    client = api_client_for(contributor)
    response = raw_post(client, FEEDBACK, "request_id,label\n1,1")
    assert response.status_code == 400 and "not valid JSON" in response.json()["detail"]
    response = raw_post(client, FEEDBACK, "request_id,label\n1,1", "text/csv")
    assert response.status_code == 415
    settings.PREDICTION_BATCH_LIMIT = 2
    labels = [{"request_id": str(uuid.uuid4()), "label": 1}] * 3
    response = client.post(FEEDBACK, {"records": labels}, format="json")
    assert response.status_code == 400
    assert response.json() == {"records": ["A batch holds at most 2 records; this one has 3."]}


# Reading one prediction back ------------------------------------------------------------------


def test_a_logged_prediction_is_read_back_by_its_uuid(
    served_model: RegisteredModel, viewer: User, api_client_for: Client
) -> None:
    client = api_client_for(viewer)
    answer = predict(client, served_model, {"inputs": RECORD}).json()
    response = client.get(f"/api/v1/predictions/{answer['request_id']}")
    assert response.status_code == 200
    body = response.json()
    assert body["request_id"] == answer["request_id"]
    assert (body["model"], body["model_name"], body["model_version"]) == (
        served_model.pk,
        "fraud-scorer",
        1,
    )
    assert body["inputs"] == RECORD and body["source"] == "served"
    assert body["prediction"] == answer["prediction"]
    assert body["probabilities"] == answer["probabilities"]
    assert body["url"].endswith(f"/monitoring/predictions/{answer['request_id']}/")


def test_an_unknown_uuid_is_a_404_naming_it(viewer: User, api_client_for: Client) -> None:
    unknown = uuid.uuid4()
    response = api_client_for(viewer).get(f"/api/v1/predictions/{unknown}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"No prediction was logged with request_id {unknown}."}


def test_inputs_of_a_model_trained_on_confidential_data_are_for_members(
    served_model: RegisteredModel,
    clean_version: DatasetVersion,
    viewer: User,
    outsider: User,
    api_client_for: Client,
) -> None:
    ModelVersion.objects.filter(model=served_model).update(training_dataset_version=clean_version)
    answer = predict(api_client_for(viewer), served_model, {"inputs": RECORD}).json()
    url = f"/api/v1/predictions/{answer['request_id']}"
    assert api_client_for(viewer).get(url).json()["inputs"] == RECORD
    seen_by_outsider = api_client_for(outsider).get(url).json()
    assert seen_by_outsider["inputs"] is None
    assert seen_by_outsider["prediction"] == answer["prediction"]


# Tokens --------------------------------------------------------------------------------------


def token_client(user: User) -> tuple[APIClient, Any]:
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    return client, token


def test_predict_remembers_a_token_for_a_few_seconds(
    served_model: RegisteredModel, viewer: User, settings: Any
) -> None:
    settings.SERVING_TOKEN_CACHE_SECONDS = 10
    client, token = token_client(viewer)
    assert predict(client, served_model, {"inputs": RECORD}).status_code == 200
    token.delete()

    # Seen a moment ago: still served, until the cache forgets it.
    assert predict(client, served_model, {"inputs": RECORD}).status_code == 200


def test_without_the_token_cache_a_deleted_token_is_refused_at_once(
    served_model: RegisteredModel, viewer: User, settings: Any
) -> None:
    settings.SERVING_TOKEN_CACHE_SECONDS = 0
    client, token = token_client(viewer)
    assert predict(client, served_model, {"inputs": RECORD}).status_code == 200
    token.delete()

    refused = predict(client, served_model, {"inputs": RECORD})
    assert refused.status_code == 401


def served_version_queries(client: APIClient, model: RegisteredModel) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        assert predict(client, model, {"inputs": RECORD}).status_code == 200
    return sum("lineage_modelversion v" in query["sql"] for query in queries.captured_queries)


def test_predict_asks_which_version_is_served_once_a_second_at_most(
    served_model: RegisteredModel, viewer: User, api_client_for: Client, settings: Any
) -> None:
    settings.SERVING_VERSION_CACHE_SECONDS = 60
    client = api_client_for(viewer)

    assert served_version_queries(client, served_model) == 1
    assert served_version_queries(client, served_model) == 0


def test_losing_the_membership_stops_scoring_at_once_in_this_process(
    served_model: RegisteredModel, viewer: User, api_client_for: Client, settings: Any
) -> None:
    from lineage.models import Membership

    settings.SERVING_VERSION_CACHE_SECONDS = 60
    client = api_client_for(viewer)
    assert predict(client, served_model, {"inputs": RECORD}).status_code == 200

    Membership.objects.filter(user=viewer, project=served_model.project).delete()

    assert predict(client, served_model, {"inputs": RECORD}).status_code == 403


def test_a_model_version_that_is_not_a_number_is_refused_by_name(
    served_model: RegisteredModel, contributor: User, api_client_for: Client
) -> None:
    client = api_client_for(contributor)
    record = {
        "request_id": str(uuid.uuid4()),
        "inputs": RECORD,
        "prediction": 1,
        "model_version": [1],
    }
    refused = client.post(
        "/api/v1/predictions", {"model": served_model.pk, "records": [record]}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["refused"][0]["errors"] == [
        "'model_version' must be a version number, like 2."
    ]

    whole = client.post(
        "/api/v1/predictions",
        {"model": served_model.pk, "model_version": "two", "records": [record]},
        format="json",
    )
    assert whole.status_code == 400
    assert whole.json() == {"model_version": ["A model version is a number, like 2."]}
    assert not PredictionRecord.objects.exists()


def test_the_api_hides_the_inputs_the_prediction_page_hides(
    served_model: RegisteredModel,
    contributor: User,
    outsider: User,
    viewer: User,
    api_client_for: Client,
    upload_version: Callable[..., DatasetVersion],
) -> None:
    """Internal training data with one PII column: members read every input, others all
    but that column, on the page and through the API alike."""
    from lineage.choices import Sensitivity
    from lineage.models import Dataset

    training_data = Dataset.objects.create(
        project=served_model.project,
        name="served-inputs",
        owner=contributor,
        sensitivity=Sensitivity.INTERNAL,
        column_sensitivity={"channel": Sensitivity.PII},
    )
    rows = pd.DataFrame([RECORD, SMALL] * 5).assign(is_fraud=[1, 0] * 5)
    training = upload_version(training_data, rows.to_csv(index=False).encode(), run_jobs=False)
    first = served_model.versions.get(version=1)
    with first.artifact.open("rb") as handle:
        artifact = handle.read()
    version = services.register_model_version(
        served_model,
        SimpleUploadedFile("model.skops", artifact),
        {
            "signature": first.signature,
            "target_column": first.target_column,
            "training_dataset_version": training.pk,
        },
        user=contributor,
    )
    version.change_stage(Stage.PRODUCTION, contributor)
    answer = predict(api_client_for(viewer), served_model, {"inputs": RECORD}).json()
    assert answer["model_version"] == version.version
    url = f"/api/v1/predictions/{answer['request_id']}"

    assert api_client_for(viewer).get(url).json()["inputs"] == RECORD
    assert api_client_for(outsider).get(url).json()["inputs"] == {
        "amount": RECORD["amount"],
        "items": RECORD["items"],
    }
