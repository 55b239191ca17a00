"""Catalog API viewsets: short, with their querysets shaped so a list costs a fixed
number of queries."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Prefetch, ProtectedError, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from lineage import capture, governance, services
from lineage.api import serializers as api
from lineage.api.governance_views import governance_error
from lineage.filtersets import (
    DatasetFilterSet,
    DatasetVersionFilterSet,
    JobFilterSet,
    ModelVersionFilterSet,
    ProjectFilterSet,
    RegisteredModelFilterSet,
)
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
)
from lineage.permissions import (
    CatalogPermission,
    can_contribute,
    visible_dataset_versions,
    visible_datasets,
    visible_jobs,
    visible_projects,
)


def raise_catalog_error(exc: services.CatalogError) -> None:
    raise serializers.ValidationError({exc.field: [exc.message]}) from exc


def refuse_protected_delete(instance: Any) -> None:
    """Delete, or answer 409 naming what still depends on the object."""
    try:
        instance.delete()
    except ProtectedError as exc:
        names = sorted({str(obj) for obj in exc.protected_objects})
        raise Conflict(
            f"{instance} cannot be deleted: {', '.join(names[:10])} depend on it."
        ) from exc


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class AnnotatedWritesMixin:
    """After a create or update, answer with the row as the list shows it (with its
    annotated counts), not the bare instance the serializer saved."""

    def perform_create(self, serializer: Any) -> None:
        serializer.save()
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)

    def perform_update(self, serializer: Any) -> None:
        serializer.save()
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)


class ProjectViewSet(AnnotatedWritesMixin, viewsets.ModelViewSet):
    serializer_class = api.ProjectSerializer
    filterset_class = ProjectFilterSet
    permission_classes = [CatalogPermission]
    lookup_field = "slug"
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def get_queryset(self) -> QuerySet[Project]:
        return (
            visible_projects(self.request.user)
            .with_counts()
            .prefetch_related(
                Prefetch("memberships", queryset=Membership.objects.select_related("user"))
            )
            .order_by("name")
        )


class DatasetViewSet(AnnotatedWritesMixin, viewsets.ModelViewSet):
    serializer_class = api.DatasetSerializer
    filterset_class = DatasetFilterSet
    permission_classes = [CatalogPermission]
    search_fields = ["name", "description", "source_name"]
    ordering_fields = ["name", "created_at", "updated_at", "sensitivity"]

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "retrieve":
            return api.DatasetDetailSerializer
        return api.DatasetSerializer

    def perform_destroy(self, instance: Dataset) -> None:
        refuse_protected_delete(instance)

    def get_queryset(self) -> QuerySet[Dataset]:
        return (
            visible_datasets(self.request.user)
            .select_related("project", "owner")
            .prefetch_related("tags")
            .with_version_summary()
            .order_by("project__name", "name")
        )


class DestroyDataSerializer(serializers.Serializer):
    reason = serializers.CharField(help_text="Why the data is destroyed (kept in the tombstone).")


class DestroyDataResultSerializer(serializers.Serializer):
    version = api.DatasetVersionSerializer()
    flagged_model_versions = serializers.ListField(child=serializers.IntegerField())


class DatasetVersionViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Versions are immutable: create (a file or an external URI), list and read."""

    filterset_class = DatasetVersionFilterSet
    permission_classes = [CatalogPermission]
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    ordering_fields = ["created_at", "version", "row_count", "size_bytes"]

    def get_queryset(self) -> QuerySet[DatasetVersion]:
        # Datasets and projects are prefetched, not joined: the version table alone is then
        # walked in key order, a plan both SQLite and PostgreSQL keep at any page depth.
        queryset = (
            visible_dataset_versions(self.request.user)
            .select_related("created_by")
            .prefetch_related("dataset__project")
        )
        if self.action != "retrieve":
            queryset = queryset.defer("profile")
        return queryset.order_by("-pk")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "create":
            return api.DatasetVersionCreateSerializer
        if self.action == "retrieve":
            return api.DatasetVersionDetailSerializer
        return api.DatasetVersionSerializer

    @extend_schema(
        request={
            "multipart/form-data": api.DatasetVersionCreateSerializer,
            "application/json": api.DatasetVersionCreateSerializer,
        },
        responses={201: api.DatasetVersionDetailSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = api.DatasetVersionCreateSerializer(
            data=request.data, context={"request": request}
        )
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            if "file" in data:
                version = services.create_dataset_version_from_upload(
                    data["dataset"],
                    data["file"],
                    user=request.user,
                    source="api",
                    description=data["description"],
                )
            else:
                version = services.create_external_dataset_version(
                    data["dataset"],
                    data["external_uri"],
                    user=request.user,
                    source="api",
                    description=data["description"],
                    schema=data.get("schema"),
                    row_count=data.get("row_count"),
                )
        except services.CatalogError as exc:
            raise_catalog_error(exc)
        body = api.DatasetVersionDetailSerializer(version, context={"request": request}).data
        job = Job.objects.for_target(version).first()
        body["job"] = job.pk if job else None
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={202: api.JobSerializer})
    @action(detail=True, methods=["post"])
    def reprofile(self, request: Request, pk: str | None = None) -> Response:
        """Profile this version again (after a failure, say)."""
        version = self.get_object()
        if not can_contribute(request.user, version.dataset.project):
            self.permission_denied(request, message=CatalogPermission.message)
        if not version.file:
            raise serializers.ValidationError("This version has no stored file to profile.")
        job = services.reprofile(version, request.user)
        return Response(api.JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=DestroyDataSerializer, responses={200: DestroyDataResultSerializer})
    @action(detail=True, methods=["post"], url_path="destroy-data")
    def destroy_data(self, request: Request, pk: str | None = None) -> Response:
        """Delete the stored data, keep a tombstone (hash, schema, who, why), and flag every
        model version built on it "needs review". Needs the admin role."""
        version = self.get_object()
        incoming = DestroyDataSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            result = governance.destroy_dataset_version(
                version, request.user, incoming.validated_data["reason"]
            )
        except governance.GovernanceError as exc:
            raise governance_error(exc) from exc
        body = {
            "version": api.DatasetVersionSerializer(
                result.version, context={"request": request}
            ).data,
            "flagged_model_versions": [
                model_version.pk for model_version in result.flagged_model_versions
            ],
        }
        return Response(body)


class RegisteredModelViewSet(AnnotatedWritesMixin, viewsets.ModelViewSet):
    serializer_class = api.RegisteredModelSerializer
    filterset_class = RegisteredModelFilterSet
    permission_classes = [CatalogPermission]
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "updated_at"]

    def perform_destroy(self, instance: RegisteredModel) -> None:
        refuse_protected_delete(instance)

    def get_queryset(self) -> QuerySet[RegisteredModel]:
        return (
            RegisteredModel.objects.filter(project__in=visible_projects(self.request.user))
            .select_related("project", "owner")
            .prefetch_related("tags")
            .with_version_summary()
            .order_by("project__name", "name")
        )


class ModelVersionViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """Versions are immutable: register one (artifact + metadata), list, read, change stage."""

    serializer_class = api.ModelVersionSerializer
    filterset_class = ModelVersionFilterSet
    permission_classes = [CatalogPermission]
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    ordering_fields = ["created_at", "version"]

    def get_queryset(self) -> QuerySet[ModelVersion]:
        return (
            ModelVersion.objects.filter(model__project__in=visible_projects(self.request.user))
            .select_related("model__project", "created_by", "produced_by_run")
            .prefetch_related(
                Prefetch(
                    "stage_transitions",
                    queryset=StageTransition.objects.select_related("changed_by"),
                )
            )
            .order_by("-created_at", "-pk")
        )

    @extend_schema(
        request={"multipart/form-data": api.ModelVersionCreateSerializer},
        responses={201: api.ModelVersionSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        incoming = api.ModelVersionCreateSerializer(data=request.data, context={"request": request})
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            version = services.register_model_version(
                data["model"], data["artifact"], data.get("metadata") or {}, user=request.user
            )
        except services.CatalogError as exc:
            raise_catalog_error(exc)
        return Response(
            api.ModelVersionSerializer(version, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=api.StageChangeSerializer,
        responses={200: api.ModelVersionSerializer, 403: OpenApiResponse(description="No role")},
    )
    @action(detail=True, methods=["post"])
    def stage(self, request: Request, pk: str | None = None) -> Response:
        """Move the version to staging, archived or none; the history records who and when.
        Production is reached only through an approved review (/api/v1/reviews/)."""
        version = self.get_object()
        change = api.StageChangeSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        try:
            governance.change_stage(
                version,
                change.validated_data["stage"],
                request.user,
                change.validated_data["comment"],
            )
        except governance.GovernanceError as exc:
            raise governance_error(exc) from exc
        return Response(api.ModelVersionSerializer(self.get_queryset().get(pk=version.pk)).data)

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "retrieve":
            return api.ModelVersionDetailSerializer
        return api.ModelVersionSerializer


class JobViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = api.JobSerializer
    filterset_class = JobFilterSet
    ordering_fields = ["created_at", "state"]

    def get_queryset(self) -> QuerySet[Job]:
        return (
            visible_jobs(self.request.user)
            .select_related("project", "created_by", "target_type")
            .prefetch_related("target")
            .order_by("-created_at", "-pk")
        )

    @extend_schema(request=None, responses={202: api.JobSerializer})
    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Queue a failed job again."""
        job = self.get_object()
        if not can_contribute(request.user, job.project):
            self.permission_denied(request, message=CatalogPermission.message)
        if not services.retry_job(job):
            raise serializers.ValidationError("Only a failed job can be retried.")
        job.refresh_from_db()
        return Response(api.JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


class DeploymentViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Deployments of model versions (recorded by a release pipeline); each is a node of
    the lineage graph, downstream of its model version."""

    serializer_class = api.DeploymentSerializer
    filterset_fields = ["model_version", "environment"]

    def get_queryset(self) -> QuerySet[Deployment]:
        return (
            Deployment.objects.filter(
                model_version__model__project__in=visible_projects(self.request.user)
            )
            .select_related("model_version", "created_by")
            .order_by("-created_at", "-pk")
        )

    @transaction.atomic
    def perform_create(self, serializer: Any) -> None:
        deployment = serializer.save(created_by=self.request.user)
        capture.capture_deployment(deployment)
