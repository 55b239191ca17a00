"""Data quality: a dataset's check suite (versioned), the runs of it over dataset versions,
and each check's result. The checks themselves are JSON dicts validated by
`monitoring.checks`; the engine that runs them is `monitoring.quality`."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from lineage.choices import JobState, QualityStatus
from lineage.models import Dataset, DatasetVersion, ImmutableError, ModelVersion, RegisteredModel
from monitoring.choices import (
    AlertMetric,
    CheckOutcome,
    CurrentSource,
    PredictionSource,
    RunTrigger,
    ScheduleKind,
    Severity,
    WindowFrequency,
)


class QualitySuite(models.Model):
    """The checks a dataset's versions must pass. Each change saves a new
    `QualitySuiteVersion`, so a past run keeps pointing at the checks it ran."""

    dataset = models.OneToOneField(Dataset, on_delete=models.CASCADE, related_name="quality_suite")
    description = models.TextField(blank=True)
    run_on_new_versions = models.BooleanField(
        default=True, help_text="Check every new version of the dataset as soon as it arrives."
    )
    current_version = models.PositiveIntegerField(default=0)
    schedule_kind = models.CharField(
        max_length=20, choices=ScheduleKind.choices, default=ScheduleKind.NONE
    )
    schedule_cron = models.CharField(max_length=100, blank=True)
    # The django-celery-beat entry that runs the suite on the latest version on schedule.
    periodic_task = models.OneToOneField(
        PeriodicTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["dataset__project__name", "dataset__name"]

    def __str__(self) -> str:
        return f"Quality suite of {self.dataset.name}"

    def get_absolute_url(self) -> str:
        return reverse("quality-suite", args=[self.dataset_id])

    @property
    def latest(self) -> QualitySuiteVersion | None:
        return self.versions.filter(version=self.current_version).first()

    @property
    def schedule_label(self) -> str:
        if self.schedule_kind == ScheduleKind.CRON:
            return f"cron {self.schedule_cron}"
        return str(self.get_schedule_kind_display())


class QualitySuiteVersion(models.Model):
    """One immutable revision of a suite's checks."""

    suite = models.ForeignKey(QualitySuite, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    checks = models.JSONField(default=list)
    change_note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["suite", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["suite", "version"], name="unique_suite_version")
        ]

    def __str__(self) -> str:
        return f"{self.suite.dataset.name} suite v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableError("A suite version is immutable; save a new version instead.")
        super().save(*args, **kwargs)


class QualityRunQuerySet(models.QuerySet["QualityRun"]):
    def finished(self) -> QualityRunQuerySet:
        return self.filter(state__in=[JobState.SUCCEEDED, JobState.FAILED])


class QualityRun(models.Model):
    """One run of a suite version over one dataset version. Its `status` is the quality
    gate's verdict (passed, warning, failed); a run that could not read the data ends
    failed, with `error` saying why."""

    suite_version = models.ForeignKey(
        QualitySuiteVersion, on_delete=models.CASCADE, related_name="runs"
    )
    dataset_version = models.ForeignKey(
        DatasetVersion, on_delete=models.CASCADE, related_name="quality_runs"
    )
    state = models.CharField(max_length=20, choices=JobState.choices, default=JobState.QUEUED)
    status = models.CharField(
        max_length=20, choices=QualityStatus.choices, default=QualityStatus.NOT_CHECKED
    )
    trigger = models.CharField(max_length=20, choices=RunTrigger.choices)
    error = models.TextField(blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    checks_passed = models.PositiveIntegerField(default=0)
    checks_failed = models.PositiveIntegerField(default=0)
    checks_warned = models.PositiveIntegerField(default=0)
    checks_errored = models.PositiveIntegerField(default=0)
    duration_seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = QualityRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["dataset_version", "-created_at"]),
            models.Index(fields=["status"]),
        ]

    def __str__(self) -> str:
        return f"Quality run #{self.pk} of {self.dataset_version}"

    def get_absolute_url(self) -> str:
        return reverse("quality-run", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.state in (JobState.SUCCEEDED, JobState.FAILED)


class QualityCheckResult(models.Model):
    """What one check found in one run. `sample_rows` holds up to 20 failing rows as
    they are in the data; PII columns are masked when read, per viewer."""

    run = models.ForeignKey(QualityRun, on_delete=models.CASCADE, related_name="results")
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    check_type = models.CharField(max_length=40)
    column = models.CharField(max_length=500, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    outcome = models.CharField(max_length=10, choices=CheckOutcome.choices)
    message = models.TextField(blank=True)
    failing_count = models.BigIntegerField(null=True, blank=True)
    failing_fraction = models.FloatField(null=True, blank=True)
    observed = models.JSONField(default=dict, blank=True)
    definition = models.JSONField(default=dict)
    distribution = models.JSONField(null=True, blank=True)
    sample_rows = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="unique_result_position")
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.outcome}"

    @property
    def state_word(self) -> str:
        """One word for the badge: a failed warn-level check is a warning."""
        if self.outcome == CheckOutcome.FAILED and self.severity == Severity.WARN:
            return "warning"
        return str(self.outcome)


# Drift ------------------------------------------------------------------------------------


class DriftSettings(models.Model):
    """A registered model's drift settings: its thresholds (over the defaults of
    `monitoring.drift.DriftThresholds`), how scheduled analyses window the data, and their
    schedule (a django-celery-beat entry edited on the model's drift page)."""

    model = models.OneToOneField(
        RegisteredModel, on_delete=models.CASCADE, related_name="drift_settings"
    )
    thresholds = models.JSONField(default=dict, blank=True)
    window_column = models.CharField(max_length=200, blank=True)
    window_frequency = models.CharField(
        max_length=10, choices=WindowFrequency.choices, default=WindowFrequency.NONE, blank=True
    )
    schedule_kind = models.CharField(
        max_length=20, choices=ScheduleKind.choices, default=ScheduleKind.NONE
    )
    schedule_cron = models.CharField(max_length=100, blank=True)
    periodic_task = models.OneToOneField(
        PeriodicTask, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "drift settings"

    def __str__(self) -> str:
        return f"Drift settings of {self.model.name}"

    @property
    def schedule_label(self) -> str:
        if self.schedule_kind == ScheduleKind.CRON:
            return f"cron {self.schedule_cron}"
        return str(self.get_schedule_kind_display())


class DriftAnalysis(models.Model):
    """One comparison of a model version's reference data (its training data by default)
    with current data. The result (per feature tests and effect sizes, the domain
    classifier, prediction drift, windows, the decision) is stored whole in `result`, so
    pages and the API read it instead of recomputing; the headline figures are columns
    for lists and filters."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="drift_analyses"
    )
    reference_version = models.ForeignKey(
        DatasetVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    current_source = models.CharField(
        max_length=20, choices=CurrentSource.choices, default=CurrentSource.DATASET_VERSION
    )
    current_version = models.ForeignKey(
        DatasetVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    current_start = models.DateTimeField(null=True, blank=True)
    current_end = models.DateTimeField(null=True, blank=True)
    window_column = models.CharField(max_length=200, blank=True)
    window_frequency = models.CharField(
        max_length=10, choices=WindowFrequency.choices, default=WindowFrequency.NONE, blank=True
    )
    thresholds = models.JSONField(default=dict)
    trigger = models.CharField(max_length=20, choices=RunTrigger.choices)
    state = models.CharField(max_length=20, choices=JobState.choices, default=JobState.QUEUED)
    error = models.TextField(blank=True)
    drifted = models.BooleanField(null=True, blank=True)
    drift_share = models.FloatField(null=True, blank=True)
    score = models.FloatField(null=True, blank=True)
    domain_auc = models.FloatField(null=True, blank=True)
    domain_auc_low = models.FloatField(null=True, blank=True)
    domain_auc_high = models.FloatField(null=True, blank=True)
    domain_p_value = models.FloatField(null=True, blank=True)
    reference_rows = models.BigIntegerField(null=True, blank=True)
    current_rows = models.BigIntegerField(null=True, blank=True)
    # Large inputs are analysed by several workers, a group of features each.
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    duration_seconds = models.FloatField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Last: large, and lists skip it.
    result = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "drift analyses"
        indexes = [
            models.Index(fields=["model_version", "-created_at"]),
            models.Index(fields=["drifted"]),
        ]

    def __str__(self) -> str:
        return f"Drift analysis #{self.pk} of {self.model_version}"

    def get_absolute_url(self) -> str:
        return reverse("drift-analysis", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.state in (JobState.SUCCEEDED, JobState.FAILED)

    @property
    def current_label(self) -> str:
        if self.current_source == CurrentSource.PREDICTIONS:
            start = f"{self.current_start:%Y-%m-%d %H:%M}" if self.current_start else "…"
            end = f"{self.current_end:%Y-%m-%d %H:%M}" if self.current_end else "now"
            return f"inputs logged {start} – {end}"
        return str(self.current_version) if self.current_version else "(gone)"


class DriftFeatureChunk(models.Model):
    """What one worker computed for a group of features (before the correction across
    all features, which needs them all)."""

    analysis = models.ForeignKey(DriftAnalysis, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    features = models.JSONField(default=list)
    result = models.JSONField(default=dict)
    # Set, with the analysis's count, in one transaction: a group stored by a worker that
    # was lost before counting it is counted by the task's next delivery, and only once.
    counted = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["analysis", "index"], name="unique_drift_chunk")
        ]

    def __str__(self) -> str:
        return f"Chunk {self.index} of analysis #{self.analysis_id}"


# Serving and observability ------------------------------------------------------------------


class PredictionRecord(models.Model):
    """One scored request: served by the portal or ingested from elsewhere, its inputs and
    outputs, and its ground truth once that arrives.

    Built for tens of millions of rows: the only indexes are the request UUID (lookups and
    idempotent ingestion) and (model, logged_at) (a time range of one model, for drift
    reads and retention). The pages never scan it: they read `PredictionRollup`.
    """

    request_id = models.UUIDField(unique=True)
    model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    logged_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=PredictionSource.choices)
    inputs = models.JSONField()
    prediction = models.JSONField(null=True)
    probabilities = models.JSONField(null=True, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    label = models.JSONField(null=True, blank=True)
    labelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["model", "logged_at"], name="prediction_model_time")]

    def __str__(self) -> str:
        return f"Prediction {self.request_id}"

    def get_absolute_url(self) -> str:
        return reverse("prediction-detail", args=[self.request_id])


class PredictionRollup(models.Model):
    """Aggregates of a model version's predictions in one hour, as additive partials: each
    stored batch (and each ground-truth correction) appends one, and `compact_rollups` merges
    an hour's partials later. Dashboards and alerts sum them instead of reading the log."""

    model = models.ForeignKey(
        RegisteredModel, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    hour = models.DateTimeField()
    requests = models.BigIntegerField(default=0)
    errors = models.BigIntegerField(default=0)
    labelled = models.BigIntegerField(default=0)
    # Histograms and sums, as `monitoring.rollups` shapes them.
    stats = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["model", "hour"], name="rollup_model_hour")]

    def __str__(self) -> str:
        return f"Rollup of {self.model_version_id} at {self.hour:%Y-%m-%d %H:00}"


class ServingSettings(models.Model):
    """A model's observability settings: how long its prediction log is kept."""

    model = models.OneToOneField(
        RegisteredModel, on_delete=models.CASCADE, related_name="serving_settings"
    )
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=90,
        help_text="Delete logged predictions older than this many days (empty: keep them).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "serving settings"

    def __str__(self) -> str:
        return f"Serving settings of {self.model.name}"


class AlertRule(models.Model):
    """A condition on a model's runtime figures, evaluated by a scheduled job over the last
    `window_minutes`; a breach opens an incident."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="alert_rules")
    metric = models.CharField(max_length=30, choices=AlertMetric.choices)
    threshold = models.FloatField(null=True, blank=True)
    window_minutes = models.PositiveIntegerField(default=60)
    # Below this many requests (labelled ones, for performance) in the window, no verdict.
    min_samples = models.PositiveIntegerField(default=20)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model", "metric", "pk"]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} rule of {self.model.name}"


class AlertIncident(models.Model):
    """A breach of a rule, from the evaluation that saw it to the one that saw it end. At
    most one incident of a rule is open, so a breach notifies once, not every evaluation."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="incidents")
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule"],
                condition=models.Q(resolved_at__isnull=True),
                name="one_open_incident_per_rule",
            )
        ]
        indexes = [models.Index(fields=["model", "-opened_at"])]

    def __str__(self) -> str:
        return f"Incident #{self.pk} of {self.rule}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class WorkerHeartbeat(models.Model):
    """The last sign of life of each Celery worker, for `/healthz`."""

    hostname = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} at {self.last_seen:%H:%M:%S}"
