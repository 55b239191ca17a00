"""A model's alerts page: rules with what they read now, incidents open first, and the
forms contributors use to add, disable and delete rules and to set the retention."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from lineage.choices import ModelTask, Stage
from lineage.models import ModelVersion, Project, RegisteredModel
from monitoring import rollups
from monitoring.choices import AlertMetric
from monitoring.models import AlertIncident, AlertRule, PredictionRollup, ServingSettings

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def scorer(project: Project, contributor: User) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=project, name="scorer", task=ModelTask.CLASSIFICATION, owner=contributor
    )


@pytest.fixture
def latency_rule(scorer: RegisteredModel) -> AlertRule:
    return AlertRule.objects.create(model=scorer, metric=AlertMetric.LATENCY_P95, threshold=250)


@pytest.fixture
def page(scorer: RegisteredModel) -> str:
    return reverse("model-alerts", args=[scorer.pk])


def open_incident(rule: AlertRule, *, hours_ago: float = 1, resolved: bool = False) -> Any:
    opened = timezone.now() - dt.timedelta(hours=hours_ago)
    return AlertIncident.objects.create(
        rule=rule,
        model=rule.model,
        opened_at=opened,
        resolved_at=opened + dt.timedelta(minutes=20) if resolved else None,
        value=412.5,
        last_value=398.0,
        message=f"scorer: latency p95 is 412.5 ms ({'resolved' if resolved else 'open'})",
    )


def test_the_page_lists_rules_with_their_reading_and_state(
    scorer: RegisteredModel, latency_rule: AlertRule, viewer: User, page: str
) -> None:
    version = ModelVersion.objects.create(
        model=scorer,
        version=1,
        artifact="models/s.skops",
        artifact_sha256="0" * 64,
        artifact_size=1,
        stage=Stage.PRODUCTION,
    )
    rows = [
        {
            "model_version_id": version.pk,
            "logged_at": timezone.now(),
            "prediction": "1",
            "probabilities": {"0": 0.2, "1": 0.8},
            "confidence": 0.8,
            "latency_ms": 120.0,
            "label": None,
        }
    ] * 25
    for part in rollups.partials(rows, task="classification"):
        PredictionRollup.objects.create(model=scorer, **part)
    open_incident(latency_rule)

    response = signed_in(viewer).get(page)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Latency p95 (ms) above" in html
    assert "250.0 ms" in html
    assert "1 h" in html
    assert "1 firing" in html
    # Now: p95 of 25 requests at 120 ms, within the histogram's 5%.
    row = response.context["rows"][0]
    assert row["state"] == "Firing"
    assert row["samples"] == 25
    assert 114 <= float(row["now"].removesuffix(" ms")) <= 126
    # Viewers read; only contributors get the forms.
    assert "Add a rule" not in html
    assert "Disable" not in html


def test_a_rule_without_traffic_reads_no_data(
    latency_rule: AlertRule, viewer: User, page: str
) -> None:
    response = signed_in(viewer).get(page)

    assert response.context["rows"][0]["state"] == "No data"
    assert "No open incident" in response.content.decode()


def test_incidents_are_listed_open_first(latency_rule: AlertRule, viewer: User, page: str) -> None:
    resolved = open_incident(latency_rule, hours_ago=0.5, resolved=True)
    current = open_incident(latency_rule, hours_ago=3)

    response = signed_in(viewer).get(page)

    assert list(response.context["incidents"].object_list) == [current, resolved]
    html = response.content.decode()
    assert html.index("(open)") < html.index("(resolved)")
    assert "Resolved" in html
    assert "412.5 ms" in html  # the values in the metric's unit
    assert "398.0 ms" in html


def test_an_empty_page_says_what_to_do(page: str, contributor: User) -> None:
    html = signed_in(contributor).get(page).content.decode()

    assert "No alert rule yet — add one below" in html
    assert "No incident so far." in html
    assert "Add a rule" in html
    # A classifier is offered its own metrics, not a regressor's.
    assert 'value="accuracy"' in html
    assert 'value="mae"' not in html


def test_signing_in_is_required(page: str) -> None:
    response = Client().get(page)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_an_unknown_model_is_a_404(viewer: User) -> None:
    assert signed_in(viewer).get(reverse("model-alerts", args=[999_999])).status_code == 404


# Changing the rules ---------------------------------------------------------------------------


def test_a_contributor_adds_a_rule(scorer: RegisteredModel, contributor: User, page: str) -> None:
    response = signed_in(contributor).post(
        reverse("alert-rule-add", args=[scorer.pk]),
        {
            "metric": "confidence_mean",
            "threshold": "0.6",
            "window_minutes": "30",
            "min_samples": "50",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == page
    rule = AlertRule.objects.get()
    assert (rule.metric, rule.threshold, rule.window_minutes, rule.min_samples) == (
        "confidence_mean",
        0.6,
        30,
        50,
    )
    assert rule.created_by == contributor
    assert rule.enabled


def test_a_rule_without_its_threshold_is_refused_with_the_reason(
    scorer: RegisteredModel, contributor: User
) -> None:
    response = signed_in(contributor).post(
        reverse("alert-rule-add", args=[scorer.pk]),
        {"metric": "latency_p95", "threshold": "", "window_minutes": "60", "min_samples": "20"},
    )

    assert response.status_code == 400
    assert "A threshold is required for this metric." in response.content.decode()
    assert not AlertRule.objects.exists()


def test_a_drift_rule_is_added_without_a_threshold(
    scorer: RegisteredModel, contributor: User
) -> None:
    signed_in(contributor).post(
        reverse("alert-rule-add", args=[scorer.pk]),
        {"metric": "drift", "threshold": "", "window_minutes": "60", "min_samples": "20"},
    )

    assert AlertRule.objects.get().threshold is None


@pytest.mark.parametrize("actor_name", ["viewer", "outsider"])
def test_only_contributors_change_rules_and_retention(
    actor_name: str,
    scorer: RegisteredModel,
    latency_rule: AlertRule,
    request: Any,
) -> None:
    client = signed_in(request.getfixturevalue(actor_name))
    rule_args = [scorer.pk, latency_rule.pk]

    answers = [
        client.post(
            reverse("alert-rule-add", args=[scorer.pk]),
            {"metric": "drift", "window_minutes": "60", "min_samples": "20"},
        ),
        client.post(reverse("alert-rule-toggle", args=rule_args)),
        client.post(reverse("alert-rule-delete", args=rule_args)),
        client.post(reverse("serving-retention", args=[scorer.pk]), {"retention_days": "3"}),
    ]

    assert [answer.status_code for answer in answers] == [403, 403, 403, 403]
    assert list(AlertRule.objects.values_list("enabled", flat=True)) == [True]
    assert not ServingSettings.objects.exists()


def test_disabling_a_rule_closes_its_incident_and_enabling_it_again_works(
    scorer: RegisteredModel, latency_rule: AlertRule, contributor: User, page: str
) -> None:
    incident = open_incident(latency_rule)
    client = signed_in(contributor)
    toggle = reverse("alert-rule-toggle", args=[scorer.pk, latency_rule.pk])

    disabled = client.post(toggle, follow=True)

    latency_rule.refresh_from_db()
    incident.refresh_from_db()
    assert not latency_rule.enabled
    assert incident.resolved_at is not None
    assert "rule disabled: its open incident is closed." in disabled.content.decode()
    assert disabled.context["rows"][0]["state"] == "Disabled"

    client.post(toggle)
    latency_rule.refresh_from_db()
    assert latency_rule.enabled


def test_a_contributor_deletes_a_rule(
    scorer: RegisteredModel, latency_rule: AlertRule, contributor: User
) -> None:
    response = signed_in(contributor).post(
        reverse("alert-rule-delete", args=[scorer.pk, latency_rule.pk])
    )

    assert response.status_code == 302
    assert not AlertRule.objects.exists()


def test_a_rule_of_another_model_is_not_reachable_through_this_one(
    scorer: RegisteredModel, project: Project, contributor: User
) -> None:
    other = RegisteredModel.objects.create(project=project, name="other", task="regression")
    foreign = AlertRule.objects.create(model=other, metric=AlertMetric.MAE, threshold=1)

    response = signed_in(contributor).post(
        reverse("alert-rule-delete", args=[scorer.pk, foreign.pk])
    )

    assert response.status_code == 404
    assert AlertRule.objects.filter(pk=foreign.pk).exists()


def test_the_rule_forms_answer_post_only(
    scorer: RegisteredModel, latency_rule: AlertRule, contributor: User
) -> None:
    client = signed_in(contributor)

    assert client.get(reverse("alert-rule-add", args=[scorer.pk])).status_code == 405
    assert (
        client.get(reverse("alert-rule-delete", args=[scorer.pk, latency_rule.pk])).status_code
        == 405
    )


# Retention ------------------------------------------------------------------------------------


def test_a_contributor_sets_and_clears_the_retention(
    scorer: RegisteredModel, contributor: User, page: str
) -> None:
    client = signed_in(contributor)
    url = reverse("serving-retention", args=[scorer.pk])
    assert "Prediction log kept 90 days" in client.get(page).content.decode()

    saved = client.post(url, {"retention_days": "30"}, follow=True)

    assert ServingSettings.objects.get(model=scorer).retention_days == 30
    assert "Logged predictions are kept 30 days." in saved.content.decode()
    assert "Prediction log kept 30 days" in saved.content.decode()

    client.post(url, {"retention_days": ""})
    assert ServingSettings.objects.get(model=scorer).retention_days is None
    assert "Prediction log kept without limit" in client.get(page).content.decode()


def test_a_retention_of_zero_days_is_refused(scorer: RegisteredModel, contributor: User) -> None:
    response = signed_in(contributor).post(
        reverse("serving-retention", args=[scorer.pk]), {"retention_days": "0"}
    )

    assert response.status_code == 400
    assert "greater than or equal to 1" in response.content.decode()
    assert not ServingSettings.objects.exists()
