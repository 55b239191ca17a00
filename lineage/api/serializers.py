"""API shapes of the catalog. Writes go through lineage.services, as the UI's do."""

from __future__ import annotations

import math
import re
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lineage.choices import QualityStatus, Role, Sensitivity, Stage
from lineage.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    Job,
    Membership,
    ModelVersion,
    Project,
    RegisteredModel,
    StageTransition,
    Tag,
)
from lineage.permissions import (
    can_contribute,
    visible_datasets,
    visible_profile,
    visible_projects,
)

TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")


def normalise_tags(values: list[str]) -> list[str]:
    """Tags are lower-case words; refuse anything else with the offending tag named."""
    tags = []
    for raw in values:
        tag = raw.strip().lower()
        if not tag:
            continue
        if not TAG_PATTERN.match(tag):
            raise serializers.ValidationError(
                f"'{raw}' is not a valid tag: use letters, digits, '-', '_', '.' or ':'."
            )
        tags.append(tag)
    return sorted(set(tags))


def set_tags(instance: Dataset | RegisteredModel, names: list[str]) -> None:
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=name) for name in names if name not in existing]
    created = Tag.objects.bulk_create(missing, ignore_conflicts=True)
    if created:
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    instance.tags.set(list(existing.values()))


class TagListField(serializers.ListField):
    child = serializers.CharField(max_length=64)

    def to_representation(self, data: Any) -> list[str]:
        return [tag.name for tag in data.all()]

    def to_internal_value(self, data: Any) -> list[str]:
        if isinstance(data, str):
            data = [part for part in data.split(",")]
        return normalise_tags(super().to_internal_value(data))


class OwnerField(serializers.SlugRelatedField):
    """The owner by username; the creator when not given."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("queryset", get_user_model().objects.all())
        super().__init__(slug_field="username", **kwargs)


class ProjectField(serializers.SlugRelatedField):
    """A project by slug, among those the user may see; writing needs the contributor role."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(slug_field="slug", **kwargs)

    def get_queryset(self) -> Any:
        return visible_projects(self.context["request"].user)

    def to_internal_value(self, data: Any) -> Project:
        project = super().to_internal_value(data)
        if not can_contribute(self.context["request"].user, project):
            raise serializers.ValidationError(
                "You need the contributor role in this project to add to it."
            )
        return project


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.SlugRelatedField(source="user", slug_field="username", read_only=True)

    class Meta:
        model = Membership
        fields = ["username", "role"]


class ProjectSerializer(serializers.ModelSerializer):
    has_webhook = serializers.SerializerMethodField()
    dataset_count = serializers.IntegerField(read_only=True)
    model_count = serializers.IntegerField(read_only=True)
    members = MembershipSerializer(source="memberships", many=True, read_only=True)

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "webhook_url",
            "has_webhook",
            "dataset_count",
            "model_count",
            "members",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        # The URL may carry a secret token: it is written, never read back.
        extra_kwargs = {"webhook_url": {"write_only": True}}

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_has_webhook(self, obj: Project) -> bool:
        return bool(obj.webhook_url)

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> Project:
        user = self.context["request"].user
        project = Project.objects.create(created_by=user, **validated_data)
        Membership.objects.create(project=project, user=user, role=Role.ADMIN)
        return project


class DatasetSerializer(serializers.ModelSerializer):
    project = ProjectField()
    owner = OwnerField()
    tags = TagListField(required=False)
    version_count = serializers.IntegerField(read_only=True)
    latest_version = serializers.IntegerField(read_only=True)
    latest_quality = serializers.ChoiceField(
        choices=QualityStatus.choices,
        read_only=True,
        allow_null=True,
        help_text="The quality status of the newest version.",
    )
    is_external = serializers.BooleanField(read_only=True)

    class Meta:
        model = Dataset
        # Uniqueness is checked in validate(), which names the field at fault.
        validators: list[Any] = []
        fields = [
            "id",
            "project",
            "name",
            "description",
            "owner",
            "tags",
            "sensitivity",
            "retain_until",
            "column_sensitivity",
            "namespace",
            "source_name",
            "is_external",
            "version_count",
            "latest_version",
            "latest_quality",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["namespace", "source_name", "created_at", "updated_at"]

    def validate_column_sensitivity(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise serializers.ValidationError('Give {"column": "pii", ...}.')
        allowed = set(Sensitivity.values)
        for column, sensitivity in value.items():
            if sensitivity not in allowed:
                choices = ", ".join(sorted(allowed))
                raise serializers.ValidationError(
                    f"Column '{column}': '{sensitivity}' is not one of {choices}."
                )
        return {str(column): str(sensitivity) for column, sensitivity in value.items()}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        project = attrs.get("project") or getattr(self.instance, "project", None)
        name = attrs.get("name") or getattr(self.instance, "name", None)
        clash = Dataset.objects.filter(project=project, name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
            if "project" in attrs and attrs["project"] != self.instance.project:
                raise serializers.ValidationError({"project": "A dataset cannot change project."})
        if clash.exists():
            raise serializers.ValidationError(
                {"name": f"This project already has a dataset '{name}'."}
            )
        return attrs

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> Dataset:
        tags = validated_data.pop("tags", [])
        validated_data.setdefault("owner", self.context["request"].user)
        dataset = Dataset.objects.create(**validated_data)
        set_tags(dataset, tags)
        return dataset

    @transaction.atomic
    def update(self, instance: Dataset, validated_data: dict[str, Any]) -> Dataset:
        tags = validated_data.pop("tags", None)
        instance = super().update(instance, validated_data)
        if tags is not None:
            set_tags(instance, tags)
        return instance


class DatasetVersionSerializer(serializers.ModelSerializer):
    """A version in lists: everything but the (large) profile."""

    project = serializers.SlugRelatedField(
        source="dataset.project", slug_field="slug", read_only=True
    )
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = DatasetVersion
        fields = [
            "id",
            "project",
            "dataset",
            "dataset_name",
            "version",
            "format",
            "external_uri",
            "original_filename",
            "sha256",
            "size_bytes",
            "row_count",
            "schema",
            "profile_status",
            "profile_error",
            "quality_status",
            "quality_checked_at",
            "source",
            "description",
            "created_by",
            "created_at",
            "download_url",
            "destroyed_at",
            "destruction_reason",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_download_url(self, obj: DatasetVersion) -> str | None:
        if not obj.file:
            return None
        request = self.context.get("request")
        path = f"/datasets/{obj.dataset_id}/versions/{obj.version}/download"
        return request.build_absolute_uri(path) if request else path


class DatasetVersionDetailSerializer(DatasetVersionSerializer):
    profile = serializers.SerializerMethodField(
        help_text="Per column statistics; PII columns show only their shape to non-members."
    )

    class Meta(DatasetVersionSerializer.Meta):
        fields = [*DatasetVersionSerializer.Meta.fields, "profile"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_profile(self, obj: DatasetVersion) -> dict[str, Any] | None:
        request = self.context.get("request")
        return visible_profile(obj.profile, obj.dataset, getattr(request, "user", None))


@extend_schema_field(OpenApiTypes.INT)
class VisibleDatasetField(serializers.PrimaryKeyRelatedField):
    """A dataset id among those the user may see: another project's PII dataset reads as
    missing, like any id that does not exist."""

    def get_queryset(self) -> Any:
        return visible_datasets(self.context["request"].user).select_related("project")


@extend_schema_field(OpenApiTypes.INT)
class VisibleModelVersionField(serializers.PrimaryKeyRelatedField):
    """A model version id among the projects the user may see."""

    def get_queryset(self) -> Any:
        return ModelVersion.objects.filter(
            model__project__in=visible_projects(self.context["request"].user)
        ).select_related("model__project")


class DatasetVersionCreateSerializer(serializers.Serializer):
    """Either a `file` (multipart) or an `external_uri` (JSON), for one dataset."""

    dataset = VisibleDatasetField()
    file = serializers.FileField(
        required=False, allow_empty_file=True, help_text="A .csv or .parquet file."
    )
    external_uri = serializers.CharField(
        required=False,
        max_length=2000,
        help_text="For data that lives elsewhere, e.g. s3://bucket/key.",
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    schema = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        required=False,
        help_text='With external_uri: [{"name": ..., "type": ...}].',
    )
    row_count = serializers.IntegerField(required=False, min_value=0)

    def validate_dataset(self, dataset: Dataset) -> Dataset:
        user = self.context["request"].user
        if not can_contribute(user, dataset.project):
            raise serializers.ValidationError(
                "You need the contributor role in this project to add versions."
            )
        return dataset

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_file, has_uri = "file" in attrs, bool(attrs.get("external_uri"))
        if has_file == has_uri:
            raise serializers.ValidationError(
                "Send either a file (multipart) or an external_uri, not both and not neither."
            )
        return attrs


class StageTransitionSerializer(serializers.ModelSerializer):
    changed_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = StageTransition
        fields = ["from_stage", "to_stage", "changed_by", "changed_at", "comment"]


class RegisteredModelSerializer(serializers.ModelSerializer):
    project = ProjectField()
    owner = OwnerField()
    tags = TagListField(required=False)
    version_count = serializers.IntegerField(read_only=True)
    latest_version = serializers.IntegerField(read_only=True)
    production_version = serializers.IntegerField(read_only=True)

    class Meta:
        model = RegisteredModel
        # Uniqueness is checked in validate(), which names the field at fault.
        validators: list[Any] = []
        fields = [
            "id",
            "project",
            "name",
            "task",
            "description",
            "owner",
            "tags",
            "version_count",
            "latest_version",
            "production_version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        project = attrs.get("project") or getattr(self.instance, "project", None)
        name = attrs.get("name") or getattr(self.instance, "name", None)
        clash = RegisteredModel.objects.filter(project=project, name=name)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
            if "project" in attrs and attrs["project"] != self.instance.project:
                raise serializers.ValidationError({"project": "A model cannot change project."})
            if (
                "task" in attrs
                and attrs["task"] != self.instance.task
                and self.instance.versions.exists()
            ):
                raise serializers.ValidationError(
                    {"task": "The task cannot change once the model has versions."}
                )
        if clash.exists():
            raise serializers.ValidationError(
                {"name": f"This project already has a model '{name}'."}
            )
        return attrs

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> RegisteredModel:
        tags = validated_data.pop("tags", [])
        validated_data.setdefault("owner", self.context["request"].user)
        model = RegisteredModel.objects.create(**validated_data)
        set_tags(model, tags)
        return model

    @transaction.atomic
    def update(self, instance: RegisteredModel, validated_data: dict[str, Any]) -> RegisteredModel:
        tags = validated_data.pop("tags", None)
        instance = super().update(instance, validated_data)
        if tags is not None:
            set_tags(instance, tags)
        return instance


class FeatureSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=50)


PIP_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*([^\s;#]+))?")


def parse_packages(value: Any) -> dict[str, str]:
    """Packages as a {name: version} mapping, a list of 'name==version', or pip-freeze text."""
    if isinstance(value, dict):
        return {str(name): str(version) for name, version in value.items()}
    lines = value.splitlines() if isinstance(value, str) else value
    if not isinstance(lines, list):
        raise serializers.ValidationError(
            "Give packages as {name: version}, a list of 'name==version' or pip freeze text."
        )
    packages: dict[str, str] = {}
    for line in lines:
        text = str(line).strip()
        if not text or text.startswith(("#", "-")):
            continue
        match = PIP_LINE.match(text)
        if not match:
            raise serializers.ValidationError(f"'{text}' is not a package line (name==version).")
        packages[match.group(1)] = match.group(2) or ""
    return packages


class PackagesField(serializers.Field):
    def to_internal_value(self, data: Any) -> dict[str, str]:
        return parse_packages(data)

    def to_representation(self, value: Any) -> Any:
        return value


class MetricsField(serializers.DictField):
    child = serializers.FloatField()

    def to_internal_value(self, data: Any) -> dict[str, float]:
        metrics = super().to_internal_value(data)
        for name, value in metrics.items():
            if not math.isfinite(value):
                raise serializers.ValidationError(f"Metric '{name}' is not a finite number.")
        return metrics


class ModelVersionMetadataSerializer(serializers.Serializer):
    """The `metadata` part that travels with an artifact upload."""

    description = serializers.CharField(required=False, allow_blank=True, default="")
    training_dataset_version = serializers.IntegerField(required=False, allow_null=True)
    evaluation_dataset_version = serializers.IntegerField(required=False, allow_null=True)
    target_column = serializers.CharField(required=False, allow_blank=True, default="")
    hyperparameters = serializers.DictField(required=False)
    metrics = MetricsField(required=False)
    code_repository = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=500
    )
    code_commit = serializers.RegexField(
        r"^[0-9A-Za-z._/-]{0,100}$",
        required=False,
        allow_blank=True,
        default="",
        error_messages={"invalid": "A commit is a hash or tag (letters, digits, . _ / -)."},
    )
    python_version = serializers.RegexField(
        r"^\d+(\.\d+){0,2}\S*$",
        required=False,
        allow_blank=True,
        default="",
        error_messages={"invalid": "A Python version looks like 3.11.7."},
    )
    framework_version = serializers.CharField(required=False, allow_blank=True, default="")
    packages = PackagesField(required=False)
    signature = FeatureSerializer(many=True, required=False)
    pipeline_run_id = serializers.UUIDField(
        required=False, help_text="The OpenLineage runId of the training run that made it."
    )


class ModelVersionSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(
        source="model.project", slug_field="slug", read_only=True
    )
    model_name = serializers.CharField(source="model.name", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    stage_history = StageTransitionSerializer(source="stage_transitions", many=True, read_only=True)
    produced_by_run = serializers.SlugRelatedField(slug_field="run_id", read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "project",
            "model",
            "model_name",
            "version",
            "description",
            "estimator_class",
            "framework",
            "framework_version",
            "artifact_sha256",
            "artifact_size",
            "hyperparameters",
            "metrics",
            "training_dataset_version",
            "evaluation_dataset_version",
            "target_column",
            "produced_by_run",
            "code_repository",
            "code_commit",
            "python_version",
            "packages",
            "signature",
            "stage",
            "stage_changed_at",
            "stage_history",
            "needs_review",
            "needs_review_reason",
            "drift_status",
            "drift_checked_at",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class ModelVersionCreateSerializer(serializers.Serializer):
    """Multipart: the skops `artifact` and a JSON `metadata` part."""

    model = serializers.PrimaryKeyRelatedField(
        queryset=RegisteredModel.objects.select_related("project")
    )
    artifact = serializers.FileField(
        allow_empty_file=True, help_text="A scikit-learn estimator saved with skops.io.dump."
    )
    metadata = serializers.JSONField(
        required=False, binary=True, help_text="JSON text: see ModelVersionMetadata."
    )

    def validate_model(self, model: RegisteredModel) -> RegisteredModel:
        user = self.context["request"].user
        if model.project not in visible_projects(user):
            raise serializers.ValidationError(f'Invalid pk "{model.pk}" - object does not exist.')
        if not can_contribute(user, model.project):
            raise serializers.ValidationError(
                "You need the contributor role in this project to register versions."
            )
        return model

    def validate_metadata(self, value: Any) -> dict[str, Any]:
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise serializers.ValidationError("metadata must be a JSON object.")
        inner = ModelVersionMetadataSerializer(data=value)
        inner.is_valid(raise_exception=True)
        return dict(inner.validated_data)


class StageChangeSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices)
    comment = serializers.CharField(required=False, allow_blank=True, default="")


class JobSerializer(serializers.ModelSerializer):
    target_type = serializers.CharField(source="target_type.model", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    result_url = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "job_type",
            "state",
            "progress",
            "project",
            "target_type",
            "target_id",
            "result_url",
            "error",
            "attempts",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_result_url(self, obj: Job) -> str | None:
        return obj.result_url


class ClassificationField(serializers.SerializerMethodField):
    """Which sensitivities and tags reach the object along lineage, and through which path
    (computed on read; see lineage.propagation)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(method_name="get_classification", **kwargs)


class ClassifiedMixin:
    @extend_schema_field(
        {
            "type": "object",
            "properties": {
                "highest_sensitivity": {"type": "string", "nullable": True},
                "sensitivities": {"type": "array", "items": {"type": "object"}},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        }
    )
    def get_classification(self, obj: Any) -> dict[str, Any]:
        from lineage.propagation import classify

        request = self.context.get("request")  # type: ignore[attr-defined]
        return classify(obj, getattr(request, "user", None)).as_dict()


class DatasetDetailSerializer(ClassifiedMixin, DatasetSerializer):
    classification = ClassificationField()

    class Meta(DatasetSerializer.Meta):
        fields = [*DatasetSerializer.Meta.fields, "classification"]


class ModelVersionDetailSerializer(ClassifiedMixin, ModelVersionSerializer):
    classification = ClassificationField()

    class Meta(ModelVersionSerializer.Meta):
        fields = [*ModelVersionSerializer.Meta.fields, "classification"]
        read_only_fields = fields


class DeploymentSerializer(serializers.ModelSerializer):
    """Where a model version serves; recording one adds it to the lineage graph."""

    model_version = VisibleModelVersionField()
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "model_version",
            "name",
            "environment",
            "endpoint",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["created_by", "created_at"]

    def validate_model_version(self, version: ModelVersion) -> ModelVersion:
        if not can_contribute(self.context["request"].user, version.model.project):
            raise serializers.ValidationError(
                "You need the contributor role in this project to record deployments."
            )
        return version
