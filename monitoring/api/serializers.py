"""Serializers of the quality API. Suites take their checks as a JSON list validated by
`monitoring.checks`; run results are masked per viewer (PII columns)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lineage.api.serializers import JobSerializer, VisibleDatasetField
from lineage.permissions import may_see_pii, visible_dataset_versions
from monitoring import checks, services
from monitoring.choices import ScheduleKind
from monitoring.models import QualityCheckResult, QualityRun, QualitySuite, QualitySuiteVersion


@extend_schema_field(
    {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "type": {"type": "string", "enum": list(checks.CHECK_TYPES)},
                "severity": {"type": "string", "enum": ["warn", "fail"]},
                "column": {"type": "string"},
            },
            "required": ["type"],
            "additionalProperties": True,
        },
        "description": "Checks as JSON objects: `type`, `severity` (warn or fail), and the "
        "type's parameters (see the README's table of check types).",
    }
)
class ChecksField(serializers.JSONField):
    """A suite's current checks: a list of definitions, refused with the faulty field named
    (`checks[2].min`). Bound to the whole suite (`source="*"`), since the checks live on
    its current version."""

    def to_internal_value(self, data: Any) -> dict[str, list[dict[str, Any]]]:
        try:
            return {"checks": services.validate_checks(data)}
        except services.QualityError as exc:
            raise serializers.ValidationError(f"{exc.field}: {exc.message}") from exc

    def to_representation(self, value: Any) -> list[dict[str, Any]]:
        latest = _current_version(value)
        return latest.checks if latest else []


@extend_schema_field(OpenApiTypes.INT)
class VisibleDatasetVersionField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self) -> Any:
        return visible_dataset_versions(self.context["request"].user).select_related(
            "dataset__project"
        )


class QualitySuiteVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = QualitySuiteVersion
        fields = ["version", "checks", "change_note", "created_by", "created_at"]
        read_only_fields = fields


class QualitySuiteSerializer(serializers.ModelSerializer):
    dataset = VisibleDatasetField()
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    project = serializers.SlugRelatedField(
        source="dataset.project", slug_field="slug", read_only=True
    )
    version = serializers.IntegerField(source="current_version", read_only=True)
    checks = ChecksField(source="*", help_text="Replacing the checks saves a new suite version.")
    change_note = serializers.CharField(
        write_only=True, required=False, allow_blank=True, max_length=300
    )
    schedule_kind = serializers.ChoiceField(choices=ScheduleKind.choices, required=False)
    schedule_cron = serializers.CharField(required=False, allow_blank=True, max_length=100)
    latest_status = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = QualitySuite
        fields = [
            "id",
            "dataset",
            "dataset_name",
            "project",
            "description",
            "version",
            "checks",
            "change_note",
            "run_on_new_versions",
            "schedule_kind",
            "schedule_cron",
            "latest_status",
            "created_at",
            "updated_at",
            "url",
        ]
        read_only_fields = ["id", "version", "created_at", "updated_at"]

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            fields["dataset"].read_only = True
        return fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_latest_status(self, obj: QualitySuite) -> str:
        """The quality status of the dataset's newest version."""
        versions = getattr(obj.dataset, "newest_versions", None)
        newest = versions[0] if versions else obj.dataset.versions.order_by("-version").first()
        return newest.quality_status if newest else "not_checked"

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, obj: QualitySuite) -> str:
        return obj.get_absolute_url()

    def validate_dataset(self, dataset: Any) -> Any:
        if QualitySuite.objects.filter(dataset=dataset).exists():
            raise serializers.ValidationError(
                f"{dataset.name} has a quality suite already: change its checks with PUT or "
                "PATCH on it."
            )
        return dataset


def _current_version(suite: QualitySuite) -> QualitySuiteVersion | None:
    prefetched = getattr(suite, "all_versions", None)
    if prefetched is None:
        return suite.latest
    return next((row for row in prefetched if row.version == suite.current_version), None)


class CheckResultSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="check_type", read_only=True)
    state = serializers.CharField(source="state_word", read_only=True)
    message = serializers.SerializerMethodField()
    observed = serializers.SerializerMethodField()
    sample_rows = serializers.SerializerMethodField()
    distribution = serializers.SerializerMethodField()

    class Meta:
        model = QualityCheckResult
        fields = [
            "name",
            "type",
            "column",
            "severity",
            "outcome",
            "state",
            "message",
            "failing_count",
            "failing_fraction",
            "observed",
            "definition",
            "sample_rows",
            "distribution",
        ]
        read_only_fields = fields

    def _reveal(self) -> bool:
        return bool(self.context.get("reveal_pii", False))

    @extend_schema_field(OpenApiTypes.STR)
    def get_message(self, obj: QualityCheckResult) -> str:
        return services.masked_message(
            obj.message,
            obj.column,
            self.context["dataset"],
            reveal=self._reveal(),
            failing_count=obj.failing_count,
        )

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_observed(self, obj: QualityCheckResult) -> dict[str, Any]:
        return services.masked_observed(
            obj.observed, obj.column, self.context["dataset"], reveal=self._reveal()
        )

    @extend_schema_field({"type": "array", "items": {"type": "object"}})
    def get_sample_rows(self, obj: QualityCheckResult) -> list[dict[str, Any]]:
        return services.masked_rows(obj.sample_rows, self.context["dataset"], reveal=self._reveal())

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_distribution(self, obj: QualityCheckResult) -> dict[str, Any] | None:
        return services.masked_distribution(
            obj.distribution, obj.column, self.context["dataset"], reveal=self._reveal()
        )


class QualityRunSerializer(serializers.ModelSerializer):
    dataset = serializers.IntegerField(source="dataset_version.dataset_id", read_only=True)
    dataset_name = serializers.CharField(source="dataset_version.dataset.name", read_only=True)
    version = serializers.IntegerField(source="dataset_version.version", read_only=True)
    suite_version = serializers.IntegerField(source="suite_version.version", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = QualityRun
        fields = [
            "id",
            "dataset",
            "dataset_name",
            "dataset_version",
            "version",
            "suite_version",
            "state",
            "status",
            "trigger",
            "error",
            "row_count",
            "checks_passed",
            "checks_failed",
            "checks_warned",
            "checks_errored",
            "duration_seconds",
            "created_by",
            "created_at",
            "finished_at",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, obj: QualityRun) -> str:
        return obj.get_absolute_url()


class QualityRunDetailSerializer(QualityRunSerializer):
    results = serializers.SerializerMethodField()

    class Meta(QualityRunSerializer.Meta):
        fields = [*QualityRunSerializer.Meta.fields, "results"]
        read_only_fields = fields

    @extend_schema_field(CheckResultSerializer(many=True))
    def get_results(self, obj: QualityRun) -> list[dict[str, Any]]:
        dataset = obj.dataset_version.dataset
        request = self.context.get("request")
        context = {
            **self.context,
            "dataset": dataset,
            "reveal_pii": may_see_pii(getattr(request, "user", None), dataset.project),
        }
        return CheckResultSerializer(obj.results.all(), many=True, context=context).data


class QualityRunCreateSerializer(serializers.Serializer):
    dataset_version = VisibleDatasetVersionField(help_text="The dataset version to check.")


class QualityRunStartedSerializer(QualityRunSerializer):
    job = serializers.SerializerMethodField()

    class Meta(QualityRunSerializer.Meta):
        fields = [*QualityRunSerializer.Meta.fields, "job"]
        read_only_fields = fields

    @extend_schema_field(JobSerializer)
    def get_job(self, obj: QualityRun) -> dict[str, Any] | None:
        job = getattr(obj, "job", None) or services.job_of(obj)
        return JobSerializer(job).data if job else None


class SuggestedSuiteSerializer(serializers.Serializer):
    dataset_version = serializers.IntegerField()
    version = serializers.IntegerField(help_text="The dataset version's number.")
    checks = serializers.ListField(
        child=serializers.JSONField(),
        help_text="Check definitions, ready to POST as a suite's `checks`; each description "
        "says what was observed.",
    )


class CheckPreviewRequestSerializer(serializers.Serializer):
    dataset_version = VisibleDatasetVersionField(
        required=False,
        help_text="The version to try the check on; the dataset's latest stored version "
        "when omitted (then give `dataset`).",
    )
    dataset = VisibleDatasetField(required=False)
    check = serializers.JSONField(help_text="One check definition.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "dataset_version" not in attrs:
            dataset = attrs.get("dataset")
            if dataset is None:
                raise serializers.ValidationError(
                    {"dataset_version": ["Give dataset_version or dataset."]}
                )
            latest = services.latest_checkable_version(dataset)
            if latest is None:
                raise serializers.ValidationError(
                    {"dataset": [f"{dataset.name} has no stored version to preview against."]}
                )
            attrs["dataset_version"] = latest
        return attrs
