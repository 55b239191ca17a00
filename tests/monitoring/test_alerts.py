"""Alert rules evaluated over the hourly rollups: a breach opens one incident and notifies
the team (and the webhook) once, a recovery resolves it and says so, a window with too few
samples changes nothing."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from lineage.choices import DriftStatus, ModelTask, NotificationKind, Stage
from lineage.models import ModelVersion, Notification, Project, RegisteredModel
from monitoring import alerts, rollups
from monitoring.choices import AlertMetric
from monitoring.models import AlertIncident, AlertRule, PredictionRollup

pytestmark = pytest.mark.django_db

Inline = Callable[[], AbstractContextManager[Any]]

# Evaluations at half past; the data they read is logged ten minutes past the hour.
NOW = dt.datetime(2026, 6, 1, 12, 30, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=2)


def make_version(model: RegisteredModel, number: int = 1, stage: str = Stage.PRODUCTION) -> Any:
    return ModelVersion.objects.create(
        model=model,
        version=number,
        artifact=f"models/{model.name}-{number}.skops",
        artifact_sha256="0" * 64,
        artifact_size=1,
        stage=stage,
    )


@pytest.fixture
def scorer(project: Project, contributor: User) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=project, name="scorer", task=ModelTask.CLASSIFICATION, owner=contributor
    )


@pytest.fixture
def scorer_v1(scorer: RegisteredModel) -> ModelVersion:
    return make_version(scorer)


@pytest.fixture
def pricer(project: Project) -> RegisteredModel:
    return RegisteredModel.objects.create(project=project, name="pricer", task=ModelTask.REGRESSION)


@pytest.fixture
def pricer_v1(pricer: RegisteredModel) -> ModelVersion:
    return make_version(pricer)


def store(
    version: ModelVersion,
    count: int,
    *,
    at: dt.datetime,
    latency_ms: float = 20.0,
    confidence: float = 0.9,
    prediction: Any = "1",
    label: Any = None,
    labelled: int | None = None,
    errors: int = 0,
) -> None:
    """`count` predictions of the version logged at `at` (the first `labelled` of them
    with `label`, all by default), stored as the rollups the prediction log writes."""
    task = version.model.task
    labelled = count if labelled is None else labelled
    rows = []
    for index in range(count):
        row: dict[str, Any] = {
            "model_version_id": version.pk,
            "logged_at": at,
            "prediction": prediction,
            "probabilities": None,
            "confidence": None,
            "latency_ms": latency_ms,
            "label": label if index < labelled else None,
        }
        if task == ModelTask.CLASSIFICATION:
            row["probabilities"] = {"0": 1 - confidence, "1": confidence}
            row["confidence"] = confidence
        rows.append(row)
    failed = [{"model_version_id": version.pk, "logged_at": at} for _ in range(errors)]
    parts = rollups.partials(rows, task=task) if rows else []
    for part in [*parts, *rollups.error_partials(failed)]:
        PredictionRollup.objects.create(
            model=version.model,
            model_version_id=part["model_version_id"],
            hour=part["hour"],
            requests=part["requests"],
            errors=part["errors"],
            labelled=part["labelled"],
            stats=part["stats"],
        )


def rule_on(model: RegisteredModel, metric: str, threshold: float | None, **extra: Any) -> Any:
    return AlertRule.objects.create(model=model, metric=metric, threshold=threshold, **extra)


def ten_past(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=10)


# Firing once ----------------------------------------------------------------------------------


def test_a_breach_opens_one_incident_and_notifies_the_team_and_the_webhook_once(
    project: Project,
    scorer: RegisteredModel,
    scorer_v1: ModelVersion,
    owner: User,
    contributor: User,
    reviewer: User,
    viewer: User,
    inline: Inline,
    receiver: Any,
) -> None:
    project.webhook_url = receiver.url
    project.save()
    rule = rule_on(scorer, AlertMetric.LATENCY_P95, 250)
    store(scorer_v1, 30, at=ten_past(NOW), latency_ms=400)

    with inline():
        first = alerts.evaluate_rules(NOW)
    with inline():
        second = alerts.evaluate_rules(NOW + dt.timedelta(minutes=1))

    assert first["fired"] == 1
    assert second["still_firing"] == 1
    [incident] = AlertIncident.objects.all()
    assert incident.rule == rule
    assert incident.model == scorer
    assert incident.opened_at == NOW
    assert incident.resolved_at is None
    assert incident.value == pytest.approx(400, rel=0.05)
    notified = Notification.objects.filter(kind=NotificationKind.ALERT_FIRED)
    assert sorted(note.user.username for note in notified) == sorted(
        user.username for user in (owner, contributor, reviewer)
    )
    assert not notified.filter(user=viewer).exists()
    dashboard = reverse("model-monitoring", args=[scorer.pk])
    message = notified.first().message
    assert message.startswith("scorer: latency p95 is 4")
    assert "over the last 1 h, above the threshold of 250.0 ms (30 requests)" in message
    assert all(note.url == dashboard for note in notified)
    assert receiver.kinds == ["alert_fired"]
    [call] = receiver.received
    assert call["project"] == "card-fraud"
    assert call["url"] == dashboard
    assert call["message"] == message


def test_a_lasting_breach_keeps_the_opening_value_and_follows_the_last(
    scorer: RegisteredModel, scorer_v1: ModelVersion
) -> None:
    rule_on(scorer, AlertMetric.LATENCY_P95, 250)
    store(scorer_v1, 30, at=ten_past(NOW), latency_ms=400)
    store(scorer_v1, 30, at=ten_past(LATER), latency_ms=800)

    alerts.evaluate_rules(NOW)
    assert alerts.evaluate_rules(LATER)["still_firing"] == 1

    [incident] = AlertIncident.objects.all()
    assert incident.value == pytest.approx(400, rel=0.05)
    assert incident.last_value == pytest.approx(800, rel=0.05)
    assert Notification.objects.filter(kind=NotificationKind.ALERT_FIRED).count() == 3


def test_a_recovery_resolves_the_incident_and_notifies_once(
    project: Project,
    scorer: RegisteredModel,
    scorer_v1: ModelVersion,
    inline: Inline,
    receiver: Any,
) -> None:
    project.webhook_url = receiver.url
    project.save()
    rule_on(scorer, AlertMetric.LATENCY_P95, 250)
    store(scorer_v1, 30, at=ten_past(NOW), latency_ms=400)
    store(scorer_v1, 30, at=ten_past(LATER), latency_ms=100)

    with inline():
        alerts.evaluate_rules(NOW)
    with inline():
        outcome = alerts.evaluate_rules(LATER)
    with inline():
        after = alerts.evaluate_rules(LATER + dt.timedelta(minutes=1))

    assert outcome["resolved"] == 1
    assert after["ok"] == 1
    [incident] = AlertIncident.objects.all()
    assert incident.resolved_at == LATER
    assert incident.last_value == pytest.approx(100, rel=0.05)
    resolved = Notification.objects.filter(kind=NotificationKind.ALERT_RESOLVED)
    assert resolved.count() == 3
    assert "scorer: latency p95 is back to 10" in resolved.first().message
    assert "the alert opened 2026-06-01 12:30 UTC is resolved" in resolved.first().message
    assert receiver.kinds == ["alert_fired", "alert_resolved"]


def test_a_breach_after_a_resolution_opens_a_new_incident(
    scorer: RegisteredModel, scorer_v1: ModelVersion
) -> None:
    rule_on(scorer, AlertMetric.LATENCY_P95, 250)
    store(scorer_v1, 30, at=ten_past(NOW), latency_ms=400)
    store(scorer_v1, 30, at=ten_past(LATER), latency_ms=100)
    store(scorer_v1, 30, at=ten_past(LATER + dt.timedelta(hours=2)), latency_ms=500)

    alerts.evaluate_rules(NOW)
    alerts.evaluate_rules(LATER)
    assert alerts.evaluate_rules(LATER + dt.timedelta(hours=2))["fired"] == 1

    assert AlertIncident.objects.count() == 2
    assert AlertIncident.objects.filter(resolved_at__isnull=True).count() == 1
    assert Notification.objects.filter(kind=NotificationKind.ALERT_FIRED).count() == 6


def test_too_few_samples_leave_an_open_incident_as_it_is(
    scorer: RegisteredModel, scorer_v1: ModelVersion
) -> None:
    rule_on(scorer, AlertMetric.LATENCY_P95, 250, min_samples=20)
    store(scorer_v1, 30, at=ten_past(NOW), latency_ms=400)
    store(scorer_v1, 19, at=ten_past(LATER), latency_ms=100)  # one short of a verdict

    alerts.evaluate_rules(NOW)
    outcome = alerts.evaluate_rules(LATER)

    assert outcome["no_data"] == 1
    [incident] = AlertIncident.objects.all()
    assert incident.is_open
    assert incident.last_value == pytest.approx(400, rel=0.05)
    assert not Notification.objects.filter(kind=NotificationKind.ALERT_RESOLVED).exists()


def test_only_the_rules_window_counts(scorer: RegisteredModel, scorer_v1: ModelVersion) -> None:
    rule_on(scorer, AlertMetric.LATENCY_P95, 250, window_minutes=60)
    wide = rule_on(scorer, AlertMetric.LATENCY_P95, 250, window_minutes=24 * 60)
    store(scorer_v1, 30, at=ten_past(NOW - dt.timedelta(hours=3)), latency_ms=400)

    outcome = alerts.evaluate_rules(NOW)

    assert outcome == {"closed_disabled": 0, "no_data": 1, "fired": 1}
    assert AlertIncident.objects.get().rule == wide


def test_an_evaluation_that_lost_the_race_does_not_notify_again(
    scorer: RegisteredModel, scorer_v1: ModelVersion
) -> None:
    """Two overlapping evaluations both see the breach: the database lets one incident
    open, and only its evaluation notifies."""
    rule = rule_on(scorer, AlertMetric.LATENCY_P95, 250)

    assert alerts._open_incident(rule, 400.0, 30, NOW) is True
    assert alerts._open_incident(rule, 410.0, 30, NOW) is False

    assert AlertIncident.objects.count() == 1
    assert Notification.objects.filter(kind=NotificationKind.ALERT_FIRED).count() == 3


def test_a_resolution_is_claimed_once(scorer: RegisteredModel, scorer_v1: ModelVersion) -> None:
    rule = rule_on(scorer, AlertMetric.LATENCY_P95, 250)
    alerts._open_incident(rule, 400.0, 30, NOW)
    incident = AlertIncident.objects.get()

    assert alerts._resolve(rule, incident, 100.0, LATER) is True
    assert alerts._resolve(rule, incident, 90.0, LATER) is False

    assert Notification.objects.filter(kind=NotificationKind.ALERT_RESOLVED).count() == 3


def test_disabling_a_rule_closes_its_incident_without_a_notification(
    scorer: RegisteredModel, scorer_v1: ModelVersion
) -> None:
    rule = rule_on(scorer, AlertMetric.LATENCY_P95, 250)
    store(scorer_v1, 30, at=ten_past(NOW), latency_ms=400)
    alerts.evaluate_rules(NOW)
    AlertRule.objects.filter(pk=rule.pk).update(enabled=False)

    outcome = alerts.evaluate_rules(NOW + dt.timedelta(minutes=1))

    assert outcome == {"closed_disabled": 1}
    assert AlertIncident.objects.get().resolved_at == NOW + dt.timedelta(minutes=1)
    assert not Notification.objects.filter(kind=NotificationKind.ALERT_RESOLVED).exists()


# Each metric ----------------------------------------------------------------------------------


def test_mean_confidence_breaches_below_its_threshold(
    scorer: RegisteredModel, scorer_v1: ModelVersion
) -> None:
    rule_on(scorer, AlertMetric.CONFIDENCE_MEAN, 0.7)
    store(scorer_v1, 40, at=ten_past(NOW), confidence=0.55)

    assert alerts.evaluate_rules(NOW)["fired"] == 1
    incident = AlertIncident.objects.get()
    assert incident.value == pytest.approx(0.55)
    assert "mean confidence is 0.550 over the last 1 h, below the threshold of 0.700" in (
        incident.message
    )


def test_a_confident_model_does_not_breach(
    scorer: RegisteredModel, scorer_v1: ModelVersion
) -> None:
    rule_on(scorer, AlertMetric.CONFIDENCE_MEAN, 0.7)
    store(scorer_v1, 40, at=ten_past(NOW), confidence=0.95)

    assert alerts.evaluate_rules(NOW)["ok"] == 1
    assert not AlertIncident.objects.exists()


def test_the_error_rate_counts_failed_requests_among_all(
    scorer: RegisteredModel, scorer_v1: ModelVersion
) -> None:
    rule_on(scorer, AlertMetric.ERROR_RATE, 0.05)
    store(scorer_v1, 90, at=ten_past(NOW), errors=10)

    assert alerts.evaluate_rules(NOW)["fired"] == 1
    incident = AlertIncident.objects.get()
    assert incident.value == pytest.approx(0.10)
    assert "error rate is 10.00%" in incident.message
    assert "above the threshold of 5.00% (100 requests)" in incident.message


def test_accuracy_needs_enough_labelled_predictions(
    scorer: RegisteredModel, scorer_v1: ModelVersion
) -> None:
    rule_on(scorer, AlertMetric.ACCURACY, 0.8, min_samples=20)
    # 60 requests, 10 labelled: plenty of traffic, too little ground truth.
    store(scorer_v1, 60, at=ten_past(NOW), prediction="1", label="0", labelled=10)

    assert alerts.evaluate_rules(NOW)["no_data"] == 1

    # 30 more labelled in the next hour: 40 labelled in a 2-hour window... of a 1-hour rule
    # only this hour's 30 count, half of them right.
    store(scorer_v1, 15, at=ten_past(LATER), prediction="1", label="1")
    store(scorer_v1, 15, at=ten_past(LATER), prediction="1", label="0")
    assert alerts.evaluate_rules(LATER)["fired"] == 1
    incident = AlertIncident.objects.get()
    assert incident.value == pytest.approx(0.5)
    assert "accuracy is 0.500" in incident.message
    assert "(30 labelled predictions)" in incident.message


def test_mae_of_a_regression_model_breaches_above_its_threshold(
    pricer: RegisteredModel, pricer_v1: ModelVersion
) -> None:
    rule_on(pricer, AlertMetric.MAE, 2.0)
    store(pricer_v1, 25, at=ten_past(NOW), prediction=10.0, label=13.0)

    assert alerts.evaluate_rules(NOW)["fired"] == 1
    assert AlertIncident.objects.get().value == pytest.approx(3.0)


def test_drift_breaches_while_the_production_version_is_drifted(
    scorer: RegisteredModel, scorer_v1: ModelVersion
) -> None:
    rule_on(scorer, AlertMetric.DRIFT, None)
    make_version(scorer, 2, stage=Stage.STAGING)  # drifted, but not the one serving
    ModelVersion.objects.filter(version=2).update(drift_status=DriftStatus.DRIFTED)

    assert alerts.evaluate_rules(NOW)["no_data"] == 1  # production not analysed yet

    ModelVersion.objects.filter(pk=scorer_v1.pk).update(drift_status=DriftStatus.DRIFTED)
    assert alerts.evaluate_rules(NOW)["fired"] == 1
    assert AlertIncident.objects.get().message == (
        "scorer: the production version has drifted (drift rule)."
    )

    ModelVersion.objects.filter(pk=scorer_v1.pk).update(drift_status=DriftStatus.NOT_DRIFTED)
    assert alerts.evaluate_rules(LATER)["resolved"] == 1
    assert Notification.objects.filter(kind=NotificationKind.ALERT_RESOLVED).count() == 3


def test_a_model_without_a_production_version_gives_no_drift_verdict(
    scorer: RegisteredModel,
) -> None:
    rule_on(scorer, AlertMetric.DRIFT, None)
    make_version(scorer, 1, stage=Stage.STAGING)

    assert alerts.evaluate_rules(NOW) == {"closed_disabled": 0, "no_data": 1}


def test_the_current_readings_are_what_the_evaluation_would_see(
    scorer: RegisteredModel, scorer_v1: ModelVersion
) -> None:
    latency = rule_on(scorer, AlertMetric.LATENCY_P95, 250)
    accuracy = rule_on(scorer, AlertMetric.ACCURACY, 0.8)
    store(scorer_v1, 30, at=ten_past(NOW), latency_ms=120)

    readings = alerts.current_readings([latency, accuracy], NOW)

    assert readings[latency.pk][0] == pytest.approx(120, rel=0.05)
    assert readings[latency.pk][1] == 30
    assert readings[accuracy.pk] == (None, 0)


# What a rule accepts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metric", "threshold", "window", "field", "words"),
    [
        (AlertMetric.LATENCY_P95, None, 60, "threshold", "required"),
        (AlertMetric.LATENCY_P95, -1.0, 60, "threshold", "negative"),
        (AlertMetric.LATENCY_P95, math.inf, 60, "threshold", "finite"),
        (AlertMetric.ERROR_RATE, 1.5, 60, "threshold", "between 0 and 1"),
        (AlertMetric.ACCURACY, 0.9, 0, "window_minutes", "1 to 10080"),
        (AlertMetric.ACCURACY, 0.9, 10_081, "window_minutes", "1 to 10080"),
        (AlertMetric.MAE, 2.0, 60, "metric", "needs a regression model"),
        ("uptime", 2.0, 60, "metric", "Unknown metric"),
    ],
)
def test_a_rule_that_cannot_mean_anything_is_refused_naming_the_field(
    scorer: RegisteredModel,
    metric: str,
    threshold: float | None,
    window: int,
    field: str,
    words: str,
) -> None:
    with pytest.raises(alerts.AlertRuleError) as refused:
        alerts.check_rule(scorer, metric, threshold, window)

    assert refused.value.field == field
    assert words in refused.value.message


def test_a_drift_rule_needs_no_threshold_and_keeps_none(
    scorer: RegisteredModel, pricer: RegisteredModel
) -> None:
    assert alerts.check_rule(scorer, AlertMetric.DRIFT, 0.3, 60) is None
    assert alerts.check_rule(pricer, AlertMetric.RMSE, 4, 60) == 4.0
    with pytest.raises(alerts.AlertRuleError, match="needs a classification model"):
        alerts.check_rule(pricer, AlertMetric.ROC_AUC, 0.7, 60)
