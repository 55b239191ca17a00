"""The catalog's pages: login everywhere, lists that filter and paginate, uploads and
registrations that either succeed or say why and keep nothing, and the same role rules as
the API."""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from lineage.api.serializers import set_tags
from lineage.models import (
    Dataset,
    DatasetVersion,
    Job,
    Membership,
    ModelVersion,
    Project,
    RegisteredModel,
    StageTransition,
)

pytestmark = pytest.mark.django_db

# A viewer is refused (403); to an outsider a confidential dataset does not exist (404).
DENIED = {"viewer": 403, "outsider": 404}


def signed_in(user: User) -> Client:
    """A browser session; like a browser following the portal's own links, it sends a Referer
    (a bookmark or a typed URL does not: see test_form_pages_open_from_a_bookmark)."""
    client = Client(HTTP_REFERER="http://testserver/")
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def plotly_figures(html: str) -> dict[str, Any]:
    """Every figure the page embeds for static/js/portal.js, by json_script id."""
    figures = {}
    for chart_id in re.findall(r'data-plotly="([^"]+)"', html):
        match = re.search(
            rf'<script id="{re.escape(chart_id)}" type="application/json">(.*?)</script>',
            html,
            re.S,
        )
        assert match, f"no figure data for {chart_id}"
        figures[chart_id] = json.loads(match.group(1))
    return figures


# Login -----------------------------------------------------------------------------------


@pytest.fixture
def every_page(
    project: Project,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> list[str]:
    version = add_version(dataset)
    register_version(classifier)
    job = Job.objects.get(target_id=version.pk)
    return [
        "/",
        "/projects/",
        "/projects/new",
        "/projects/card-fraud/",
        "/projects/card-fraud/edit",
        "/datasets/",
        "/datasets/new",
        f"/datasets/{dataset.pk}/",
        f"/datasets/{dataset.pk}/edit",
        f"/datasets/{dataset.pk}/versions/new",
        f"/datasets/{dataset.pk}/versions/1/",
        f"/datasets/{dataset.pk}/versions/1/download",
        "/models/",
        "/models/new",
        f"/models/{classifier.pk}/",
        f"/models/{classifier.pk}/edit",
        f"/models/{classifier.pk}/versions/new",
        f"/models/{classifier.pk}/versions/1/",
        "/jobs/",
        f"/jobs/{job.pk}/",
    ]


def test_every_page_sends_anonymous_visitors_to_the_login_page(
    client: Client, every_page: list[str]
) -> None:
    for path in every_page:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"/login/?next={path}", path


def test_every_page_renders_for_a_member(owner: User, every_page: list[str]) -> None:
    client = signed_in(owner)
    for path in every_page:
        assert client.get(path).status_code == 200, path


@pytest.mark.parametrize(
    "path",
    [
        "/projects/new",
        "/projects/card-fraud/edit",
        "/datasets/new",
        "/datasets/{dataset}/edit",
        "/datasets/{dataset}/versions/new",
        "/models/new",
        "/models/{model}/edit",
        "/models/{model}/versions/new",
    ],
)
def test_form_pages_open_from_a_bookmark(
    owner: User, dataset: Dataset, classifier: RegisteredModel, path: str
) -> None:
    client = Client()  # a typed URL or a bookmark: no Referer header
    client.force_login(owner)

    response = client.get(path.format(dataset=dataset.pk, model=classifier.pk))

    assert response.status_code == 200
    assert 'class="muted">Cancel</a>' in response.content.decode()


def test_anonymous_posts_change_nothing(
    client: Client,
    project: Project,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    register_version(classifier)

    responses = [
        client.post("/projects/new", {"name": "Anon"}),
        client.post(f"/models/{classifier.pk}/versions/1/stage", {"stage": "production"}),
        client.post("/projects/card-fraud/members", {"username": "x", "role": "admin"}),
    ]

    assert all(response.status_code == 302 for response in responses)
    assert all(response["Location"].startswith("/login/?next=") for response in responses)
    assert not Project.objects.filter(name="Anon").exists()
    assert ModelVersion.objects.get().stage == "none"


def test_the_login_page_signs_in_with_real_credentials(client: Client, contributor: User) -> None:
    page = client.get("/login/?next=/datasets/")

    response = client.post(
        "/login/", {"username": "carl", "password": "pw-carl", "next": "/datasets/"}
    )

    assert page.status_code == 200
    assert b'name="password"' in page.content
    assert response.status_code == 302
    assert response["Location"] == "/datasets/"
    assert client.get("/datasets/").status_code == 200


def test_the_login_page_refuses_a_wrong_password(client: Client, contributor: User) -> None:
    response = client.post("/login/", {"username": "carl", "password": "wrong"})

    assert response.status_code == 200
    assert b"form-error" in response.content
    assert client.get("/").status_code == 302


def test_signing_out_ends_the_session(contributor: User) -> None:
    client = signed_in(contributor)

    response = client.post("/logout/")

    assert response.status_code == 302
    assert client.get("/").status_code == 302


# Home and projects -----------------------------------------------------------------------


def test_home_shows_projects_with_their_counts_and_recent_work(
    viewer: User,
    project: Project,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    Dataset.objects.create(project=project, name="merchants")
    add_version(dataset)
    register_version(classifier)

    response = signed_in(viewer).get("/")

    assert response.status_code == 200
    [shown] = response.context["projects"]
    assert (shown.name, shown.dataset_count, shown.model_count) == ("Card fraud", 2, 1)
    html = response.content.decode()
    assert "Card fraud" in html
    assert '<td class="num">2</td>' in html
    assert "transactions v1" in html
    assert "fraud-detector v1" in html
    assert "Profile dataset version" in html


def test_the_project_list_is_alphabetical_across_pages(viewer: User) -> None:
    # Created in reverse order, so an unordered query would come back in the wrong order.
    names = [f"Team {letter}{index}" for letter in "ZYX" for index in range(10)]
    Project.objects.bulk_create(
        [Project(name=name, slug=name.lower().replace(" ", "-")) for name in names]
    )
    client = signed_in(viewer)

    first = client.get("/projects/")
    second = client.get("/projects/?page=2")

    listed = [p.name for p in first.context["page"]] + [p.name for p in second.context["page"]]
    assert listed == sorted(names)
    assert "Page 1 of 2" in first.content.decode()


def test_the_project_create_form_makes_the_creator_admin(viewer: User) -> None:
    response = signed_in(viewer).post(
        "/projects/new", {"name": "Credit risk", "description": "Loan defaults"}
    )

    project = Project.objects.get(name="Credit risk")
    assert response.status_code == 302
    assert response["Location"] == "/projects/credit-risk/"
    assert project.slug == "credit-risk"
    assert project.created_by == viewer
    assert project.role_of(viewer) == "admin"
    assert "you are its admin" in messages_of(response)[0]


def test_the_project_create_form_refuses_a_taken_slug(viewer: User, project: Project) -> None:
    response = signed_in(viewer).post("/projects/new", {"name": "Card fraud"})

    assert response.status_code == 200
    assert "is taken" in response.content.decode()
    assert Project.objects.count() == 1


def test_the_project_page_shows_members_and_the_role_of_the_visitor(
    contributor: User, project: Project
) -> None:
    response = signed_in(contributor).get("/projects/card-fraud/")

    html = response.content.decode()
    assert response.context["my_role"] == "contributor"
    assert response.context["can_contribute"] is True
    assert response.context["can_administer"] is False
    for username in ("olivia", "carl", "rita", "vera"):
        assert username in html
    assert "/projects/card-fraud/members" not in html  # the members form is for admins


def test_an_admin_adds_a_member(owner: User, project: Project, outsider: User) -> None:
    response = signed_in(owner).post(
        "/projects/card-fraud/members", {"username": "otto", "role": "contributor"}
    )

    assert response.status_code == 302
    assert Membership.objects.get(project=project, user=outsider).role == "contributor"
    assert "otto is now contributor" in messages_of(response)[0]


def test_an_admin_changes_a_members_role(owner: User, project: Project, viewer: User) -> None:
    signed_in(owner).post("/projects/card-fraud/members", {"username": "vera", "role": "reviewer"})

    assert Membership.objects.get(project=project, user=viewer).role == "reviewer"
    assert Membership.objects.filter(project=project, user=viewer).count() == 1


def test_adding_an_unknown_user_says_so(owner: User, project: Project) -> None:
    response = signed_in(owner).post(
        "/projects/card-fraud/members", {"username": "nobody", "role": "viewer"}
    )

    assert response.status_code == 302
    assert "No user has that username" in messages_of(response)[0]
    assert project.memberships.count() == 4


@pytest.mark.parametrize("actor", ["contributor", "reviewer", "viewer", "outsider"])
def test_only_an_admin_manages_members_or_edits_the_project(
    request: pytest.FixtureRequest,
    project: Project,
    other_project: Project,
    outsider: User,
    actor: str,
) -> None:
    client = signed_in(request.getfixturevalue(actor))

    added = client.post("/projects/card-fraud/members", {"username": "otto", "role": "admin"})
    edited = client.post("/projects/card-fraud/edit", {"name": "Mine", "slug": "card-fraud"})

    assert added.status_code == 403
    assert edited.status_code == 403
    assert not Membership.objects.filter(project=project, user=outsider).exists()
    project.refresh_from_db()
    assert project.name == "Card fraud"


def test_an_admin_edits_the_project(owner: User, project: Project) -> None:
    response = signed_in(owner).post(
        "/projects/card-fraud/edit",
        {"name": "Card fraud", "slug": "card-fraud", "description": "EU cards"},
    )

    assert response.status_code == 302
    project.refresh_from_db()
    assert project.description == "EU cards"


# Datasets --------------------------------------------------------------------------------


@pytest.fixture
def shelf(
    dataset: Dataset,
    project: Project,
    other_project: Project,
    owner: User,
    outsider: User,
    viewer: User,
) -> None:
    # The viewer reads both projects, so every dataset, PII ones included, is listed.
    Membership.objects.create(project=other_project, user=viewer, role="viewer")
    merchants = Dataset.objects.create(
        project=project,
        name="merchants",
        description="Merchant directory",
        owner=owner,
        sensitivity="public",
    )
    set_tags(merchants, ["payments"])
    customers = Dataset.objects.create(
        project=other_project, name="customers", owner=outsider, sensitivity="pii"
    )
    set_tags(customers, ["churn"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["customers", "merchants", "transactions"]),
        ("tag=payments", ["merchants", "transactions"]),
        ("sensitivity=pii", ["customers"]),
        ("owner=olivia", ["merchants"]),
        ("q=directory", ["merchants"]),
        ("project=churn", ["customers"]),
        ("tag=payments&sensitivity=public", ["merchants"]),
    ],
)
def test_the_dataset_list_filters(
    viewer: User, shelf: None, query: str, expected: list[str]
) -> None:
    response = signed_in(viewer).get(f"/datasets/?{query}")

    assert response.status_code == 200
    assert sorted(d.name for d in response.context["page"].object_list) == expected
    for name in expected:
        assert name in response.content.decode()


def test_the_dataset_list_says_when_nothing_matches(viewer: User, shelf: None) -> None:
    response = signed_in(viewer).get("/datasets/?tag=nothing")

    assert "No dataset matches these filters" in response.content.decode()


def test_the_dataset_list_sorts(viewer: User, shelf: None) -> None:
    response = signed_in(viewer).get("/datasets/?ordering=-name")

    assert [d.name for d in response.context["page"].object_list] == [
        "transactions",
        "merchants",
        "customers",
    ]


def test_the_dataset_list_shows_25_per_page(viewer: User, project: Project) -> None:
    Dataset.objects.bulk_create(
        [Dataset(project=project, name=f"extract-{index:02d}") for index in range(30)]
    )
    client = signed_in(viewer)

    first = client.get("/datasets/?q=extract")
    second = client.get("/datasets/?q=extract&page=2")

    assert len(first.context["page"].object_list) == 25
    assert len(second.context["page"].object_list) == 5
    assert "Page 1 of 2" in first.content.decode()
    assert "?q=extract&amp;page=2" in first.content.decode()  # the filter survives paging


def test_a_contributor_creates_a_dataset_from_the_form(contributor: User, project: Project) -> None:
    response = signed_in(contributor).post(
        "/datasets/new",
        {
            "project": project.pk,
            "name": "chargebacks",
            "description": "",
            "sensitivity": "pii",
            "tags": "Disputes, payments",
        },
    )

    dataset = Dataset.objects.get(name="chargebacks")
    assert response.status_code == 302
    assert response["Location"] == f"/datasets/{dataset.pk}/versions/new"
    assert dataset.owner == contributor
    assert sorted(tag.name for tag in dataset.tags.all()) == ["disputes", "payments"]


def test_the_dataset_form_offers_only_projects_where_you_contribute(
    viewer: User, outsider: User, project: Project, other_project: Project
) -> None:
    client = signed_in(viewer)

    offered = client.get("/datasets/new").context["form"].fields["project"].queryset
    response = client.post(
        "/datasets/new", {"project": project.pk, "name": "planted", "sensitivity": "internal"}
    )

    assert list(offered) == []
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Dataset.objects.filter(name="planted").exists()


def test_the_dataset_form_refuses_a_duplicate_name(
    contributor: User, project: Project, dataset: Dataset
) -> None:
    response = signed_in(contributor).post(
        "/datasets/new", {"project": project.pk, "name": "transactions", "sensitivity": "internal"}
    )

    assert response.status_code == 200
    assert "already has one named" in response.content.decode()
    assert Dataset.objects.filter(name="transactions").count() == 1


@pytest.mark.parametrize("actor", ["viewer", "outsider"])
def test_a_viewer_or_outsider_cannot_edit_a_dataset(
    request: pytest.FixtureRequest, dataset: Dataset, other_project: Project, actor: str
) -> None:
    client = signed_in(request.getfixturevalue(actor))

    assert client.get(f"/datasets/{dataset.pk}/edit").status_code == DENIED[actor]
    response = client.post(
        f"/datasets/{dataset.pk}/edit", {"name": "renamed", "sensitivity": "public"}
    )
    assert response.status_code == DENIED[actor]
    dataset.refresh_from_db()
    assert dataset.name == "transactions"


def test_the_dataset_page_shows_versions_and_the_profile_charts(
    viewer: User,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    transactions_csv: Callable[..., bytes],
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    add_version(dataset, transactions_csv(20, seed=1))
    with django_capture_on_commit_callbacks(execute=True):
        add_version(dataset, transactions_csv(40))

    response = signed_in(viewer).get(f"/datasets/{dataset.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert [v.version for v in response.context["versions"]] == [2, 1]
    assert response.context["version"].version == 2
    assert f'href="/datasets/{dataset.pk}/versions/1/"' in html
    assert "Profile of v2" in html
    figures = plotly_figures(html)
    null_rates = figures["null-rates"]
    assert null_rates["data"][0]["x"] == ["amount", "hour", "merchant", "is_fraud"]
    column_titles = {figure["layout"]["title"]["text"] for figure in figures.values()}
    assert "Distribution of amount" in column_titles
    assert "Most frequent values of merchant" in column_titles
    assert "Share of rows where each column is empty" in html  # the caption says what to look for


def test_the_dataset_page_before_profiling_says_it_is_on_its_way(
    viewer: User, dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> None:
    add_version(dataset)

    response = signed_in(viewer).get(f"/datasets/{dataset.pk}/")

    html = response.content.decode()
    assert "The profile is being computed" in html
    assert "data-plotly" not in html
    assert 'data-job-state="queued"' in html


def test_an_empty_dataset_page_invites_an_upload(contributor: User, dataset: Dataset) -> None:
    response = signed_in(contributor).get(f"/datasets/{dataset.pk}/")

    assert "No versions yet" in response.content.decode()
    assert f"/datasets/{dataset.pk}/versions/new" in response.content.decode()


def test_uploading_a_good_csv_creates_the_version_and_its_job(
    contributor: User,
    dataset: Dataset,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., SimpleUploadedFile],
) -> None:
    response = signed_in(contributor).post(
        f"/datasets/{dataset.pk}/versions/new",
        {"file": upload(transactions_csv(40)), "description": "March"},
    )

    version = DatasetVersion.objects.get(dataset=dataset)
    assert response.status_code == 302
    assert response["Location"] == f"/datasets/{dataset.pk}/versions/1/"
    assert (version.version, version.row_count, version.source) == (1, 40, "upload")
    assert version.description == "March"
    assert Job.objects.get(target_id=version.pk).state == "queued"
    assert messages_of(response) == ["Version 1 uploaded; profiling has started."]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.csv", b"amount,hour\n1.5,3\n2.5,4,extra\n", "has 3 fields but the header has 2"),
        ("header.csv", b"amount,hour\n", "has a header but no data rows"),
        ("book.xlsx", b"PK\x03\x04", "Unsupported file type"),
        ("latin1.csv", b"name\ncaf\xe9\n", "not UTF-8"),
    ],
)
def test_uploading_a_bad_file_shows_why_and_keeps_nothing(
    contributor: User,
    dataset: Dataset,
    upload: Callable[..., SimpleUploadedFile],
    media_files: Callable[[], list[Path]],
    name: str,
    content: bytes,
    message: str,
) -> None:
    response = signed_in(contributor).post(
        f"/datasets/{dataset.pk}/versions/new", {"file": upload(content, name)}
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'enctype="multipart/form-data"' in response.content.decode()
    assert not DatasetVersion.objects.exists()
    assert not Job.objects.exists()
    assert media_files() == []


def test_the_upload_form_needs_a_file_or_a_uri(contributor: User, dataset: Dataset) -> None:
    response = signed_in(contributor).post(
        f"/datasets/{dataset.pk}/versions/new", {"external_uri": "", "description": ""}
    )

    assert response.status_code == 200
    assert "Choose a file to upload or give an external URI" in response.content.decode()
    assert not DatasetVersion.objects.exists()


def test_the_upload_form_records_an_external_uri(contributor: User, dataset: Dataset) -> None:
    response = signed_in(contributor).post(
        f"/datasets/{dataset.pk}/versions/new", {"external_uri": "gs://lake/cards/2024.parquet"}
    )

    assert response.status_code == 302
    dataset.refresh_from_db()
    assert (dataset.namespace, dataset.source_name) == ("gs://lake", "cards/2024.parquet")
    assert DatasetVersion.objects.get().profile_status == "not_applicable"


def test_the_upload_form_shows_an_unknown_uri_scheme(contributor: User, dataset: Dataset) -> None:
    response = signed_in(contributor).post(
        f"/datasets/{dataset.pk}/versions/new", {"external_uri": "ftp://x/y"}
    )

    assert response.status_code == 200
    assert "Unknown URI scheme" in response.content.decode()
    assert not DatasetVersion.objects.exists()


@pytest.mark.parametrize("actor", ["viewer", "outsider"])
def test_a_viewer_or_outsider_cannot_upload(
    request: pytest.FixtureRequest,
    dataset: Dataset,
    other_project: Project,
    transactions_csv: Callable[..., bytes],
    upload: Callable[..., SimpleUploadedFile],
    actor: str,
) -> None:
    client = signed_in(request.getfixturevalue(actor))

    assert client.get(f"/datasets/{dataset.pk}/versions/new").status_code == DENIED[actor]
    posted = client.post(
        f"/datasets/{dataset.pk}/versions/new", {"file": upload(transactions_csv())}
    )
    assert posted.status_code == DENIED[actor]
    assert not DatasetVersion.objects.exists()


def test_the_version_page_shows_a_failed_profile_with_its_reason_and_retry(
    contributor: User, dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> None:
    version = add_version(dataset)
    job = Job.objects.get(target_id=version.pk)
    job.claim()
    job.fail("The stored file is missing.")
    DatasetVersion.objects.filter(pk=version.pk).update(
        profile_status="failed", profile_error="The stored file is missing."
    )

    response = signed_in(contributor).get(f"/datasets/{dataset.pk}/versions/1/")

    html = response.content.decode()
    assert "Profiling failed: The stored file is missing." in html
    assert f'action="/jobs/{job.pk}/retry"' in html
    assert f'action="/datasets/{dataset.pk}/versions/1/reprofile"' in html


def test_a_contributor_profiles_a_version_again_from_its_page(
    contributor: User, dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> None:
    version = add_version(dataset)

    response = signed_in(contributor).post(f"/datasets/{dataset.pk}/versions/1/reprofile")

    assert response.status_code == 302
    assert Job.objects.filter(target_id=version.pk).count() == 2


def test_a_viewer_cannot_profile_again(
    viewer: User, dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> None:
    version = add_version(dataset)

    response = signed_in(viewer).post(f"/datasets/{dataset.pk}/versions/1/reprofile")

    assert response.status_code == 403
    assert Job.objects.filter(target_id=version.pk).count() == 1


def test_a_version_downloads_as_the_uploaded_bytes(
    viewer: User,
    outsider: User,
    other_project: Project,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    transactions_csv: Callable[..., bytes],
) -> None:
    content = transactions_csv(12)
    add_version(dataset, content)

    response = signed_in(viewer).get(f"/datasets/{dataset.pk}/versions/1/download")
    hidden = signed_in(outsider).get(f"/datasets/{dataset.pk}/versions/1/download")

    assert hidden.status_code == 404  # a confidential dataset's file, to a non-member

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert 'filename="transactions-v1.csv"' in response["Content-Disposition"]


def test_missing_objects_are_404(viewer: User, project: Project) -> None:
    client = signed_in(viewer)

    for path in (
        "/datasets/999999/",
        "/datasets/999999/versions/1/",
        "/models/999999/",
        "/jobs/999999/",
        "/projects/nope/",
    ):
        assert client.get(path).status_code == 404, path


# Models ----------------------------------------------------------------------------------


def test_the_model_list_filters_by_stage_and_tag(
    viewer: User,
    owner: User,
    project: Project,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    RegisteredModel.objects.create(project=project, name="limit-setter", task="regression")
    register_version(classifier).change_stage("production", owner)
    client = signed_in(viewer)

    in_production = client.get("/models/?stage=production")
    tagged = client.get("/models/?tag=fraud")

    assert [m.name for m in in_production.context["page"].object_list] == ["fraud-detector"]
    assert "v1" in in_production.content.decode()
    assert [m.name for m in tagged.context["page"].object_list] == ["fraud-detector"]


def test_the_model_page_charts_metrics_across_versions(
    viewer: User, classifier: RegisteredModel, register_version: Callable[..., ModelVersion]
) -> None:
    register_version(classifier, metrics={"roc_auc": 0.88, "f1": 0.61})
    register_version(classifier, metrics={"roc_auc": 0.91, "f1": 0.66})

    response = signed_in(viewer).get(f"/models/{classifier.pk}/")

    html = response.content.decode()
    assert response.context["metric_names"] == ["f1", "roc_auc"]
    figure = plotly_figures(html)["metrics-chart"]
    assert figure["layout"]["title"]["text"] == "Metrics across versions"
    lines = {trace["name"]: trace for trace in figure["data"]}
    assert lines["roc_auc"]["x"] == [1, 2]
    assert lines["roc_auc"]["y"] == [0.88, 0.91]
    assert lines["f1"]["y"] == [0.61, 0.66]


def test_a_model_without_metrics_has_no_chart(
    viewer: User, classifier: RegisteredModel, register_version: Callable[..., ModelVersion]
) -> None:
    register_version(classifier)

    response = signed_in(viewer).get(f"/models/{classifier.pk}/")

    assert response.context["metrics_chart"] is None
    assert "data-plotly" not in response.content.decode()


def test_a_contributor_creates_a_model_from_the_form(contributor: User, project: Project) -> None:
    response = signed_in(contributor).post(
        "/models/new",
        {"project": project.pk, "name": "limit-setter", "task": "regression", "tags": "credit"},
    )

    model = RegisteredModel.objects.get(name="limit-setter")
    assert response.status_code == 302
    assert response["Location"] == f"/models/{model.pk}/versions/new"
    assert model.owner == contributor


def register_form(client: Client, model: RegisteredModel, artifact: bytes, **fields: Any) -> Any:
    return client.post(
        f"/models/{model.pk}/versions/new",
        {"artifact": SimpleUploadedFile("model.skops", artifact), **fields},
    )


def test_the_register_form_records_a_version(
    contributor: User,
    classifier: RegisteredModel,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    logistic_skops: bytes,
) -> None:
    training = add_version(dataset)

    response = register_form(
        signed_in(contributor),
        classifier,
        logistic_skops,
        training_dataset_version=training.pk,
        target_column="is_fraud",
        metrics='{"roc_auc": 0.9}',
        packages="numpy==2.1.0\nscikit-learn==1.9.1",
        python_version="3.11.7",
    )

    version = ModelVersion.objects.get(model=classifier)
    assert response.status_code == 302
    assert response["Location"] == f"/models/{classifier.pk}/versions/1/"
    assert version.training_dataset_version == training
    assert version.metrics == {"roc_auc": 0.9}
    assert version.packages == {"numpy": "2.1.0", "scikit-learn": "1.9.1"}
    assert version.signature == [
        {"name": "amount", "type": "float"},
        {"name": "hour", "type": "integer"},
    ]
    assert version.hyperparameters["C"] == 0.5
    assert messages_of(response) == ["Version 1 registered."]


def test_the_register_form_refuses_training_data_from_another_project(
    contributor: User,
    outsider: User,
    classifier: RegisteredModel,
    other_dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    logistic_skops: bytes,
    media_files: Callable[[], list[Path]],
) -> None:
    theirs = add_version(other_dataset, user=outsider)
    stored_before = media_files()

    response = register_form(
        signed_in(contributor), classifier, logistic_skops, training_dataset_version=theirs.pk
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not ModelVersion.objects.exists()
    assert media_files() == stored_before


def test_the_register_form_refuses_a_target_missing_from_the_training_data(
    contributor: User,
    classifier: RegisteredModel,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    logistic_skops: bytes,
) -> None:
    training = add_version(dataset)

    response = register_form(
        signed_in(contributor),
        classifier,
        logistic_skops,
        training_dataset_version=training.pk,
        target_column="chargeback",
    )

    assert response.status_code == 200
    assert "The training data has no column" in response.content.decode()
    assert not ModelVersion.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"metrics": "{roc_auc: 0.9}"}, "Not valid JSON", id="malformed-json"),
        pytest.param({"metrics": "[0.9]"}, "Give a JSON object", id="not-an-object"),
        pytest.param(
            {"metrics": '{"roc_auc": "high"}'}, "A valid number is required", id="text-metric"
        ),
        pytest.param({"code_commit": "abc; rm -rf /"}, "A commit is a hash", id="bad-commit"),
    ],
)
def test_the_register_form_shows_metadata_errors(
    contributor: User,
    classifier: RegisteredModel,
    logistic_skops: bytes,
    media_files: Callable[[], list[Path]],
    fields: dict[str, str],
    message: str,
) -> None:
    response = register_form(signed_in(contributor), classifier, logistic_skops, **fields)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ModelVersion.objects.exists()
    assert media_files() == []


def test_the_register_form_refuses_a_pickle(
    contributor: User, classifier: RegisteredModel, media_files: Callable[[], list[Path]]
) -> None:
    response = register_form(signed_in(contributor), classifier, pickle.dumps({"a": 1}))

    assert response.status_code == 200
    assert "pickle" in response.content.decode().lower()
    assert not ModelVersion.objects.exists()
    assert media_files() == []


def test_a_viewer_cannot_open_the_register_form(
    viewer: User, classifier: RegisteredModel, logistic_skops: bytes
) -> None:
    client = signed_in(viewer)

    assert client.get(f"/models/{classifier.pk}/versions/new").status_code == 403
    assert register_form(client, classifier, logistic_skops).status_code == 403
    assert not ModelVersion.objects.exists()


def test_the_model_version_page_shows_how_it_was_built(
    viewer: User,
    classifier: RegisteredModel,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    register_version: Callable[..., ModelVersion],
) -> None:
    training = add_version(dataset)
    register_version(
        classifier,
        training_dataset_version=training.pk,
        metrics={"roc_auc": 0.91},
        packages={"numpy": "2.1.0"},
        code_commit="4f2a9c1",
    )

    response = signed_in(viewer).get(f"/models/{classifier.pk}/versions/1/")

    html = response.content.decode()
    assert "sklearn.linear_model.LogisticRegression" in html
    assert "transactions v1" in html
    assert "roc_auc" in html
    assert "numpy==2.1.0" in html
    assert "4f2a9c1" in html
    assert "Change stage" not in html  # a viewer gets no stage form


def test_the_stage_form_moves_a_version_and_records_it(
    reviewer: User,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    register_version(classifier)
    register_version(classifier)
    client = signed_in(reviewer)

    response = client.post(
        f"/models/{classifier.pk}/versions/2/stage",
        {"stage": "staging", "comment": "Shadow traffic first"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/models/{classifier.pk}/versions/2/"
    assert dict(classifier.versions.values_list("version", "stage")) == {
        1: "none",
        2: "staging",
    }
    transition = StageTransition.objects.filter(model_version__version=2).get()
    assert (transition.changed_by, transition.comment) == (reviewer, "Shadow traffic first")
    page = client.get(response["Location"]).content.decode()
    assert "Shadow traffic first" in page
    assert "rita" in page


def test_the_stage_form_does_not_move_a_version_to_production(
    owner: User, classifier: RegisteredModel, register_version: Callable[..., ModelVersion]
) -> None:
    register_version(classifier)
    client = signed_in(owner)

    page = client.get(f"/models/{classifier.pk}/versions/1/").content.decode()
    response = client.post(
        f"/models/{classifier.pk}/versions/1/stage", {"stage": "production"}, follow=True
    )

    assert '<option value="production"' not in page
    assert "production needs an approved review" in response.content.decode()
    assert classifier.versions.get().stage == "none"


def test_the_stage_form_refuses_an_unknown_stage(
    contributor: User, classifier: RegisteredModel, register_version: Callable[..., ModelVersion]
) -> None:
    register_version(classifier)

    response = signed_in(contributor).post(
        f"/models/{classifier.pk}/versions/1/stage", {"stage": "canary"}
    )

    assert response.status_code == 302
    assert messages_of(response) == [
        "Choose staging, archived or none; production needs an approved review."
    ]
    assert not StageTransition.objects.exists()


@pytest.mark.parametrize("actor", ["viewer", "outsider"])
def test_a_viewer_or_outsider_cannot_change_a_stage(
    request: pytest.FixtureRequest,
    classifier: RegisteredModel,
    other_project: Project,
    register_version: Callable[..., ModelVersion],
    actor: str,
) -> None:
    register_version(classifier)

    response = signed_in(request.getfixturevalue(actor)).post(
        f"/models/{classifier.pk}/versions/1/stage", {"stage": "production"}
    )

    assert response.status_code == 403
    assert ModelVersion.objects.get().stage == "none"


# Jobs ------------------------------------------------------------------------------------


@pytest.fixture
def failed_job(dataset: Dataset, add_version: Callable[..., DatasetVersion]) -> Job:
    job = Job.objects.get(target_id=add_version(dataset).pk)
    job.claim()
    job.set_progress(35)
    job.fail("The file could not be read as CSV.")
    return job


def test_the_job_page_shows_state_progress_and_the_error(
    contributor: User, failed_job: Job, dataset: Dataset
) -> None:
    response = signed_in(contributor).get(f"/jobs/{failed_job.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Failed" in html
    assert 'aria-valuenow="35"' in html
    assert "The file could not be read as CSV." in html
    assert f'href="/datasets/{dataset.pk}/versions/1/"' in html
    assert f'action="/jobs/{failed_job.pk}/retry"' in html


def test_a_viewer_sees_the_job_without_a_retry_button(viewer: User, failed_job: Job) -> None:
    response = signed_in(viewer).get(f"/jobs/{failed_job.pk}/")

    assert response.status_code == 200
    assert f'action="/jobs/{failed_job.pk}/retry"' not in response.content.decode()


def test_the_retry_button_queues_a_failed_job(contributor: User, failed_job: Job) -> None:
    response = signed_in(contributor).post(f"/jobs/{failed_job.pk}/retry")

    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{failed_job.pk}/"
    failed_job.refresh_from_db()
    assert (failed_job.state, failed_job.error) == ("queued", "")
    assert messages_of(response) == ["The job is queued again."]


def test_retrying_a_job_that_has_not_failed_says_so(
    contributor: User, dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> None:
    job = Job.objects.get(target_id=add_version(dataset).pk)

    response = signed_in(contributor).post(f"/jobs/{job.pk}/retry")

    assert messages_of(response) == ["Only a failed job can be retried."]
    job.refresh_from_db()
    assert job.state == "queued"


@pytest.mark.parametrize("actor", ["viewer", "outsider"])
def test_a_viewer_or_outsider_cannot_retry_a_job(
    request: pytest.FixtureRequest, failed_job: Job, other_project: Project, actor: str
) -> None:
    response = signed_in(request.getfixturevalue(actor)).post(f"/jobs/{failed_job.pk}/retry")

    assert response.status_code == DENIED[actor]
    failed_job.refresh_from_db()
    assert failed_job.state == "failed"


def test_the_job_list_filters_by_state(
    viewer: User, failed_job: Job, dataset: Dataset, add_version: Callable[..., DatasetVersion]
) -> None:
    add_version(dataset)

    response = signed_in(viewer).get("/jobs/?state=failed")

    assert [job.pk for job in response.context["page"].object_list] == [failed_job.pk]
