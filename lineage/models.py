"""The catalog: projects and their members, datasets and models with immutable versions,
and the background jobs that work on them."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Max, Q
from django.urls import reverse
from django.utils import timezone

from lineage.choices import (
    ROLE_RANK,
    AuditAction,
    DataFormat,
    DriftStatus,
    EdgeKind,
    JobState,
    JobType,
    ModelTask,
    NodeKind,
    NotificationKind,
    ProfileStatus,
    QualityStatus,
    ReviewState,
    Role,
    RunState,
    Sensitivity,
    Stage,
    VersionSource,
)


class ProjectQuerySet(models.QuerySet["Project"]):
    def with_counts(self) -> ProjectQuerySet:
        """Each project with `dataset_count` and `model_count`, ordered by name (an
        aggregate drops Meta.ordering, and lists paginate)."""
        return self.annotate(
            dataset_count=models.Count("datasets", distinct=True),
            model_count=models.Count("models", distinct=True),
        ).order_by("name")


class DatasetQuerySet(models.QuerySet["Dataset"]):
    def with_version_summary(self) -> DatasetQuerySet:
        """Each dataset with `version_count`, `latest_version` and `latest_quality` (the
        quality status of its newest version)."""
        newest_quality = (
            DatasetVersion.objects.filter(dataset=models.OuterRef("pk"))
            .order_by("-version")
            .values("quality_status")[:1]
        )
        return self.annotate(
            version_count=models.Count("versions"),
            latest_version=Max("versions__version"),
            latest_quality=models.Subquery(newest_quality),
        )


class RegisteredModelQuerySet(models.QuerySet["RegisteredModel"]):
    def with_version_summary(self) -> RegisteredModelQuerySet:
        """Each model with `version_count`, `latest_version` and `production_version`."""
        in_production = ModelVersion.objects.filter(
            model=models.OuterRef("pk"), stage=Stage.PRODUCTION
        ).values("version")[:1]
        return self.annotate(
            version_count=models.Count("versions", distinct=True),
            latest_version=Max("versions__version"),
            production_version=models.Subquery(in_production),
        )


class ImmutableError(Exception):
    """Raised when code tries to change a field of a version that is fixed once created."""


class Project(models.Model):
    """A team's workspace: its datasets, models and members."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    webhook_url = models.URLField(
        blank=True, help_text="Notifications for this project are also POSTed here as JSON."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project-detail", args=[self.slug])

    def role_of(self, user: Any) -> str | None:
        """The user's role here, or None; superusers act as admins everywhere."""
        if not getattr(user, "is_authenticated", False):
            return None
        if user.is_superuser:
            return Role.ADMIN
        return (
            Membership.objects.filter(project=self, user=user)
            .values_list("role", flat=True)
            .first()
        )

    def has_role(self, user: Any, at_least: str) -> bool:
        role = self.role_of(user)
        return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role(at_least)]


class Membership(models.Model):
    """A user's role in a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")
        ]
        ordering = ["project", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} — {self.role} in {self.project}"


class Tag(models.Model):
    """A free label on datasets and models (lower-case, shared across projects)."""

    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Dataset(models.Model):
    """A named table of data, stored here in versions or referenced where it lives.

    External datasets are identified as OpenLineage does, by namespace
    (`s3://bucket`, `postgres://host:5432`) and name (`path/key`, `db.schema.table`).
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_datasets",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="datasets")
    sensitivity = models.CharField(
        max_length=20, choices=Sensitivity.choices, default=Sensitivity.INTERNAL
    )
    retain_until = models.DateField(
        null=True, blank=True, help_text="Keep the data until this date; empty keeps it."
    )
    column_sensitivity = models.JSONField(
        default=dict,
        blank=True,
        help_text='Columns more sensitive than the dataset, e.g. {"email": "pii"}.',
    )
    namespace = models.CharField(max_length=500, blank=True)
    source_name = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DatasetQuerySet.as_manager()

    class Meta:
        ordering = ["project__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_dataset_name"),
            models.UniqueConstraint(
                fields=["namespace", "source_name"],
                condition=~Q(source_name=""),
                name="unique_external_dataset",
            ),
        ]
        indexes = [models.Index(fields=["sensitivity"]), models.Index(fields=["updated_at"])]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("dataset-detail", args=[self.pk])

    @property
    def is_external(self) -> bool:
        return bool(self.source_name)

    def next_version_number(self) -> int:
        current = self.versions.aggregate(highest=Max("version"))["highest"]
        return (current or 0) + 1


def dataset_upload_path(instance: DatasetVersion, filename: str) -> str:
    # Never the user's file name on disk: a generated one, keeping only a known extension.
    extension = "parquet" if instance.format == DataFormat.PARQUET else "csv"
    return f"datasets/{instance.dataset_id}/{uuid.uuid4().hex}.{extension}"


class DatasetVersion(models.Model):
    """One immutable version of a dataset: a stored file or an external URI, with its
    hash, schema and profile. Only the profiling outcome changes after creation."""

    MUTABLE_FIELDS = frozenset(
        {
            "profile",
            "profile_status",
            "profile_error",
            "file",
            "destroyed_at",
            "destroyed_by",
            "destruction_reason",
            "quality_status",
            "quality_checked_at",
        }
    )

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    file = models.FileField(upload_to=dataset_upload_path, blank=True, max_length=500)
    external_uri = models.CharField(max_length=2000, blank=True)
    format = models.CharField(max_length=20, choices=DataFormat.choices)
    original_filename = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    row_count = models.BigIntegerField(null=True, blank=True)
    schema = models.JSONField(default=list, blank=True)
    profile_status = models.CharField(
        max_length=20, choices=ProfileStatus.choices, default=ProfileStatus.PENDING
    )
    profile_error = models.TextField(blank=True)
    source = models.CharField(
        max_length=20, choices=VersionSource.choices, default=VersionSource.UPLOAD
    )
    description = models.TextField(blank=True)
    produced_by_run = models.ForeignKey(
        "PipelineRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="output_versions",
    )
    facets = models.JSONField(
        default=dict, blank=True, help_text="OpenLineage dataset facets, kept as reported."
    )
    # A destroyed version is a tombstone: its file and profile are gone, its hash, size,
    # schema and history stay.
    destroyed_at = models.DateTimeField(null=True, blank=True)
    destroyed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    destruction_reason = models.TextField(blank=True)
    # The outcome of the latest quality run (monitoring app), kept here so every list, page,
    # filter and gate reads it without a join.
    quality_status = models.CharField(
        max_length=20, choices=QualityStatus.choices, default=QualityStatus.NOT_CHECKED
    )
    quality_checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Last on purpose: the profile can be large, and SQLite reads the columns before it
    # without walking its overflow pages, so lists that skip it stay fast.
    profile = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["dataset", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "version"], name="unique_dataset_version")
        ]
        indexes = [models.Index(fields=["created_at"]), models.Index(fields=["quality_status"])]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or not set(update_fields) <= self.MUTABLE_FIELDS:
                raise ImmutableError(
                    "A dataset version is immutable; only its profile and quality status "
                    "can change after creation."
                )
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("dataset-version-detail", args=[self.dataset_id, self.version])

    def merge_pipeline_report(self, schema: list[dict[str, str]], facets: dict[str, Any]) -> None:
        """Add what a later event of the producing run says about this version: its schema
        if none was known yet, and facets not seen before. Content never changes; only a
        pipeline's description of it is completed, whatever order its events arrive in."""
        changed = []
        if schema and not self.schema:
            self.schema = schema
            changed.append("schema")
        new_facets = {key: value for key, value in facets.items() if key not in self.facets}
        if new_facets:
            self.facets = {**self.facets, **new_facets}
            changed.append("facets")
        if changed:
            DatasetVersion.objects.filter(pk=self.pk).update(
                **{field: getattr(self, field) for field in changed}
            )

    @property
    def column_names(self) -> list[str]:
        return [column["name"] for column in self.schema]


def artifact_upload_path(instance: ModelVersion, filename: str) -> str:
    return f"models/{instance.model_id}/{uuid.uuid4().hex}.skops"


class RegisteredModel(models.Model):
    """A model in the registry; its trained artifacts are its versions."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=200)
    task = models.CharField(max_length=20, choices=ModelTask.choices)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_models",
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="models")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RegisteredModelQuerySet.as_manager()

    class Meta:
        verbose_name = "model"
        ordering = ["project__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="unique_model_name")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("model-detail", args=[self.pk])

    def next_version_number(self) -> int:
        current = self.versions.aggregate(highest=Max("version"))["highest"]
        return (current or 0) + 1


class ModelVersion(models.Model):
    """One trained artifact with everything needed to say how it was built.

    Immutable once created, except its stage (changed through `change_stage`, which
    records who moved it and when)."""

    MUTABLE_FIELDS = frozenset(
        {
            "stage",
            "stage_changed_at",
            "needs_review",
            "needs_review_reason",
            "drift_status",
            "drift_checked_at",
        }
    )

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    description = models.TextField(blank=True)
    artifact = models.FileField(upload_to=artifact_upload_path, max_length=500)
    artifact_sha256 = models.CharField(max_length=64)
    artifact_size = models.BigIntegerField()
    estimator_class = models.CharField(max_length=300, blank=True)
    framework = models.CharField(max_length=100, default="scikit-learn")
    framework_version = models.CharField(max_length=50, blank=True)
    hyperparameters = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    training_dataset_version = models.ForeignKey(
        DatasetVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="trained_model_versions",
    )
    evaluation_dataset_version = models.ForeignKey(
        DatasetVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="evaluated_model_versions",
    )
    code_repository = models.CharField(max_length=500, blank=True)
    code_commit = models.CharField(max_length=100, blank=True)
    python_version = models.CharField(max_length=50, blank=True)
    packages = models.JSONField(
        default=dict, blank=True, help_text="Package name → version in the training environment."
    )
    signature = models.JSONField(
        default=list, blank=True, help_text='Input features: [{"name": ..., "type": ...}].'
    )
    target_column = models.CharField(max_length=200, blank=True)
    produced_by_run = models.ForeignKey(
        "PipelineRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="model_versions",
        help_text="The training run (as reported through OpenLineage) that made it.",
    )
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NONE)
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    needs_review = models.BooleanField(default=False)
    needs_review_reason = models.TextField(blank=True)
    # The decision of the latest drift analysis (monitoring app), kept here so the catalog,
    # the home page and the lineage graph show it without a join.
    drift_status = models.CharField(
        max_length=20, choices=DriftStatus.choices, default=DriftStatus.NOT_ANALYSED
    )
    drift_checked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["model", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["model", "version"], name="unique_model_version")
        ]
        indexes = [models.Index(fields=["stage"])]

    def __str__(self) -> str:
        return f"{self.model.name} v{self.version}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            update_fields = kwargs.get("update_fields")
            if update_fields is None or not set(update_fields) <= self.MUTABLE_FIELDS:
                raise ImmutableError(
                    "A model version is immutable; only its stage can change after creation."
                )
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("model-version-detail", args=[self.model_id, self.version])

    @transaction.atomic
    def change_stage(self, to_stage: str, user: Any, comment: str = "") -> StageTransition:
        """Move to another stage and record it; only one version of a model is in production."""
        from_stage = self.stage
        now = timezone.now()
        if to_stage == Stage.PRODUCTION:
            for current in self.model.versions.filter(stage=Stage.PRODUCTION).exclude(pk=self.pk):
                current.change_stage(Stage.ARCHIVED, user, f"Replaced by version {self.version}")
        self.stage = to_stage
        self.stage_changed_at = now
        self.save(update_fields=["stage", "stage_changed_at"])
        return StageTransition.objects.create(
            model_version=self,
            from_stage=from_stage,
            to_stage=to_stage,
            changed_by=user if getattr(user, "is_authenticated", False) else None,
            changed_at=now,
            comment=comment,
        )


class StageTransition(models.Model):
    """The history of a model version's stage: who moved it, from what to what, when."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="stage_transitions"
    )
    from_stage = models.CharField(max_length=20, choices=Stage.choices)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-changed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.model_version}: {self.from_stage} → {self.to_stage}"


class JobQuerySet(models.QuerySet["Job"]):
    def for_target(self, target: models.Model) -> JobQuerySet:
        """The jobs that worked on `target`, newest first."""
        return self.filter(
            target_type=ContentType.objects.get_for_model(target), target_id=target.pk
        ).order_by("-created_at", "-pk")


class Job(models.Model):
    """A background operation (profiling now; quality runs and drift analyses later):
    its state, progress and a readable error, shown in the UI and the API."""

    job_type = models.CharField(max_length=50, choices=JobType.choices)
    state = models.CharField(max_length=20, choices=JobState.choices, default=JobState.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="jobs")
    target_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    target_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The Celery task that claimed the job: if its worker dies, the broker redelivers that
    # same task, which may then take the job over again.
    worker_task_id = models.CharField(max_length=255, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["target_type", "target_id"]),
            models.Index(fields=["state"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_job_type_display()} #{self.pk} ({self.state})"

    def get_absolute_url(self) -> str:
        return reverse("job-detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.state in (JobState.SUCCEEDED, JobState.FAILED)

    @property
    def result_url(self) -> str | None:
        """Where the job's outcome is shown: its target's page."""
        target = self.target
        return target.get_absolute_url() if target is not None else None

    def claim(self, task_id: str = "") -> bool:
        """Take the job for this worker; False if another has it, it is done, or it is gone.

        A job left running by a worker that died is taken over only by the redelivery of
        the same task (same task id), never by a duplicate message."""
        now = timezone.now()
        claimable = Q(state=JobState.QUEUED)
        if task_id:
            claimable |= Q(state=JobState.RUNNING, worker_task_id=task_id)
        claimed = Job.objects.filter(claimable, pk=self.pk).update(
            state=JobState.RUNNING,
            started_at=now,
            attempts=models.F("attempts") + 1,
            progress=0,
            worker_task_id=task_id,
        )
        if claimed:
            self.refresh_from_db()
        return bool(claimed)

    def set_progress(self, percent: float) -> None:
        self.progress = max(0, min(100, round(percent)))
        Job.objects.filter(pk=self.pk).update(progress=self.progress)

    def succeed(self) -> None:
        self.state, self.progress, self.finished_at = JobState.SUCCEEDED, 100, timezone.now()
        self.save(update_fields=["state", "progress", "finished_at"])

    def fail(self, error: str) -> None:
        self.state, self.error, self.finished_at = JobState.FAILED, error, timezone.now()
        self.save(update_fields=["state", "error", "finished_at"])

    def requeue(self) -> bool:
        """Put a failed job back in the queue (the retry button); False unless it had failed."""
        return bool(
            Job.objects.filter(pk=self.pk, state=JobState.FAILED).update(
                state=JobState.QUEUED, progress=0, error="", started_at=None, finished_at=None
            )
        )


# Lineage ----------------------------------------------------------------------------------


class PipelineJob(models.Model):
    """A job that pipelines report (an Airflow task, a Spark app, a dbt model…), named as
    OpenLineage names it: namespace + name."""

    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="pipeline_jobs"
    )
    namespace = models.CharField(max_length=500)
    name = models.CharField(max_length=1000)
    description = models.TextField(blank=True)
    facets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace", "name"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "name"], name="unique_pipeline_job")
        ]

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class PipelineRun(models.Model):
    """One run of a pipeline job (OpenLineage runId), with its latest known state."""

    job = models.ForeignKey(PipelineJob, on_delete=models.CASCADE, related_name="runs")
    run_id = models.UUIDField(unique=True)
    state = models.CharField(max_length=20, choices=RunState.choices, default=RunState.START)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    last_event_time = models.DateTimeField(null=True, blank=True)
    facets = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.job} run {self.run_id}"


class LineageEvent(models.Model):
    """Every OpenLineage event received, kept as sent. The digest of its canonical JSON
    makes a re-sent event a no-op."""

    run = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=20, choices=RunState.choices)
    event_time = models.DateTimeField()
    payload = models.JSONField()
    digest = models.CharField(max_length=64, unique=True)
    received_at = models.DateTimeField(auto_now_add=True)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["event_time", "pk"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.run.run_id} at {self.event_time:%Y-%m-%d %H:%M:%S}"


class Deployment(models.Model):
    """Where a model version serves (an environment and an endpoint)."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="deployments"
    )
    name = models.CharField(max_length=200)
    environment = models.CharField(max_length=100, default="production")
    endpoint = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.name} ({self.environment})"


class LineageNode(models.Model):
    """A vertex of the lineage graph, standing for one catalog or pipeline object.

    The graph lives in two plain tables (nodes, edges) so that upstream and downstream
    walks run in the database as one recursive query."""

    kind = models.CharField(max_length=20, choices=NodeKind.choices)
    object_id = models.BigIntegerField()
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="lineage_nodes"
    )
    label = models.CharField(max_length=500)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="one_node_per_object")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.label}"


class LineageEdge(models.Model):
    """A directed edge in the direction data flows (source is upstream of target)."""

    source = models.ForeignKey(LineageNode, on_delete=models.CASCADE, related_name="out_edges")
    target = models.ForeignKey(LineageNode, on_delete=models.CASCADE, related_name="in_edges")
    kind = models.CharField(max_length=20, choices=EdgeKind.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="unique_lineage_edge")
        ]
        indexes = [models.Index(fields=["target", "source"], name="lineage_edge_upstream")]

    def __str__(self) -> str:
        return f"{self.source} —{self.kind}→ {self.target}"


# Governance -------------------------------------------------------------------------------


class Review(models.Model):
    """A governance review of moving a model version to production: requested by one
    person, decided by another with the reviewer role, against a checklist the portal
    fills in itself."""

    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.CASCADE, related_name="reviews"
    )
    target_stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.PRODUCTION)
    stage_at_request = models.CharField(max_length=20, choices=Stage.choices)
    state = models.CharField(
        max_length=20, choices=ReviewState.choices, default=ReviewState.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    request_comment = models.TextField(blank=True)
    checklist = models.JSONField(default=list, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version"],
                condition=Q(state="pending"),
                name="one_pending_review_per_version",
            )
        ]

    def __str__(self) -> str:
        return f"Review of {self.model_version} → {self.target_stage} ({self.state})"


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise ImmutableError("Audit entries are append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise ImmutableError("Audit entries are append-only.")


class AuditEntry(models.Model):
    """One recorded action: who, when, what, before and after. Append-only: the model,
    its queryset and (on PostgreSQL) a trigger refuse changes and deletions."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    # No cascade and no constraint: deleting a user must not rewrite history (the append-only
    # trigger would refuse it); actor_name keeps who it was.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=30, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=100, blank=True)
    object_repr = models.CharField(max_length=500, blank=True)
    project = models.ForeignKey(
        Project,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["object_type", "object_id"]),
            models.Index(fields=["actor_name", "at"]),
            models.Index(fields=["action", "at"]),
        ]

    def __str__(self) -> str:
        who = self.actor_name or "system"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.object_repr}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableError("Audit entries are append-only.")


class Notification(models.Model):
    """An in-app message to one user (a version needs review, data expired…)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    message = models.TextField()
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return f"To {self.user}: {self.message[:60]}"
