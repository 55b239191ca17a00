"""Operating served models through the API: alert rules (read by everyone signed in,
changed by the model project's contributors), their incidents (read-only), and a model's
serving settings (how long its prediction log is kept)."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import BooleanField, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, viewsets
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage.models import RegisteredModel
from lineage.permissions import CatalogPermission, can_contribute, visible_projects
from monitoring import alerts, retention
from monitoring.choices import AlertMetric
from monitoring.models import AlertIncident, AlertRule, ServingSettings


def visible_models(user: Any) -> QuerySet[RegisteredModel]:
    return RegisteredModel.objects.filter(project__in=visible_projects(user))


@extend_schema_field(OpenApiTypes.INT)
class VisibleModelField(serializers.PrimaryKeyRelatedField):
    """A registered model id among the projects the user may see."""

    def get_queryset(self) -> Any:
        return visible_models(self.context["request"].user).select_related("project")


# Alert rules --------------------------------------------------------------------------------


class AlertRuleFilterSet(django_filters.FilterSet):
    model = django_filters.NumberFilter(field_name="model_id", label="Model id")
    project = django_filters.CharFilter(field_name="model__project__slug", label="Project (slug)")
    metric = django_filters.ChoiceFilter(choices=AlertMetric.choices)
    enabled = django_filters.BooleanFilter()

    class Meta:
        model = AlertRule
        fields = ["model", "project", "metric", "enabled"]


class AlertRuleSerializer(serializers.ModelSerializer):
    model = VisibleModelField(help_text="The registered model the rule watches.")
    model_name = serializers.CharField(source="model.name", read_only=True)
    metric = serializers.ChoiceField(
        choices=AlertMetric.choices,
        help_text="latency_p95, error_rate, mae and rmse breach above the threshold; "
        "confidence_mean, accuracy, f1 and roc_auc below it; drift when the production "
        "version has drifted (no threshold).",
    )
    threshold = serializers.FloatField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Required for every metric except drift (ms for latency; 0–1 for shares "
        "and scores).",
    )
    window_minutes = serializers.IntegerField(
        required=False, default=60, min_value=1, max_value=alerts.MAX_WINDOW_MINUTES
    )
    min_samples = serializers.IntegerField(
        required=False,
        default=20,
        min_value=1,
        help_text="Fewer requests (labelled ones for performance metrics) in the window: "
        "no verdict, open incidents stay as they are.",
    )
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    open_incident = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The id of the rule's open incident, if any."
    )

    class Meta:
        model = AlertRule
        fields = [
            "id",
            "model",
            "model_name",
            "metric",
            "threshold",
            "window_minutes",
            "min_samples",
            "enabled",
            "open_incident",
            "created_by",
            "created_at",
        ]
        read_only_fields = ["created_by", "created_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        current = self.instance

        def value(name: str) -> Any:
            if name in attrs:
                return attrs[name]
            return getattr(current, name) if current is not None else None

        model = value("model")
        if current is not None and model.pk != current.model_id:
            raise serializers.ValidationError({"model": ["A rule cannot move to another model."]})
        if not can_contribute(self.context["request"].user, model.project):
            raise exceptions.PermissionDenied(CatalogPermission.message)
        try:
            attrs["threshold"] = alerts.check_rule(
                model, value("metric"), value("threshold"), value("window_minutes")
            )
        except alerts.AlertRuleError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc
        return attrs


class AlertRuleViewSet(viewsets.ModelViewSet):
    """Alert rules of models, evaluated every minute over their window. Filter with
    `?model=`; changing one needs the contributor role in the model's project."""

    serializer_class = AlertRuleSerializer
    filterset_class = AlertRuleFilterSet
    permission_classes = [CatalogPermission]
    ordering_fields = ["created_at", "metric"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[AlertRule]:
        open_incident = AlertIncident.objects.filter(
            rule=OuterRef("pk"), resolved_at__isnull=True
        ).values("pk")[:1]
        return (
            AlertRule.objects.filter(model__project__in=visible_projects(self.request.user))
            .select_related("model__project", "created_by")
            .annotate(open_incident=Subquery(open_incident))
            .order_by("model_id", "metric", "pk")
        )

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.save(created_by=self.request.user)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        rule = serializer.save()
        if not rule.enabled:
            alerts.close_disabled_incidents([rule.pk])
        rule.open_incident = (
            rule.incidents.filter(resolved_at__isnull=True).values_list("pk", flat=True).first()
        )


# Incidents ----------------------------------------------------------------------------------


class AlertIncidentFilterSet(django_filters.FilterSet):
    model = django_filters.NumberFilter(field_name="model_id", label="Model id")
    rule = django_filters.NumberFilter(field_name="rule_id", label="Rule id")
    open = django_filters.BooleanFilter(
        field_name="resolved_at", lookup_expr="isnull", label="Open (not resolved)"
    )

    class Meta:
        model = AlertIncident
        fields = ["model", "rule", "open"]


class AlertIncidentSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    metric = serializers.ChoiceField(
        source="rule.metric", choices=AlertMetric.choices, read_only=True
    )
    threshold = serializers.FloatField(source="rule.threshold", allow_null=True, read_only=True)
    is_open = serializers.BooleanField(read_only=True)
    url = serializers.SerializerMethodField(help_text="The model's monitoring dashboard.")

    class Meta:
        model = AlertIncident
        fields = [
            "id",
            "rule",
            "model",
            "model_name",
            "metric",
            "threshold",
            "is_open",
            "opened_at",
            "resolved_at",
            "value",
            "last_value",
            "message",
            "url",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_url(self, obj: AlertIncident) -> str:
        return alerts.dashboard_url(obj.model)


class AlertIncidentViewSet(viewsets.ReadOnlyModelViewSet):
    """Incidents of alert rules, open ones first. Filter with `?model=`, `?rule=`,
    `?open=true`."""

    serializer_class = AlertIncidentSerializer
    filterset_class = AlertIncidentFilterSet
    ordering_fields = ["opened_at", "resolved_at"]

    def get_queryset(self) -> QuerySet[AlertIncident]:
        return (
            AlertIncident.objects.filter(model__project__in=visible_projects(self.request.user))
            .select_related("model", "rule")
            .annotate(
                open_first=ExpressionWrapper(
                    Q(resolved_at__isnull=True), output_field=BooleanField()
                )
            )
            .order_by("-open_first", "-opened_at", "-pk")
        )


# Serving settings ---------------------------------------------------------------------------


class ServingSettingsSerializer(serializers.ModelSerializer):
    retention_days = serializers.IntegerField(
        allow_null=True,
        min_value=1,
        max_value=36_500,
        help_text="Delete logged predictions older than this many days (daily job); null "
        "keeps them. Hourly aggregates are kept either way.",
    )

    class Meta:
        model = ServingSettings
        fields = ["model", "retention_days", "updated_at"]
        read_only_fields = ["model", "updated_at"]


class ServingSettingsView(APIView):
    """A model's serving settings: the retention of its prediction log (90 days unless
    set)."""

    def _model(self, request: Request, pk: int) -> RegisteredModel:
        return get_object_or_404(visible_models(request.user).select_related("project"), pk=pk)

    @extend_schema(responses={200: ServingSettingsSerializer})
    def get(self, request: Request, pk: int) -> Response:
        found = retention.settings_of(self._model(request, pk))
        return Response(ServingSettingsSerializer(found).data)

    @extend_schema(request=ServingSettingsSerializer, responses={200: ServingSettingsSerializer})
    def put(self, request: Request, pk: int) -> Response:
        model = self._model(request, pk)
        if not can_contribute(request.user, model.project):
            raise exceptions.PermissionDenied(CatalogPermission.message)
        incoming = ServingSettingsSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        saved = retention.save_retention(model, incoming.validated_data["retention_days"])
        return Response(ServingSettingsSerializer(saved).data)
