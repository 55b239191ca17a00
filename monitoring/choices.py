"""Enumerations of the monitoring app."""

from django.db import models


class Severity(models.TextChoices):
    WARN = "warn", "Warn"
    FAIL = "fail", "Fail"


class CheckOutcome(models.TextChoices):
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    # The check could not be evaluated (a range on a text column, an expression mixing
    # types): a problem with the check, reported apart from data that fails it.
    ERRORED = "errored", "Errored"


class RunTrigger(models.TextChoices):
    NEW_VERSION = "new_version", "New version"
    MANUAL = "manual", "Started by a person"
    API = "api", "API"
    SCHEDULE = "schedule", "Schedule"
    SUITE_CHANGE = "suite_change", "Suite changed"


class ScheduleKind(models.TextChoices):
    NONE = "none", "Not scheduled"
    HOURLY = "hourly", "Hourly"
    DAILY = "daily", "Daily"
    CRON = "cron", "Cron expression"


class CurrentSource(models.TextChoices):
    """Where a drift analysis's current data comes from."""

    DATASET_VERSION = "dataset_version", "A dataset version"
    PREDICTIONS = "predictions", "Inputs logged in production"


class WindowFrequency(models.TextChoices):
    NONE = "", "No windows"
    HOUR = "hour", "Hourly"
    DAY = "day", "Daily"
    WEEK = "week", "Weekly"


class PredictionSource(models.TextChoices):
    SERVED = "served", "Served by the portal"
    INGESTED = "ingested", "Ingested"


class AlertMetric(models.TextChoices):
    """What an alert rule watches; `ABOVE` metrics breach over the threshold, the others
    under it (drift breaches when the production version has drifted)."""

    LATENCY_P95 = "latency_p95", "Latency p95 (ms) above"
    CONFIDENCE_MEAN = "confidence_mean", "Mean confidence below"
    ERROR_RATE = "error_rate", "Error rate above"
    ACCURACY = "accuracy", "Accuracy below"
    F1 = "f1", "F1 (macro) below"
    ROC_AUC = "roc_auc", "ROC AUC below"
    MAE = "mae", "MAE above"
    RMSE = "rmse", "RMSE above"
    DRIFT = "drift", "Drift detected"


ABOVE_METRICS = frozenset(
    {AlertMetric.LATENCY_P95, AlertMetric.ERROR_RATE, AlertMetric.MAE, AlertMetric.RMSE}
)
