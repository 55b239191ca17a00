"""Retention and destruction of data: versions kept past their dataset's keep-until date are
listed and their owners told once; an admin destroys one with a reason, which deletes the
stored file and the profile, keeps a tombstone, flags every model built on it and tells
the people concerned, in the portal and on the project's webhook (once per event)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from lineage import capture, governance, webhooks
from lineage.choices import EdgeKind, Sensitivity
from lineage.models import (
    AuditEntry,
    Dataset,
    DatasetVersion,
    ModelVersion,
    Notification,
    Project,
    RegisteredModel,
)
from lineage.tasks import find_expired_data, post_webhook

pytestmark = pytest.mark.django_db

REASON = "Retention period over (GDPR art. 5)"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def destroy_url(version: DatasetVersion) -> str:
    return f"/api/v1/dataset-versions/{version.pk}/destroy-data/"


def page_url(version: DatasetVersion) -> str:
    return f"/datasets/{version.dataset_id}/versions/{version.version}/destroy"


@pytest.fixture
def expired(dataset: Dataset) -> Dataset:
    """The confidential transactions, to be kept until a month ago."""
    dataset.retain_until = timezone.localdate() - dt.timedelta(days=30)
    dataset.save()
    return dataset


@pytest.fixture
def stored_version(
    expired: Dataset,
    add_version: Callable[..., DatasetVersion],
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> DatasetVersion:
    """A version with its file on disk and its profile computed."""
    with django_capture_on_commit_callbacks(execute=True):
        version = add_version(expired)
    version.refresh_from_db()
    assert version.profile, "the fixture needs a profiled version"
    return version


@pytest.fixture
def trained(
    classifier: RegisteredModel,
    stored_version: DatasetVersion,
    register_version: Callable[..., ModelVersion],
) -> ModelVersion:
    return register_version(classifier, training_dataset_version=stored_version.pk)


@pytest.fixture
def trained_on_derived(
    project: Project,
    contributor: User,
    stored_version: DatasetVersion,
    add_version: Callable[..., DatasetVersion],
    register_version: Callable[..., ModelVersion],
) -> ModelVersion:
    """A second model, trained on features derived from the expired version."""
    features = Dataset.objects.create(project=project, name="card-features", owner=contributor)
    derived = add_version(features)
    capture.link(stored_version, derived, EdgeKind.DERIVED_FROM)
    model = RegisteredModel.objects.create(
        project=project, name="fraud-ranker", task="classification", owner=contributor
    )
    return register_version(model, training_dataset_version=derived.pk)


@pytest.fixture
def unrelated(
    project: Project,
    contributor: User,
    add_version: Callable[..., DatasetVersion],
    register_version: Callable[..., ModelVersion],
) -> ModelVersion:
    """A model on other data, which destroying the transactions must not touch."""
    holidays = Dataset.objects.create(project=project, name="holidays", owner=contributor)
    model = RegisteredModel.objects.create(
        project=project, name="holiday-effect", task="classification", owner=contributor
    )
    return register_version(model, training_dataset_version=add_version(holidays).pk)


# Finding expired data ---------------------------------------------------------------------


def test_versions_of_a_dataset_past_its_keep_until_date_are_expired(
    stored_version: DatasetVersion, add_version: Callable[..., DatasetVersion]
) -> None:
    second = add_version(stored_version.dataset)

    assert set(governance.expired_versions()) == {stored_version, second}


def test_a_dataset_kept_until_today_or_later_or_forever_is_not_expired(
    project: Project, contributor: User, add_version: Callable[..., DatasetVersion]
) -> None:
    today = timezone.localdate()
    for name, keep_until in (
        ("today", today),
        ("next-year", today + dt.timedelta(days=365)),
        ("forever", None),
    ):
        add_version(Dataset.objects.create(project=project, name=name, retain_until=keep_until))

    assert list(governance.expired_versions()) == []


def test_a_destroyed_version_is_no_longer_expired(
    stored_version: DatasetVersion, owner: User
) -> None:
    governance.destroy_dataset_version(stored_version, owner, REASON)

    assert list(governance.expired_versions()) == []


def test_the_governance_page_lists_expired_data_with_a_destroy_link(
    stored_version: DatasetVersion, owner: User
) -> None:
    page = signed_in(owner).get("/governance/").content.decode()

    assert "Data past its retention date (1)" in page
    assert "transactions v1" in page
    assert page_url(stored_version) in page


def test_the_governance_page_hides_expired_confidential_data_from_non_members(
    stored_version: DatasetVersion, outsider: User
) -> None:
    page = signed_in(outsider).get("/governance/").content.decode()

    assert "Data past its retention date (0)" in page
    assert "transactions" not in page


def test_the_api_lists_expired_versions(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    stored_version: DatasetVersion,
    project: Project,
    add_version: Callable[..., DatasetVersion],
) -> None:
    kept = add_version(Dataset.objects.create(project=project, name="holidays"))
    client = api_client_for(viewer)

    past = client.get("/api/v1/dataset-versions/", {"expired": "true"})
    not_past = client.get("/api/v1/dataset-versions/", {"expired": "false"})

    assert [row["id"] for row in past.data["results"]] == [stored_version.pk]
    assert [row["id"] for row in not_past.data["results"]] == [kept.pk]


def test_finding_expired_data_tells_the_dataset_owner_and_the_project_admins(
    stored_version: DatasetVersion,
) -> None:
    found = find_expired_data()

    assert found == 1
    notes = Notification.objects.filter(kind="data_expired")
    assert sorted(notes.values_list("user__username", flat=True)) == ["carl", "olivia"]
    note = notes.first()
    assert note.url == stored_version.get_absolute_url()
    assert "transactions v1" in note.message
    assert note.project.slug == "card-fraud"


def test_finding_expired_data_twice_tells_nobody_twice(stored_version: DatasetVersion) -> None:
    find_expired_data()

    assert find_expired_data() == 0
    assert Notification.objects.filter(kind="data_expired").count() == 2


def test_a_dataset_owner_who_is_also_an_admin_is_told_once(
    stored_version: DatasetVersion, owner: User
) -> None:
    Dataset.objects.filter(pk=stored_version.dataset_id).update(owner=owner)

    find_expired_data()

    assert Notification.objects.filter(user=owner).count() == 1


# Who may destroy --------------------------------------------------------------------------


def test_an_admin_destroys_a_version_through_the_api(
    api_client_for: Callable[[User], APIClient], owner: User, stored_version: DatasetVersion
) -> None:
    response = api_client_for(owner).post(
        destroy_url(stored_version), {"reason": REASON}, format="json"
    )

    assert response.status_code == 200, response.data
    assert response.data["version"]["id"] == stored_version.pk
    assert response.data["version"]["destruction_reason"] == REASON
    assert response.data["version"]["destroyed_at"] is not None
    assert response.data["version"]["download_url"] is None
    assert response.data["flagged_model_versions"] == []


@pytest.mark.parametrize("role", ["contributor", "reviewer", "viewer"])
def test_a_member_without_the_admin_role_cannot_destroy(
    api_client_for: Callable[[User], APIClient],
    request: pytest.FixtureRequest,
    role: str,
    stored_version: DatasetVersion,
    media_files: Callable[[], list[Path]],
) -> None:
    member = request.getfixturevalue(role)

    response = api_client_for(member).post(
        destroy_url(stored_version), {"reason": REASON}, format="json"
    )

    assert response.status_code == 403
    stored_version.refresh_from_db()
    assert stored_version.destroyed_at is None
    assert stored_version.file
    assert len(media_files()) == 1


def test_an_outsider_cannot_even_find_the_confidential_version(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    stored_version: DatasetVersion,
) -> None:
    response = api_client_for(outsider).post(
        destroy_url(stored_version), {"reason": REASON}, format="json"
    )

    assert response.status_code == 404
    stored_version.refresh_from_db()
    assert stored_version.destroyed_at is None


def test_the_admin_of_another_project_cannot_destroy_internal_data_here(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    stored_version: DatasetVersion,
) -> None:
    Dataset.objects.filter(pk=stored_version.dataset_id).update(sensitivity=Sensitivity.INTERNAL)

    response = api_client_for(outsider).post(
        destroy_url(stored_version), {"reason": REASON}, format="json"
    )

    assert response.status_code == 403
    stored_version.refresh_from_db()
    assert stored_version.destroyed_at is None


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_destroying_needs_a_reason(
    api_client_for: Callable[[User], APIClient],
    owner: User,
    stored_version: DatasetVersion,
    body: dict[str, str],
) -> None:
    response = api_client_for(owner).post(destroy_url(stored_version), body, format="json")

    assert response.status_code == 400
    assert "reason" in response.data
    stored_version.refresh_from_db()
    assert stored_version.destroyed_at is None


def test_the_rule_itself_refuses_a_blank_reason(
    stored_version: DatasetVersion, owner: User
) -> None:
    with pytest.raises(governance.GovernanceError) as refused:
        governance.destroy_dataset_version(stored_version, owner, "  ")

    assert refused.value.status == 400


def test_destroying_twice_is_refused_with_409(
    api_client_for: Callable[[User], APIClient], owner: User, stored_version: DatasetVersion
) -> None:
    client = api_client_for(owner)
    client.post(destroy_url(stored_version), {"reason": REASON}, format="json")

    response = client.post(destroy_url(stored_version), {"reason": "Again"}, format="json")

    assert response.status_code == 409
    assert "already destroyed" in str(response.data["detail"])
    stored_version.refresh_from_db()
    assert stored_version.destruction_reason == REASON
    assert AuditEntry.objects.filter(action="data_destroyed").count() == 1


# What destroying does ---------------------------------------------------------------------


def test_destroying_deletes_the_stored_file_once_committed(
    api_client_for: Callable[[User], APIClient],
    owner: User,
    stored_version: DatasetVersion,
    media_files: Callable[[], list[Path]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    stored = Path(settings.MEDIA_ROOT) / stored_version.file.name
    assert media_files() == [stored]

    with django_capture_on_commit_callbacks(execute=True):
        api_client_for(owner).post(destroy_url(stored_version), {"reason": REASON}, format="json")

    assert not stored.exists()
    assert media_files() == []


def test_the_tombstone_keeps_hash_schema_and_row_count_and_says_who_and_why(
    api_client_for: Callable[[User], APIClient], owner: User, stored_version: DatasetVersion
) -> None:
    sha256, schema, rows = stored_version.sha256, stored_version.schema, stored_version.row_count

    api_client_for(owner).post(destroy_url(stored_version), {"reason": REASON}, format="json")

    tombstone = DatasetVersion.objects.get(pk=stored_version.pk)
    assert (tombstone.sha256, tombstone.schema, tombstone.row_count) == (sha256, schema, rows)
    assert tombstone.row_count == 40
    assert tombstone.profile is None
    assert not tombstone.file
    assert tombstone.destroyed_by == owner
    assert tombstone.destruction_reason == REASON
    assert timezone.now() - tombstone.destroyed_at < dt.timedelta(minutes=1)


def test_a_destroyed_version_cannot_be_downloaded(
    api_client_for: Callable[[User], APIClient],
    owner: User,
    contributor: User,
    stored_version: DatasetVersion,
) -> None:
    download = f"/datasets/{stored_version.dataset_id}/versions/1/download"
    assert signed_in(contributor).get(download).status_code == 200

    api_client_for(owner).post(destroy_url(stored_version), {"reason": REASON}, format="json")

    assert signed_in(contributor).get(download).status_code == 404
    detail = api_client_for(contributor).get(f"/api/v1/dataset-versions/{stored_version.pk}/")
    assert detail.data["download_url"] is None
    assert detail.data["profile"] is None


def test_every_model_built_on_the_data_is_flagged_with_the_reason(
    api_client_for: Callable[[User], APIClient],
    owner: User,
    stored_version: DatasetVersion,
    trained: ModelVersion,
    trained_on_derived: ModelVersion,
    unrelated: ModelVersion,
) -> None:
    response = api_client_for(owner).post(
        destroy_url(stored_version), {"reason": REASON}, format="json"
    )

    assert sorted(response.data["flagged_model_versions"]) == sorted(
        [trained.pk, trained_on_derived.pk]
    )
    for model_version in (trained, trained_on_derived):
        model_version.refresh_from_db()
        assert model_version.needs_review
        # The flag says what happened without naming the data (people who may not see the
        # data see the flag); the reason itself stays on the tombstone.
        assert f"dataset version #{stored_version.pk}" in model_version.needs_review_reason
        assert "transactions" not in model_version.needs_review_reason
    stored_version.refresh_from_db()
    assert stored_version.destruction_reason == REASON
    unrelated.refresh_from_db()
    assert not unrelated.needs_review
    assert unrelated.needs_review_reason == ""


def test_the_owners_are_told_of_the_destruction_and_of_each_flagged_model(
    owner: User,
    contributor: User,
    stored_version: DatasetVersion,
    trained: ModelVersion,
    trained_on_derived: ModelVersion,
) -> None:
    governance.destroy_dataset_version(stored_version, owner, REASON)

    destroyed = Notification.objects.filter(kind="data_destroyed")
    assert sorted(destroyed.values_list("user__username", flat=True)) == ["carl", "olivia"]
    assert all(REASON in note.message for note in destroyed)
    flagged = Notification.objects.filter(kind="needs_review")
    assert sorted(flagged.values_list("url", flat=True)) == sorted(
        [trained.get_absolute_url(), trained_on_derived.get_absolute_url()]
    )
    assert set(flagged.values_list("user", flat=True)) == {contributor.pk}


def test_the_destruction_is_in_the_audit_log(
    api_client_for: Callable[[User], APIClient],
    owner: User,
    stored_version: DatasetVersion,
    trained: ModelVersion,
) -> None:
    stored_name = stored_version.file.name

    api_client_for(owner).post(destroy_url(stored_version), {"reason": REASON}, format="json")

    entry = AuditEntry.objects.get(action="data_destroyed")
    assert entry.actor == owner
    assert entry.object_type == "datasetversion"
    assert entry.object_id == str(stored_version.pk)
    assert entry.project_id == stored_version.dataset.project_id
    assert entry.before["file"] == stored_name
    assert entry.after == {"reason": REASON, "flagged_model_versions": ["fraud-detector v1"]}


def test_a_flagged_model_shows_on_the_governance_page_and_fails_its_next_review(
    owner: User,
    contributor: User,
    stored_version: DatasetVersion,
    trained: ModelVersion,
) -> None:
    governance.destroy_dataset_version(stored_version, owner, REASON)

    page = signed_in(owner).get("/governance/").content.decode()
    trained.refresh_from_db()
    review = governance.request_review(trained, contributor)

    assert "Model versions that need review (1)" in page
    checks = {item["key"]: item["status"] for item in review.checklist}
    assert checks["flags"] == "failed"
    assert checks["training_data"] == "failed"


# The destroy page -------------------------------------------------------------------------


def test_the_confirm_page_lists_the_models_that_will_be_flagged(
    owner: User, stored_version: DatasetVersion, trained: ModelVersion
) -> None:
    response = signed_in(owner).get(page_url(stored_version))

    assert response.status_code == 200
    page = response.content.decode()
    assert "1 model version(s) were built on this data" in page
    assert "fraud-detector v1" in page
    stored_version.refresh_from_db()
    assert stored_version.destroyed_at is None


def test_destroying_from_the_page_needs_a_reason(
    owner: User, stored_version: DatasetVersion
) -> None:
    response = signed_in(owner).post(page_url(stored_version), {"reason": ""})

    assert response.status_code == 200
    assert "Give the reason for destroying this data." in response.content.decode()
    stored_version.refresh_from_db()
    assert stored_version.destroyed_at is None


def test_an_admin_destroys_from_the_page(
    owner: User,
    stored_version: DatasetVersion,
    trained: ModelVersion,
    media_files: Callable[[], list[Path]],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = signed_in(owner)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(page_url(stored_version), {"reason": REASON})

    assert response.status_code == 302
    assert response.url == stored_version.get_absolute_url()
    assert messages_of(response) == [
        "transactions v1 destroyed; 1 model version(s) flagged for review."
    ]
    assert [path for path in media_files() if "datasets" in path.parts] == []
    stored_version.refresh_from_db()
    assert stored_version.destroyed_by == owner
    assert REASON in client.get(stored_version.get_absolute_url()).content.decode()


def test_a_contributor_is_refused_the_destroy_page(
    contributor: User, stored_version: DatasetVersion, media_files: Callable[[], list[Path]]
) -> None:
    client = signed_in(contributor)

    shown = client.get(page_url(stored_version))
    posted = client.post(page_url(stored_version), {"reason": REASON})

    stored_version.refresh_from_db()
    assert stored_version.destroyed_at is None
    assert len(media_files()) == 1
    assert "Destroying data needs the admin role" in posted.content.decode()
    assert (shown.status_code, posted.status_code) == (403, 403)


def test_an_outsider_gets_404_from_the_destroy_page(
    outsider: User, other_project: Project, stored_version: DatasetVersion
) -> None:
    client = signed_in(outsider)

    assert client.get(page_url(stored_version)).status_code == 404
    assert client.post(page_url(stored_version), {"reason": REASON}).status_code == 404
    stored_version.refresh_from_db()
    assert stored_version.destroyed_at is None


# The project's webhook --------------------------------------------------------------------


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records what is POSTed to it."""

    url: str
    status: int = 200
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append(
                {
                    "path": self.path,
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(body),
                }
            )
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/portal"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_a_destruction_is_posted_once_to_the_webhook_not_once_per_person(
    receiver: Receiver,
    project: Project,
    owner: User,
    stored_version: DatasetVersion,
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    project.webhook_url = receiver.url
    project.save()

    with django_capture_on_commit_callbacks(execute=True):
        governance.destroy_dataset_version(stored_version, owner, REASON)

    assert Notification.objects.filter(kind="data_destroyed").count() == 2
    [call] = receiver.received
    assert call["path"] == "/hooks/portal"
    assert call["content_type"] == "application/json"
    assert call["json"]["project"] == "card-fraud"
    assert call["json"]["kind"] == "data_destroyed"
    assert "transactions v1" in call["json"]["message"]
    assert REASON in call["json"]["message"]
    assert call["json"]["url"] == stored_version.get_absolute_url()


def test_each_event_of_a_destruction_is_posted_once(
    receiver: Receiver,
    project: Project,
    owner: User,
    stored_version: DatasetVersion,
    trained: ModelVersion,
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    project.webhook_url = receiver.url
    project.save()

    with django_capture_on_commit_callbacks(execute=True):
        governance.destroy_dataset_version(stored_version, owner, REASON)

    assert sorted(call["json"]["kind"] for call in receiver.received) == [
        "data_destroyed",
        "needs_review",
    ]


def test_nothing_is_posted_before_the_transaction_commits(
    receiver: Receiver,
    project: Project,
    owner: User,
    stored_version: DatasetVersion,
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    project.webhook_url = receiver.url
    project.save()

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        governance.destroy_dataset_version(stored_version, owner, REASON)

    assert receiver.received == []
    assert callbacks  # the file deletion and the webhook wait for the commit


def test_a_project_without_a_webhook_posts_nothing(
    receiver: Receiver,
    owner: User,
    stored_version: DatasetVersion,
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        governance.destroy_dataset_version(stored_version, owner, REASON)

    assert receiver.received == []


def test_the_webhook_task_posts_to_the_projects_url(receiver: Receiver, project: Project) -> None:
    project.webhook_url = receiver.url
    project.save()

    status = post_webhook(project.pk, {"project": "card-fraud", "kind": "data_expired"})

    assert status == 200
    assert [call["json"]["kind"] for call in receiver.received] == ["data_expired"]


def test_a_receiver_failing_with_500_raises_a_retryable_error(receiver: Receiver) -> None:
    receiver.status = 500

    with pytest.raises(OSError) as failed:
        webhooks.post_json(receiver.url, {"kind": "data_destroyed"})

    assert isinstance(failed.value, webhooks.WebhookServerError)
    assert "500" in str(failed.value)
    assert len(receiver.received) == 1


def test_a_receiver_refusing_with_404_is_answered_not_retried(receiver: Receiver) -> None:
    receiver.status = 404

    assert webhooks.post_json(receiver.url, {"kind": "data_destroyed"}) == 404
    assert len(receiver.received) == 1


def test_an_unreachable_receiver_raises_a_retryable_error(receiver: Receiver) -> None:
    closed = "http://127.0.0.1:9/hooks/portal"

    with pytest.raises(OSError):
        webhooks.post_json(closed, {"kind": "data_destroyed"})
