"""The API of alert rules, incidents and serving settings: everyone signed in reads,
the model project's contributors change; bad input is a 400 naming the field."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from rest_framework.test import APIClient

from lineage.choices import ModelTask
from lineage.models import Project, RegisteredModel
from monitoring.choices import AlertMetric
from monitoring.models import AlertIncident, AlertRule, ServingSettings

pytestmark = pytest.mark.django_db

ClientFor = Callable[[User], APIClient]
OPENED = dt.datetime(2026, 6, 1, 12, 30, tzinfo=dt.UTC)


@pytest.fixture
def scorer(project: Project, contributor: User) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=project, name="scorer", task=ModelTask.CLASSIFICATION, owner=contributor
    )


@pytest.fixture
def churn_model(other_project: Project) -> RegisteredModel:
    return RegisteredModel.objects.create(
        project=other_project, name="churn", task=ModelTask.REGRESSION
    )


@pytest.fixture
def latency_rule(scorer: RegisteredModel) -> AlertRule:
    return AlertRule.objects.create(model=scorer, metric=AlertMetric.LATENCY_P95, threshold=250)


def incident_of(rule: AlertRule, *, hours_ago: int = 0, resolved: bool = False) -> AlertIncident:
    opened = OPENED - dt.timedelta(hours=hours_ago)
    return AlertIncident.objects.create(
        rule=rule,
        model=rule.model,
        opened_at=opened,
        resolved_at=opened + dt.timedelta(minutes=30) if resolved else None,
        value=400,
        last_value=380,
        message=f"{rule.model.name}: latency p95 is 400.0 ms",
    )


# Rules --------------------------------------------------------------------------------------


def test_a_contributor_adds_a_rule(
    scorer: RegisteredModel, contributor: User, api_client_for: ClientFor
) -> None:
    response = api_client_for(contributor).post(
        "/api/v1/alert-rules/",
        {"model": scorer.pk, "metric": "latency_p95", "threshold": 250, "window_minutes": 15},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["model"] == scorer.pk
    assert body["model_name"] == "scorer"
    assert body["threshold"] == 250.0
    assert body["window_minutes"] == 15
    assert body["min_samples"] == 20
    assert body["enabled"] is True
    assert body["open_incident"] is None
    assert body["created_by"] == "carl"
    assert AlertRule.objects.get().created_by == contributor


@pytest.mark.parametrize("actor_name", ["viewer", "outsider"])
def test_only_contributors_of_the_models_project_add_rules(
    actor_name: str, scorer: RegisteredModel, api_client_for: ClientFor, request: Any
) -> None:
    actor = request.getfixturevalue(actor_name)

    response = api_client_for(actor).post(
        "/api/v1/alert-rules/",
        {"model": scorer.pk, "metric": "latency_p95", "threshold": 250},
        format="json",
    )

    assert response.status_code == 403
    assert not AlertRule.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metric": "latency_p95"}, "threshold"),
        ({"metric": "latency_p95", "threshold": 250, "window_minutes": 0}, "window_minutes"),
        ({"metric": "latency_p95", "threshold": 250, "window_minutes": 10_081}, "window_minutes"),
        ({"metric": "error_rate", "threshold": 2}, "threshold"),
        ({"metric": "mae", "threshold": 2}, "metric"),
        ({"metric": "uptime", "threshold": 2}, "metric"),
        ({"metric": "latency_p95", "threshold": "fast"}, "threshold"),
        ({"metric": "latency_p95", "threshold": 250, "min_samples": 0}, "min_samples"),
    ],
)
def test_a_bad_rule_is_a_400_naming_the_field(
    body: dict[str, Any],
    field: str,
    scorer: RegisteredModel,
    contributor: User,
    api_client_for: ClientFor,
) -> None:
    response = api_client_for(contributor).post(
        "/api/v1/alert-rules/", {"model": scorer.pk, **body}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()
    assert not AlertRule.objects.exists()


def test_an_unknown_model_is_a_400_naming_it(contributor: User, api_client_for: ClientFor) -> None:
    response = api_client_for(contributor).post(
        "/api/v1/alert-rules/",
        {"model": 999_999, "metric": "latency_p95", "threshold": 250},
        format="json",
    )

    assert response.status_code == 400
    assert "model" in response.json()


def test_a_drift_rule_stores_no_threshold(
    scorer: RegisteredModel, contributor: User, api_client_for: ClientFor
) -> None:
    response = api_client_for(contributor).post(
        "/api/v1/alert-rules/",
        {"model": scorer.pk, "metric": "drift", "threshold": 0.5},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["threshold"] is None


def test_everyone_signed_in_lists_rules_filtered_by_model(
    latency_rule: AlertRule,
    churn_model: RegisteredModel,
    viewer: User,
    api_client_for: ClientFor,
) -> None:
    AlertRule.objects.create(model=churn_model, metric=AlertMetric.MAE, threshold=3)
    incident = incident_of(latency_rule)
    api = api_client_for(viewer)

    everything = api.get("/api/v1/alert-rules/").json()
    mine = api.get(f"/api/v1/alert-rules/?model={latency_rule.model_id}").json()

    assert everything["count"] == 2
    assert [rule["id"] for rule in mine["results"]] == [latency_rule.pk]
    assert mine["results"][0]["open_incident"] == incident.pk


def test_listing_rules_costs_the_same_queries_for_one_or_many(
    scorer: RegisteredModel,
    viewer: User,
    api_client_for: ClientFor,
    django_assert_max_num_queries: Any,
) -> None:
    api = api_client_for(viewer)
    AlertRule.objects.create(model=scorer, metric=AlertMetric.LATENCY_P95, threshold=250)
    with django_assert_max_num_queries(2):
        assert api.get("/api/v1/alert-rules/").status_code == 200
    for threshold in (300, 400, 500):
        rule = AlertRule.objects.create(
            model=scorer, metric=AlertMetric.LATENCY_P95, threshold=threshold
        )
        incident_of(rule)

    with django_assert_max_num_queries(2):
        assert api.get("/api/v1/alert-rules/").json()["count"] == 4


def test_disabling_a_rule_closes_its_open_incident(
    latency_rule: AlertRule, contributor: User, api_client_for: ClientFor
) -> None:
    incident = incident_of(latency_rule)

    response = api_client_for(contributor).patch(
        f"/api/v1/alert-rules/{latency_rule.pk}/", {"enabled": False}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["enabled"] is False
    assert response.json()["open_incident"] is None
    incident.refresh_from_db()
    assert incident.resolved_at is not None


def test_changing_a_threshold_keeps_the_rules_other_settings(
    latency_rule: AlertRule, contributor: User, api_client_for: ClientFor
) -> None:
    response = api_client_for(contributor).patch(
        f"/api/v1/alert-rules/{latency_rule.pk}/", {"threshold": 300}, format="json"
    )

    assert response.status_code == 200
    latency_rule.refresh_from_db()
    assert (latency_rule.metric, latency_rule.threshold) == ("latency_p95", 300.0)


def test_a_partial_change_is_checked_with_the_rest_of_the_rule(
    latency_rule: AlertRule, contributor: User, api_client_for: ClientFor
) -> None:
    response = api_client_for(contributor).patch(
        f"/api/v1/alert-rules/{latency_rule.pk}/", {"metric": "accuracy"}, format="json"
    )

    assert response.status_code == 400
    assert "threshold" in response.json()  # 250 is no accuracy


def test_a_rule_cannot_move_to_another_model(
    latency_rule: AlertRule,
    churn_model: RegisteredModel,
    contributor: User,
    api_client_for: ClientFor,
) -> None:
    response = api_client_for(contributor).patch(
        f"/api/v1/alert-rules/{latency_rule.pk}/", {"model": churn_model.pk}, format="json"
    )

    assert response.status_code == 400
    assert "model" in response.json()


@pytest.mark.parametrize("actor_name", ["viewer", "outsider"])
def test_only_contributors_change_or_delete_a_rule(
    actor_name: str, latency_rule: AlertRule, api_client_for: ClientFor, request: Any
) -> None:
    api = api_client_for(request.getfixturevalue(actor_name))

    changed = api.patch(f"/api/v1/alert-rules/{latency_rule.pk}/", {"threshold": 1}, format="json")
    deleted = api.delete(f"/api/v1/alert-rules/{latency_rule.pk}/")

    assert (changed.status_code, deleted.status_code) == (403, 403)
    latency_rule.refresh_from_db()
    assert latency_rule.threshold == 250


def test_a_contributor_deletes_a_rule_with_its_incidents(
    latency_rule: AlertRule, contributor: User, api_client_for: ClientFor
) -> None:
    incident_of(latency_rule)

    response = api_client_for(contributor).delete(f"/api/v1/alert-rules/{latency_rule.pk}/")

    assert response.status_code == 204
    assert not AlertRule.objects.exists()
    assert not AlertIncident.objects.exists()


def test_the_api_needs_a_signed_in_client(latency_rule: AlertRule) -> None:
    assert APIClient().get("/api/v1/alert-rules/").status_code == 401
    assert APIClient().get("/api/v1/alert-incidents/").status_code == 401


# Incidents ------------------------------------------------------------------------------------


def test_incidents_list_open_ones_first_and_filter(
    latency_rule: AlertRule,
    churn_model: RegisteredModel,
    viewer: User,
    api_client_for: ClientFor,
) -> None:
    old = incident_of(latency_rule, hours_ago=5, resolved=True)
    current = incident_of(latency_rule, hours_ago=1)
    newer_resolved = incident_of(latency_rule, hours_ago=0, resolved=True)
    other_rule = AlertRule.objects.create(model=churn_model, metric=AlertMetric.MAE, threshold=3)
    elsewhere = incident_of(other_rule, hours_ago=2)
    api = api_client_for(viewer)

    everything = api.get("/api/v1/alert-incidents/").json()["results"]
    open_ones = api.get("/api/v1/alert-incidents/?open=true").json()["results"]
    closed_of_scorer = api.get(
        f"/api/v1/alert-incidents/?model={latency_rule.model_id}&open=false"
    ).json()["results"]

    assert [item["id"] for item in everything] == [
        current.pk,
        elsewhere.pk,
        newer_resolved.pk,
        old.pk,
    ]
    assert {item["id"] for item in open_ones} == {current.pk, elsewhere.pk}
    assert [item["id"] for item in closed_of_scorer] == [newer_resolved.pk, old.pk]
    first = everything[0]
    assert first["is_open"] is True
    assert first["metric"] == "latency_p95"
    assert first["threshold"] == 250.0
    assert first["model_name"] == "scorer"
    assert first["value"] == 400.0
    assert first["url"] == reverse("model-monitoring", args=[latency_rule.model_id])


def test_incidents_are_read_only(
    latency_rule: AlertRule, owner: User, api_client_for: ClientFor
) -> None:
    incident = incident_of(latency_rule)
    api = api_client_for(owner)

    assert api.post("/api/v1/alert-incidents/", {}, format="json").status_code == 405
    assert api.delete(f"/api/v1/alert-incidents/{incident.pk}/").status_code == 405
    assert api.get(f"/api/v1/alert-incidents/{incident.pk}/").json()["id"] == incident.pk


# Serving settings -----------------------------------------------------------------------------


def test_the_retention_is_90_days_until_set(
    scorer: RegisteredModel, viewer: User, api_client_for: ClientFor
) -> None:
    response = api_client_for(viewer).get(f"/api/v1/models/{scorer.pk}/serving-settings")

    assert response.status_code == 200
    assert response.json() == {"model": scorer.pk, "retention_days": 90, "updated_at": None}
    assert not ServingSettings.objects.exists()


def test_a_contributor_sets_the_retention(
    scorer: RegisteredModel, contributor: User, api_client_for: ClientFor
) -> None:
    api = api_client_for(contributor)
    url = f"/api/v1/models/{scorer.pk}/serving-settings"

    assert api.put(url, {"retention_days": 14}, format="json").json()["retention_days"] == 14
    assert api.get(url).json()["retention_days"] == 14
    assert api.put(url, {"retention_days": None}, format="json").status_code == 200
    assert ServingSettings.objects.get(model=scorer).retention_days is None


@pytest.mark.parametrize("body", [{"retention_days": 0}, {"retention_days": "a week"}, {}])
def test_a_bad_retention_is_a_400_naming_it(
    body: dict[str, Any], scorer: RegisteredModel, contributor: User, api_client_for: ClientFor
) -> None:
    response = api_client_for(contributor).put(
        f"/api/v1/models/{scorer.pk}/serving-settings", body, format="json"
    )

    assert response.status_code == 400
    assert "retention_days" in response.json()


def test_only_contributors_set_the_retention(
    scorer: RegisteredModel, viewer: User, api_client_for: ClientFor
) -> None:
    response = api_client_for(viewer).put(
        f"/api/v1/models/{scorer.pk}/serving-settings", {"retention_days": 1}, format="json"
    )

    assert response.status_code == 403
    assert not ServingSettings.objects.exists()


def test_the_settings_of_an_unknown_model_are_a_404(
    contributor: User, api_client_for: ClientFor
) -> None:
    assert api_client_for(contributor).get(
        "/api/v1/models/999999/serving-settings"
    ).status_code == (404)
