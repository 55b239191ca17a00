"""Lineage pages: the graph around a node, its impact (downstream) and its provenance
(upstream). Thin: walks, look-ups and visibility are in lineage.graph, the figure in
lineage.charts."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode

from lineage import charts, graph
from lineage.choices import EdgeKind, NodeKind, Sensitivity
from lineage.models import ModelVersion
from lineage.permissions import visible_datasets, visible_projects

TYPE_CHOICES = [
    ("", "—"),
    (NodeKind.DATASET, "Dataset (and its versions)"),
    (NodeKind.DATASET_VERSION, "Dataset version"),
    (graph.MODEL, "Model (all its versions)"),
    (NodeKind.MODEL_VERSION, "Model version"),
    (NodeKind.PIPELINE_JOB, "Pipeline job"),
    (NodeKind.PIPELINE_RUN, "Pipeline run"),
    (NodeKind.DEPLOYMENT, "Deployment"),
]
GRAPH_DEPTHS = [0, 1, 2, 3, 4, 5, 6, 8, 10]
WALK_DEPTHS = [1, 2, 3, 5, 10, 20, graph.MAX_DEPTH]
GRAPH_LIMIT = 200
WALK_LIMIT = 1000
# Impact lists what is at risk first; provenance the data first.
KIND_ORDER = {
    "downstream": [
        NodeKind.DEPLOYMENT,
        NodeKind.MODEL_VERSION,
        NodeKind.DATASET_VERSION,
        NodeKind.DATASET,
        NodeKind.PIPELINE_RUN,
        NodeKind.PIPELINE_JOB,
    ],
    "upstream": [
        NodeKind.DATASET_VERSION,
        NodeKind.DATASET,
        NodeKind.MODEL_VERSION,
        NodeKind.PIPELINE_RUN,
        NodeKind.PIPELINE_JOB,
        NodeKind.DEPLOYMENT,
    ],
}
KIND_PLURALS = {
    NodeKind.DATASET: "Datasets",
    NodeKind.DATASET_VERSION: "Dataset versions",
    NodeKind.PIPELINE_JOB: "Pipeline jobs",
    NodeKind.PIPELINE_RUN: "Pipeline runs",
    NodeKind.MODEL_VERSION: "Model versions",
    NodeKind.DEPLOYMENT: "Deployments",
}
EDGE_LABELS = dict(EdgeKind.choices)
SENSITIVITY_LABELS = dict(Sensitivity.choices)


class NodeForm(forms.Form):
    """The node to start from, as the API names it."""

    type = forms.ChoiceField(choices=TYPE_CHOICES, required=False)
    id = forms.IntegerField(min_value=1, required=False, label="Id")
    namespace = forms.CharField(required=False, help_text="or an external dataset's namespace")
    name = forms.CharField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("namespace") or data.get("name")) and (data.get("type") or data.get("id")):
            raise forms.ValidationError("Give either a type and id or a namespace and name.")
        return data

    def names_a_node(self) -> bool:
        return any(self.data.get(key) for key in ("type", "id", "namespace", "name"))


class GraphForm(NodeForm):
    upstream_depth = forms.TypedChoiceField(
        choices=[(depth, depth) for depth in GRAPH_DEPTHS], coerce=int, initial=2, required=False
    )
    downstream_depth = forms.TypedChoiceField(
        choices=[(depth, depth) for depth in GRAPH_DEPTHS], coerce=int, initial=2, required=False
    )


class WalkForm(NodeForm):
    depth = forms.TypedChoiceField(
        choices=[(depth, depth) for depth in WALK_DEPTHS], coerce=int, initial=10, required=False
    )


def _root(request: HttpRequest, form: NodeForm) -> tuple[graph.Root | None, int]:
    """The node the form names (None with an error on the form) and the status to answer."""
    if not form.is_valid():
        return None, 400
    data = form.cleaned_data
    try:
        root = graph.resolve_root(
            request.user, data["type"], data["id"], data["namespace"], data["name"]
        )
    except graph.NodeSpecError as exc:
        form.add_error(None, str(exc))
        return None, 400
    except graph.NodeNotFound as exc:
        form.add_error(None, str(exc))
        return None, 404
    return root, 200


def _depth(form: forms.Form, name: str, default: int) -> int:
    value = form.cleaned_data.get(name) if form.is_valid() else None
    return default if value in (None, "") else int(value)


def _recent_starts(request: HttpRequest) -> dict[str, Any]:
    """Where to start when no node is given: recent model versions and datasets."""
    model_versions = (
        ModelVersion.objects.filter(model__project__in=visible_projects(request.user))
        .select_related("model")
        .order_by("-created_at")[:10]
    )
    datasets = (
        visible_datasets(request.user)
        .filter(project__in=visible_projects(request.user))
        .order_by("-updated_at")[:10]
    )
    return {"recent_model_versions": model_versions, "recent_datasets": datasets}


def _with_defaults(request: HttpRequest, **defaults: int) -> Any:
    """The query string with the depths it leaves out filled in, so the selects show the
    depths actually used (a bound form would otherwise show its first choice)."""
    if not request.GET:
        return None
    data = request.GET.copy()
    for name, value in defaults.items():
        if not data.get(name):
            data[name] = str(value)
    return data


def lineage_graph(request: HttpRequest) -> HttpResponse:
    form = GraphForm(_with_defaults(request, upstream_depth=2, downstream_depth=2))
    context: dict[str, Any] = {"form": form}
    if not form.names_a_node():
        return render(request, "lineage/lineage_graph.html", {**context, **_recent_starts(request)})
    root, status = _root(request, form)
    if root is None:
        return render(request, "lineage/lineage_graph.html", context, status=status)
    upstream_depth = _depth(form, "upstream_depth", 2)
    downstream_depth = _depth(form, "downstream_depth", 2)
    subgraph = graph.neighbourhood(
        root.node_ids,
        upstream_depth,
        downstream_depth,
        GRAPH_LIMIT,
        upstream_start_ids=root.start_ids("upstream"),
    )
    nodes, edges, hidden = graph.present_subgraph(subgraph, request.user)
    positions = graph.layered_layout(
        [node.id for node in nodes], [(edge.source_id, edge.target_id) for edge in edges]
    )
    title = (
        f"Lineage of {root.label}: {upstream_depth} step{'s' * (upstream_depth != 1)} up, "
        f"{downstream_depth} down ({len(nodes)} nodes)"
    )
    figure = charts.lineage_graph_figure(nodes, edges, positions, root.node_ids, title)
    context.update(
        root=root,
        node_query=_node_query(root),
        nodes=nodes,
        figure=figure if nodes else None,
        alone=len(nodes) <= len(root.node_ids),
        hidden=hidden,
        truncated=subgraph.truncated,
        limit=GRAPH_LIMIT,
    )
    return render(request, "lineage/lineage_graph.html", context)


def lineage_downstream(request: HttpRequest) -> HttpResponse:
    return _walk_page(request, "downstream")


def lineage_upstream(request: HttpRequest) -> HttpResponse:
    return _walk_page(request, "upstream")


def _walk_page(request: HttpRequest, direction: graph.Direction) -> HttpResponse:
    form = WalkForm(_with_defaults(request, depth=10))
    context: dict[str, Any] = {"form": form, "direction": direction}
    if not form.names_a_node():
        return render(request, "lineage/lineage_walk.html", {**context, **_recent_starts(request)})
    root, status = _root(request, form)
    if root is None:
        return render(request, "lineage/lineage_walk.html", context, status=status)
    depth = _depth(form, "depth", 10)
    result = graph.walk(root.start_ids(direction), direction, depth, WALK_LIMIT)
    nodes, hidden = graph.present_walk(result, request.user)
    context.update(
        root=root,
        node_query=_node_query(root),
        depth=depth,
        groups=_grouped(nodes, direction),
        count=len(nodes),
        hidden=hidden,
        truncated=result.truncated,
        limit=WALK_LIMIT,
    )
    return render(request, "lineage/lineage_walk.html", context)


def _node_query(root: graph.Root) -> str:
    return urlencode({"type": root.type, "id": str(root.object_id)})


def _grouped(nodes: list[graph.ListedNode], direction: str) -> list[dict[str, Any]]:
    """Nodes grouped by kind, each with its path in the direction data flows."""
    groups = []
    for kind in KIND_ORDER[direction]:
        members = [node for node in nodes if node.kind == kind]
        if members:
            rows = [
                {
                    "node": node,
                    "flow": _flow(node.path, direction),
                    "sensitivity": SENSITIVITY_LABELS.get(node.sensitivity or "", ""),
                }
                for node in members
            ]
            groups.append({"kind": kind, "title": KIND_PLURALS[kind], "rows": rows})
    return groups


def _flow(path: list[graph.PathStep], direction: str) -> list[dict[str, Any]]:
    """The path as it reads in the direction data flows, each step with the label of the
    edge that leads into it ("trained", "deployed as"…).

    A step's edge kind names the edge between it and the step before it on the walk; going
    upstream that edge leads out of the step, so the list is reversed and labels shift."""
    if direction == "downstream":
        return [{"step": step, "edge": EDGE_LABELS.get(step.edge_kind or "", "")} for step in path]
    flowing = list(reversed(path))
    return [
        {
            "step": step,
            "edge": EDGE_LABELS.get(flowing[index - 1].edge_kind or "", "") if index else "",
        }
        for index, step in enumerate(flowing)
    ]
