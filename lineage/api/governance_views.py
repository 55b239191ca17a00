"""Governance API: reviews, notifications, and destroying data. Rules live in
lineage.governance; these views translate its refusals into HTTP answers."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from lineage import governance
from lineage.api.serializers import VisibleModelVersionField
from lineage.choices import ReviewState
from lineage.models import Notification, Review
from lineage.permissions import member_projects


def governance_error(exc: governance.GovernanceError) -> exceptions.APIException:
    error = exceptions.APIException(exc.message)
    error.status_code = exc.status
    return error


class ReviewSerializer(serializers.ModelSerializer):
    model_version = VisibleModelVersionField()
    model_version_label = serializers.CharField(source="model_version.__str__", read_only=True)
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    comment = serializers.CharField(write_only=True, required=False, allow_blank=True, default="")

    class Meta:
        model = Review
        fields = [
            "id",
            "model_version",
            "model_version_label",
            "target_stage",
            "stage_at_request",
            "state",
            "requested_by",
            "requested_at",
            "request_comment",
            "comment",
            "checklist",
            "reviewer",
            "decided_at",
            "decision_comment",
        ]
        # One pending review per version is checked by governance.request_review (409).
        validators: list[Any] = []
        read_only_fields = [
            "target_stage",
            "stage_at_request",
            "state",
            "requested_at",
            "request_comment",
            "checklist",
            "decided_at",
            "decision_comment",
        ]


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(help_text="Why: required for approvals and rejections.")


class ReviewFilterSet(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="model_version__model__project__slug")
    state = django_filters.ChoiceFilter(choices=ReviewState.choices)

    class Meta:
        model = Review
        fields = ["project", "state", "model_version"]


class ReviewViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Production reviews: a contributor requests one (POST), a reviewer other than the
    requester approves or rejects it with a comment."""

    serializer_class = ReviewSerializer
    filterset_class = ReviewFilterSet
    ordering_fields = ["requested_at", "decided_at"]

    def get_queryset(self) -> QuerySet[Review]:
        return (
            # Reviews (and their checklists, which name the data) are for project members.
            Review.objects.filter(
                model_version__model__project__in=member_projects(self.request.user)
            )
            .select_related("model_version__model", "requested_by", "reviewer")
            .order_by("-requested_at", "-pk")
        )

    def perform_create(self, serializer: Any) -> None:
        data = serializer.validated_data
        try:
            serializer.instance = governance.request_review(
                data["model_version"], self.request.user, data.get("comment", "")
            )
        except governance.GovernanceError as exc:
            raise governance_error(exc) from exc

    def _decide(self, request: Request, approve: bool) -> Response:
        review = self.get_object()
        decision = DecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        try:
            review = governance.decide_review(
                review, request.user, approve=approve, comment=decision.validated_data["comment"]
            )
        except governance.GovernanceError as exc:
            raise governance_error(exc) from exc
        return Response(ReviewSerializer(review, context={"request": request}).data)

    @extend_schema(request=DecisionSerializer, responses={200: ReviewSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve: the version moves to production, the current one is archived."""
        return self._decide(request, approve=True)

    @extend_schema(request=DecisionSerializer, responses={200: ReviewSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        return self._decide(request, approve=False)

    @extend_schema(request=None, responses={200: ReviewSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str | None = None) -> Response:
        try:
            review = governance.withdraw_review(self.get_object(), request.user)
        except governance.GovernanceError as exc:
            raise governance_error(exc) from exc
        return Response(ReviewSerializer(review, context={"request": request}).data)


class NotificationSerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "kind", "message", "url", "project", "created_at", "read_at"]
        read_only_fields = fields


class MarkedReadSerializer(serializers.Serializer):
    marked_read = serializers.IntegerField()


class NotificationFilterSet(django_filters.FilterSet):
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull")

    class Meta:
        model = Notification
        fields = ["unread", "kind"]


class NotificationViewSet(viewsets.ReadOnlyModelViewSet):
    """Your own notifications, newest first."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet

    queryset = Notification.objects.none()  # for the schema; get_queryset is per user

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        return Notification.objects.filter(user=self.request.user).select_related("project")

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk: str | None = None) -> Response:
        """Mark one notification read."""
        notification = self.get_object()
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
        return Response(NotificationSerializer(notification).data)

    @extend_schema(request=None, responses={200: MarkedReadSerializer})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        count = self.get_queryset().filter(read_at__isnull=True).update(read_at=timezone.now())
        return Response({"marked_read": count}, status=status.HTTP_200_OK)
