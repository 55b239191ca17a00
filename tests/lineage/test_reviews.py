"""Production reviews: a contributor asks to move a model version to production, the portal
fills in a checklist (sensitive data upstream, training data, metrics against production,
open flags), and a reviewer other than the requester approves or rejects it with a comment.
Production is never reached any other way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from rest_framework.test import APIClient

from lineage import governance
from lineage.choices import ReviewState, Stage
from lineage.models import (
    AuditEntry,
    Dataset,
    DatasetVersion,
    Membership,
    ModelVersion,
    Notification,
    Project,
    RegisteredModel,
    Review,
    StageTransition,
)

pytestmark = pytest.mark.django_db

REVIEWS = "/api/v1/reviews/"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def checklist_item(review: Review | dict[str, Any], key: str) -> dict[str, Any]:
    checklist = review["checklist"] if isinstance(review, dict) else review.checklist
    [item] = [item for item in checklist if item["key"] == key]
    return item


@pytest.fixture
def training_data(dataset: Dataset, add_version: Callable[..., DatasetVersion]) -> DatasetVersion:
    return add_version(dataset)


@pytest.fixture
def in_production(
    classifier: RegisteredModel,
    training_data: DatasetVersion,
    register_version: Callable[..., ModelVersion],
    owner: User,
) -> ModelVersion:
    """Version 1, already serving."""
    version = register_version(
        classifier,
        training_dataset_version=training_data.pk,
        metrics={"roc_auc": 0.90, "log_loss": 0.30},
    )
    version.change_stage(Stage.PRODUCTION, owner, "First release")
    return version


@pytest.fixture
def candidate(
    in_production: ModelVersion,
    classifier: RegisteredModel,
    training_data: DatasetVersion,
    register_version: Callable[..., ModelVersion],
) -> ModelVersion:
    """Version 2: better ROC AUC, worse log loss, trained on the confidential dataset."""
    return register_version(
        classifier,
        training_dataset_version=training_data.pk,
        metrics={"roc_auc": 0.93, "log_loss": 0.35},
    )


@pytest.fixture
def pending(candidate: ModelVersion, contributor: User) -> Review:
    return governance.request_review(candidate, contributor, "Better recall on October data")


def request_through_api(client: APIClient, version: ModelVersion, comment: str = "") -> Any:
    return client.post(REVIEWS, {"model_version": version.pk, "comment": comment}, format="json")


# Requesting -------------------------------------------------------------------------------


def test_a_contributor_requests_a_review_through_the_api(
    api_client_for: Callable[[User], APIClient], contributor: User, candidate: ModelVersion
) -> None:
    response = request_through_api(api_client_for(contributor), candidate, "Ready to ship")

    assert response.status_code == 201, response.data
    review = Review.objects.get()
    assert response.data["id"] == review.pk
    assert response.data["state"] == "pending"
    assert response.data["target_stage"] == "production"
    assert response.data["stage_at_request"] == "none"
    assert response.data["requested_by"] == "carl"
    assert response.data["request_comment"] == "Ready to ship"
    assert review.state == ReviewState.PENDING
    assert review.model_version == candidate
    assert [item["key"] for item in response.data["checklist"]] == [
        "sensitive_data",
        "training_data",
        "metrics",
        "flags",
    ]
    candidate.refresh_from_db()
    assert candidate.stage == Stage.NONE


def test_the_checklist_warns_about_confidential_training_data_and_shows_its_path(
    pending: Review,
) -> None:
    item = checklist_item(pending, "sensitive_data")

    assert item["status"] == "warning"
    assert "CONFIDENTIAL" in item["detail"]
    assert "transactions" in item["detail"]
    [path] = item["paths"]
    assert path[-1] == "fraud-detector v2"
    assert "transactions v1" in path


def test_the_checklist_passes_sensitive_data_when_nothing_sensitive_is_upstream(
    project: Project,
    contributor: User,
    classifier: RegisteredModel,
    add_version: Callable[..., DatasetVersion],
    register_version: Callable[..., ModelVersion],
) -> None:
    public = Dataset.objects.create(project=project, name="holidays", sensitivity="public")
    version = register_version(classifier, training_dataset_version=add_version(public).pk)

    review = governance.request_review(version, contributor)

    assert checklist_item(review, "sensitive_data")["status"] == "passed"


def test_the_checklist_compares_metrics_with_the_version_in_production(pending: Review) -> None:
    item = checklist_item(pending, "metrics")

    assert item["status"] == "warning"
    assert "v1" in item["detail"]
    assert "roc_auc 0.9 → 0.93" in item["detail"]
    assert "log_loss 0.3 → 0.35" in item["detail"]
    assert "Worse on: log_loss" in item["detail"]
    assert "roc_auc." not in item["detail"].split("Worse on:")[1]


def test_the_metrics_check_passes_when_every_shared_metric_improves(
    in_production: ModelVersion,
    classifier: RegisteredModel,
    training_data: DatasetVersion,
    register_version: Callable[..., ModelVersion],
    contributor: User,
) -> None:
    better = register_version(
        classifier,
        training_dataset_version=training_data.pk,
        metrics={"roc_auc": 0.95, "log_loss": 0.20},
    )

    item = checklist_item(governance.request_review(better, contributor), "metrics")

    assert item["status"] == "passed"
    assert "Worse" not in item["detail"]


def test_the_metrics_check_says_when_nothing_is_in_production_yet(
    classifier: RegisteredModel,
    training_data: DatasetVersion,
    register_version: Callable[..., ModelVersion],
    contributor: User,
) -> None:
    first = register_version(classifier, training_dataset_version=training_data.pk)

    item = checklist_item(governance.request_review(first, contributor), "metrics")

    assert item["status"] == "passed"
    assert item["detail"] == "No version is in production yet."


def test_the_checklist_fails_on_an_open_flag_and_warns_without_training_data(
    in_production: ModelVersion,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
    contributor: User,
) -> None:
    untracked = register_version(classifier, metrics={"roc_auc": 0.91})
    untracked.needs_review = True
    untracked.needs_review_reason = "Built on transactions v1, destroyed: GDPR request"
    untracked.save(update_fields=["needs_review", "needs_review_reason"])

    review = governance.request_review(untracked, contributor)

    flags = checklist_item(review, "flags")
    assert flags["status"] == "failed"
    assert flags["detail"] == "Built on transactions v1, destroyed: GDPR request"
    training = checklist_item(review, "training_data")
    assert training["status"] == "warning"
    assert training["detail"] == "No training data is recorded."


def test_reviewers_and_admins_are_notified_but_not_the_requester(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    reviewer: User,
    owner: User,
    candidate: ModelVersion,
) -> None:
    request_through_api(api_client_for(contributor), candidate)

    notified = Notification.objects.filter(kind="review_requested")
    assert sorted(notified.values_list("user__username", flat=True)) == ["olivia", "rita"]
    assert all(note.url == candidate.get_absolute_url() for note in notified)
    assert all("fraud-detector v2" in note.message for note in notified)
    assert not Notification.objects.filter(user=contributor).exists()


def test_a_reviewer_requesting_a_review_is_not_notified_of_their_own_request(
    reviewer: User, owner: User, candidate: ModelVersion
) -> None:
    governance.request_review(candidate, reviewer)

    assert list(Notification.objects.values_list("user__username", flat=True)) == ["olivia"]


def test_a_second_request_while_one_is_pending_is_refused_with_409(
    api_client_for: Callable[[User], APIClient], contributor: User, pending: Review
) -> None:
    response = request_through_api(api_client_for(contributor), pending.model_version)

    assert response.status_code == 409, response.data
    assert "already has a review waiting" in str(response.data["detail"])
    assert Review.objects.count() == 1


def test_the_rule_refuses_a_second_pending_request_with_409(
    contributor: User, reviewer: User, pending: Review
) -> None:
    with pytest.raises(governance.GovernanceError) as refused:
        governance.request_review(pending.model_version, reviewer)

    assert refused.value.status == 409
    assert "already has a review waiting for a decision" in refused.value.message
    assert Review.objects.count() == 1


def test_a_version_already_in_production_cannot_be_reviewed_again(
    api_client_for: Callable[[User], APIClient], contributor: User, in_production: ModelVersion
) -> None:
    response = request_through_api(api_client_for(contributor), in_production)

    assert response.status_code == 409
    assert not Review.objects.exists()


def test_a_viewer_cannot_request_a_review(
    api_client_for: Callable[[User], APIClient], viewer: User, candidate: ModelVersion
) -> None:
    response = request_through_api(api_client_for(viewer), candidate)

    assert response.status_code == 403
    assert "contributor role" in str(response.data["detail"])
    assert not Review.objects.exists()
    assert not Notification.objects.exists()


# Deciding ---------------------------------------------------------------------------------


def test_a_reviewer_approves_and_the_version_goes_to_production(
    api_client_for: Callable[[User], APIClient],
    reviewer: User,
    pending: Review,
    candidate: ModelVersion,
    in_production: ModelVersion,
) -> None:
    response = api_client_for(reviewer).post(
        f"{REVIEWS}{pending.pk}/approve/", {"comment": "Metrics hold up"}, format="json"
    )

    assert response.status_code == 200, response.data
    assert response.data["state"] == "approved"
    assert response.data["reviewer"] == "rita"
    assert response.data["decision_comment"] == "Metrics hold up"
    pending.refresh_from_db()
    assert pending.state == ReviewState.APPROVED
    assert pending.reviewer == reviewer
    assert pending.decided_at is not None
    candidate.refresh_from_db()
    in_production.refresh_from_db()
    assert candidate.stage == Stage.PRODUCTION
    assert in_production.stage == Stage.ARCHIVED
    promoted = StageTransition.objects.get(model_version=candidate)
    assert (promoted.from_stage, promoted.to_stage) == (Stage.NONE, Stage.PRODUCTION)
    assert promoted.changed_by == reviewer
    assert f"#{pending.pk}" in promoted.comment
    archived = StageTransition.objects.filter(model_version=in_production).first()
    assert (archived.from_stage, archived.to_stage) == (Stage.PRODUCTION, Stage.ARCHIVED)
    assert archived.changed_by == reviewer


def test_the_requester_is_told_of_the_decision(
    api_client_for: Callable[[User], APIClient],
    reviewer: User,
    contributor: User,
    pending: Review,
) -> None:
    api_client_for(reviewer).post(
        f"{REVIEWS}{pending.pk}/reject/", {"comment": "Log loss regressed"}, format="json"
    )

    [note] = Notification.objects.filter(kind="review_decided")
    assert note.user == contributor
    assert "rejected" in note.message
    assert "Log loss regressed" in note.message


def test_an_admin_can_decide_too(
    api_client_for: Callable[[User], APIClient],
    owner: User,
    pending: Review,
    candidate: ModelVersion,
) -> None:
    response = api_client_for(owner).post(
        f"{REVIEWS}{pending.pk}/approve/", {"comment": "OK"}, format="json"
    )

    assert response.status_code == 200
    assert response.data["reviewer"] == "olivia"
    candidate.refresh_from_db()
    assert candidate.stage == Stage.PRODUCTION


def test_a_reviewer_cannot_approve_their_own_request(
    api_client_for: Callable[[User], APIClient], reviewer: User, candidate: ModelVersion
) -> None:
    review = governance.request_review(candidate, reviewer)

    response = api_client_for(reviewer).post(
        f"{REVIEWS}{review.pk}/approve/", {"comment": "Looks good to me"}, format="json"
    )

    assert response.status_code == 403
    assert "another reviewer must decide" in str(response.data["detail"])
    review.refresh_from_db()
    candidate.refresh_from_db()
    assert review.state == ReviewState.PENDING
    assert candidate.stage == Stage.NONE


def test_a_contributor_cannot_decide(
    api_client_for: Callable[[User], APIClient],
    make_user: Callable[..., User],
    project: Project,
    pending: Review,
) -> None:
    colleague = make_user("chris")
    Membership.objects.create(project=project, user=colleague, role="contributor")

    response = api_client_for(colleague).post(
        f"{REVIEWS}{pending.pk}/approve/", {"comment": "Ship it"}, format="json"
    )

    assert response.status_code == 403
    assert "reviewer role" in str(response.data["detail"])
    pending.refresh_from_db()
    assert pending.state == ReviewState.PENDING


def test_approving_without_a_comment_is_refused(
    api_client_for: Callable[[User], APIClient],
    reviewer: User,
    pending: Review,
    candidate: ModelVersion,
) -> None:
    client = api_client_for(reviewer)

    missing = client.post(f"{REVIEWS}{pending.pk}/approve/", {}, format="json")
    blank = client.post(f"{REVIEWS}{pending.pk}/approve/", {"comment": "   "}, format="json")

    assert missing.status_code == 400
    assert "comment" in missing.data
    assert blank.status_code == 400
    pending.refresh_from_db()
    candidate.refresh_from_db()
    assert pending.state == ReviewState.PENDING
    assert candidate.stage == Stage.NONE


def test_a_blank_comment_is_refused_by_the_rule_itself(reviewer: User, pending: Review) -> None:
    with pytest.raises(governance.GovernanceError) as refused:
        governance.decide_review(pending, reviewer, approve=True, comment="  ")

    assert refused.value.status == 400
    pending.refresh_from_db()
    assert pending.state == ReviewState.PENDING


def test_a_rejection_keeps_the_stage(
    api_client_for: Callable[[User], APIClient],
    reviewer: User,
    pending: Review,
    candidate: ModelVersion,
    in_production: ModelVersion,
) -> None:
    response = api_client_for(reviewer).post(
        f"{REVIEWS}{pending.pk}/reject/", {"comment": "Log loss regressed"}, format="json"
    )

    assert response.status_code == 200
    assert response.data["state"] == "rejected"
    candidate.refresh_from_db()
    in_production.refresh_from_db()
    assert candidate.stage == Stage.NONE
    assert in_production.stage == Stage.PRODUCTION
    assert not StageTransition.objects.filter(model_version=candidate).exists()


def test_a_decided_review_cannot_be_decided_again(
    api_client_for: Callable[[User], APIClient], reviewer: User, owner: User, pending: Review
) -> None:
    api_client_for(reviewer).post(
        f"{REVIEWS}{pending.pk}/reject/", {"comment": "No"}, format="json"
    )

    response = api_client_for(owner).post(
        f"{REVIEWS}{pending.pk}/approve/", {"comment": "Overrule"}, format="json"
    )

    assert response.status_code == 409
    pending.refresh_from_db()
    assert pending.state == ReviewState.REJECTED
    assert pending.reviewer == reviewer


def test_a_review_whose_version_moved_stage_meanwhile_cannot_be_approved(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    reviewer: User,
    pending: Review,
    candidate: ModelVersion,
    in_production: ModelVersion,
) -> None:
    moved = api_client_for(contributor).post(
        f"/api/v1/model-versions/{candidate.pk}/stage/", {"stage": "staging"}, format="json"
    )
    assert moved.status_code == 200

    response = api_client_for(reviewer).post(
        f"{REVIEWS}{pending.pk}/approve/", {"comment": "Ship it"}, format="json"
    )

    assert response.status_code == 409
    detail = str(response.data["detail"])
    assert "moved from none to staging" in detail
    assert "request a new one" in detail
    pending.refresh_from_db()
    candidate.refresh_from_db()
    in_production.refresh_from_db()
    assert pending.state == ReviewState.PENDING
    assert pending.reviewer is None
    assert candidate.stage == Stage.STAGING
    assert in_production.stage == Stage.PRODUCTION
    assert not AuditEntry.objects.filter(action="review_decided").exists()


# Withdrawing ------------------------------------------------------------------------------


def test_the_requester_withdraws_their_request(
    api_client_for: Callable[[User], APIClient], contributor: User, pending: Review
) -> None:
    response = api_client_for(contributor).post(f"{REVIEWS}{pending.pk}/withdraw/")

    assert response.status_code == 200
    assert response.data["state"] == "withdrawn"
    pending.refresh_from_db()
    assert pending.state == ReviewState.WITHDRAWN
    # A new request can follow.
    assert request_through_api(api_client_for(contributor), pending.model_version).status_code == (
        201
    )


def test_someone_else_without_the_admin_role_cannot_withdraw_it(
    api_client_for: Callable[[User], APIClient], reviewer: User, pending: Review
) -> None:
    response = api_client_for(reviewer).post(f"{REVIEWS}{pending.pk}/withdraw/")

    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.state == ReviewState.PENDING


def test_an_admin_may_withdraw_someone_elses_request(
    api_client_for: Callable[[User], APIClient], owner: User, pending: Review
) -> None:
    response = api_client_for(owner).post(f"{REVIEWS}{pending.pk}/withdraw/")

    assert response.status_code == 200
    pending.refresh_from_db()
    assert pending.state == ReviewState.WITHDRAWN


def test_a_withdrawn_review_cannot_be_approved(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    reviewer: User,
    pending: Review,
    candidate: ModelVersion,
) -> None:
    api_client_for(contributor).post(f"{REVIEWS}{pending.pk}/withdraw/")

    response = api_client_for(reviewer).post(
        f"{REVIEWS}{pending.pk}/approve/", {"comment": "Too late"}, format="json"
    )

    assert response.status_code == 409
    candidate.refresh_from_db()
    assert candidate.stage == Stage.NONE


# Listing and the audit log ----------------------------------------------------------------


def test_reviews_are_listed_and_filtered_by_state(
    api_client_for: Callable[[User], APIClient], viewer: User, pending: Review
) -> None:
    client = api_client_for(viewer)

    waiting = client.get(REVIEWS, {"state": "pending", "project": "card-fraud"})
    decided = client.get(REVIEWS, {"state": "approved"})
    detail = client.get(f"{REVIEWS}{pending.pk}/")

    assert [row["id"] for row in waiting.data["results"]] == [pending.pk]
    assert decided.data["results"] == []
    assert detail.status_code == 200
    assert detail.data["model_version_label"] == "fraud-detector v2"


def test_requests_and_decisions_are_in_the_audit_log(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    reviewer: User,
    candidate: ModelVersion,
) -> None:
    created = request_through_api(api_client_for(contributor), candidate, "Ready")
    review_id = created.data["id"]
    api_client_for(reviewer).post(
        f"{REVIEWS}{review_id}/approve/", {"comment": "Approved after checks"}, format="json"
    )

    requested = AuditEntry.objects.get(action="review_requested")
    assert requested.actor == contributor
    assert requested.object_type == "review"
    assert requested.object_id == str(review_id)
    assert requested.after["comment"] == "Ready"
    assert requested.after["model_version"] == "fraud-detector v2"
    decided = AuditEntry.objects.get(action="review_decided")
    assert decided.actor == reviewer
    assert decided.object_id == str(review_id)
    assert decided.before == {"state": "pending"}
    assert decided.after == {"state": "approved", "comment": "Approved after checks"}


# Notifications ----------------------------------------------------------------------------


def test_a_reviewer_reads_their_notifications_and_marks_them_read(
    api_client_for: Callable[[User], APIClient], reviewer: User, pending: Review
) -> None:
    client = api_client_for(reviewer)

    listed = client.get("/api/v1/notifications/", {"unread": "true"})
    [note] = listed.data["results"]
    read = client.post(f"/api/v1/notifications/{note['id']}/read/")
    unread_after = client.get("/api/v1/notifications/", {"unread": "true"})

    assert note["kind"] == "review_requested"
    assert note["project"] == "card-fraud"
    assert read.status_code == 200
    assert read.data["read_at"] is not None
    assert unread_after.data["results"] == []


def test_read_all_marks_only_your_own_notifications(
    api_client_for: Callable[[User], APIClient], reviewer: User, owner: User, pending: Review
) -> None:
    response = api_client_for(reviewer).post("/api/v1/notifications/read-all/")

    assert response.status_code == 200
    assert response.data == {"marked_read": 1}
    assert Notification.objects.get(user=owner).read_at is None


def test_nobody_reads_someone_elses_notification(
    api_client_for: Callable[[User], APIClient], reviewer: User, owner: User, pending: Review
) -> None:
    others = Notification.objects.get(user=owner)

    response = api_client_for(reviewer).post(f"/api/v1/notifications/{others.pk}/read/")

    assert response.status_code == 404
    others.refresh_from_db()
    assert others.read_at is None


# The pages --------------------------------------------------------------------------------


def test_the_version_page_offers_a_contributor_the_request_button(
    contributor: User, candidate: ModelVersion
) -> None:
    page = signed_in(contributor).get(candidate.get_absolute_url()).content.decode()

    assert "Request production review" in page
    assert f"/models/{candidate.model_id}/versions/2/review" in page


def test_the_version_page_offers_a_viewer_no_request_button(
    viewer: User, candidate: ModelVersion
) -> None:
    page = signed_in(viewer).get(candidate.get_absolute_url()).content.decode()

    assert "Request production review" not in page


def test_requesting_from_the_page_creates_the_review_and_says_so(
    contributor: User, candidate: ModelVersion
) -> None:
    response = signed_in(contributor).post(
        f"/models/{candidate.model_id}/versions/2/review", {"comment": "Ready"}
    )

    assert response.status_code == 302
    assert response.url == candidate.get_absolute_url()
    assert messages_of(response) == ["Review requested; the project's reviewers are notified."]
    review = Review.objects.get()
    assert review.requested_by == contributor
    assert review.request_comment == "Ready"


def test_a_refused_request_from_the_page_says_why(viewer: User, candidate: ModelVersion) -> None:
    response = signed_in(viewer).post(f"/models/{candidate.model_id}/versions/2/review")

    assert response.status_code == 302
    assert messages_of(response) == ["You need the contributor role to request a review."]
    assert not Review.objects.exists()


def test_the_reviewer_sees_the_checklist_and_the_approve_form(
    reviewer: User, pending: Review, candidate: ModelVersion
) -> None:
    page = signed_in(reviewer).get(candidate.get_absolute_url()).content.decode()

    assert f"/reviews/{pending.pk}/decide" in page
    assert 'value="approve"' in page
    assert "Sensitive data used" in page
    assert "Metrics vs production" in page
    assert "Worse on: log_loss" in page


def test_the_requester_sees_no_approve_form(contributor: User, pending: Review) -> None:
    page = signed_in(contributor).get(pending.model_version.get_absolute_url()).content.decode()

    assert 'value="approve"' not in page
    assert "Another reviewer must decide your request." in page


def test_approving_from_the_page_moves_the_version_to_production(
    reviewer: User, pending: Review, candidate: ModelVersion, in_production: ModelVersion
) -> None:
    client = signed_in(reviewer)

    response = client.post(
        f"/reviews/{pending.pk}/decide", {"decision": "approve", "comment": "Checked"}
    )

    assert response.status_code == 302
    assert messages_of(response) == ["Approved: the version is in production."]
    candidate.refresh_from_db()
    in_production.refresh_from_db()
    assert candidate.stage == Stage.PRODUCTION
    assert in_production.stage == Stage.ARCHIVED
    page = client.get(candidate.get_absolute_url()).content.decode()
    assert "This version is in production." in page


def test_approving_from_the_page_without_a_comment_changes_nothing(
    reviewer: User, pending: Review, candidate: ModelVersion
) -> None:
    response = signed_in(reviewer).post(f"/reviews/{pending.pk}/decide", {"decision": "approve"})

    assert messages_of(response) == ["Say why: a decision needs a comment."]
    pending.refresh_from_db()
    candidate.refresh_from_db()
    assert pending.state == ReviewState.PENDING
    assert candidate.stage == Stage.NONE


def test_the_requester_cannot_approve_from_the_page(contributor: User, pending: Review) -> None:
    response = signed_in(contributor).post(
        f"/reviews/{pending.pk}/decide", {"decision": "approve", "comment": "Mine"}
    )

    assert messages_of(response) == [
        "You need the reviewer role in this project to decide reviews."
    ]
    pending.refresh_from_db()
    assert pending.state == ReviewState.PENDING


def test_the_requester_withdraws_from_the_page(contributor: User, pending: Review) -> None:
    response = signed_in(contributor).post(
        f"/reviews/{pending.pk}/decide", {"decision": "withdraw"}
    )

    assert messages_of(response) == ["Review withdrawn."]
    pending.refresh_from_db()
    assert pending.state == ReviewState.WITHDRAWN


def test_an_unknown_decision_from_the_page_changes_nothing(reviewer: User, pending: Review) -> None:
    response = signed_in(reviewer).post(
        f"/reviews/{pending.pk}/decide", {"decision": "promote", "comment": "x"}
    )

    assert messages_of(response) == ["Choose approve, reject or withdraw."]
    pending.refresh_from_db()
    assert pending.state == ReviewState.PENDING


def test_the_governance_page_lists_the_waiting_review_for_reviewers(
    reviewer: User, pending: Review
) -> None:
    page = signed_in(reviewer).get("/governance/").content.decode()

    assert "Reviews waiting (1)" in page
    assert "fraud-detector v2" in page


# Production only through a review ---------------------------------------------------------


def test_the_stage_endpoint_refuses_production(
    api_client_for: Callable[[User], APIClient], owner: User, candidate: ModelVersion
) -> None:
    response = api_client_for(owner).post(
        f"/api/v1/model-versions/{candidate.pk}/stage/", {"stage": "production"}, format="json"
    )

    assert response.status_code == 409
    assert "approved review" in str(response.data["detail"])
    candidate.refresh_from_db()
    assert candidate.stage == Stage.NONE
    assert not StageTransition.objects.filter(model_version=candidate).exists()


def test_the_stage_endpoint_still_moves_to_staging(
    api_client_for: Callable[[User], APIClient], contributor: User, candidate: ModelVersion
) -> None:
    response = api_client_for(contributor).post(
        f"/api/v1/model-versions/{candidate.pk}/stage/", {"stage": "staging"}, format="json"
    )

    assert response.status_code == 200
    assert response.data["stage"] == "staging"


def test_the_stage_form_does_not_offer_production(owner: User, candidate: ModelVersion) -> None:
    page = signed_in(owner).get(candidate.get_absolute_url()).content.decode()
    stage_select = page.split('name="stage"')[1].split("</select>")[0]

    assert 'value="staging"' in stage_select
    assert 'value="production"' not in stage_select


def test_posting_production_to_the_stage_form_changes_nothing(
    owner: User, candidate: ModelVersion, in_production: ModelVersion
) -> None:
    response = signed_in(owner).post(
        f"/models/{candidate.model_id}/versions/2/stage", {"stage": "production"}
    )

    assert response.status_code == 302
    assert "production needs an approved review" in messages_of(response)[0]
    candidate.refresh_from_db()
    in_production.refresh_from_db()
    assert candidate.stage == Stage.NONE
    assert in_production.stage == Stage.PRODUCTION
