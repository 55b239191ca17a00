"""Drift API: start an analysis (202 with its job), read stored results, and a model's
drift settings (thresholds, windowing, schedule)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage.api.serializers import JobSerializer, VisibleModelVersionField
from lineage.choices import JobState
from lineage.models import RegisteredModel
from lineage.permissions import CatalogPermission, can_contribute, visible_projects
from monitoring import drift_runs
from monitoring.api.serializers import VisibleDatasetVersionField
from monitoring.api.views import refusal
from monitoring.choices import CurrentSource, RunTrigger, ScheduleKind, WindowFrequency
from monitoring.models import DriftAnalysis, DriftSettings
from monitoring.permissions import visible_analyses


class DriftAnalysisFilterSet(django_filters.FilterSet):
    model = django_filters.NumberFilter(field_name="model_version__model_id", label="Model id")
    model_version = django_filters.NumberFilter(field_name="model_version_id")
    project = django_filters.CharFilter(
        field_name="model_version__model__project__slug", label="Project (slug)"
    )
    drifted = django_filters.BooleanFilter()
    state = django_filters.ChoiceFilter(choices=JobState.choices)

    class Meta:
        model = DriftAnalysis
        fields = ["model", "model_version", "project", "drifted", "state"]


class DriftAnalysisSerializer(serializers.ModelSerializer):
    model = serializers.IntegerField(source="model_version.model_id", read_only=True)
    model_name = serializers.CharField(source="model_version.model.name", read_only=True)
    version = serializers.IntegerField(source="model_version.version", read_only=True)
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    current = serializers.CharField(source="current_label", read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = DriftAnalysis
        fields = [
            "id",
            "model",
            "model_name",
            "model_version",
            "version",
            "reference_version",
            "current_source",
            "current_version",
            "current_start",
            "current_end",
            "current",
            "window_column",
            "window_frequency",
            "thresholds",
            "trigger",
            "state",
            "error",
            "drifted",
            "drift_share",
            "score",
            "domain_auc",
            "domain_auc_low",
            "domain_auc_high",
            "domain_p_value",
            "reference_rows",
            "current_rows",
            "duration_seconds",
            "created_by",
            "created_at",
            "finished_at",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, obj: DriftAnalysis) -> str:
        return obj.get_absolute_url()


class DriftAnalysisDetailSerializer(DriftAnalysisSerializer):
    result = serializers.SerializerMethodField(
        help_text="features (per feature: status, tests, statistic, p_value, "
        "p_value_adjusted, effect sizes, drifted, reasons, histograms), domain_classifier "
        "(auc, auc_low, auc_high, p_value, importances, most_unlike), prediction, windows, "
        "summary (drifted, drift_share, drifted_features, reasons, score), messages.",
    )
    job = serializers.SerializerMethodField()

    class Meta(DriftAnalysisSerializer.Meta):
        fields = [*DriftAnalysisSerializer.Meta.fields, "job", "result"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_result(self, obj: DriftAnalysis) -> dict[str, Any]:
        request = self.context.get("request")
        return drift_runs.visible_result(obj, getattr(request, "user", None))

    @extend_schema_field(JobSerializer)
    def get_job(self, obj: DriftAnalysis) -> dict[str, Any] | None:
        job = getattr(obj, "job", None) or drift_runs.job_of(obj)
        return JobSerializer(job).data if job else None


class DriftAnalysisCreateSerializer(serializers.Serializer):
    model_version = VisibleModelVersionField(help_text="The model version whose data drifts.")
    reference_version = VisibleDatasetVersionField(
        required=False,
        allow_null=True,
        help_text="Reference data; the model version's training data when omitted.",
    )
    current_source = serializers.ChoiceField(
        choices=CurrentSource.choices, default=CurrentSource.DATASET_VERSION
    )
    current_version = VisibleDatasetVersionField(
        required=False, allow_null=True, help_text="Current data (a dataset version)."
    )
    current_start = serializers.DateTimeField(required=False, allow_null=True)
    current_end = serializers.DateTimeField(required=False, allow_null=True)
    window_column = serializers.CharField(required=False, allow_blank=True, default="")
    window_frequency = serializers.ChoiceField(
        choices=WindowFrequency.choices, required=False, allow_blank=True, default=""
    )
    thresholds = serializers.DictField(
        required=False,
        default=dict,
        help_text="Overrides of the model's thresholds: alpha, ks, wasserstein, psi, "
        "jensen_shannon, missing_rate, domain_auc, domain_alpha, classifier_rows.",
    )


class DriftAnalysisViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Drift analyses. POST starts one and answers 202 with its job; GET returns the
    stored result."""

    filterset_class = DriftAnalysisFilterSet
    ordering_fields = ["created_at", "score"]

    def get_queryset(self) -> QuerySet[DriftAnalysis]:
        queryset = (
            visible_analyses(self.request.user)
            .select_related("model_version__model", "created_by", "current_version__dataset")
            .order_by("-created_at", "-pk")
        )
        return queryset if self.action == "retrieve" else queryset.defer("result")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "create":
            return DriftAnalysisCreateSerializer
        if self.action == "retrieve":
            return DriftAnalysisDetailSerializer
        return DriftAnalysisSerializer

    @extend_schema(
        request=DriftAnalysisCreateSerializer, responses={202: DriftAnalysisDetailSerializer}
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = DriftAnalysisCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        model_version = data["model_version"]
        if not can_contribute(request.user, model_version.model.project):
            raise exceptions.PermissionDenied(CatalogPermission.message)
        try:
            analysis = drift_runs.start_drift_analysis(
                model_version,
                user=request.user,
                trigger=RunTrigger.API,
                reference_version=data.get("reference_version"),
                current_source=data["current_source"],
                current_version=data.get("current_version"),
                current_start=data.get("current_start"),
                current_end=data.get("current_end"),
                window_column=data["window_column"],
                window_frequency=data["window_frequency"],
                thresholds=data["thresholds"],
            )
        except drift_runs.DriftError as exc:
            raise refusal(exc) from exc
        analysis.refresh_from_db()
        body = DriftAnalysisDetailSerializer(analysis, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class DriftSettingsSerializer(serializers.ModelSerializer):
    thresholds = serializers.DictField(
        required=False, help_text="Overrides of the defaults (see drift-analyses)."
    )
    schedule_kind = serializers.ChoiceField(choices=ScheduleKind.choices, required=False)
    schedule_cron = serializers.CharField(required=False, allow_blank=True)
    effective_thresholds = serializers.SerializerMethodField()

    class Meta:
        model = DriftSettings
        fields = [
            "thresholds",
            "effective_thresholds",
            "window_column",
            "window_frequency",
            "schedule_kind",
            "schedule_cron",
            "updated_at",
        ]
        read_only_fields = ["updated_at", "effective_thresholds"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_effective_thresholds(self, obj: DriftSettings) -> dict[str, Any]:
        return drift_runs.thresholds_for(obj.model)


class DriftSettingsView(APIView):
    """A model's drift settings: thresholds over the defaults, windowing and schedule of
    the scheduled analyses."""

    def _model(self, request: Request, pk: int) -> RegisteredModel:
        return get_object_or_404(
            RegisteredModel.objects.filter(project__in=visible_projects(request.user)), pk=pk
        )

    @extend_schema(responses={200: DriftSettingsSerializer})
    def get(self, request: Request, pk: int) -> Response:
        return Response(
            DriftSettingsSerializer(drift_runs.settings_of(self._model(request, pk))).data
        )

    @extend_schema(request=DriftSettingsSerializer, responses={200: DriftSettingsSerializer})
    def put(self, request: Request, pk: int) -> Response:
        model = self._model(request, pk)
        if not can_contribute(request.user, model.project):
            raise exceptions.PermissionDenied(CatalogPermission.message)
        incoming = DriftSettingsSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            saved = drift_runs.save_settings(
                model,
                thresholds=data.get("thresholds"),
                window_column=data.get("window_column"),
                window_frequency=data.get("window_frequency"),
                schedule_kind=data.get("schedule_kind"),
                schedule_cron=data.get("schedule_cron"),
            )
        except drift_runs.DriftError as exc:
            raise refusal(exc) from exc
        return Response(DriftSettingsSerializer(saved).data)

    patch = put
