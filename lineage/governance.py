"""Governance rules that span objects: production reviews, retention and destruction of
data, and the notifications they send. Views and the API call these, so both follow the
same rules; each function says who may do it and refuses with a GovernanceError that a
person can read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from lineage.choices import NotificationKind, QualityStatus, ReviewState, Role, Stage
from lineage.models import (
    DatasetVersion,
    ModelVersion,
    Notification,
    Project,
    Review,
)


class GovernanceError(Exception):
    """A refused governance action. `status` is the HTTP status that fits (403, 409, 400)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# Notifications -----------------------------------------------------------------------------


def project_people(project: Project, roles: tuple[str, ...]) -> list[Any]:
    return list(
        get_user_model().objects.filter(
            memberships__project=project, memberships__role__in=roles, is_active=True
        )
    )


def notify(
    users: list[Any], project: Project | None, kind: str, message: str, url: str = ""
) -> list[Notification]:
    """One in-app notification per user (each user once), and one webhook call for the event
    when the project names a webhook."""
    unique = {user.pk: user for user in users if user is not None}
    created = Notification.objects.bulk_create(
        Notification(user=user, project=project, kind=kind, message=message, url=url)
        for user in unique.values()
    )
    if project is not None and project.webhook_url:
        from lineage.tasks import post_webhook

        payload = {"project": project.slug, "kind": kind, "message": message, "url": url}
        transaction.on_commit(lambda: post_webhook.delay(project.pk, payload))
    return created


# Reviews -----------------------------------------------------------------------------------


@dataclass
class ChecklistItem:
    key: str
    label: str
    status: str  # passed, warning, failed, not checked
    detail: str
    paths: list[list[str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "status": self.status,
            "detail": self.detail,
            "paths": self.paths,
        }


def build_checklist(version: ModelVersion) -> list[dict[str, Any]]:
    """What a reviewer checks, filled in by the portal: sensitive data upstream, the state
    of the training data, and the metrics against the version now in production."""
    items = [
        _sensitive_data_item(version),
        _training_data_item(version),
        _metrics_item(version),
        _flags_item(version),
    ]
    return [item.as_dict() for item in items]


def _sensitive_data_item(version: ModelVersion) -> ChecklistItem:
    from lineage import propagation

    reaching = propagation.sensitivities_reaching(version)
    flagged = [entry for entry in reaching if entry.sensitivity in ("pii", "confidential")]
    if not flagged:
        return ChecklistItem(
            "sensitive_data",
            "Sensitive data used",
            "passed",
            "No PII or confidential data upstream.",
        )
    kinds = sorted({entry.sensitivity.upper() for entry in flagged})
    return ChecklistItem(
        "sensitive_data",
        "Sensitive data used",
        "warning",
        f"Trained on {' and '.join(kinds)} data: "
        + "; ".join(entry.source_label for entry in flagged[:5]),
        [entry.path_labels for entry in flagged[:5]],
    )


def _training_data_item(version: ModelVersion) -> ChecklistItem:
    # Read afresh: quality runs and destruction change the version after it was loaded.
    training = (
        DatasetVersion.objects.select_related("dataset")
        .filter(pk=version.training_dataset_version_id)
        .first()
    )
    if training is None:
        return ChecklistItem(
            "training_data", "Training data", "warning", "No training data is recorded."
        )
    if training.destroyed_at:
        return ChecklistItem(
            "training_data",
            "Training data",
            "failed",
            f"{training} was destroyed on {training.destroyed_at:%Y-%m-%d}: the model cannot be "
            "reproduced.",
        )
    # The quality gate of the training data (monitoring's latest run on that version).
    status = training.quality_status
    details = {
        QualityStatus.PASSED: "passed its quality checks",
        QualityStatus.WARNING: "passed its quality gate with warnings",
        QualityStatus.FAILED: "FAILED its quality checks: the model learned from data that "
        "breaks its dataset's rules",
        QualityStatus.NOT_CHECKED: "was not checked: its dataset has no quality suite or "
        "no run has finished",
    }
    return ChecklistItem(
        "training_data",
        "Training data quality",
        "not checked" if status == QualityStatus.NOT_CHECKED else status,
        f"{training} {details.get(status, status)}.",
    )


def _metrics_item(version: ModelVersion) -> ChecklistItem:
    current = version.model.versions.filter(stage=Stage.PRODUCTION).exclude(pk=version.pk).first()
    if current is None:
        return ChecklistItem(
            "metrics", "Metrics vs production", "passed", "No version is in production yet."
        )
    shared = sorted(set(current.metrics) & set(version.metrics))
    if not shared:
        return ChecklistItem(
            "metrics",
            "Metrics vs production",
            "warning",
            f"No metric in common with v{current.version} (in production) to compare.",
        )
    deltas = [
        f"{name} {current.metrics[name]:.4g} → {version.metrics[name]:.4g}" for name in shared
    ]
    # Lower is better only for error metrics; the reviewer sees every delta either way.
    lower_is_better = ("loss", "error", "mae", "mse", "rmse", "log_loss")
    worse = [
        name
        for name in shared
        if (version.metrics[name] > current.metrics[name])
        == any(token in name.lower() for token in lower_is_better)
        and version.metrics[name] != current.metrics[name]
    ]
    status = "warning" if worse else "passed"
    detail = f"Against v{current.version}: " + ", ".join(deltas)
    if worse:
        detail += f". Worse on: {', '.join(worse)}."
    return ChecklistItem("metrics", "Metrics vs production", status, detail)


def _flags_item(version: ModelVersion) -> ChecklistItem:
    if version.needs_review:
        return ChecklistItem(
            "flags", "Open flags", "failed", version.needs_review_reason or "Flagged for review."
        )
    return ChecklistItem("flags", "Open flags", "passed", "No open flag on this version.")


def request_review(version: ModelVersion, user: Any, comment: str = "") -> Review:
    """A contributor asks to move a version to production."""
    from lineage import audit

    project = version.model.project
    if not project.has_role(user, Role.CONTRIBUTOR):
        raise GovernanceError("You need the contributor role to request a review.", 403)
    if version.stage == Stage.PRODUCTION:
        raise GovernanceError(f"{version} is already in production.", 409)
    try:
        with transaction.atomic():
            review = Review.objects.create(
                model_version=version,
                target_stage=Stage.PRODUCTION,
                stage_at_request=version.stage,
                requested_by=user,
                request_comment=comment,
                checklist=build_checklist(version),
            )
    except IntegrityError:
        raise GovernanceError(
            f"{version} already has a review waiting for a decision.", 409
        ) from None
    audit.record(
        "review_requested",
        review,
        after={"model_version": str(version), "comment": comment},
        actor=user,
    )
    reviewers = [
        person for person in project_people(project, (Role.REVIEWER, Role.ADMIN)) if person != user
    ]
    notify(
        reviewers,
        project,
        NotificationKind.REVIEW_REQUESTED,
        f"{user} asks to move {version} to production.",
        version.get_absolute_url(),
    )
    return review


@transaction.atomic
def decide_review(review: Review, user: Any, *, approve: bool, comment: str) -> Review:
    """A reviewer other than the requester approves (the version goes to production and the
    current production version is archived) or rejects, with a comment."""
    from lineage import audit

    review = (
        Review.objects.select_for_update()
        .select_related("model_version__model__project")
        .get(pk=review.pk)
    )
    version = review.model_version
    project = version.model.project
    if not project.has_role(user, Role.REVIEWER):
        raise GovernanceError("You need the reviewer role in this project to decide reviews.", 403)
    if review.requested_by_id == user.pk:
        raise GovernanceError("You requested this review: another reviewer must decide it.", 403)
    if review.state != ReviewState.PENDING:
        raise GovernanceError(f"This review was already {review.get_state_display().lower()}.", 409)
    version.refresh_from_db()
    if version.stage != review.stage_at_request:
        raise GovernanceError(
            f"{version} moved from {review.stage_at_request} to {version.stage} after the review "
            "was requested; withdraw it and request a new one.",
            409,
        )
    if not comment.strip():
        raise GovernanceError("Say why: a decision needs a comment.", 400)
    training = DatasetVersion.objects.filter(pk=version.training_dataset_version_id).first()
    if approve and training is not None and training.quality_status == QualityStatus.FAILED:
        # The quality gate: data that fails its dataset's rules does not reach production
        # through a model. Fix the data, or the suite if the rule is wrong, and check again.
        raise GovernanceError(
            f"{version} was trained on {training}, which failed its quality checks: it cannot "
            "go to production. Fix the data (or the suite, if a rule is wrong) and run the "
            "checks again, or reject this review.",
            409,
        )
    review.state = ReviewState.APPROVED if approve else ReviewState.REJECTED
    review.reviewer = user
    review.decided_at = timezone.now()
    review.decision_comment = comment
    review.checklist = build_checklist(version)
    review.save()
    if approve:
        version.change_stage(Stage.PRODUCTION, user, f"Approved in review #{review.pk}: {comment}")
    audit.record(
        "review_decided",
        review,
        actor=user,
        before={"state": ReviewState.PENDING},
        after={"state": review.state, "comment": comment},
    )
    notify(
        [review.requested_by],
        project,
        NotificationKind.REVIEW_DECIDED,
        f"{user} {review.state} moving {version} to production: {comment}",
        version.get_absolute_url(),
    )
    return review


def withdraw_review(review: Review, user: Any) -> Review:
    if review.state != ReviewState.PENDING:
        raise GovernanceError("Only a pending review can be withdrawn.", 409)
    project = review.model_version.model.project
    if review.requested_by_id != user.pk and not project.has_role(user, Role.ADMIN):
        raise GovernanceError("Only the requester or a project admin can withdraw it.", 403)
    review.state = ReviewState.WITHDRAWN
    review.decided_at = timezone.now()
    review.save(update_fields=["state", "decided_at"])
    return review


def change_stage(version: ModelVersion, to_stage: str, user: Any, comment: str = "") -> None:
    """Stage moves other than to production; production goes through a review."""
    if not version.model.project.has_role(user, Role.CONTRIBUTOR):
        raise GovernanceError(
            "You need the contributor role in this project to change stages.", 403
        )
    if to_stage == Stage.PRODUCTION:
        raise GovernanceError(
            "Moving to production needs an approved review: request one on the version's page "
            "(or POST /api/v1/reviews/).",
            409,
        )
    if to_stage == version.stage:
        raise GovernanceError(f"{version} is already in stage {to_stage}.", 409)
    version.change_stage(to_stage, user, comment)


# Retention and destruction -----------------------------------------------------------------


def expired_versions(today: dt.date | None = None) -> QuerySet[DatasetVersion]:
    """Versions kept past their dataset's keep-until date and not destroyed yet."""
    today = today or timezone.localdate()
    return DatasetVersion.objects.filter(
        dataset__retain_until__lt=today, destroyed_at__isnull=True
    ).select_related("dataset__project", "dataset__owner")


@dataclass
class DestructionResult:
    version: DatasetVersion
    flagged_model_versions: list[ModelVersion]


def destroy_dataset_version(version: DatasetVersion, user: Any, reason: str) -> DestructionResult:
    """Delete a version's stored data, keep a tombstone, and flag what was built on it.

    Steps: check the admin role and the reason; in one transaction clear the file and the
    profile (which holds values from the data) and record who, when and why; flag every
    model version downstream "needs review"; record the audit entry and notify the owners.
    The stored file is deleted once the transaction commits."""
    from lineage import audit, propagation

    project = version.dataset.project
    if not project.has_role(user, Role.ADMIN):
        raise GovernanceError("Destroying data needs the admin role in this project.", 403)
    if not reason.strip():
        raise GovernanceError("Give the reason for destroying this data.", 400)
    with transaction.atomic():
        version = DatasetVersion.objects.select_for_update().get(pk=version.pk)
        if version.destroyed_at:
            raise GovernanceError(f"{version} was already destroyed.", 409)
        stored = version.file.name if version.file else ""
        before = {"file": stored, "profile_status": version.profile_status}
        version.file = ""
        version.profile = None
        version.destroyed_at = timezone.now()
        version.destroyed_by = user
        version.destruction_reason = reason
        version.save(
            update_fields=["file", "profile", "destroyed_at", "destroyed_by", "destruction_reason"]
        )
        if stored:
            storage = DatasetVersion._meta.get_field("file").storage
            transaction.on_commit(lambda: storage.delete(stored))
        affected = propagation.model_versions_downstream(version)
        message = f"{version} was destroyed ({reason})."
        for model_version in affected:
            model_version.needs_review = True
            # No dataset name here: the flag is seen by people who may not see the data.
            model_version.needs_review_reason = (
                f"Data it was built on (dataset version #{version.pk}) was destroyed on "
                f"{version.destroyed_at:%Y-%m-%d}."
            )
            model_version.save(update_fields=["needs_review", "needs_review_reason"])
        audit.record(
            "data_destroyed",
            version,
            actor=user,
            before=before,
            after={
                "reason": reason,
                "flagged_model_versions": [str(model_version) for model_version in affected],
            },
        )
        owners = [version.dataset.owner, *project_people(project, (Role.ADMIN,))]
        owners += [model_version.model.owner for model_version in affected]
        notify(
            owners, project, NotificationKind.DATA_DESTROYED, message, version.get_absolute_url()
        )
        for model_version in affected:
            notify(
                [model_version.model.owner, model_version.created_by],
                model_version.model.project,
                NotificationKind.NEEDS_REVIEW,
                f"{model_version} needs review: {model_version.needs_review_reason}",
                model_version.get_absolute_url(),
            )
    return DestructionResult(version, affected)


def notify_expired_data(today: dt.date | None = None) -> int:
    """Tell owners and project admins about versions past retention, once per version."""
    count = 0
    for version in expired_versions(today):
        url = version.get_absolute_url()
        if Notification.objects.filter(kind=NotificationKind.DATA_EXPIRED, url=url).exists():
            continue
        project = version.dataset.project
        notify(
            [version.dataset.owner, *project_people(project, (Role.ADMIN,))],
            project,
            NotificationKind.DATA_EXPIRED,
            f"{version} is past its keep-until date ({version.dataset.retain_until:%Y-%m-%d}): "
            "retire or destroy it on the governance page.",
            url,
        )
        count += 1
    return count
