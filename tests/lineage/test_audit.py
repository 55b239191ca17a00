"""The audit log: every create, change, delete, stage change and sign-in is recorded with
who, when, what, before and after; the page, its CSV export and the API filter it and show
each person only what they may see; nothing changes or deletes an entry."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import importlib
import io
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from lineage import audit
from lineage.models import (
    AuditEntry,
    Dataset,
    DatasetVersion,
    Deployment,
    ImmutableError,
    Membership,
    ModelVersion,
    PipelineJob,
    Project,
    RegisteredModel,
    Tag,
)
from tests.portal_stack import missing_service, postgres_conninfo

pytestmark = pytest.mark.django_db

API = "/api/v1/audit-log/"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def entries_on(obj: Any, action: str | None = None) -> list[AuditEntry]:
    found = AuditEntry.objects.filter(object_type=obj._meta.model_name, object_id=str(obj.pk))
    if action:
        found = found.filter(action=action)
    return list(found.order_by("pk"))


def make_entry(
    at: dt.datetime | None = None, project: Project | None = None, **fields: Any
) -> AuditEntry:
    fields.setdefault("action", "update")
    return AuditEntry.objects.create(at=at or timezone.now(), project=project, **fields)


def reprs(response: Any) -> set[str]:
    return {item["object_repr"] for item in response.data["results"]}


# Recording catalog changes ---------------------------------------------------------------


def test_creating_a_dataset_through_the_api_records_who_when_and_what(
    api_client_for: Callable[[User], APIClient], contributor: User, project: Project
) -> None:
    started = timezone.now()

    response = api_client_for(contributor).post(
        "/api/v1/datasets/",
        {"project": "card-fraud", "name": "chargebacks", "description": "Disputed payments"},
        format="json",
    )

    assert response.status_code == 201
    [entry] = entries_on(Dataset.objects.get(name="chargebacks"), "create")
    assert entry.actor == contributor
    assert entry.actor_name == "carl"
    assert started <= entry.at <= timezone.now()
    assert entry.project == project
    assert entry.object_repr == "chargebacks"
    assert entry.remote_addr == "127.0.0.1"
    assert entry.before is None
    assert entry.after["name"] == "chargebacks"
    assert entry.after["description"] == "Disputed payments"
    assert entry.after["project"] == project.pk
    assert entry.after["owner"] == contributor.pk


def test_editing_a_dataset_records_only_the_fields_that_changed(
    api_client_for: Callable[[User], APIClient], contributor: User, dataset: Dataset
) -> None:
    response = api_client_for(contributor).patch(
        f"/api/v1/datasets/{dataset.pk}/",
        {"description": "Relabelled in March", "sensitivity": "pii"},
        format="json",
    )

    assert response.status_code == 200
    [entry] = [entry for entry in entries_on(dataset, "update") if entry.actor == contributor]
    assert entry.before == {
        "description": "Card transactions labelled by the fraud team",
        "sensitivity": "confidential",
    }
    assert entry.after == {"description": "Relabelled in March", "sensitivity": "pii"}


def test_a_save_that_changes_nothing_records_nothing(dataset: Dataset) -> None:
    recorded = AuditEntry.objects.count()

    Dataset.objects.get(pk=dataset.pk).save()

    assert AuditEntry.objects.count() == recorded


def test_changing_tags_records_the_tag_lists_before_and_after(
    api_client_for: Callable[[User], APIClient], contributor: User, dataset: Dataset
) -> None:
    response = api_client_for(contributor).patch(
        f"/api/v1/datasets/{dataset.pk}/", {"tags": ["fraud", "payments", "q1"]}, format="json"
    )

    assert response.status_code == 200
    [entry] = [entry for entry in entries_on(dataset, "update") if entry.actor == contributor]
    assert entry.before == {"tags": ["fraud", "payments"]}
    assert entry.after == {"tags": ["fraud", "payments", "q1"]}


def test_tagging_from_the_tags_side_is_recorded_on_the_tagged_object(dataset: Dataset) -> None:
    tag = Tag.objects.create(name="q1")

    tag.datasets.add(dataset)

    [entry] = [entry for entry in entries_on(dataset, "update") if "q1" in entry.after["tags"]]
    assert entry.before == {"tags": ["fraud", "payments"]}


def test_deleting_a_dataset_records_what_it_was_and_its_cascaded_versions(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    project: Project,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
) -> None:
    version = add_version(dataset)
    dataset_pk, version_pk = dataset.pk, version.pk

    response = api_client_for(contributor).delete(f"/api/v1/datasets/{dataset_pk}/")

    assert response.status_code == 204
    deleted = AuditEntry.objects.filter(action="delete")
    dataset_entry = deleted.get(object_type="dataset", object_id=str(dataset_pk))
    version_entry = deleted.get(object_type="datasetversion", object_id=str(version_pk))
    assert dataset_entry.actor == contributor
    assert dataset_entry.before["name"] == "transactions"
    assert dataset_entry.after is None
    assert version_entry.project_id == project.pk
    assert version_entry.object_repr == "transactions v1"


def test_a_stage_change_is_recorded_as_such_with_the_stage_before_and_after(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    version = register_version(classifier)

    response = api_client_for(contributor).post(
        f"/api/v1/model-versions/{version.pk}/stage/", {"stage": "staging"}, format="json"
    )

    assert response.status_code == 200
    [entry] = entries_on(version, "stage_change")
    assert entry.actor == contributor
    assert entry.before["stage"] == "none"
    assert entry.after["stage"] == "staging"
    assert entry.project == classifier.project
    assert not entries_on(version, "update")


def test_a_versions_profile_and_facets_never_enter_the_log(
    dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> None:
    version = add_version(dataset)
    version.profile = {"columns": {"amount": {"mean": 61.2}}}
    version.profile_status = "succeeded"

    version.save(update_fields=["profile", "profile_status"])

    [created] = entries_on(version, "create")
    [profiled] = entries_on(version, "update")
    assert "profile" not in created.after
    assert "facets" not in created.after
    assert created.after["sha256"] == version.sha256
    assert profiled.before == {"profile_status": "pending"}
    assert profiled.after == {"profile_status": "succeeded"}
    assert profiled.actor is None  # a worker, not a person


def test_objects_deep_in_the_catalog_are_filed_under_their_project(
    project: Project,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    deployment = Deployment.objects.create(
        model_version=register_version(classifier), name="scoring-api"
    )

    [entry] = entries_on(deployment, "create")
    assert entry.project == project
    assert entry.object_repr == "scoring-api (production)"


def test_an_object_without_a_project_is_recorded_without_one() -> None:
    job = PipelineJob.objects.create(namespace="airflow", name="nightly.load")

    [entry] = entries_on(job, "create")
    assert entry.project is None
    assert entry.actor is None
    assert entry.actor_name == ""


def test_membership_changes_are_recorded(owner: User, project: Project, outsider: User) -> None:
    client = signed_in(owner)

    client.post("/projects/card-fraud/members", {"username": "otto", "role": "reviewer"})

    membership = Membership.objects.get(project=project, user=outsider)
    [entry] = entries_on(membership, "create")
    assert entry.actor == owner
    assert entry.after["role"] == "reviewer"
    assert entry.project == project


def test_a_token_authenticated_call_records_the_tokens_user(
    contributor: User, project: Project
) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=contributor).key}")

    response = client.post(
        "/api/v1/datasets/", {"project": "card-fraud", "name": "by-token"}, format="json"
    )

    assert response.status_code == 201
    [entry] = entries_on(Dataset.objects.get(name="by-token"), "create")
    assert entry.actor == contributor
    assert entry.actor_name == "carl"


# Explicit events -------------------------------------------------------------------------


def test_record_files_an_explicit_event_with_its_actor_and_project(
    owner: User, project: Project, dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> None:
    version = add_version(dataset)

    entry = audit.record(
        "data_destroyed",
        version,
        before={"file": version.file, "destroyed_at": None},
        after={"reason": "Retention ended", "at": dt.datetime(2030, 1, 2, tzinfo=dt.UTC)},
        actor=owner,
    )

    entry.refresh_from_db()
    assert entry.action == "data_destroyed"
    assert (entry.actor, entry.actor_name) == (owner, "olivia")
    assert (entry.object_type, entry.object_id) == ("datasetversion", str(version.pk))
    assert entry.project == project
    assert entry.before == {"file": version.file.name, "destroyed_at": None}
    assert entry.after == {"reason": "Retention ended", "at": "2030-01-02T00:00:00Z"}
    assert entry.remote_addr is None  # not in a request


def test_record_refuses_an_unknown_action() -> None:
    with pytest.raises(ValueError):
        audit.record("renamed", object_type="dataset", object_id=1)


def test_describe_changes_lists_the_keys_that_differ_with_short_values() -> None:
    changes = audit.describe_changes(
        {"stage": "none", "name": "a", "notes": None},
        {"stage": "staging", "name": "a", "notes": "x" * 200},
    )

    assert [change.key for change in changes] == ["stage", "notes"]
    assert (changes[0].before, changes[0].after) == ("none", "staging")
    assert changes[1].before == "—"
    assert len(changes[1].after) == audit.VALUE_PREVIEW_CHARS


# Signing in and out ----------------------------------------------------------------------


def test_signing_in_through_the_login_form_is_recorded(client: Client, contributor: User) -> None:
    response = client.post("/login/", {"username": "carl", "password": "pw-carl"})

    assert response.status_code == 302
    [entry] = AuditEntry.objects.filter(action="login")
    assert entry.actor == contributor
    assert (entry.object_type, entry.object_id) == ("user", str(contributor.pk))
    assert entry.remote_addr == "127.0.0.1"


def test_a_failed_sign_in_keeps_the_username_and_never_the_password(
    client: Client, contributor: User
) -> None:
    client.post("/login/", {"username": "carl", "password": "Tr0ub4dor&3-guess"})

    [entry] = AuditEntry.objects.filter(action="login_failed")
    assert entry.actor is None
    assert entry.actor_name == "carl"
    assert entry.object_repr == "carl"
    stored = json.dumps(
        [getattr(entry, field.attname) for field in AuditEntry._meta.concrete_fields],
        default=str,
    )
    assert "Tr0ub4dor" not in stored
    assert "*****" not in stored  # not even Django's masked copy of it


def test_signing_out_is_recorded(contributor: User) -> None:
    client = signed_in(contributor)

    client.post("/logout/")

    [entry] = AuditEntry.objects.filter(action="logout")
    assert entry.actor == contributor


# Append-only -----------------------------------------------------------------------------


def test_an_entry_cannot_be_changed_or_deleted_through_the_orm() -> None:
    entry = make_entry(actor_name="carl", object_repr="transactions")
    entry.object_repr = "something else"

    with pytest.raises(ImmutableError):
        entry.save()
    with pytest.raises(ImmutableError):
        entry.delete()
    with pytest.raises(ImmutableError):
        AuditEntry.objects.update(object_repr="rewritten")
    with pytest.raises(ImmutableError):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    entry.refresh_from_db()
    assert entry.object_repr == "transactions"


def test_the_database_refuses_raw_updates_and_deletes_of_entries() -> None:
    """The trigger of migration 0004 on a PostgreSQL database of the test's own (the suite's
    database may be SQLite, which relies on the model and queryset guards), and, when the
    suite runs on PostgreSQL, on the migrated table itself."""
    append_only_sql = importlib.import_module("lineage.migrations.0004_governance").APPEND_ONLY_SQL
    with scratch_postgres() as scratch:
        scratch.execute("CREATE TABLE lineage_auditentry (id bigint PRIMARY KEY, object_repr text)")
        scratch.execute(append_only_sql)
        scratch.execute("INSERT INTO lineage_auditentry VALUES (1, 'transactions')")
        for statement in (
            "UPDATE lineage_auditentry SET object_repr = 'rewritten' WHERE id = 1",
            "DELETE FROM lineage_auditentry WHERE id = 1",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                scratch.execute(statement)
        assert scratch.execute("SELECT object_repr FROM lineage_auditentry").fetchall() == [
            ("transactions",)
        ]
    if connection.vendor == "postgresql":
        entry = make_entry(actor_name="carl", object_repr="transactions")
        with connection.cursor() as cursor:
            with pytest.raises(DatabaseError), transaction.atomic():
                cursor.execute(
                    "UPDATE lineage_auditentry SET object_repr = 'rewritten' WHERE id = %s",
                    [entry.pk],
                )
            with pytest.raises(DatabaseError), transaction.atomic():
                cursor.execute("DELETE FROM lineage_auditentry WHERE id = %s", [entry.pk])
        entry.refresh_from_db()
        assert entry.object_repr == "transactions"


@contextlib.contextmanager
def scratch_postgres() -> Iterator[Any]:
    """An autocommit connection to a fresh database on the PostgreSQL server the suite may
    use (MLOPS_TEST_POSTGRES_URL), dropped afterwards."""
    server = os.environ.get(
        "MLOPS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"mlops_audit_trigger_{os.getpid()}"
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        missing_service(f"PostgreSQL is not reachable at {server}")
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            with psycopg.connect(postgres_conninfo(server, name), autocommit=True) as scratch:
                yield scratch
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_admin_shows_entries_but_cannot_add_change_or_delete_them(admin_client: Client) -> None:
    entry = make_entry(actor_name="carl", object_repr="transactions")
    base = "/admin/lineage/auditentry/"

    listing = admin_client.get(base)
    delete = admin_client.post(f"{base}{entry.pk}/delete/", {"post": "yes"})

    assert listing.status_code == 200
    assert b"transactions" in listing.content
    assert admin_client.get(f"{base}add/").status_code == 403
    assert delete.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


# The page --------------------------------------------------------------------------------


def test_the_page_and_the_export_require_signing_in(client: Client) -> None:
    for path in ("/audit/", "/audit/export.csv"):
        response = client.get(path)

        assert response.status_code == 302
        assert response["Location"] == f"/login/?next={path}"


@pytest.fixture
def history(project: Project, other_project: Project) -> None:
    """Entries by different people, of different kinds, on three days."""
    day = dt.datetime(2030, 3, 10, 12, tzinfo=dt.UTC)
    make_entry(day, project, actor_name="carl", action="create", object_repr="created-by-carl")
    make_entry(day, project, actor_name="rita", action="update", object_repr="changed-by-rita")
    make_entry(
        day + dt.timedelta(days=1),
        project,
        actor_name="carl",
        action="delete",
        object_repr="deleted-next-day",
    )
    make_entry(
        day + dt.timedelta(days=5),
        other_project,
        actor_name="otto",
        action="create",
        object_repr="churn-work",
    )


def test_the_page_filters_by_user_action_and_date(admin_user: User, history: None) -> None:
    client = signed_in(admin_user)

    by_user = client.get("/audit/", {"user": "carl"}).content.decode()
    by_action = client.get("/audit/", {"action": "update"}).content.decode()
    by_dates = client.get(
        "/audit/", {"date_from": "2030-03-11", "date_to": "2030-03-15"}
    ).content.decode()

    assert "created-by-carl" in by_user and "deleted-next-day" in by_user
    assert "changed-by-rita" not in by_user
    assert "changed-by-rita" in by_action and "created-by-carl" not in by_action
    assert "deleted-next-day" in by_dates and "churn-work" in by_dates
    assert "created-by-carl" not in by_dates


def test_the_page_filters_by_object_and_text(
    admin_user: User, dataset: Dataset, other_dataset: Dataset
) -> None:
    client = signed_in(admin_user)

    by_object = client.get("/audit/", {"object_type": "dataset", "object_id": dataset.pk})
    by_text = client.get("/audit/", {"q": "custom"})

    assert by_object.status_code == 200
    assert [row.entry.object_repr for row in by_object.context["rows"]] == ["transactions"] * 2
    assert {row.entry.object_repr for row in by_text.context["rows"]} == {"customers"}


def test_the_page_links_to_objects_that_still_exist_and_shows_the_change(
    owner: User, dataset: Dataset, other_dataset: Dataset
) -> None:
    Dataset.objects.filter(pk=dataset.pk).update(description="kept")
    dataset.refresh_from_db()
    dataset.description = "Relabelled"
    dataset.save()
    gone = Dataset.objects.create(project=dataset.project, name="scratch")
    gone_pk = gone.pk
    gone.delete()

    page = signed_in(owner).get("/audit/")

    rows = page.context["rows"]
    urls = {(row.entry.object_repr, row.entry.action): row.url for row in rows}
    assert urls[("transactions", "update")] == f"/datasets/{dataset.pk}/"
    assert urls[("scratch", "delete")] is None
    [change] = next(row for row in rows if row.entry.action == "update").changes
    assert (change.key, change.before, change.after) == ("description", "kept", "Relabelled")
    assert f"#{gone_pk}" in page.content.decode()
    assert "customers" not in page.content.decode()  # another project's


def test_the_page_says_when_nothing_matches(admin_user: User) -> None:
    response = signed_in(admin_user).get("/audit/", {"user": "nobody"})

    assert b"No entry matches these filters" in response.content


# Who sees what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "reviewer"])
def test_project_admins_and_reviewers_see_the_projects_entries(
    request: pytest.FixtureRequest, history: None, role: str
) -> None:
    user = request.getfixturevalue({"admin": "owner", "reviewer": "reviewer"}[role])

    page = signed_in(user).get("/audit/")
    api = APIClient()
    api.force_authenticate(user)

    shown = {row.entry.object_repr for row in page.context["rows"]}
    assert {"created-by-carl", "changed-by-rita", "deleted-next-day"} <= shown
    assert "churn-work" not in shown
    assert "churn-work" not in reprs(api.get(API))


def test_a_viewer_sees_only_their_own_actions(
    viewer: User, project: Project, history: None
) -> None:
    make_entry(project=project, actor=viewer, actor_name="vera", object_repr="vera-did-this")
    api = APIClient()
    api.force_authenticate(viewer)

    page = signed_in(viewer).get("/audit/")
    listed = reprs(api.get(API))

    shown = {row.entry.object_repr for row in page.context["rows"]}
    assert "vera-did-this" in shown and "vera-did-this" in listed
    assert not {"created-by-carl", "churn-work"} & (shown | listed)


def test_a_member_of_another_project_sees_none_of_its_entries(
    outsider: User, history: None
) -> None:
    api = APIClient()
    api.force_authenticate(outsider)

    page = signed_in(outsider).get("/audit/")
    listed = reprs(api.get(API))
    exported = signed_in(outsider).get("/audit/export.csv")

    shown = {row.entry.object_repr for row in page.context["rows"]}
    assert "churn-work" in shown and "churn-work" in listed
    assert not {"created-by-carl", "changed-by-rita"} & (shown | listed)
    assert "created-by-carl" not in b"".join(exported.streaming_content).decode()
    hidden = AuditEntry.objects.get(object_repr="created-by-carl")
    assert api.get(f"{API}{hidden.pk}/").status_code == 404


def test_other_peoples_sign_ins_are_for_superusers_only(
    client: Client, contributor: User, owner: User, admin_user: User, project: Project
) -> None:
    client.post("/login/", {"username": "carl", "password": "pw-carl"})
    Client().post("/login/", {"username": "carl", "password": "wrong"})

    def actions(user: User) -> set[str]:
        page = signed_in(user).get("/audit/", {"user": "carl"})
        return {row.entry.action for row in page.context["rows"]}

    assert actions(owner) == set()
    assert actions(contributor) == {"login"}
    assert actions(admin_user) == {"login", "login_failed"}


# The CSV export --------------------------------------------------------------------------


def test_the_export_streams_a_header_and_the_filtered_rows(admin_user: User, history: None) -> None:
    response = signed_in(admin_user).get("/audit/export.csv", {"user": "carl"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "object",
        "project",
        "before",
        "after",
        "remote_addr",
    ]
    assert [(row[1], row[2], row[5], row[6]) for row in rows[1:]] == [
        ("carl", "delete", "deleted-next-day", "card-fraud"),
        ("carl", "create", "created-by-carl", "card-fraud"),
    ]
    assert rows[1][0] == "2030-03-11T12:00:00+00:00"


def test_the_export_writes_json_and_defuses_spreadsheet_formulas(
    admin_user: User, project: Project
) -> None:
    make_entry(
        project=project,
        actor_name="carl",
        object_repr='=HYPERLINK("http://evil")',
        before={"stage": "none"},
        after={"stage": "staging"},
        remote_addr="10.0.0.7",
    )

    response = signed_in(admin_user).get("/audit/export.csv", {"user": "carl"})

    [_, row] = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row[5] == '\'=HYPERLINK("http://evil")'
    assert json.loads(row[7]) == {"stage": "none"}
    assert json.loads(row[8]) == {"stage": "staging"}
    assert row[9] == "10.0.0.7"


# The API ---------------------------------------------------------------------------------


def test_the_api_lists_entries_newest_first_with_their_details(
    admin_user: User, history: None
) -> None:
    api = APIClient()
    api.force_authenticate(admin_user)

    response = api.get(API, {"user": "carl"})

    assert response.status_code == 200
    first, second = response.data["results"]
    assert (first["object_repr"], second["object_repr"]) == (
        "deleted-next-day",
        "created-by-carl",
    )
    assert first["action"] == "delete"
    assert first["project"] == "card-fraud"
    assert set(first) >= {"at", "actor", "actor_name", "object_type", "before", "after"}
    assert api.get(API, {"action": "teleport"}).status_code == 400


def test_the_api_refuses_to_create_change_or_delete_entries(admin_user: User) -> None:
    entry = make_entry(actor_name="carl", object_repr="transactions")
    api = APIClient()
    api.force_authenticate(admin_user)
    detail = f"{API}{entry.pk}/"

    responses = [
        api.post(API, {"action": "create"}, format="json"),
        api.put(detail, {"object_repr": "x"}, format="json"),
        api.patch(detail, {"object_repr": "x"}, format="json"),
        api.delete(detail),
    ]

    assert [response.status_code for response in responses] == [405] * 4
    entry.refresh_from_db()
    assert entry.object_repr == "transactions"


def test_the_api_refuses_anonymous_callers() -> None:
    assert APIClient().get(API).status_code == 401


def test_an_api_list_costs_the_same_queries_however_many_entries(
    owner: User, project: Project
) -> None:
    api = APIClient()
    api.force_authenticate(owner)
    make_entry(project=project, object_repr="first")
    with CaptureQueriesContext(connection) as few:
        api.get(API)
    for number in range(20):
        make_entry(project=project, object_repr=f"more {number}")

    with CaptureQueriesContext(connection) as many:
        response = api.get(API)

    assert response.data["count"] >= 21
    assert len(many) == len(few)


def test_the_schema_documents_a_read_only_audit_log(admin_client: Client) -> None:
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    assert set(schema["paths"]["/api/v1/audit-log/"]) & {"get", "post"} == {"get"}
    detail = set(schema["paths"]["/api/v1/audit-log/{id}/"])
    assert detail & {"get", "put", "patch", "delete"} == {"get"}
    parameters = {p["name"] for p in schema["paths"]["/api/v1/audit-log/"]["get"]["parameters"]}
    assert {"user", "action", "object_type", "object_id", "date_from", "date_to"} <= parameters
