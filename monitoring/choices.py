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
