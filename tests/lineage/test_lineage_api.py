"""The lineage API: impact (downstream), provenance (upstream) and the graph around a node,
named by a catalog object or an external dataset; nodes come with their pages and paths,
and what a user may not see stays out."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from lineage import capture
from lineage.choices import EdgeKind, Sensitivity
from lineage.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageEdge,
    LineageNode,
    ModelVersion,
    PipelineJob,
    PipelineRun,
    Project,
    RegisteredModel,
)

pytestmark = pytest.mark.django_db

GRAPH = "/api/v1/lineage/graph"
UPSTREAM = "/api/v1/lineage/upstream"
DOWNSTREAM = "/api/v1/lineage/downstream"


@pytest.fixture
def trained(
    dataset: Dataset,
    classifier: RegisteredModel,
    add_version: Callable[..., DatasetVersion],
    register_version: Callable[..., ModelVersion],
) -> dict[str, Any]:
    """A dataset version, a model version trained on it, and a deployment of that model."""
    version = add_version(dataset)
    model_version = register_version(classifier, training_dataset_version=version.pk)
    deployment = Deployment.objects.create(model_version=model_version, name="fraud-api")
    capture.capture_deployment(deployment)
    return {"version": version, "model_version": model_version, "deployment": deployment}


def get(client: APIClient, url: str, **params: Any) -> Any:
    return client.get(url, params)


def labels_of(path: list[dict[str, Any]]) -> list[str]:
    return [step["label"] for step in path]


def test_downstream_of_a_dataset_version_reaches_the_model_and_its_deployment(
    api_client_for: Callable[[User], APIClient], viewer: User, trained: dict[str, Any]
) -> None:
    version, model_version = trained["version"], trained["model_version"]

    response = get(api_client_for(viewer), DOWNSTREAM, type="dataset_version", id=version.pk)

    assert response.status_code == 200
    body = response.json()
    assert body["root"]["type"] == "dataset_version"
    assert body["root"]["label"] == "transactions v1"
    assert body["root"]["url"] == version.get_absolute_url()
    assert body["direction"] == "downstream"
    assert [(node["kind"], node["depth"]) for node in body["nodes"]] == [
        ("model_version", 1),
        ("deployment", 2),
    ]
    trained_node = body["nodes"][0]
    assert trained_node["object_id"] == model_version.pk
    assert trained_node["label"] == "fraud-detector v1"
    assert trained_node["project"] == "card-fraud"
    assert trained_node["url"] == model_version.get_absolute_url()
    assert trained_node["path"] == [
        {
            "id": body["root"]["node_ids"][0],
            "kind": "dataset_version",
            "label": "transactions v1",
            "edge_kind": None,
            "url": version.get_absolute_url(),
        },
        {
            "id": trained_node["id"],
            "kind": "model_version",
            "label": "fraud-detector v1",
            "edge_kind": "trained_on",
            "url": model_version.get_absolute_url(),
        },
    ]
    assert labels_of(body["nodes"][1]["path"]) == [
        "transactions v1",
        "fraud-detector v1",
        "fraud-api (production)",
    ]
    assert body["truncated"] is False and body["hidden"] == 0


def test_downstream_of_a_dataset_goes_through_its_versions(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    dataset: Dataset,
    trained: dict[str, Any],
) -> None:
    response = get(api_client_for(viewer), DOWNSTREAM, type="dataset", id=dataset.pk)

    body = response.json()
    by_kind = {node["kind"]: node for node in body["nodes"]}
    assert set(by_kind) == {"dataset_version", "model_version", "deployment"}
    assert labels_of(by_kind["model_version"]["path"]) == [
        "transactions",
        "transactions v1",
        "fraud-detector v1",
    ]
    assert [step["edge_kind"] for step in by_kind["model_version"]["path"]] == [
        None,
        "has_version",
        "trained_on",
    ]
    assert by_kind["dataset_version"]["sensitivity"] == Sensitivity.CONFIDENTIAL


def test_upstream_of_a_deployment_is_what_it_was_made_from(
    api_client_for: Callable[[User], APIClient], viewer: User, trained: dict[str, Any]
) -> None:
    deployment = trained["deployment"]

    response = get(api_client_for(viewer), UPSTREAM, type="deployment", id=deployment.pk)

    body = response.json()
    assert [node["label"] for node in body["nodes"]] == [
        "fraud-detector v1",
        "transactions v1",
        "transactions",
    ]
    assert labels_of(body["nodes"][-1]["path"]) == [
        "fraud-api (production)",
        "fraud-detector v1",
        "transactions v1",
        "transactions",
    ]


def test_upstream_of_a_dataset_starts_from_its_versions(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
) -> None:
    version = add_version(dataset)
    job = PipelineJob.objects.create(namespace="airflow", name="clean_transactions")
    run = PipelineRun.objects.create(job=job, run_id=uuid.uuid4())
    capture.link(job, run, EdgeKind.RAN_AS)
    capture.link(run, version, EdgeKind.PRODUCED)

    response = get(api_client_for(viewer), UPSTREAM, type="dataset", id=dataset.pk)

    body = response.json()
    assert [node["kind"] for node in body["nodes"]] == ["run", "job"]
    assert labels_of(body["nodes"][1]["path"])[0] == "transactions v1"
    assert body["nodes"][1]["project"] is None  # jobs outside a project are seen by all


def test_a_model_stands_for_all_its_versions(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    classifier: RegisteredModel,
    trained: dict[str, Any],
    register_version: Callable[..., ModelVersion],
    add_version: Callable[..., DatasetVersion],
    dataset: Dataset,
) -> None:
    newer_data = add_version(dataset)
    register_version(classifier, training_dataset_version=newer_data.pk)

    response = get(api_client_for(viewer), UPSTREAM, type="model", id=classifier.pk)

    body = response.json()
    assert body["root"]["label"] == "fraud-detector"
    assert len(body["root"]["node_ids"]) == 2
    assert {"transactions v1", "transactions v2"} <= {node["label"] for node in body["nodes"]}


def test_an_external_dataset_is_named_by_namespace_and_name(
    api_client_for: Callable[[User], APIClient], viewer: User, project: Project
) -> None:
    external = Dataset.objects.create(
        project=project, name="events", namespace="s3://lake", source_name="raw/events"
    )
    version = DatasetVersion.objects.create(
        dataset=external, version=1, format="external", external_uri="s3://lake/raw/events/1"
    )
    capture.capture_dataset_version(version)

    response = get(api_client_for(viewer), DOWNSTREAM, namespace="s3://lake", name="raw/events")

    assert response.status_code == 200
    assert response.json()["root"]["id"] == external.pk
    assert [node["label"] for node in response.json()["nodes"]] == ["events v1"]


def test_kinds_limit_what_is_listed_not_where_the_walk_goes(
    api_client_for: Callable[[User], APIClient], viewer: User, trained: dict[str, Any]
) -> None:
    version = trained["version"]

    response = get(
        api_client_for(viewer),
        DOWNSTREAM,
        type="dataset_version",
        id=version.pk,
        kinds="deployment",
    )

    nodes = response.json()["nodes"]
    assert [node["kind"] for node in nodes] == ["deployment"]
    assert len(nodes[0]["path"]) == 3


def test_depth_and_limit_bound_the_walk(
    api_client_for: Callable[[User], APIClient], viewer: User, trained: dict[str, Any]
) -> None:
    client = api_client_for(viewer)
    version = trained["version"]

    shallow = get(client, DOWNSTREAM, type="dataset_version", id=version.pk, depth=1).json()
    limited = get(client, DOWNSTREAM, type="dataset_version", id=version.pk, limit=1).json()

    assert [node["kind"] for node in shallow["nodes"]] == ["model_version"]
    assert shallow["truncated"] is False
    assert [node["kind"] for node in limited["nodes"]] == ["model_version"]
    assert limited["truncated"] is True


def test_the_graph_has_both_sides_and_its_edges(
    api_client_for: Callable[[User], APIClient], viewer: User, trained: dict[str, Any]
) -> None:
    model_version = trained["model_version"]

    response = get(api_client_for(viewer), GRAPH, type="model_version", id=model_version.pk)

    assert response.status_code == 200
    body = response.json()
    depths = {node["label"]: node["depth"] for node in body["nodes"]}
    assert depths == {
        "transactions": -2,
        "transactions v1": -1,
        "fraud-detector v1": 0,
        "fraud-api (production)": 1,
    }
    ids = {node["label"]: node["id"] for node in body["nodes"]}
    assert {(edge["source"], edge["target"], edge["kind"]) for edge in body["edges"]} == {
        (ids["transactions"], ids["transactions v1"], "has_version"),
        (ids["transactions v1"], ids["fraud-detector v1"], "trained_on"),
        (ids["fraud-detector v1"], ids["fraud-api (production)"], "deployed_as"),
    }
    assert body["truncated"] is False


def test_the_graph_depths_default_to_two_and_can_be_narrowed(
    api_client_for: Callable[[User], APIClient], viewer: User, trained: dict[str, Any]
) -> None:
    model_version = trained["model_version"]

    response = get(
        api_client_for(viewer),
        GRAPH,
        type="model_version",
        id=model_version.pk,
        upstream_depth=1,
        downstream_depth=0,
    )

    assert sorted(node["depth"] for node in response.json()["nodes"]) == [-1, 0]


def test_a_cycle_reported_by_a_pipeline_does_not_loop(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
) -> None:
    version = add_version(dataset)
    job = PipelineJob.objects.create(namespace="airflow", name="rewrite_in_place")
    run = PipelineRun.objects.create(job=job, run_id=uuid.uuid4())
    capture.link(version, run, EdgeKind.CONSUMED)
    capture.link(run, version, EdgeKind.PRODUCED)

    response = get(api_client_for(viewer), DOWNSTREAM, type="dataset_version", id=version.pk)

    assert [node["kind"] for node in response.json()["nodes"]] == ["run"]


def test_an_object_with_no_lineage_yet_answers_empty(
    api_client_for: Callable[[User], APIClient], viewer: User, dataset: Dataset
) -> None:
    response = get(api_client_for(viewer), DOWNSTREAM, type="dataset", id=dataset.pk)

    assert response.status_code == 200
    assert response.json()["root"]["node_ids"] == []
    assert response.json()["nodes"] == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"type": "dataset"},
        {"id": "3"},
        {"type": "spaceship", "id": "1"},
        {"type": "dataset", "id": "abc"},
        {"namespace": "s3://lake"},
        {"type": "dataset", "id": "1", "namespace": "s3://lake", "name": "x"},
        {"type": "dataset", "id": "1", "depth": "0"},
        {"type": "dataset", "id": "1", "depth": "500"},
        {"type": "dataset", "id": "1", "kinds": "dataset,unicorn"},
    ],
)
def test_a_request_that_names_no_node_is_refused(
    api_client_for: Callable[[User], APIClient], viewer: User, params: dict[str, str]
) -> None:
    response = api_client_for(viewer).get(DOWNSTREAM, params)

    assert response.status_code == 400


@pytest.mark.parametrize("url", [GRAPH, UPSTREAM, DOWNSTREAM])
@pytest.mark.parametrize(
    "params",
    [
        {"type": "dataset_version", "id": "999999"},
        {"type": "model", "id": "999999"},
        {"type": "job", "id": "999999"},
        {"namespace": "s3://nowhere", "name": "missing"},
    ],
)
def test_an_unknown_node_is_not_found(
    api_client_for: Callable[[User], APIClient], viewer: User, url: str, params: dict[str, str]
) -> None:
    response = api_client_for(viewer).get(url, params)

    assert response.status_code == 404
    assert "No " in response.json()["detail"]


def test_an_anonymous_request_is_refused() -> None:
    response = APIClient().get(DOWNSTREAM, {"type": "dataset", "id": 1})

    assert response.status_code in (401, 403)


@pytest.mark.parametrize("url", [GRAPH, UPSTREAM, DOWNSTREAM])
def test_an_outsider_cannot_walk_from_another_projects_confidential_data(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    trained: dict[str, Any],
    url: str,
) -> None:
    version = trained["version"]  # of a confidential dataset in a project otto is not in

    response = api_client_for(outsider).get(url, {"type": "dataset_version", "id": version.pk})

    assert response.status_code == 404


def test_an_outsider_sees_the_model_but_not_the_confidential_data_behind_it(
    api_client_for: Callable[[User], APIClient], outsider: User, trained: dict[str, Any]
) -> None:
    deployment = trained["deployment"]

    body = api_client_for(outsider).get(UPSTREAM, {"type": "deployment", "id": deployment.pk})

    nodes = body.json()["nodes"]
    assert [node["label"] for node in nodes] == ["fraud-detector v1"]
    assert body.json()["hidden"] == 2
    assert "transactions" not in body.content.decode()


def test_a_path_through_data_the_user_may_not_see_keeps_only_its_kind(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    project: Project,
    trained: dict[str, Any],
) -> None:
    raw = Dataset.objects.create(project=project, name="raw", sensitivity=Sensitivity.PUBLIC)
    raw_version = DatasetVersion.objects.create(dataset=raw, version=1, format="external")
    capture.link(raw_version, trained["version"], EdgeKind.DERIVED_FROM)

    response = api_client_for(outsider).get(
        DOWNSTREAM, {"type": "dataset_version", "id": raw_version.pk}
    )

    body = response.json()
    nodes = {node["label"]: node for node in body["nodes"]}
    assert set(nodes) == {"fraud-detector v1", "fraud-api (production)"}
    assert body["hidden"] == 1
    assert nodes["fraud-detector v1"]["path"][1] == {
        "id": None,
        "kind": "dataset_version",
        "label": "(not visible to you)",
        "edge_kind": "derived_from",
        "url": None,
    }
    assert "transactions" not in response.content.decode()


def test_the_graph_leaves_out_what_the_user_may_not_see(
    api_client_for: Callable[[User], APIClient], outsider: User, trained: dict[str, Any]
) -> None:
    model_version = trained["model_version"]

    body = api_client_for(outsider).get(GRAPH, {"type": "model_version", "id": model_version.pk})

    assert {node["label"] for node in body.json()["nodes"]} == {
        "fraud-detector v1",
        "fraud-api (production)",
    }
    assert len(body.json()["edges"]) == 1
    assert body.json()["hidden"] == 2


def test_nodes_outside_any_project_are_seen_by_everyone_signed_in(
    api_client_for: Callable[[User], APIClient], outsider: User
) -> None:
    job = PipelineJob.objects.create(namespace="airflow", name="nightly")
    run = PipelineRun.objects.create(job=job, run_id=uuid.uuid4())
    capture.link(job, run, EdgeKind.RAN_AS)

    response = api_client_for(outsider).get(DOWNSTREAM, {"type": "job", "id": job.pk})

    assert [node["label"] for node in response.json()["nodes"]] == [capture.node_label(run)]
    assert response.json()["nodes"][0]["url"].startswith("/lineage/?type=run&id=")


def test_a_walk_costs_a_fixed_number_of_queries(
    api_client_for: Callable[[User], APIClient],
    viewer: User,
    dataset: Dataset,
    trained: dict[str, Any],
    django_assert_max_num_queries: Any,
) -> None:
    client = api_client_for(viewer)
    for index in range(20):
        node = LineageNode.objects.create(kind="run", object_id=10_000 + index, label=f"r{index}")
        source = LineageNode.objects.get(kind="dataset_version", object_id=trained["version"].pk)
        LineageEdge.objects.create(source=source, target=node, kind=EdgeKind.CONSUMED)

    with django_assert_max_num_queries(16):
        response = client.get(DOWNSTREAM, {"type": "dataset", "id": dataset.pk})

    assert len(response.json()["nodes"]) == 23


def test_the_lineage_endpoints_are_in_the_schema(admin_client: Any) -> None:
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    paths = schema.json()["paths"]
    for path in (GRAPH, UPSTREAM, DOWNSTREAM):
        assert set(paths[path]) == {"get"}
    parameters = {p["name"] for p in paths[DOWNSTREAM]["get"]["parameters"]}
    assert {"type", "id", "namespace", "name", "depth", "kinds", "limit"} <= parameters
    graph_parameters = {p["name"] for p in paths[GRAPH]["get"]["parameters"]}
    assert {"upstream_depth", "downstream_depth"} <= graph_parameters


def test_a_recorded_deployment_is_downstream_of_its_model_version(
    api_client_for: Callable[[User], APIClient],
    contributor: User,
    viewer: User,
    classifier: RegisteredModel,
    register_version: Callable[..., ModelVersion],
) -> None:
    version = register_version(classifier)
    client = api_client_for(contributor)

    created = client.post(
        "/api/v1/deployments/",
        {"model_version": version.pk, "name": "fraud-api", "environment": "production"},
        format="json",
    )
    refused = api_client_for(viewer).post(
        "/api/v1/deployments/", {"model_version": version.pk, "name": "x"}, format="json"
    )
    downstream = client.get(
        "/api/v1/lineage/downstream", {"type": "model_version", "id": version.pk}
    )

    assert created.status_code == 201, created.data
    assert refused.status_code == 400 and "contributor role" in str(refused.data)
    assert Deployment.objects.count() == 1
    labels = [node["label"] for node in downstream.data["nodes"]]
    assert labels == ["fraud-api (production)"]
