"""Lineage pages: the graph around a node drawn from its figure JSON, impact and provenance
tables grouped by kind with their paths, links from every catalog page, empty states that
say what to do, and the same visibility rules as the API."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from lineage import capture, charts, graph
from lineage.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    ModelVersion,
    RegisteredModel,
)

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def figure_in(html: str, chart_id: str = "lineage-graph-figure") -> dict[str, Any]:
    match = re.search(
        rf'<script id="{re.escape(chart_id)}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, f"no figure data for {chart_id}"
    assert f'data-plotly="{chart_id}"' in html
    return json.loads(match.group(1))


@pytest.fixture
def trained(
    dataset: Dataset,
    classifier: RegisteredModel,
    add_version: Callable[..., DatasetVersion],
    register_version: Callable[..., ModelVersion],
) -> dict[str, Any]:
    version = add_version(dataset)
    model_version = register_version(classifier, training_dataset_version=version.pk)
    deployment = Deployment.objects.create(model_version=model_version, name="fraud-api")
    capture.capture_deployment(deployment)
    return {"version": version, "model_version": model_version, "deployment": deployment}


# The graph page ---------------------------------------------------------------------------


def test_the_graph_page_draws_the_lineage_around_a_model_version(
    viewer: User, trained: dict[str, Any]
) -> None:
    model_version, version = trained["model_version"], trained["version"]

    response = signed_in(viewer).get(f"/lineage/?type=model_version&id={model_version.pk}")

    assert response.status_code == 200
    html = response.content.decode()
    figure = figure_in(html)
    nodes = {
        name: url
        for trace in figure["data"]
        if trace.get("customdata")
        for name, url in zip(trace["hovertext"], trace["customdata"], strict=True)
    }
    assert any("transactions v1" in name for name in nodes)
    assert version.get_absolute_url() in nodes.values()
    assert model_version.get_absolute_url() in nodes.values()
    assert figure["layout"]["title"]["text"].startswith("Lineage of fraud-detector v1")
    assert "js/lineage.js" in html
    assert "click a node to open its page" in html
    assert "Upstream (provenance)" in html and "Downstream (impact)" in html


def test_the_depth_selects_keep_the_query(viewer: User, trained: dict[str, Any]) -> None:
    model_version = trained["model_version"]

    response = signed_in(viewer).get(
        f"/lineage/?type=model_version&id={model_version.pk}&upstream_depth=1&downstream_depth=0"
    )

    html = response.content.decode()
    assert '<option value="1" selected>1</option>' in html
    assert '<option value="0" selected>0</option>' in html
    labels = {text for trace in figure_in(html)["data"] for text in trace.get("text") or []}
    assert labels == {"transactions v1", "fraud-detector v1"}


def test_without_a_node_the_graph_page_offers_recent_starts(
    viewer: User, dataset: Dataset, trained: dict[str, Any]
) -> None:
    response = signed_in(viewer).get("/lineage/")

    html = response.content.decode()
    assert response.status_code == 200
    assert f"?type=model_version&amp;id={trained['model_version'].pk}" in html
    assert f"?type=dataset&amp;id={dataset.pk}" in html
    assert "data-plotly" not in html


def test_a_node_without_lineage_says_how_to_record_some(viewer: User, dataset: Dataset) -> None:
    response = signed_in(viewer).get(f"/lineage/?type=dataset&id={dataset.pk}")

    assert response.status_code == 200
    assert "Nothing is recorded about transactions" in response.content.decode()


def test_an_unknown_node_is_not_found_and_says_so(viewer: User) -> None:
    response = signed_in(viewer).get("/lineage/?type=model_version&id=999999")

    assert response.status_code == 404
    assert "No model version with id 999999." in response.content.decode()


def test_a_half_named_node_is_refused_with_the_reason(viewer: User) -> None:
    response = signed_in(viewer).get("/lineage/downstream?namespace=s3://lake")

    assert response.status_code == 400
    assert "Give both namespace and name" in response.content.decode()


# Impact and provenance ----------------------------------------------------------------------


def test_the_impact_page_lists_dependants_by_kind_with_their_path(
    viewer: User, trained: dict[str, Any]
) -> None:
    version = trained["version"]

    response = signed_in(viewer).get(f"/lineage/downstream?type=dataset_version&id={version.pk}")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Impact of" in html
    assert html.index("Deployments (1)") < html.index("Model versions (1)")
    assert "—trained→" in html
    assert "—deployed as→" in html
    assert trained["model_version"].get_absolute_url() in html


def test_the_provenance_page_reads_in_the_direction_data_flows(
    viewer: User, trained: dict[str, Any]
) -> None:
    deployment = trained["deployment"]

    response = signed_in(viewer).get(f"/lineage/upstream?type=deployment&id={deployment.pk}")

    html = response.content.decode()
    assert "Provenance of" in html
    assert "Dataset versions (1)" in html
    row = html.split("Dataset versions (1)")[1].split("</tr>")[1]
    text = " ".join(re.sub(r"<[^>]+>", " ", row).split())
    assert "transactions v1 —trained→ fraud-detector v1 —deployed as→ fraud-api" in text


def test_a_walk_page_with_nothing_found_says_what_to_do(
    viewer: User, trained: dict[str, Any]
) -> None:
    deployment = trained["deployment"]

    response = signed_in(viewer).get(f"/lineage/downstream?type=deployment&id={deployment.pk}")

    assert "Nothing depends on fraud-api (production)" in response.content.decode()


def test_confidential_data_is_not_found_for_an_outsider(
    outsider: User, trained: dict[str, Any]
) -> None:
    version = trained["version"]
    client = signed_in(outsider)

    for path in ("/lineage/", "/lineage/downstream", "/lineage/upstream"):
        response = client.get(f"{path}?type=dataset_version&id={version.pk}")
        assert response.status_code == 404, path
        assert "transactions v1" not in response.content.decode()


def test_an_outsider_sees_a_model_without_the_confidential_data_behind_it(
    outsider: User, trained: dict[str, Any]
) -> None:
    deployment = trained["deployment"]

    response = signed_in(outsider).get(f"/lineage/upstream?type=deployment&id={deployment.pk}")

    html = response.content.decode()
    assert "fraud-detector v1" in html
    assert "transactions" not in html
    assert "2 nodes left out" in html


# Links, navigation, login ------------------------------------------------------------------


def test_catalog_pages_link_to_their_lineage(viewer: User, trained: dict[str, Any]) -> None:
    client = signed_in(viewer)
    version, model_version = trained["version"], trained["model_version"]

    pages = {
        version.dataset.get_absolute_url(): f"type=dataset&amp;id={version.dataset_id}",
        version.get_absolute_url(): f"type=dataset_version&amp;id={version.pk}",
        model_version.get_absolute_url(): f"type=model_version&amp;id={model_version.pk}",
    }
    for page, query in pages.items():
        html = client.get(page).content.decode()
        assert f'href="/lineage/?{query}">Lineage graph' in html, page
        assert f'href="/lineage/upstream?{query}">Upstream (provenance)' in html, page
        assert f'href="/lineage/downstream?{query}">Downstream (impact)' in html, page


def test_the_navigation_leads_to_lineage(viewer: User) -> None:
    html = signed_in(viewer).get("/lineage/").content.decode()

    assert re.search(r'<a href="/lineage/" class="active">Lineage</a>', html)


@pytest.mark.parametrize("path", ["/lineage/", "/lineage/downstream", "/lineage/upstream"])
def test_lineage_pages_need_a_signed_in_user(client: Client, path: str) -> None:
    response = client.get(f"{path}?type=dataset&id=1")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


# The figure -------------------------------------------------------------------------------


def listed(node_id: int, kind: str, label: str, depth: int, sensitivity: str | None = None) -> Any:
    return graph.ListedNode(
        id=node_id,
        kind=kind,
        object_id=node_id,
        label=label,
        project_slug="card-fraud",
        url=f"/nodes/{node_id}/",
        sensitivity=sensitivity,
        depth=depth,
    )


def test_the_figure_colours_nodes_by_kind_and_marks_restricted_data() -> None:
    nodes = [
        listed(1, "dataset_version", "customers v3", -1, "pii"),
        listed(2, "dataset_version", "events v9", -1, "internal"),
        listed(3, "model_version", "churn v2", 0),
        listed(4, "deployment", "churn-api", 1),
    ]
    edges = [graph.GraphEdge(1, 3, "trained_on"), graph.GraphEdge(2, 3, "evaluated_on")]
    edges.append(graph.GraphEdge(3, 4, "deployed_as"))
    positions = graph.layered_layout([1, 2, 3, 4], [(e.source_id, e.target_id) for e in edges])

    figure = charts.lineage_graph_figure(nodes, edges, positions, [3], "Lineage of churn v2")

    traces = {trace.get("name"): trace for trace in figure["data"] if trace.get("customdata")}
    legend = [trace["name"] for trace in figure["data"] if trace.get("showlegend", True)]
    versions = traces["Dataset version"]
    assert versions["marker"]["symbol"] == ["diamond", "circle"]
    assert versions["marker"]["line"]["color"][0] == charts.COLOURS["failed"]
    assert versions["customdata"] == ["/nodes/1/", "/nodes/2/"]
    assert "sensitivity: PII" in versions["hovertext"][0]
    assert "1 step upstream" in versions["hovertext"][0]
    assert traces["Model version"]["marker"]["size"] == [20]
    assert legend == ["Dataset version", "Model version", "Deployment", "PII data"]
    assert figure["layout"]["title"]["text"] == "Lineage of churn v2"
    assert figure["layout"]["xaxis"]["showticklabels"] is False
    assert figure["layout"]["yaxis"]["showticklabels"] is False
    edge_lines = figure["data"][0]
    assert edge_lines["mode"] == "lines" and len(edge_lines["x"]) == 9
    json.dumps(figure)


def test_the_figure_of_200_nodes_keeps_names_for_the_hover() -> None:
    nodes = [listed(index, "run", f"run {index}", 1) for index in range(200)]
    positions = graph.layered_layout(range(200), [(index, index + 1) for index in range(199)])

    figure = charts.lineage_graph_figure(nodes, [], positions, [0], "Many runs")

    runs = next(trace for trace in figure["data"] if trace.get("customdata"))
    assert runs["mode"] == "markers"
    assert len(runs["hovertext"]) == 200
    assert figure["layout"]["height"] <= 1600
