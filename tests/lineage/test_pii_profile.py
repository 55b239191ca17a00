"""A PII column's profile shows its values to the project's members only: others read its
shape (counts, nulls, distinct values), in the pages and the API alike."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from rest_framework.test import APIClient

from lineage.choices import Sensitivity
from lineage.models import Dataset, DatasetVersion, Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def profiled_version(
    project: Project,
    contributor: User,
    add_version: Callable[..., DatasetVersion],
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> DatasetVersion:
    dataset = Dataset.objects.create(
        project=project,
        name="card-payments",
        owner=contributor,
        sensitivity=Sensitivity.INTERNAL,
        column_sensitivity={"merchant": "pii"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        version = add_version(dataset)
    version.refresh_from_db()
    assert version.profile is not None
    return version


def columns_of(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {column["name"]: column for column in body["profile"]["columns"]}


def test_a_non_member_reads_a_pii_columns_shape_but_not_its_values(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    other_project: Project,
    profiled_version: DatasetVersion,
) -> None:
    body = api_client_for(outsider).get(f"/api/v1/dataset-versions/{profiled_version.pk}/").data

    columns = columns_of(body)
    merchant = columns["merchant"]
    assert merchant["masked"] is True
    assert "top_values" not in merchant
    assert merchant["count"] == 40
    # Columns that are not PII keep their statistics.
    assert columns["amount"]["max"] is not None
    assert "masked" not in columns["amount"]


def test_a_member_reads_the_pii_columns_values(
    api_client_for: Callable[[User], APIClient], viewer: User, profiled_version: DatasetVersion
) -> None:
    body = api_client_for(viewer).get(f"/api/v1/dataset-versions/{profiled_version.pk}/").data

    merchant = columns_of(body)["merchant"]
    assert "masked" not in merchant
    assert merchant["top_values"]


def test_the_version_page_does_not_draw_a_pii_columns_values_for_a_non_member(
    outsider: User, other_project: Project, profiled_version: DatasetVersion
) -> None:
    client = Client()
    client.force_login(outsider)
    page = client.get(profiled_version.get_absolute_url()).content.decode()

    top_merchant = profiled_version.profile["columns"][2]["top_values"][0]["value"]
    assert "merchant: PII" in page
    assert top_merchant not in page
