"""Alert rules over a model's runtime figures: what each rule accepts, what it reads now,
and the scheduled evaluation that opens and resolves incidents.

An incident is opened by the evaluation that first sees a breach and notifies once; the
constraint "one open incident per rule" makes a concurrent evaluation's duplicate fail, so
two overlapping runs cannot both notify. Resolution is claimed with a conditional update
for the same reason. A window with too few samples gives no verdict: incidents stay as
they are until there is data again."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from lineage import governance
from lineage.choices import DriftStatus, ModelTask, NotificationKind, Role, Stage
from lineage.models import ModelVersion, RegisteredModel
from monitoring.choices import ABOVE_METRICS, AlertMetric
from monitoring.models import AlertIncident, AlertRule

logger = logging.getLogger(__name__)

MAX_WINDOW_MINUTES = 7 * 24 * 60
PERFORMANCE_METRICS = frozenset(
    {AlertMetric.ACCURACY, AlertMetric.F1, AlertMetric.ROC_AUC, AlertMetric.MAE, AlertMetric.RMSE}
)
CLASSIFICATION_METRICS = frozenset(
    {AlertMetric.CONFIDENCE_MEAN, AlertMetric.ACCURACY, AlertMetric.F1, AlertMetric.ROC_AUC}
)
REGRESSION_METRICS = frozenset({AlertMetric.MAE, AlertMetric.RMSE})
# Shares and scores: a threshold outside [0, 1] could never (or would always) breach.
UNIT_METRICS = frozenset(
    {
        AlertMetric.CONFIDENCE_MEAN,
        AlertMetric.ERROR_RATE,
        AlertMetric.ACCURACY,
        AlertMetric.F1,
        AlertMetric.ROC_AUC,
    }
)
METRIC_NAMES = {
    AlertMetric.LATENCY_P95: "latency p95",
    AlertMetric.CONFIDENCE_MEAN: "mean confidence",
    AlertMetric.ERROR_RATE: "error rate",
    AlertMetric.ACCURACY: "accuracy",
    AlertMetric.F1: "F1 (macro)",
    AlertMetric.ROC_AUC: "ROC AUC",
    AlertMetric.MAE: "MAE",
    AlertMetric.RMSE: "RMSE",
    AlertMetric.DRIFT: "drift",
}
NOTIFIED_ROLES = (Role.CONTRIBUTOR, Role.REVIEWER, Role.ADMIN)


class AlertRuleError(ValueError):
    """A rule that cannot be saved; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# What a rule accepts ------------------------------------------------------------------------


def check_rule(
    model: RegisteredModel, metric: str, threshold: float | None, window_minutes: int
) -> float | None:
    """Refuse a rule that cannot mean anything for this model; return the threshold to
    store (none for drift, which breaches on the production version's drift status).
    The form of the alerts page and the API both call this."""
    if metric not in AlertMetric.values:
        raise AlertRuleError("metric", f"Unknown metric {metric!r}.")
    if metric in CLASSIFICATION_METRICS and model.task != ModelTask.CLASSIFICATION:
        raise AlertRuleError(
            "metric", f"{METRIC_NAMES[AlertMetric(metric)]} needs a classification model."
        )
    if metric in REGRESSION_METRICS and model.task != ModelTask.REGRESSION:
        raise AlertRuleError(
            "metric", f"{METRIC_NAMES[AlertMetric(metric)]} needs a regression model."
        )
    if not 1 <= window_minutes <= MAX_WINDOW_MINUTES:
        raise AlertRuleError(
            "window_minutes", f"The window is 1 to {MAX_WINDOW_MINUTES} minutes (7 days)."
        )
    if metric == AlertMetric.DRIFT:
        return None
    if threshold is None:
        raise AlertRuleError("threshold", "A threshold is required for this metric.")
    if not math.isfinite(threshold):
        raise AlertRuleError("threshold", "The threshold must be a finite number.")
    if metric in UNIT_METRICS and not 0 <= threshold <= 1:
        raise AlertRuleError("threshold", "The threshold of this metric is between 0 and 1.")
    if threshold < 0:
        raise AlertRuleError("threshold", "The threshold cannot be negative.")
    return float(threshold)


# What a rule reads --------------------------------------------------------------------------


def reading(
    rule: AlertRule, summary: dict[str, Any] | None, drift_status: str | None
) -> tuple[float | None, int]:
    """The rule's metric now and the samples behind it; the value is None when there is
    no verdict (fewer samples than the rule's minimum, or nothing to compute it from)."""
    if rule.metric == AlertMetric.DRIFT:
        if drift_status == DriftStatus.DRIFTED:
            return 1.0, 0
        if drift_status == DriftStatus.NOT_DRIFTED:
            return 0.0, 0
        return None, 0  # no production version, or not analysed yet
    summary = summary or {}
    if rule.metric in PERFORMANCE_METRICS:
        samples = int(summary.get("labelled") or 0)
        value = (summary.get("performance") or {}).get(rule.metric)
    elif rule.metric == AlertMetric.ERROR_RATE:
        samples = int(summary.get("requests") or 0) + int(summary.get("errors") or 0)
        value = summary.get("error_rate")
    elif rule.metric == AlertMetric.LATENCY_P95:
        samples = int(summary.get("requests") or 0)
        value = (summary.get("latency") or {}).get("p95")
    else:
        samples = int(summary.get("requests") or 0)
        value = (summary.get("confidence") or {}).get("mean")
    if samples < max(rule.min_samples, 1) or value is None:
        return None, samples
    return float(value), samples


def is_breached(rule: AlertRule, value: float) -> bool:
    if rule.metric == AlertMetric.DRIFT:
        return value >= 1
    if rule.threshold is None:
        return False
    if rule.metric in ABOVE_METRICS:
        return value > rule.threshold
    return value < rule.threshold


def current_readings(
    rules: Iterable[AlertRule], now: dt.datetime | None = None
) -> dict[int, tuple[float | None, int]]:
    """Each rule's reading over its window ending now, by rule id (for the alerts page)."""
    rules = list(rules)
    now = now or timezone.now()
    summaries = _summaries(rules, now)
    drift = _production_drift({rule.model_id for rule in rules})
    return {
        rule.pk: reading(
            rule, summaries.get((rule.model_id, rule.window_minutes)), drift.get(rule.model_id)
        )
        for rule in rules
    }


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "—"
    if metric == AlertMetric.LATENCY_P95:
        return f"{value:,.1f} ms"
    if metric == AlertMetric.ERROR_RATE:
        return f"{value:.2%}"
    if metric == AlertMetric.DRIFT:
        return "drifted" if value >= 1 else "not drifted"
    return f"{value:.3f}"


def window_label(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"


# The scheduled evaluation -------------------------------------------------------------------


def evaluate_rules(now: dt.datetime | None = None) -> dict[str, int]:
    """Evaluate every enabled rule over its window ending `now`; return how many rules
    ended in each outcome (fired, still_firing, resolved, ok, no_data, failed) and how many open
    incidents of disabled rules were closed.

    Steps: close incidents of disabled rules; read each (model, window) summary once from
    the rollups and each model's production drift status once; then per rule open,
    update or resolve its incident.
    """
    now = now or timezone.now()
    outcomes: Counter[str] = Counter()
    outcomes["closed_disabled"] = close_disabled_incidents(now=now)
    rules = list(
        AlertRule.objects.filter(enabled=True).select_related("model__project", "model__owner")
    )
    if not rules:
        return dict(outcomes)
    summaries = _summaries(rules, now)
    drift = _production_drift({rule.model_id for rule in rules})
    open_incidents = {
        incident.rule_id: incident
        for incident in AlertIncident.objects.filter(rule__in=rules, resolved_at__isnull=True).only(
            "pk", "rule_id", "opened_at", "value"
        )
    }
    for rule in rules:
        value, samples = reading(
            rule, summaries.get((rule.model_id, rule.window_minutes)), drift.get(rule.model_id)
        )
        try:
            outcome = _apply(rule, value, samples, open_incidents.get(rule.pk), now)
        except DatabaseError:
            # One rule's trouble (a lock, a timeout) must not silence the others.
            logger.exception("Alert rule %s could not be evaluated", rule.pk)
            outcome = "failed"
        outcomes[outcome] += 1
    return dict(outcomes)


def close_disabled_incidents(
    rule_ids: Iterable[int] | None = None, now: dt.datetime | None = None
) -> int:
    """Resolve the open incidents of disabled rules (someone turned the alert off: no
    notification). Called by the evaluation, and right away when a rule is disabled."""
    incidents = AlertIncident.objects.filter(rule__enabled=False, resolved_at__isnull=True)
    if rule_ids is not None:
        incidents = incidents.filter(rule_id__in=list(rule_ids))
    return incidents.update(resolved_at=now or timezone.now())


def _apply(
    rule: AlertRule,
    value: float | None,
    samples: int,
    incident: AlertIncident | None,
    now: dt.datetime,
) -> str:
    if value is None:
        return "no_data"
    if is_breached(rule, value):
        if incident is not None:
            AlertIncident.objects.filter(pk=incident.pk).update(last_value=value)
            return "still_firing"
        return "fired" if _open_incident(rule, value, samples, now) else "still_firing"
    if incident is not None and _resolve(rule, incident, value, now):
        return "resolved"
    return "ok"


def _open_incident(rule: AlertRule, value: float, samples: int, now: dt.datetime) -> bool:
    """Open the rule's incident and notify, together; False when another evaluation
    opened it first (and notified)."""
    message = fired_message(rule, value, samples)
    try:
        with transaction.atomic():
            AlertIncident.objects.create(
                rule=rule,
                model=rule.model,
                opened_at=now,
                value=value,
                last_value=value,
                message=message,
            )
            _notify(rule, NotificationKind.ALERT_FIRED, message)
    except IntegrityError:
        logger.info("Alert rule %s already has an open incident", rule.pk)
        return False
    return True


def _resolve(rule: AlertRule, incident: AlertIncident, value: float, now: dt.datetime) -> bool:
    with transaction.atomic():
        claimed = AlertIncident.objects.filter(pk=incident.pk, resolved_at__isnull=True).update(
            resolved_at=now, last_value=value
        )
        if claimed != 1:
            return False  # resolved by another evaluation
        _notify(rule, NotificationKind.ALERT_RESOLVED, resolved_message(rule, incident, value))
    return True


def fired_message(rule: AlertRule, value: float, samples: int) -> str:
    model = rule.model.name
    if rule.metric == AlertMetric.DRIFT:
        return f"{model}: the production version has drifted (drift rule)."
    direction = "above" if rule.metric in ABOVE_METRICS else "below"
    count = "labelled predictions" if rule.metric in PERFORMANCE_METRICS else "requests"
    return (
        f"{model}: {METRIC_NAMES[AlertMetric(rule.metric)]} is "
        f"{format_value(rule.metric, value)} over the last {window_label(rule.window_minutes)}"
        f", {direction} the threshold of {format_value(rule.metric, rule.threshold)} "
        f"({samples:,} {count})."
    )


def resolved_message(rule: AlertRule, incident: AlertIncident, value: float) -> str:
    model = rule.model.name
    opened = f"{incident.opened_at:%Y-%m-%d %H:%M} UTC"
    if rule.metric == AlertMetric.DRIFT:
        return (
            f"{model}: the production version is no longer drifted; the alert opened "
            f"{opened} is resolved."
        )
    return (
        f"{model}: {METRIC_NAMES[AlertMetric(rule.metric)]} is back to "
        f"{format_value(rule.metric, value)} (threshold "
        f"{format_value(rule.metric, rule.threshold)}); the alert opened {opened} is resolved."
    )


def dashboard_url(model: RegisteredModel) -> str:
    return reverse("model-monitoring", args=[model.pk])


def _notify(rule: AlertRule, kind: str, message: str) -> None:
    model = rule.model
    people = governance.project_people(model.project, NOTIFIED_ROLES)
    if model.owner_id is not None:
        people.append(model.owner)
    governance.notify(people, model.project, kind, message, dashboard_url(model))


def _summaries(rules: list[AlertRule], now: dt.datetime) -> dict[tuple[int, int], dict[str, Any]]:
    """The summary of each (model, window) the rules read, computed once."""
    from monitoring import prediction_stats  # written alongside; imported when used

    summaries: dict[tuple[int, int], dict[str, Any]] = {}
    for rule in rules:
        key = (rule.model_id, rule.window_minutes)
        if rule.metric == AlertMetric.DRIFT or key in summaries:
            continue
        since = now - dt.timedelta(minutes=rule.window_minutes)
        summaries[key] = prediction_stats.window_summary(rule.model, since, until=now)
    return summaries


def _production_drift(model_ids: set[int]) -> dict[int, str]:
    return dict(
        ModelVersion.objects.filter(model_id__in=model_ids, stage=Stage.PRODUCTION).values_list(
            "model_id", "drift_status"
        )
    )
