"""Lineage API: the graph around a node, and what is downstream (impact) or upstream
(provenance) of it. Thin: the walks and the catalog look-ups are in lineage.graph."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage import graph
from lineage.choices import DriftStatus, EdgeKind, NodeKind, QualityStatus, Sensitivity

# Parameters --------------------------------------------------------------------------------


class NodeSpecSerializer(serializers.Serializer):
    """A node named by a catalog object's type and id, or by a dataset's namespace and name."""

    type = serializers.ChoiceField(
        choices=graph.NODE_TYPES,
        required=False,
        help_text="The kind of object named by `id`. `model` stands for all its versions; "
        "`dataset` for the dataset and all its versions.",
    )
    id = serializers.IntegerField(
        required=False, min_value=1, help_text="The object's id (as in its own API)."
    )
    namespace = serializers.CharField(
        required=False, help_text="An external dataset's namespace, e.g. `s3://bucket`."
    )
    name = serializers.CharField(
        required=False, help_text="An external dataset's name in its namespace, e.g. `path/key`."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        by_object = "type" in attrs or "id" in attrs
        by_name = "namespace" in attrs or "name" in attrs
        if by_object and by_name:
            raise serializers.ValidationError(
                "Name the node either by type and id or by namespace and name, not both."
            )
        if by_name and not ("namespace" in attrs and "name" in attrs):
            raise serializers.ValidationError("Give both namespace and name to name a dataset.")
        if not by_name and not ("type" in attrs and "id" in attrs):
            raise serializers.ValidationError(
                "Name a node: type and id, or namespace and name of a dataset."
            )
        return attrs


class GraphQuerySerializer(NodeSpecSerializer):
    upstream_depth = serializers.IntegerField(
        default=2, min_value=0, max_value=graph.MAX_DEPTH, help_text="Edges to walk upstream."
    )
    downstream_depth = serializers.IntegerField(
        default=2, min_value=0, max_value=graph.MAX_DEPTH, help_text="Edges to walk downstream."
    )
    limit = serializers.IntegerField(
        default=200, min_value=1, max_value=500, help_text="At most this many nodes, nearest first."
    )


class WalkQuerySerializer(NodeSpecSerializer):
    depth = serializers.IntegerField(
        default=10,
        min_value=1,
        max_value=graph.MAX_DEPTH,
        help_text="Edges to walk; a cycle reported by a pipeline ends here.",
    )
    kinds = serializers.CharField(
        required=False,
        help_text="List only these node kinds, comma-separated "
        f"({', '.join(NodeKind.values)}); the walk still goes through the others.",
    )
    limit = serializers.IntegerField(
        default=1000, min_value=1, max_value=10_000, help_text="At most this many nodes."
    )

    def validate_kinds(self, value: str) -> list[str]:
        kinds = [kind.strip() for kind in value.split(",") if kind.strip()]
        unknown = sorted(set(kinds) - set(NodeKind.values))
        if unknown or not kinds:
            raise serializers.ValidationError(
                f"Unknown kind {', '.join(unknown) or '(none given)'}; "
                f"use {', '.join(NodeKind.values)}."
            )
        return kinds


# Responses ---------------------------------------------------------------------------------


# Named components: other serializers have fields called `kind` with other choices.
@extend_schema_field(
    {"type": "string", "enum": list(NodeKind.values)}, component_name="LineageNodeKind"
)
class NodeKindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=NodeKind.choices, **kwargs)


@extend_schema_field(
    {"type": "string", "enum": list(EdgeKind.values)}, component_name="LineageEdgeKind"
)
class EdgeKindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=EdgeKind.choices, **kwargs)


class LineageRootSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=graph.NODE_TYPES)
    id = serializers.IntegerField(source="object_id")
    label = serializers.CharField()
    url = serializers.CharField(help_text="The object's page.")
    node_ids = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="The object's own graph nodes (a model's are its versions'); going "
        "upstream, a dataset's versions are start nodes too. Empty when nothing is recorded.",
    )


class PathStepSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        allow_null=True, help_text="Graph node id; null for a node you may not see."
    )
    kind = NodeKindField()
    label = serializers.CharField()
    edge_kind = EdgeKindField(allow_null=True, help_text="The edge that led here.")
    url = serializers.CharField(allow_null=True)


class LineageNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Graph node id.")
    kind = NodeKindField()
    object_id = serializers.IntegerField(help_text="The catalog object's id.")
    label = serializers.CharField()
    project = serializers.CharField(source="project_slug", allow_null=True)
    url = serializers.CharField(help_text="The object's page.")
    sensitivity = serializers.ChoiceField(
        choices=Sensitivity.choices, allow_null=True, help_text="Datasets and their versions."
    )
    quality_status = serializers.ChoiceField(
        choices=QualityStatus.choices,
        allow_null=True,
        help_text="Dataset versions: the outcome of their latest quality run.",
    )
    drift_status = serializers.ChoiceField(
        choices=DriftStatus.choices,
        allow_null=True,
        help_text="Model versions: the decision of their latest drift analysis.",
    )
    depth = serializers.IntegerField(
        help_text="Edges from the start; in the graph, negative upstream."
    )
    path = PathStepSerializer(many=True, help_text="From a start node to this node.")


class LineageEdgeSerializer(serializers.Serializer):
    source = serializers.IntegerField(source="source_id", help_text="Upstream node id.")
    target = serializers.IntegerField(source="target_id", help_text="Downstream node id.")
    kind = EdgeKindField()


class LineageWalkSerializer(serializers.Serializer):
    root = LineageRootSerializer()
    direction = serializers.ChoiceField(choices=["upstream", "downstream"])
    nodes = LineageNodeSerializer(many=True)
    hidden = serializers.IntegerField(help_text="Nodes reached that you may not see.")
    truncated = serializers.BooleanField(help_text="More nodes were reached than `limit`.")


class LineageGraphSerializer(serializers.Serializer):
    root = LineageRootSerializer()
    nodes = LineageNodeSerializer(many=True)
    edges = LineageEdgeSerializer(many=True)
    hidden = serializers.IntegerField(help_text="Nodes in reach that you may not see.")
    truncated = serializers.BooleanField(help_text="More nodes were in reach than `limit`.")


# Views -------------------------------------------------------------------------------------

NODE_ERRORS = {
    400: OpenApiResponse(description="The parameters do not name a node."),
    404: OpenApiResponse(description="No such object, or not one you may see."),
}


def resolve_root(request: Request, params: dict[str, Any]) -> graph.Root:
    try:
        return graph.resolve_root(
            request.user,
            params.get("type"),
            params.get("id"),
            params.get("namespace"),
            params.get("name"),
        )
    except graph.NodeSpecError as exc:
        raise exceptions.ValidationError({"detail": [str(exc)]}) from exc
    except graph.NodeNotFound as exc:
        raise exceptions.NotFound(str(exc)) from exc


def query_params(request: Request, serializer_class: type[serializers.Serializer]) -> Any:
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data


class LineageGraphView(APIView):
    """The graph around a node: its upstream and downstream nodes within the given depths,
    and every edge among them."""

    @extend_schema(
        operation_id="lineage_graph",
        parameters=[GraphQuerySerializer],
        responses={200: LineageGraphSerializer, **NODE_ERRORS},
    )
    def get(self, request: Request) -> Response:
        params = query_params(request, GraphQuerySerializer)
        root = resolve_root(request, params)
        subgraph = graph.neighbourhood(
            root.node_ids,
            params["upstream_depth"],
            params["downstream_depth"],
            params["limit"],
            upstream_start_ids=root.start_ids("upstream"),
        )
        nodes, edges, hidden = graph.present_subgraph(subgraph, request.user)
        result = {
            "root": root,
            "nodes": nodes,
            "edges": edges,
            "hidden": hidden,
            "truncated": subgraph.truncated,
        }
        return Response(LineageGraphSerializer(result).data)


class LineageWalkView(APIView):
    direction: graph.Direction

    def get(self, request: Request) -> Response:
        params = query_params(request, WalkQuerySerializer)
        root = resolve_root(request, params)
        result = graph.walk(
            root.start_ids(self.direction),
            self.direction,
            params["depth"],
            params["limit"],
            params.get("kinds"),
        )
        nodes, hidden = graph.present_walk(result, request.user)
        data = {
            "root": root,
            "direction": self.direction,
            "nodes": nodes,
            "hidden": hidden,
            "truncated": result.truncated,
        }
        return Response(LineageWalkSerializer(data).data)


class LineageDownstreamView(LineageWalkView):
    """Impact: every node that depends on the given one, nearest first, each with its path."""

    direction = "downstream"

    @extend_schema(
        operation_id="lineage_downstream",
        parameters=[WalkQuerySerializer],
        responses={200: LineageWalkSerializer, **NODE_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return super().get(request)


class LineageUpstreamView(LineageWalkView):
    """Provenance: everything the given node was made from, nearest first, with paths."""

    direction = "upstream"

    @extend_schema(
        operation_id="lineage_upstream",
        parameters=[WalkQuerySerializer],
        responses={200: LineageWalkSerializer, **NODE_ERRORS},
    )
    def get(self, request: Request) -> Response:
        return super().get(request)
