"""Governance pages: the reviewer's desk (reviews waiting, flagged versions, data past
retention), review decisions, destroying data, and notifications. Rules come from
lineage.governance, the same functions the API calls."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from lineage import governance
from lineage.choices import ReviewState, Role
from lineage.models import ModelVersion, Notification, Review
from lineage.permissions import (
    member_project_ids,
    member_projects,
    visible_dataset_versions,
    visible_projects,
)


def _governed_projects(user: Any) -> Any:
    """Projects whose governance the user handles: where they review or administer."""
    projects = visible_projects(user)
    if user.is_superuser:
        return projects
    return projects.filter(
        memberships__user=user, memberships__role__in=[Role.REVIEWER, Role.ADMIN]
    )


def governance_home(request: HttpRequest) -> HttpResponse:
    projects = _governed_projects(request.user)
    member_of = Q(model_version__model__project_id__in=member_project_ids(request.user))
    reviews = (
        Review.objects.filter(state=ReviewState.PENDING)
        .filter(Q(model_version__model__project__in=projects) | member_of)
        .select_related("model_version__model__project", "requested_by")
    )
    flagged = ModelVersion.objects.filter(
        needs_review=True, model__project__in=member_projects(request.user)
    ).select_related("model__project")
    expired = (
        governance.expired_versions()
        .filter(pk__in=visible_dataset_versions(request.user).values("pk"))
        .defer("profile")
    )
    destroyed = (
        visible_dataset_versions(request.user)
        .filter(destroyed_at__isnull=False)
        .select_related("dataset__project", "destroyed_by")
        .defer("profile")
        .order_by("-destroyed_at")[:20]
    )
    return render(
        request,
        "lineage/governance.html",
        {
            "reviews": reviews,
            "flagged": flagged,
            "expired": expired,
            "destroyed": destroyed,
            "today": timezone.localdate(),
        },
    )


def _model_version(request: HttpRequest, pk: int, version: int) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.select_related("model__project"),
        model_id=pk,
        version=version,
        model__project__in=visible_projects(request.user),
    )


@require_POST
def review_request(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    model_version = _model_version(request, pk, version)
    try:
        governance.request_review(model_version, request.user, request.POST.get("comment", ""))
        messages.success(request, "Review requested; the project's reviewers are notified.")
    except governance.GovernanceError as exc:
        messages.error(request, exc.message)
    return redirect(model_version)


@require_POST
def review_decide(request: HttpRequest, review_id: int) -> HttpResponse:
    review = get_object_or_404(
        Review.objects.select_related("model_version__model__project"),
        pk=review_id,
        model_version__model__project__in=visible_projects(request.user),
    )
    decision = request.POST.get("decision")
    try:
        if decision == "withdraw":
            governance.withdraw_review(review, request.user)
            messages.success(request, "Review withdrawn.")
        elif decision in ("approve", "reject"):
            governance.decide_review(
                review,
                request.user,
                approve=decision == "approve",
                comment=request.POST.get("comment", ""),
            )
            messages.success(
                request,
                "Approved: the version is in production."
                if decision == "approve"
                else "Rejected; the requester is notified.",
            )
        else:
            messages.error(request, "Choose approve, reject or withdraw.")
    except governance.GovernanceError as exc:
        messages.error(request, exc.message)
    return redirect(review.model_version)


def destroy_version(request: HttpRequest, pk: int, version: int) -> HttpResponse:
    dataset_version = get_object_or_404(
        visible_dataset_versions(request.user).select_related("dataset__project"),
        dataset_id=pk,
        version=version,
    )
    from lineage.propagation import model_versions_downstream

    if not dataset_version.dataset.project.has_role(request.user, Role.ADMIN):
        raise PermissionDenied("Destroying data needs the admin role in this project.")
    error = ""
    if request.method == "POST":
        try:
            result = governance.destroy_dataset_version(
                dataset_version, request.user, request.POST.get("reason", "")
            )
            flagged = len(result.flagged_model_versions)
            messages.success(
                request,
                f"{dataset_version} destroyed; {flagged} model version(s) flagged for review.",
            )
            return redirect(dataset_version)
        except governance.GovernanceError as exc:
            error = exc.message
    return render(
        request,
        "lineage/destroy_confirm.html",
        {
            "version": dataset_version,
            "dataset": dataset_version.dataset,
            "project": dataset_version.dataset.project,
            "affected": model_versions_downstream(dataset_version),
            "error": error,
            "reason": request.POST.get("reason", ""),
        },
    )


def notification_list(request: HttpRequest) -> HttpResponse:
    notifications = Notification.objects.filter(user=request.user).select_related("project")
    return render(request, "lineage/notifications.html", {"notifications": notifications[:200]})


@require_POST
def notification_read(request: HttpRequest) -> HttpResponse:
    unread = Notification.objects.filter(user=request.user, read_at__isnull=True)
    if request.POST.get("id"):
        unread = unread.filter(pk=request.POST["id"])
    unread.update(read_at=timezone.now())
    return redirect("notifications")
