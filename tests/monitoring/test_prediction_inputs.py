"""Logged production inputs as the current data of a drift analysis: "model M, inputs
logged from T1 to T2, by day" from the API (current_source=predictions) and from the
model's drift page ("Inputs logged in production"), compared with the model's training
data; an empty window is refused up front; and the scheduled analysis of a production model
compares the last period's logged inputs by default, falling back on the newest version of
its training dataset when nothing was logged."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from threadpoolctl import threadpool_limits

from lineage.models import Dataset, DatasetVersion, ModelVersion, RegisteredModel
from monitoring import drift_runs, model_cache, prediction_inputs
from monitoring.models import DriftAnalysis, PredictionRecord

pytestmark = pytest.mark.django_db

Inline = Callable[[], AbstractContextManager[Any]]
Upload = Callable[..., DatasetVersion]
ApiClientFor = Callable[[User], APIClient]

ROWS_PER_DAY = 400
FAST = {"classifier_rows": 2_000}
ANALYSES = "/api/v1/drift-analyses/"


@pytest.fixture(autouse=True)
def _one_thread_and_a_fresh_cache() -> Iterator[None]:
    """The domain classifier's OpenMP threads crawl on a busy shared machine: one each."""
    model_cache.forget_all()
    with threadpool_limits(limits=1):
        yield
    model_cache.forget_all()


def inputs_frame(rows: int, seed: int, amount_factor: float = 1.0) -> pd.DataFrame:
    """Inputs like the served model's training data; `amount_factor` scales the amounts."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": (rng.gamma(2.0, 40.0, rows) * amount_factor).round(2),
            "items": rng.integers(1, 8, rows),
            "channel": rng.choice(["online", "chip", "contactless"], rows),
            "is_fraud": rng.integers(0, 2, rows),
        }
    )


@pytest.fixture
def training(dataset: Dataset, upload_version: Upload) -> DatasetVersion:
    return upload_version(dataset, inputs_frame(1_500, seed=1).to_csv(index=False).encode())


@pytest.fixture
def model(served_model: RegisteredModel, training: DatasetVersion) -> RegisteredModel:
    """The served model, trained on `training` (version 1, in production)."""
    ModelVersion.objects.filter(model=served_model).update(training_dataset_version=training)
    return served_model


@pytest.fixture
def production(model: RegisteredModel) -> ModelVersion:
    return model.versions.get(version=1)


@pytest.fixture
def first_day() -> dt.datetime:
    """Midnight UTC three days ago: three full days of logs end before now."""
    today = timezone.now().astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=3)


def log_inputs(
    client: APIClient,
    model: RegisteredModel,
    frame: pd.DataFrame,
    start: dt.datetime,
    span: dt.timedelta,
) -> None:
    """Ingest the frame's rows as predictions logged evenly over [start, start + span)."""
    step = span / len(frame)
    records = [
        {
            "request_id": str(uuid.uuid4()),
            "timestamp": (start + step * position).isoformat(),
            "inputs": {
                "amount": float(row.amount),
                "items": int(row.items),
                "channel": str(row.channel),
            },
            "prediction": 0,
        }
        for position, row in enumerate(frame.itertuples())
    ]
    response = client.post(
        "/api/v1/predictions", {"model": model.pk, "records": records}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["stored"] == len(records)


@pytest.fixture
def three_days(
    model: RegisteredModel, contributor: User, api_client_for: ApiClientFor, first_day: dt.datetime
) -> None:
    """Two ordinary days, then a day of amounts three times larger."""
    client = api_client_for(contributor)
    day = dt.timedelta(days=1)
    log_inputs(client, model, inputs_frame(ROWS_PER_DAY, seed=2), first_day, day)
    log_inputs(client, model, inputs_frame(ROWS_PER_DAY, seed=3), first_day + day, day)
    log_inputs(client, model, inputs_frame(ROWS_PER_DAY, 4, 3.0), first_day + 2 * day, day)


def by_name(analysis: DriftAnalysis) -> dict[str, dict[str, Any]]:
    assert analysis.result is not None, analysis.error
    return {feature["name"]: feature for feature in analysis.result["features"]}


def test_the_api_compares_logged_inputs_by_day_with_the_training_data(
    model: RegisteredModel,
    production: ModelVersion,
    training: DatasetVersion,
    three_days: None,
    first_day: dt.datetime,
    contributor: User,
    api_client_for: ApiClientFor,
    inline: Inline,
) -> None:
    with inline():
        response = api_client_for(contributor).post(
            ANALYSES,
            {
                "model_version": production.pk,
                "current_source": "predictions",
                "current_start": first_day.isoformat(),
                "current_end": (first_day + dt.timedelta(days=3)).isoformat(),
                "window_frequency": "day",
                "thresholds": FAST,
            },
            format="json",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["current_source"] == "predictions"
    assert body["reference_version"] == training.pk
    analysis = DriftAnalysis.objects.get(pk=body["id"])
    assert analysis.state == "succeeded", analysis.error
    assert analysis.window_column == "logged_at"
    assert analysis.current_start == first_day
    assert analysis.current_end == first_day + dt.timedelta(days=3)
    assert analysis.result is not None
    assert analysis.result["rows"]["current"] == 3 * ROWS_PER_DAY

    features = by_name(analysis)
    assert set(features) == {"amount", "items", "channel"}
    assert features["amount"]["drifted"] is True
    assert features["items"]["drifted"] is False
    assert analysis.drifted is True

    windows = analysis.result["windows"]
    days = [first_day + dt.timedelta(days=n) for n in range(3)]
    assert [window["label"] for window in windows] == [f"{day:%Y-%m-%d}" for day in days]
    assert [window["current_rows"] for window in windows] == [ROWS_PER_DAY] * 3
    drifted_amount = [
        next(f["drifted"] for f in window["features"] if f["name"] == "amount")
        for window in windows
    ]
    assert drifted_amount == [False, False, True]

    detail = api_client_for(contributor).get(f"{ANALYSES}{analysis.pk}/").json()
    assert detail["current_source"] == "predictions"
    end = first_day + dt.timedelta(days=3)
    assert detail["current"] == f"inputs logged {first_day:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"


def test_served_inputs_are_read_back_over_the_last_day_by_default(
    model: RegisteredModel,
    production: ModelVersion,
    contributor: User,
    viewer: User,
    api_client_for: ApiClientFor,
    inline: Inline,
) -> None:
    frame = inputs_frame(300, seed=5)
    records = frame[["amount", "items", "channel"]].to_dict(orient="records")
    served = api_client_for(viewer).post(
        f"/api/v1/models/{model.pk}/predict", {"records": records}, format="json"
    )
    assert served.status_code == 200, served.content
    assert PredictionRecord.objects.count() == 300

    before = timezone.now()
    with inline():
        response = api_client_for(contributor).post(
            ANALYSES,
            {"model_version": production.pk, "current_source": "predictions", "thresholds": FAST},
            format="json",
        )
    assert response.status_code == 202, response.content
    analysis = DriftAnalysis.objects.get(pk=response.json()["id"])
    assert analysis.state == "succeeded", analysis.error
    assert analysis.current_end is not None and analysis.current_start is not None
    assert before <= analysis.current_end <= timezone.now()
    assert analysis.current_end - analysis.current_start == dt.timedelta(days=1)
    assert analysis.result is not None and analysis.result["rows"]["current"] == 300
    assert analysis.drifted is False
    assert set(by_name(analysis)) == {"amount", "items", "channel"}


def test_a_window_with_nothing_logged_is_refused_naming_it(
    model: RegisteredModel,
    production: ModelVersion,
    three_days: None,
    first_day: dt.datetime,
    contributor: User,
    api_client_for: ApiClientFor,
) -> None:
    client = api_client_for(contributor)
    start = first_day - dt.timedelta(days=10)
    response = client.post(
        ANALYSES,
        {
            "model_version": production.pk,
            "current_source": "predictions",
            "current_start": start.isoformat(),
            "current_end": (start + dt.timedelta(days=2)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "current_start": [
            f"No inputs of model 'fraud-scorer' were logged between {start:%Y-%m-%d %H:%M} and "
            f"{start + dt.timedelta(days=2):%Y-%m-%d %H:%M} UTC."
        ]
    }
    response = client.post(
        ANALYSES,
        {
            "model_version": production.pk,
            "current_source": "predictions",
            "current_start": first_day.isoformat(),
            "current_end": first_day.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {
        "current_start": ["The start of the logged inputs must come before their end."]
    }
    assert not DriftAnalysis.objects.exists()


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# The form comes filled with the model's drift settings, whose window column belongs to
# its datasets: logged inputs are windowed by logged_at all the same.
@pytest.mark.parametrize("window_column", ["", "timestamp"])
def test_the_drift_page_offers_logged_inputs_and_starts_an_analysis_on_them(
    window_column: str,
    model: RegisteredModel,
    production: ModelVersion,
    three_days: None,
    first_day: dt.datetime,
    contributor: User,
    inline: Inline,
) -> None:
    client = signed_in(contributor)
    page = client.get(reverse("model-drift", args=[model.pk]))
    assert page.status_code == 200
    assert "Inputs logged in production" in page.content.decode()

    end = first_day + dt.timedelta(days=3)
    with inline():
        response = client.post(
            reverse("drift-start", args=[model.pk]),
            {
                "model_version": production.pk,
                "reference_version": "",
                "current_version": "logged",
                "logged_from": f"{first_day:%Y-%m-%dT%H:%M}",
                "logged_to": f"{end:%Y-%m-%dT%H:%M}",
                "window_column": window_column,
                "window_frequency": "day",
            },
        )
    analysis = DriftAnalysis.objects.get()
    assert response.status_code == 302
    assert response["Location"] == analysis.get_absolute_url()
    assert analysis.current_source == "predictions" and analysis.current_version is None
    assert (analysis.current_start, analysis.current_end) == (first_day, end)
    assert (analysis.window_column, analysis.window_frequency) == ("logged_at", "day")
    assert analysis.state == "succeeded", analysis.error
    assert by_name(analysis)["amount"]["drifted"] is True
    assert client.get(response["Location"]).status_code == 200


def test_the_drift_page_says_why_an_empty_window_was_refused(
    model: RegisteredModel, production: ModelVersion, contributor: User
) -> None:
    response = signed_in(contributor).post(
        reverse("drift-start", args=[model.pk]),
        {
            "model_version": production.pk,
            "reference_version": "",
            "current_version": "logged",
            "logged_from": "",
            "logged_to": "",
            "window_column": "",
            "window_frequency": "",
        },
        follow=True,
    )
    assert "No inputs of model &#x27;fraud-scorer&#x27; were logged between" in (
        response.content.decode()
    )
    assert not DriftAnalysis.objects.exists()


def test_the_schedule_compares_the_last_day_of_logged_inputs(
    model: RegisteredModel,
    production: ModelVersion,
    training: DatasetVersion,
    contributor: User,
    api_client_for: ApiClientFor,
    upload_version: Upload,
    inline: Inline,
) -> None:
    upload_version(training.dataset, inputs_frame(800, seed=9).to_csv(index=False).encode())
    drift_runs.save_settings(model, thresholds=FAST, schedule_kind="daily")
    now = timezone.now()
    client = api_client_for(contributor)
    log_inputs(
        client,
        model,
        inputs_frame(300, 6, 3.0),
        now - dt.timedelta(hours=20),
        dt.timedelta(hours=19),
    )
    # Older than the period: not part of it.
    log_inputs(
        client, model, inputs_frame(100, seed=7), now - dt.timedelta(days=3), dt.timedelta(hours=1)
    )

    with inline():
        analysis_id = drift_runs.run_scheduled_drift_analysis(model.pk)

    analysis = DriftAnalysis.objects.get(pk=analysis_id)
    assert (analysis.trigger, analysis.created_by) == ("schedule", None)
    assert analysis.model_version == production and analysis.reference_version == training
    assert analysis.current_source == "predictions" and analysis.current_version is None
    assert analysis.current_end is not None and analysis.current_start is not None
    assert analysis.current_end - analysis.current_start == dt.timedelta(hours=24)
    assert abs(analysis.current_end - now) < dt.timedelta(minutes=1)
    assert (analysis.window_column, analysis.window_frequency) == ("logged_at", "hour")
    assert analysis.state == "succeeded", analysis.error
    assert analysis.result is not None and analysis.result["rows"]["current"] == 300
    assert by_name(analysis)["amount"]["drifted"] is True
    production.refresh_from_db()
    assert production.drift_status == "drifted"


def test_the_schedule_falls_back_on_the_newest_data_without_logged_inputs(
    model: RegisteredModel,
    production: ModelVersion,
    training: DatasetVersion,
    contributor: User,
    api_client_for: ApiClientFor,
    upload_version: Upload,
    inline: Inline,
) -> None:
    newest = upload_version(
        training.dataset, inputs_frame(800, seed=9, amount_factor=3.0).to_csv(index=False).encode()
    )
    drift_runs.save_settings(model, thresholds=FAST, schedule_kind="daily")
    # Logged, but before the last day: the schedule does not reach back that far.
    log_inputs(
        api_client_for(contributor),
        model,
        inputs_frame(100, seed=7),
        timezone.now() - dt.timedelta(days=3),
        dt.timedelta(hours=1),
    )

    with inline():
        analysis_id = drift_runs.run_scheduled_drift_analysis(model.pk)

    analysis = DriftAnalysis.objects.get(pk=analysis_id)
    assert analysis.current_source == "dataset_version"
    assert analysis.current_version == newest
    assert analysis.state == "succeeded", analysis.error
    assert by_name(analysis)["amount"]["drifted"] is True


def test_the_hourly_schedule_compares_the_last_hour(
    model: RegisteredModel,
    production: ModelVersion,
    contributor: User,
    api_client_for: ApiClientFor,
    inline: Inline,
) -> None:
    drift_runs.save_settings(model, thresholds=FAST, schedule_kind="hourly")
    now = timezone.now()
    log_inputs(
        api_client_for(contributor),
        model,
        inputs_frame(200, seed=8),
        now - dt.timedelta(minutes=50),
        dt.timedelta(minutes=40),
    )
    with inline():
        analysis_id = drift_runs.run_scheduled_drift_analysis(model.pk)
    analysis = DriftAnalysis.objects.get(pk=analysis_id)
    assert analysis.current_source == "predictions"
    assert analysis.current_end is not None and analysis.current_start is not None
    assert analysis.current_end - analysis.current_start == dt.timedelta(hours=1)
    assert analysis.state == "succeeded", analysis.error
    assert analysis.result is not None and analysis.result["rows"]["current"] == 200


def test_the_window_takes_its_start_and_leaves_its_end(
    model: RegisteredModel,
    production: ModelVersion,
    contributor: User,
    api_client_for: ApiClientFor,
    first_day: dt.datetime,
) -> None:
    """[start, end): a record logged at the very start is in, one at the very end is not."""
    frame = inputs_frame(3, seed=10)
    log_inputs(api_client_for(contributor), model, frame, first_day, dt.timedelta(hours=3))
    end = first_day + dt.timedelta(hours=2)
    window = SimpleNamespace(model_version=production, current_start=first_day, current_end=end)

    table = prediction_inputs.read(window, ["amount", "channel", "logged_at"])  # type: ignore[arg-type]

    assert table.column_names == ["amount", "channel", "logged_at"]
    assert table.column("amount").to_pylist() == frame["amount"].tolist()[:2]
    assert table.column("channel").to_pylist() == frame["channel"].tolist()[:2]
    assert table.column("logged_at").to_pylist() == [first_day, first_day + dt.timedelta(hours=1)]
    assert prediction_inputs.check(production, first_day, end)[:2] == (first_day, end)
