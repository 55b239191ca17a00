"""The OpenAPI schema validates without warnings and documents every endpoint, including
the multipart uploads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

EXPECTED_PATHS = {
    "/api/v1/projects/": {"get", "post"},
    "/api/v1/projects/{slug}/": {"get", "put", "patch", "delete"},
    "/api/v1/datasets/": {"get", "post"},
    "/api/v1/datasets/{id}/": {"get", "put", "patch", "delete"},
    "/api/v1/dataset-versions/": {"get", "post"},
    "/api/v1/dataset-versions/{id}/": {"get"},
    "/api/v1/dataset-versions/{id}/reprofile/": {"post"},
    "/api/v1/models/": {"get", "post"},
    "/api/v1/models/{id}/": {"get", "put", "patch", "delete"},
    "/api/v1/model-versions/": {"get", "post"},
    "/api/v1/model-versions/{id}/": {"get"},
    "/api/v1/model-versions/{id}/stage/": {"post"},
    "/api/v1/jobs/": {"get"},
    "/api/v1/jobs/{id}/": {"get"},
    "/api/v1/jobs/{id}/retry/": {"post"},
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("schema") / "openapi.json"
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--format",
        "openapi-json",
        "--file",
        str(target),
    )
    return json.loads(Path(target).read_text())


def test_every_endpoint_is_documented_with_its_methods(schema: dict[str, Any]) -> None:
    for path, methods in EXPECTED_PATHS.items():
        assert path in schema["paths"], path
        documented = set(schema["paths"][path]) & {"get", "post", "put", "patch", "delete"}
        assert documented == methods, path


def test_versions_cannot_be_edited_according_to_the_schema(schema: dict[str, Any]) -> None:
    for path in ("/api/v1/dataset-versions/{id}/", "/api/v1/model-versions/{id}/"):
        assert not set(schema["paths"][path]) & {"put", "patch", "delete"}


def test_dataset_versions_are_uploaded_as_multipart_or_referenced_as_json(
    schema: dict[str, Any],
) -> None:
    content = schema["paths"]["/api/v1/dataset-versions/"]["post"]["requestBody"]["content"]

    assert "multipart/form-data" in content
    assert "application/json" in content
    upload = resolve(schema, content["multipart/form-data"]["schema"])
    assert upload["properties"]["file"]["format"] == "binary"
    assert "external_uri" in upload["properties"]
    assert "dataset" in upload["required"]


def test_model_versions_are_registered_as_multipart(schema: dict[str, Any]) -> None:
    content = schema["paths"]["/api/v1/model-versions/"]["post"]["requestBody"]["content"]

    assert "multipart/form-data" in content
    registration = resolve(schema, content["multipart/form-data"]["schema"])
    assert registration["properties"]["artifact"]["format"] == "binary"
    assert "metadata" in registration["properties"]
    assert set(registration["required"]) >= {"model", "artifact"}


def test_the_list_endpoints_document_their_filters(schema: dict[str, Any]) -> None:
    def parameters(path: str) -> set[str]:
        return {p["name"] for p in schema["paths"][path]["get"].get("parameters", [])}

    assert {"tag", "owner", "sensitivity", "q", "page", "page_size"} <= parameters(
        "/api/v1/datasets/"
    )
    assert {"stage", "tag", "owner"} <= parameters("/api/v1/models/")
    assert {"dataset", "project", "profile_status", "file_format"} <= parameters(
        "/api/v1/dataset-versions/"
    )
    assert {"state", "project", "job_type"} <= parameters("/api/v1/jobs/")


def test_the_stage_enum_is_one_shared_component(schema: dict[str, Any]) -> None:
    assert schema["components"]["schemas"]["StageEnum"]["enum"] == [
        "none",
        "staging",
        "production",
        "archived",
    ]


@pytest.mark.django_db
def test_the_schema_and_docs_are_served(admin_client: Client) -> None:
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    docs = admin_client.get("/api/docs/")

    assert schema.status_code == 200
    assert "/api/v1/dataset-versions/" in schema.json()["paths"]
    assert docs.status_code == 200
    assert "swagger-ui" in docs.content.decode()


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node
