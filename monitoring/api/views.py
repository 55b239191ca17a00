"""Quality API: suites (with their checks and history), runs (start one, read results),
suggested checks from a version's profile, and a one-check preview."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage.models import DatasetVersion
from lineage.permissions import (
    CatalogPermission,
    can_contribute,
    may_see_pii,
    visible_dataset_versions,
)
from monitoring import drift_runs, services
from monitoring.api import serializers as api
from monitoring.choices import RunTrigger
from monitoring.filtersets import QualityRunFilterSet, QualitySuiteFilterSet
from monitoring.models import QualitySuite, QualitySuiteVersion
from monitoring.permissions import visible_runs, visible_suites


def refusal(exc: services.QualityError | drift_runs.DriftError) -> exceptions.APIException:
    """A refused quality or drift request as the API's answer: a 400 naming the field, or
    the status the refusal asks for (409 and the like)."""
    if exc.status == 400:
        return serializers.ValidationError({exc.field: [exc.message]})
    error = exceptions.APIException({exc.field: [exc.message]})
    error.status_code = exc.status
    return error


def require_contributor(request: Request, project: Any) -> None:
    if not can_contribute(request.user, project):
        raise exceptions.PermissionDenied(CatalogPermission.message)


class QualitySuiteViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.ListModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """A dataset's quality suite. Changing its checks saves a new suite version; runs
    keep the version they ran."""

    serializer_class = api.QualitySuiteSerializer
    filterset_class = QualitySuiteFilterSet
    permission_classes = [CatalogPermission]
    ordering_fields = ["updated_at", "created_at"]

    def get_queryset(self) -> QuerySet[QualitySuite]:
        return (
            visible_suites(self.request.user)
            .select_related("dataset__project")
            .prefetch_related(
                Prefetch(
                    "dataset__versions",
                    queryset=DatasetVersion.objects.order_by("-version").only(
                        "pk", "dataset_id", "version", "quality_status"
                    ),
                    to_attr="newest_versions",
                ),
                Prefetch(
                    "versions",
                    queryset=QualitySuiteVersion.objects.order_by("-version"),
                    to_attr="all_versions",
                ),
            )
            .order_by("-updated_at", "-pk")
        )

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        data = serializer.validated_data
        require_contributor(self.request, data["dataset"].project)
        try:
            # One transaction: a refused schedule leaves no suite behind.
            with transaction.atomic():
                suite = services.save_suite(
                    data["dataset"],
                    data["checks"],
                    user=self.request.user,
                    change_note=data.get("change_note", ""),
                    description=data.get("description", ""),
                    run_on_new_versions=data.get("run_on_new_versions", True),
                )
                self._apply_schedule(suite, data)
        except services.QualityError as exc:
            raise refusal(exc) from exc
        serializer.instance = suite

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        suite = serializer.instance
        data = serializer.validated_data
        try:
            with transaction.atomic():
                suite = services.save_suite(
                    suite.dataset,
                    data.get("checks", suite.latest.checks),
                    user=self.request.user,
                    change_note=data.get("change_note", ""),
                    description=data.get("description"),
                    run_on_new_versions=data.get("run_on_new_versions"),
                )
                self._apply_schedule(suite, data)
        except services.QualityError as exc:
            raise refusal(exc) from exc
        suite.refresh_from_db()
        serializer.instance = suite

    def _apply_schedule(self, suite: QualitySuite, data: dict[str, Any]) -> None:
        if "schedule_kind" in data or "schedule_cron" in data:
            kind = data.get("schedule_kind", suite.schedule_kind)
            services.set_schedule(
                suite, kind, data.get("schedule_cron", suite.schedule_cron), user=self.request.user
            )

    def perform_destroy(self, instance: QualitySuite) -> None:
        services.delete_suite(instance, user=self.request.user)

    @extend_schema(responses={200: api.QualitySuiteVersionSerializer(many=True)})
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        """Every version of the suite's checks, newest first."""
        suite = self.get_object()
        return Response(
            api.QualitySuiteVersionSerializer(
                suite.versions.select_related("created_by").order_by("-version"), many=True
            ).data
        )


class QualityRunViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Runs of a suite over a dataset version. POST starts one (202, with its job)."""

    filterset_class = QualityRunFilterSet
    ordering_fields = ["created_at", "status"]

    def get_queryset(self) -> QuerySet[Any]:
        return (
            visible_runs(self.request.user)
            .select_related("suite_version", "dataset_version__dataset__project", "created_by")
            .order_by("-created_at", "-pk")
        )

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "create":
            return api.QualityRunCreateSerializer
        if self.action == "retrieve":
            return api.QualityRunDetailSerializer
        return api.QualityRunSerializer

    @extend_schema(
        request=api.QualityRunCreateSerializer,
        responses={202: api.QualityRunStartedSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = api.QualityRunCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        version = incoming.validated_data["dataset_version"]
        require_contributor(request, version.dataset.project)
        try:
            run = services.start_quality_run(version, user=request.user, trigger=RunTrigger.API)
        except services.QualityError as exc:
            raise refusal(exc) from exc
        body = api.QualityRunStartedSerializer(run, context={"request": request}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class SuggestedChecksView(APIView):
    """A suggested suite, from a dataset version's stored profile: `checks` can be saved
    as a suite as they are (each says in its description what was observed)."""

    @extend_schema(
        responses={
            200: api.SuggestedSuiteSerializer,
            409: OpenApiResponse(description="The version has no profile yet."),
        }
    )
    def get(self, request: Request, pk: int) -> Response:
        version = get_object_or_404(
            visible_dataset_versions(request.user).select_related("dataset"), pk=pk
        )
        try:
            suggested = services.suggested_suite(version)
        except services.QualityError as exc:
            raise refusal(exc) from exc
        return Response(
            {"dataset_version": version.pk, "version": version.version, "checks": suggested}
        )


class CheckPreviewView(APIView):
    """Run one check, without saving it, on a stored version: the suite editor's preview."""

    @extend_schema(
        request=api.CheckPreviewRequestSerializer,
        responses={200: OpenApiResponse(description="The check's result on that version.")},
    )
    def post(self, request: Request) -> Response:
        incoming = api.CheckPreviewRequestSerializer(
            data=request.data, context={"request": request}
        )
        incoming.is_valid(raise_exception=True)
        version = incoming.validated_data["dataset_version"]
        try:
            result = services.preview_check(version, incoming.validated_data["check"])
        except services.QualityError as exc:
            raise serializers.ValidationError({f"check.{exc.field}": [exc.message]}) from exc
        except services.profiling.DataFileError as exc:
            raise serializers.ValidationError({"dataset_version": [str(exc)]}) from exc
        reveal = may_see_pii(request.user, version.dataset.project)
        column, dataset = result.get("column"), version.dataset
        result["sample_rows"] = services.masked_rows(result["sample_rows"], dataset, reveal=reveal)
        result["observed"] = services.masked_observed(
            result["observed"], column, dataset, reveal=reveal
        )
        result["message"] = services.masked_message(
            result["message"], column, dataset, reveal=reveal, failing_count=result["failing_count"]
        )
        result["distribution"] = services.masked_distribution(
            result["distribution"], column, dataset, reveal=reveal
        )
        result["dataset_version"] = version.pk
        result["version"] = version.version
        return Response(result)
