"""A model's alerts page: its rules with what each reads now, the form to add one, the
retention of its prediction log, and its incidents (open first). Everyone signed in reads
it; the model project's contributors change it, as in the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from lineage.choices import ModelTask
from lineage.models import RegisteredModel
from lineage.permissions import can_contribute, visible_projects
from monitoring import alerts, retention
from monitoring.choices import AlertMetric
from monitoring.models import AlertIncident, AlertRule

INCIDENTS_PER_PAGE = 25


def _model(request: HttpRequest, pk: int) -> RegisteredModel:
    return get_object_or_404(
        RegisteredModel.objects.filter(project__in=visible_projects(request.user)).select_related(
            "project"
        ),
        pk=pk,
    )


def _contributor_model(request: HttpRequest, pk: int) -> RegisteredModel:
    model = _model(request, pk)
    if not can_contribute(request.user, model.project):
        raise PermissionDenied("You need the contributor role in this project.")
    return model


class AlertRuleForm(forms.Form):
    metric = forms.ChoiceField(label="Alert when")
    threshold = forms.FloatField(
        required=False, label="Threshold", help_text="ms for latency; 0–1 for shares and scores."
    )
    window_minutes = forms.IntegerField(
        initial=60,
        min_value=1,
        max_value=alerts.MAX_WINDOW_MINUTES,
        label="Over the last (minutes)",
    )
    min_samples = forms.IntegerField(
        initial=20,
        min_value=1,
        label="Minimum samples",
        help_text="Fewer requests (labelled ones for performance) give no verdict.",
    )

    def __init__(self, *args: Any, model: RegisteredModel, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model = model
        excluded = (
            alerts.REGRESSION_METRICS
            if model.task == ModelTask.CLASSIFICATION
            else alerts.CLASSIFICATION_METRICS
        )
        self.fields["metric"].choices = [
            (value, label) for value, label in AlertMetric.choices if value not in excluded
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            data["threshold"] = alerts.check_rule(
                self.model, data["metric"], data.get("threshold"), data["window_minutes"]
            )
        except alerts.AlertRuleError as exc:
            self.add_error(exc.field, exc.message)
        return data


class RetentionForm(forms.Form):
    retention_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=36_500,
        label="Keep logged predictions (days)",
        help_text="Empty: keep them. Hourly aggregates (the charts) are kept either way.",
    )


def model_alerts(request: HttpRequest, pk: int) -> HttpResponse:
    model = _model(request, pk)
    return _render(request, model)


def _render(
    request: HttpRequest,
    model: RegisteredModel,
    rule_form: AlertRuleForm | None = None,
    retention_form: RetentionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    rules = list(model.alert_rules.select_related("created_by").order_by("metric", "pk"))
    readings = alerts.current_readings([rule for rule in rules if rule.enabled])
    open_by_rule = {
        incident.rule_id: incident
        for incident in AlertIncident.objects.filter(model=model, resolved_at__isnull=True)
    }
    rows = [_rule_row(rule, readings.get(rule.pk), open_by_rule.get(rule.pk)) for rule in rules]
    incidents = (
        AlertIncident.objects.filter(model=model)
        .select_related("rule")
        .annotate(
            open_first=ExpressionWrapper(Q(resolved_at__isnull=True), output_field=BooleanField())
        )
        .order_by("-open_first", "-opened_at", "-pk")
    )
    incident_page = Paginator(incidents, INCIDENTS_PER_PAGE).get_page(request.GET.get("page"))
    for incident in incident_page:
        incident.value_text = alerts.format_value(incident.rule.metric, incident.value)
        incident.last_value_text = alerts.format_value(incident.rule.metric, incident.last_value)
    settings = retention.settings_of(model)
    context = {
        "model": model,
        "project": model.project,
        "rows": rows,
        "open_count": len(open_by_rule),
        "incidents": incident_page,
        "retention": settings,
        "can_contribute": can_contribute(request.user, model.project),
        "rule_form": rule_form or AlertRuleForm(model=model),
        "retention_form": retention_form
        or RetentionForm(initial={"retention_days": settings.retention_days}),
    }
    return render(request, "monitoring/alerts.html", context, status=status)


def _rule_row(
    rule: AlertRule,
    reading: tuple[float | None, int] | None,
    incident: AlertIncident | None,
) -> dict[str, Any]:
    value, samples = reading if reading is not None else (None, 0)
    if not rule.enabled:
        state = "Disabled"
    elif incident is not None:
        state = "Firing"
    elif value is None:
        state = "No data"
    else:
        state = "OK"
    return {
        "rule": rule,
        "state": state,
        "threshold": "—"
        if rule.metric == AlertMetric.DRIFT
        else alerts.format_value(rule.metric, rule.threshold),
        "window": "—"
        if rule.metric == AlertMetric.DRIFT
        else alerts.window_label(rule.window_minutes),
        "now": alerts.format_value(rule.metric, value),
        "samples": samples,
        "incident": incident,
    }


@require_POST
def add_alert_rule(request: HttpRequest, pk: int) -> HttpResponse:
    model = _contributor_model(request, pk)
    form = AlertRuleForm(request.POST, model=model)
    if not form.is_valid():
        messages.error(request, "The rule was not added: see the form below.")
        return _render(request, model, rule_form=form, status=400)
    AlertRule.objects.create(model=model, created_by=request.user, **form.cleaned_data)
    messages.success(request, "Rule added: it is evaluated every minute.")
    return redirect("model-alerts", model.pk)


@require_POST
def toggle_alert_rule(request: HttpRequest, pk: int, rule_id: int) -> HttpResponse:
    model = _contributor_model(request, pk)
    rule = get_object_or_404(AlertRule, pk=rule_id, model=model)
    rule.enabled = not rule.enabled
    rule.save(update_fields=["enabled"])
    if rule.enabled:
        messages.success(request, f"{rule.get_metric_display()} rule enabled.")
    else:
        closed = alerts.close_disabled_incidents([rule.pk])
        messages.success(
            request,
            f"{rule.get_metric_display()} rule disabled"
            + (": its open incident is closed." if closed else "."),
        )
    return redirect("model-alerts", model.pk)


@require_POST
def delete_alert_rule(request: HttpRequest, pk: int, rule_id: int) -> HttpResponse:
    model = _contributor_model(request, pk)
    rule = get_object_or_404(AlertRule, pk=rule_id, model=model)
    rule.delete()
    messages.success(request, "Rule deleted, with its incidents.")
    return redirect("model-alerts", model.pk)


@require_POST
def save_retention(request: HttpRequest, pk: int) -> HttpResponse:
    model = _contributor_model(request, pk)
    form = RetentionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The retention was not saved: see the form below.")
        return _render(request, model, retention_form=form, status=400)
    days = form.cleaned_data["retention_days"]
    retention.save_retention(model, days)
    messages.success(
        request,
        f"Logged predictions are kept {days} days." if days else "Logged predictions are kept.",
    )
    return redirect("model-alerts", model.pk)
