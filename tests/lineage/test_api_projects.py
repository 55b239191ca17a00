"""/api/v1/projects/: anyone signed in reads; creating makes you admin; only admins edit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from lineage.choices import Role
from lineage.models import Dataset, Membership, Project, RegisteredModel

pytestmark = pytest.mark.django_db

URL = "/api/v1/projects/"


def detail_url(slug: str) -> str:
    return f"{URL}{slug}/"


def test_it_creates_a_project_and_makes_the_creator_its_admin(
    api_client_for: Callable[[User], APIClient], contributor: User
) -> None:
    response = api_client_for(contributor).post(
        URL,
        {"name": "Credit risk", "slug": "credit-risk", "description": "Loan defaults"},
        format="json",
    )

    assert response.status_code == 201, response.data
    project = Project.objects.get(slug="credit-risk")
    assert project.name == "Credit risk"
    assert project.created_by == contributor
    assert Membership.objects.get(project=project).user == contributor
    assert project.role_of(contributor) == Role.ADMIN
    assert response.data["members"] == [{"username": "carl", "role": "admin"}]


def test_it_refuses_a_slug_that_is_taken(
    api_client_for: Callable[[User], APIClient], contributor: User, project: Project
) -> None:
    response = api_client_for(contributor).post(
        URL, {"name": "Another", "slug": project.slug}, format="json"
    )

    assert response.status_code == 400
    assert "slug" in response.data
    assert Project.objects.filter(slug=project.slug).count() == 1


def test_it_lists_projects_with_their_counts_and_members(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    project: Project,
    other_project: Project,
) -> None:
    Dataset.objects.create(project=project, name="transactions")
    Dataset.objects.create(project=project, name="chargebacks")
    RegisteredModel.objects.create(project=project, name="scorer", task="classification")

    response = api_client_for(viewer).get(URL)

    assert response.status_code == 200
    assert response.data["count"] == 2
    by_slug = {item["slug"]: item for item in response.data["results"]}
    assert by_slug["card-fraud"]["dataset_count"] == 2
    assert by_slug["card-fraud"]["model_count"] == 1
    assert by_slug["churn"]["dataset_count"] == 0
    assert by_slug["churn"]["model_count"] == 0
    assert {member["username"]: member["role"] for member in by_slug["card-fraud"]["members"]} == {
        "olivia": "admin",
        "carl": "contributor",
        "rita": "reviewer",
        "vera": "viewer",
    }


def test_every_signed_in_user_can_read_another_teams_project(
    api_client_for: Callable[[User], APIClient], outsider: User, project: Project
) -> None:
    response = api_client_for(outsider).get(detail_url(project.slug))

    assert response.status_code == 200
    assert response.data["name"] == "Card fraud"


def test_an_admin_edits_the_project(
    api_client_for: Callable[[User], APIClient], owner: User, project: Project
) -> None:
    response = api_client_for(owner).patch(
        detail_url(project.slug), {"description": "Fraud on card payments"}, format="json"
    )

    assert response.status_code == 200, response.data
    project.refresh_from_db()
    assert project.description == "Fraud on card payments"


def test_a_superuser_edits_any_project(
    api_client_for: Callable[[User], APIClient], make_user: Callable[..., User], project: Project
) -> None:
    root = make_user("root", is_superuser=True, is_staff=True)

    response = api_client_for(root).patch(
        detail_url(project.slug), {"name": "Card fraud (EU)"}, format="json"
    )

    assert response.status_code == 200
    project.refresh_from_db()
    assert project.name == "Card fraud (EU)"


@pytest.mark.parametrize("actor", ["contributor", "reviewer", "viewer", "outsider"])
def test_only_an_admin_may_edit_the_project(
    api_client_for: Callable[[User], APIClient],
    request: pytest.FixtureRequest,
    project: Project,
    other_project: Project,
    actor: str,
) -> None:
    user = request.getfixturevalue(actor)

    response = api_client_for(user).patch(
        detail_url(project.slug), {"description": "changed"}, format="json"
    )

    assert response.status_code == 403
    assert "admin role" in str(response.data["detail"])
    project.refresh_from_db()
    assert project.description == ""


def test_a_contributor_cannot_delete_the_project(
    api_client_for: Callable[[User], APIClient], contributor: User, project: Project
) -> None:
    response = api_client_for(contributor).delete(detail_url(project.slug))

    assert response.status_code == 403
    assert Project.objects.filter(pk=project.pk).exists()


def test_the_outsider_cannot_edit_another_teams_project_even_as_admin_of_their_own(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    project: Project,
    other_project: Project,
) -> None:
    client = api_client_for(outsider)

    assert (
        client.patch(detail_url(other_project.slug), {"description": "ours"}, format="json")
    ).status_code == 200
    assert (
        client.put(detail_url(project.slug), {"name": "Taken", "slug": "card-fraud"}, format="json")
    ).status_code == 403
    project.refresh_from_db()
    assert project.name == "Card fraud"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=churn", ["churn"]),
        ("q=CARD", ["card-fraud"]),
        ("slug=card-fraud", ["card-fraud"]),
        ("search=fraud", ["card-fraud"]),
        ("q=nothing-like-this", []),
    ],
)
def test_it_filters_and_searches_projects(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    project: Project,
    other_project: Project,
    query: str,
    expected: list[str],
) -> None:
    response = api_client_for(viewer).get(f"{URL}?{query}")

    assert response.status_code == 200
    assert [item["slug"] for item in response.data["results"]] == expected


def test_it_paginates_with_a_page_size(
    api_client_for: Callable[[User], APIClient], owner: User, project: Project
) -> None:
    for index in range(4):
        Project.objects.create(name=f"Team {index}", slug=f"team-{index}")

    client = api_client_for(owner)
    first = client.get(f"{URL}?page_size=2")
    last = client.get(f"{URL}?page_size=2&page=3")

    assert first.status_code == 200
    assert first.data["count"] == 5
    assert len(first.data["results"]) == 2
    assert "page=2" in first.data["next"]
    assert first.data["previous"] is None
    assert len(last.data["results"]) == 1
    assert last.data["next"] is None


def test_it_caps_the_page_size(
    api_client_for: Callable[[User], APIClient], owner: User, project: Project
) -> None:
    response = api_client_for(owner).get(f"{URL}?page_size=100000")

    assert response.status_code == 200
    assert response.data["count"] == 1


def test_it_answers_404_for_a_page_past_the_end(
    api_client_for: Callable[[User], APIClient], owner: User, project: Project
) -> None:
    assert api_client_for(owner).get(f"{URL}?page=9").status_code == 404


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("get", URL, None),
        ("get", detail_url("card-fraud"), None),
        ("post", URL, {"name": "Anon", "slug": "anon"}),
        ("patch", detail_url("card-fraud"), {"description": "anon"}),
    ],
)
def test_it_refuses_anonymous_clients(
    project: Project, method: str, url: str, body: dict[str, Any] | None
) -> None:
    response = getattr(APIClient(), method)(url, body, format="json")

    assert response.status_code in (401, 403)
    assert response["Content-Type"].startswith("application/json")
    assert not Project.objects.filter(slug="anon").exists()
    project.refresh_from_db()
    assert project.description == ""


def test_a_token_authenticates_an_api_client(contributor: User, project: Project) -> None:
    token = Token.objects.create(user=contributor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    listed = client.get(URL)
    created = client.post(URL, {"name": "Token made", "slug": "token-made"}, format="json")

    assert listed.status_code == 200
    assert listed.data["count"] == 1
    assert created.status_code == 201
    assert Project.objects.get(slug="token-made").role_of(contributor) == Role.ADMIN


def test_a_wrong_token_is_refused(project: Project) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get(URL)

    assert response.status_code in (401, 403)
    assert "Invalid token" in str(response.data["detail"])


def test_the_project_list_costs_a_fixed_number_of_queries(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    make_user: Callable[..., User],
    django_assert_max_num_queries: Any,
) -> None:
    def add_projects(count: int, start: int) -> None:
        for index in range(start, start + count):
            project = Project.objects.create(name=f"Team {index}", slug=f"team-{index}")
            Membership.objects.create(project=project, user=make_user(f"lead-{index}"))
            Dataset.objects.create(project=project, name="events")

    client = api_client_for(viewer)
    add_projects(3, 0)
    with CaptureQueriesContext(connection) as baseline:
        assert client.get(URL).status_code == 200

    add_projects(10, 3)

    with django_assert_max_num_queries(len(baseline)):
        response = client.get(URL)
    assert response.data["count"] == 13
