"""Walking the lineage graph: impact (downstream), provenance (upstream), the neighbourhood a
graph view draws, and a layered left-to-right layout for it.

A walk is one recursive SQL query, run in the database on the two graph tables
(`LineageNode`, `LineageEdge`), never a Python loop over rows. What keeps it fast and finite
whatever pipelines report:

1. Depth is capped (`MAX_DEPTH`), so a reported cycle ends the recursion.
2. Each node is expanded once. PostgreSQL walks breadth-first, one row per level carrying
   the set of nodes visited so far; SQLite expands a node once per depth it is reached at
   (UNION on (node, depth)) and keeps the smallest depth.
3. On PostgreSQL the walk stops after the level at which more than `limit` nodes are known:
   the nearest `limit`, all that a result lists, are known by then.
4. One parent is chosen per node, the predecessor on a shortest path with the lowest id, so
   following parents back to a start node gives the node's path.

The module also turns the API's node parameters into start nodes (`resolve_root`) and gives
each node its page, its data sensitivity and whether a user may see it (`describe`).
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import connection
from django.db.models import Q
from django.urls import reverse
from django.utils.http import urlencode

from lineage.capture import node_label
from lineage.choices import NodeKind
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
from lineage.permissions import visible_datasets, visible_projects

Direction = Literal["upstream", "downstream"]

# A walk never goes further than this many edges from its start: cycles end here.
MAX_DEPTH = 50


@dataclass(frozen=True)
class Reached:
    """A node a walk reached, at its smallest distance from the start nodes."""

    id: int
    kind: str
    object_id: int
    project_id: int | None
    label: str
    depth: int
    parent_id: int | None  # the previous node on a shortest path (None for a start node)
    edge_kind: str | None  # the kind of the edge between the parent and this node


@dataclass
class Walk:
    """The result of `walk`: the matching nodes, nearest first, and every node their paths
    go through."""

    direction: Direction
    start_ids: tuple[int, ...]
    nodes: dict[int, Reached]  # the matches and the nodes on their paths, by id
    match_ids: list[int]  # the nodes asked for (depth ≥ 1, of the kinds asked for)
    truncated: bool  # more matching nodes were reached than `limit`

    @property
    def matches(self) -> list[Reached]:
        return [self.nodes[node_id] for node_id in self.match_ids]


@dataclass(frozen=True)
class GraphNode:
    """A node of a neighbourhood; depth is negative upstream, positive downstream, and the
    parent is the previous node on a shortest path from a start node."""

    id: int
    kind: str
    object_id: int
    project_id: int | None
    label: str
    depth: int
    parent_id: int | None
    edge_kind: str | None


@dataclass(frozen=True)
class GraphEdge:
    source_id: int
    target_id: int
    kind: str


@dataclass
class Subgraph:
    """The nodes around start nodes and every edge among them."""

    start_ids: tuple[int, ...]
    nodes: dict[int, GraphNode]
    edges: list[GraphEdge]
    truncated: bool


# Traversal -------------------------------------------------------------------------------


def _reached_sql(
    direction: Direction, start: Sequence[int], depth: int, limit: int, kinds: Sequence[str] | None
) -> tuple[str, list[Any]]:
    """The CTE `reached(node_id, depth)`, with its parameters: every node within `depth`
    edges of the start nodes, once, at its smallest depth.

    On PostgreSQL the walk also stops after the first level at which more than `limit`
    matching nodes are known: the nearest `limit` are all found by then.
    """
    node = LineageNode._meta.db_table
    edge = LineageEdge._meta.db_table
    this, following = _columns(direction)
    if connection.vendor == "postgresql":
        # Breadth-first, one row per level holding its frontier and everything visited so
        # far; the next frontier is every neighbour not visited yet (EXCEPT hashes), so each
        # node is expanded once, however many paths lead to it.
        if kinds:
            counted = f"""(SELECT COUNT(*) FROM {node} AS n
                WHERE n.id = ANY(step.ids) AND n.kind IN ({_placeholders(len(kinds))}))"""
        else:
            counted = "CAST(cardinality(step.ids) AS bigint)"
        sql = f"""
        walk(depth, frontier, visited, matched) AS (
            SELECT 0, seeds.ids, seeds.ids, CAST(0 AS bigint)
            FROM (SELECT array_agg(id) AS ids FROM {node} WHERE id = ANY(%s)) AS seeds
            UNION ALL
            SELECT w.depth + 1, step.ids, w.visited || step.ids, w.matched + {counted}
            FROM walk AS w
            CROSS JOIN LATERAL (
                SELECT array_agg(fresh.id) AS ids
                FROM (
                    SELECT e.{following} FROM unnest(w.frontier) AS f(id)
                    JOIN {edge} AS e ON e.{this} = f.id
                    EXCEPT
                    SELECT unnest(w.visited)
                ) AS fresh(id)
            ) AS step
            WHERE w.depth < %s AND w.matched <= %s AND step.ids IS NOT NULL
        ),
        reached(node_id, depth) AS (
            SELECT unnest(frontier), depth FROM walk
        )"""
        return sql, [list(start), *(kinds or []), depth, limit]
    # Elsewhere (SQLite): UNION on (node, depth) expands a node once per depth it is
    # reached at, and the smallest depth is kept.
    sql = f"""
        walk(node_id, depth) AS (
            SELECT id, 0 FROM {node} WHERE id IN ({_placeholders(len(start))})
            UNION
            SELECT e.{following}, w.depth + 1
            FROM walk AS w JOIN {edge} AS e ON e.{this} = w.node_id
            WHERE w.depth < %s
        ),
        reached(node_id, depth) AS (
            SELECT node_id, MIN(depth) FROM walk GROUP BY node_id
        )"""
    return sql, [*start, depth]


def _columns(direction: Direction) -> tuple[str, str]:
    """(the edge column of the node being expanded, the column of the node it leads to)."""
    if direction == "downstream":
        return "source_id", "target_id"
    if direction == "upstream":
        return "target_id", "source_id"
    raise ValueError(f"direction must be 'upstream' or 'downstream', not {direction!r}")


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def walk(
    start_ids: Iterable[int],
    direction: Direction,
    max_depth: int = MAX_DEPTH,
    limit: int = 1000,
    kinds: Iterable[str] | None = None,
) -> Walk:
    """Every node upstream or downstream of the start nodes, within `max_depth` edges
    (capped at MAX_DEPTH), nearest first: at most `limit` of them, of `kinds` when given.

    One query:
    1. `reached`: the recursive walk, each node once at its smallest depth;
    2. `kept`: the nearest `limit` + 1 nodes that match (depth ≥ 1, of the kinds); the
       extra one only says the result is truncated;
    3. `chain`: the kept nodes and every node on a shortest path back to a start node;
    4. `chosen`: one parent per chain node, the shortest-path predecessor with the lowest id.

    Steps 3 and 4 compare depths with `<` where `= depth - 1` is meant: along an edge the
    depth grows by at most one, so the two agree, and the inequality keeps the planner
    joining on node ids rather than on depths.
    """
    start = tuple(dict.fromkeys(int(node_id) for node_id in start_ids))
    depth = max(0, min(int(max_depth), MAX_DEPTH))
    kinds = sorted(set(kinds)) if kinds is not None else None
    limit = max(0, int(limit))
    if not start or kinds == []:
        return Walk(direction, start, {}, [], False)
    node = LineageNode._meta.db_table
    edge = LineageEdge._meta.db_table
    this, following = _columns(direction)
    reached_sql, params = _reached_sql(direction, start, depth, limit, kinds)
    if kinds:
        kind_filter = f"""AND r.node_id IN (
            SELECT id FROM {node} WHERE kind IN ({_placeholders(len(kinds))}))"""
    else:
        kind_filter = ""
    sql = f"""
    WITH RECURSIVE {reached_sql},
    kept(node_id, depth) AS (
        SELECT r.node_id, r.depth FROM reached AS r
        WHERE r.depth > 0 {kind_filter}
        ORDER BY r.depth, r.node_id LIMIT %s
    ),
    chain(node_id, depth) AS (
        SELECT node_id, depth FROM kept
        UNION
        SELECT node_id, depth FROM reached WHERE depth = 0
        UNION
        SELECT p.node_id, p.depth
        FROM chain AS c
        JOIN {edge} AS e ON e.{following} = c.node_id
        JOIN reached AS p ON p.node_id = e.{this} AND p.depth < c.depth
    ),
    chosen(node_id, parent_id, edge_kind, choice) AS (
        SELECT c.node_id, e.{this}, e.kind,
               ROW_NUMBER() OVER (PARTITION BY c.node_id ORDER BY e.{this}, e.kind)
        FROM chain AS c
        JOIN {edge} AS e ON e.{following} = c.node_id
        JOIN chain AS p ON p.node_id = e.{this} AND p.depth < c.depth
    )
    SELECT c.node_id, c.depth, ch.parent_id, ch.edge_kind,
           n.kind, n.object_id, n.project_id, n.label,
           CASE WHEN k.node_id IS NULL THEN 0 ELSE 1 END
    FROM chain AS c
    JOIN {node} AS n ON n.id = c.node_id
    LEFT JOIN chosen AS ch ON ch.node_id = c.node_id AND ch.choice = 1
    LEFT JOIN kept AS k ON k.node_id = c.node_id
    ORDER BY c.depth, c.node_id
    """
    params += [*(kinds or []), limit + 1]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    nodes: dict[int, Reached] = {}
    match_ids: list[int] = []
    for row in rows:
        node_id, node_depth, parent_id, edge_kind, kind, object_id, project_id, label = row[:8]
        nodes[node_id] = Reached(
            node_id, kind, object_id, project_id, label, node_depth, parent_id, edge_kind
        )
        if row[8]:
            match_ids.append(node_id)
    truncated = len(match_ids) > limit
    if truncated:
        # The extra match only told us there are more; the nodes only its path needed go.
        dropped = match_ids.pop()
        keep = {node_id for match in match_ids for node_id in _chain(nodes, match)}
        keep.update(node_id for node_id, reached in nodes.items() if reached.depth == 0)
        keep.discard(dropped)
        nodes = {node_id: reached for node_id, reached in nodes.items() if node_id in keep}
    return Walk(direction, start, nodes, match_ids, truncated)


def _chain(nodes: Mapping[int, Reached | GraphNode], node_id: int) -> list[int]:
    """`node_id` and its parents, back to a start node."""
    chain: list[int] = []
    current: int | None = node_id
    while current is not None and current in nodes and len(chain) <= MAX_DEPTH:
        chain.append(current)
        current = nodes[current].parent_id
    return chain


def path_to(result: Walk | Subgraph, node_id: int) -> list[int]:
    """The node ids from a start node to `node_id`, along chosen parents (empty when the
    walk did not reach it)."""
    if node_id not in result.nodes:
        return []
    return list(reversed(_chain(result.nodes, node_id)))


def neighbourhood(
    start_ids: Iterable[int],
    upstream_depth: int = 2,
    downstream_depth: int = 2,
    limit: int = 200,
    upstream_start_ids: Iterable[int] | None = None,
) -> Subgraph:
    """The nodes within the given depths upstream and downstream of the start nodes (at
    most `limit`, nearest first) and every edge among them, for the graph view. The upstream
    walk may start from more nodes (a dataset's versions: see `Root`)."""
    start = tuple(dict.fromkeys(int(node_id) for node_id in start_ids))
    upstream_start = start if upstream_start_ids is None else tuple(upstream_start_ids)
    candidates: dict[int, GraphNode] = {}
    truncated = False
    sides: tuple[tuple[Direction, tuple[int, ...], int, int], ...] = (
        ("downstream", start, downstream_depth, 1),
        ("upstream", upstream_start, upstream_depth, -1),
    )
    for direction, starts, depth, sign in sides:
        result = walk(starts, direction, depth, limit)
        truncated = truncated or result.truncated
        for reached in result.nodes.values():
            # A node on both sides (a cycle, or a dataset's version) keeps its downstream place.
            candidates.setdefault(
                reached.id,
                GraphNode(
                    reached.id,
                    reached.kind,
                    reached.object_id,
                    reached.project_id,
                    reached.label,
                    sign * reached.depth,
                    reached.parent_id,
                    reached.edge_kind,
                ),
            )
    ordered = sorted(candidates.values(), key=lambda item: (abs(item.depth), item.id))
    if len(ordered) > limit:
        # Nearest first: a node's parent is one step nearer, so it is never cut before it.
        truncated = True
        ordered = ordered[: max(limit, len(set(start) | set(upstream_start)))]
    nodes = {item.id: item for item in ordered}
    return Subgraph(start, nodes, edges_among(nodes), truncated)


def edges_among(node_ids: Iterable[int]) -> list[GraphEdge]:
    """Every edge whose two ends are among `node_ids`."""
    ids = sorted(set(node_ids))
    if not ids:
        return []
    rows = LineageEdge.objects.filter(source_id__in=ids, target_id__in=ids).values_list(
        "source_id", "target_id", "kind"
    )
    return [GraphEdge(source, target, kind) for source, target, kind in rows.order_by("pk")]


# Layout ----------------------------------------------------------------------------------


def layered_layout(
    node_ids: Iterable[int], edges: Iterable[tuple[int, int]], sweeps: int = 4
) -> dict[int, tuple[float, float]]:
    """Positions (x, y) for drawing a graph left to right: x is the node's layer, so every
    node sits right of the nodes it was made from; y orders the nodes of a layer.

    1. Cycles are broken by leaving out the edges a depth-first search finds going back
       (they are still drawn, only not used for layering).
    2. Longest-path layering: a node is one layer right of its furthest upstream node.
       Nodes with nothing upstream move right, next to the first node they feed.
    3. Within a layer, nodes are ordered by the mean position of their neighbours
       (barycentre), sweeping left to right then right to left; the order with the fewest
       crossings between neighbouring layers is kept.
    """
    nodes = list(dict.fromkeys(node_ids))
    present = set(nodes)
    pairs = list(
        dict.fromkeys(
            (source, target)
            for source, target in edges
            if source in present and target in present and source != target
        )
    )
    successors: dict[int, list[int]] = defaultdict(list)
    for source, target in pairs:
        successors[source].append(target)
    forward = _without_back_edges(nodes, successors)
    predecessors: dict[int, list[int]] = defaultdict(list)
    for source, targets in forward.items():
        for target in targets:
            predecessors[target].append(source)

    layer = {node: 0 for node in nodes}
    order = _topological_order(nodes, forward, predecessors)
    for node in order:
        for target in forward[node]:
            layer[target] = max(layer[target], layer[node] + 1)
    for node in nodes:
        if not predecessors[node] and forward[node]:
            layer[node] = min(layer[target] for target in forward[node]) - 1

    layers: dict[int, list[int]] = defaultdict(list)
    for node in order:
        layers[layer[node]].append(node)
    position = _centred_positions(layers)
    neighbours_left = {node: predecessors[node] for node in nodes}
    neighbours_right = {node: forward[node] for node in nodes}
    numbers = sorted(layers)
    best = (_crossings(layer, forward, position), dict(position))
    for _ in range(sweeps):
        for number in numbers[1:]:
            _reorder(layers[number], neighbours_left, position)
        for number in reversed(numbers[:-1]):
            _reorder(layers[number], neighbours_right, position)
        crossings = _crossings(layer, forward, position)
        if crossings < best[0]:  # a sweep can make things worse: keep the best order seen
            best = (crossings, dict(position))
    position = best[1]
    return {node: (float(layer[node]), -position[node]) for node in nodes}


def _without_back_edges(
    nodes: Sequence[int], successors: Mapping[int, list[int]]
) -> dict[int, list[int]]:
    """The edges minus those that close a cycle (iterative depth-first search)."""
    forward: dict[int, list[int]] = {node: [] for node in nodes}
    state: dict[int, int] = {}  # 1: on the current path, 2: finished
    for root in nodes:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter(successors.get(root, ())))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
            elif state.get(child) == 1:
                continue  # a back edge: it closes a cycle
            else:
                forward[node].append(child)
                if child not in state:
                    state[child] = 1
                    stack.append((child, iter(successors.get(child, ()))))
    return forward


def _topological_order(
    nodes: Sequence[int], forward: Mapping[int, list[int]], predecessors: Mapping[int, list[int]]
) -> list[int]:
    remaining = {node: len(predecessors[node]) for node in nodes}
    ready = deque(node for node in nodes if remaining[node] == 0)
    order = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for target in forward[node]:
            remaining[target] -= 1
            if remaining[target] == 0:
                ready.append(target)
    return order


def _crossings(
    layer: Mapping[int, int], forward: Mapping[int, list[int]], position: Mapping[int, float]
) -> int:
    """How many pairs of edges between neighbouring layers cross."""
    spans: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for source, targets in forward.items():
        for target in targets:
            if layer[target] == layer[source] + 1:
                spans[layer[source]].append((position[source], position[target]))
    crossings = 0
    for edges in spans.values():
        edges.sort()
        for index, (left, right) in enumerate(edges):
            crossings += sum(
                1
                for other_left, other_right in edges[index + 1 :]
                if other_left > left and other_right < right
            )
    return crossings


def _centred_positions(layers: Mapping[int, list[int]]) -> dict[int, float]:
    position = {}
    for members in layers.values():
        middle = (len(members) - 1) / 2
        for index, node in enumerate(members):
            position[node] = index - middle
    return position


def _reorder(
    members: list[int], neighbours: Mapping[int, list[int]], position: dict[int, float]
) -> None:
    """Sort a layer by the mean position of each node's neighbours on one side; a node
    without such neighbours keeps its place."""

    def barycentre(node: int) -> float:
        around = neighbours[node]
        if not around:
            return position[node]
        return sum(position[other] for other in around) / len(around)

    members.sort(key=barycentre)
    middle = (len(members) - 1) / 2
    for index, node in enumerate(members):
        position[node] = index - middle


# Catalog objects -------------------------------------------------------------------------

# The `type` the API accepts: every node kind, plus a registered model (all its versions).
MODEL = "model"
NODE_TYPES = (*NodeKind.values, MODEL)
RESTRICTED = ("pii", "confidential")


class NodeSpecError(ValueError):
    """The parameters do not name a node (answered with 400)."""


class NodeNotFound(LookupError):
    """No such object, or not one the user may see (answered with 404)."""


@dataclass(frozen=True)
class Root:
    """What a walk starts from: a catalog object and its graph nodes (a model has none of
    its own and stands for its versions). Going upstream, a dataset also stands for its
    versions: pipelines produce versions, so that is where its provenance starts. The ids
    are empty when nothing has been recorded about the object yet."""

    type: str
    object_id: int
    label: str
    url: str
    node_ids: tuple[int, ...]
    upstream_ids: tuple[int, ...] = ()

    def start_ids(self, direction: Direction) -> tuple[int, ...]:
        if direction == "upstream" and self.upstream_ids:
            return self.upstream_ids
        return self.node_ids


@dataclass(frozen=True)
class NodeInfo:
    """What the catalog adds to a node: its page, project and data sensitivity, and whether
    the user may see it."""

    url: str
    project_slug: str | None
    sensitivity: str | None
    visible: bool
    quality_status: str | None = None  # dataset versions: their quality gate
    drift_status: str | None = None  # model versions: their latest drift decision


@dataclass(frozen=True)
class PathStep:
    """One node on a path; a node the user may not see keeps only its kind."""

    id: int | None
    kind: str
    label: str
    edge_kind: str | None  # the edge that led here (None for the start)
    url: str | None


@dataclass(frozen=True)
class ListedNode:
    """A node as impact and provenance list it: with its page and its path from the start."""

    id: int
    kind: str
    object_id: int
    label: str
    project_slug: str | None
    url: str
    sensitivity: str | None
    depth: int
    path: list[PathStep] = field(default_factory=list)
    quality_status: str | None = None
    drift_status: str | None = None


def graph_page_url(node_type: str, object_id: int) -> str:
    return f"{reverse('lineage-graph')}?{urlencode({'type': node_type, 'id': str(object_id)})}"


def resolve_root(
    user: Any,
    node_type: str | None = None,
    object_id: Any = None,
    namespace: str | None = None,
    name: str | None = None,
) -> Root:
    """The start of a walk named by the API's parameters: `type` and `id` of a catalog
    object, or `namespace` and `name` of a dataset. Raises NodeSpecError or NodeNotFound."""
    if namespace or name:
        if not (namespace and name):
            raise NodeSpecError("Give both namespace and name to name a dataset.")
        dataset = (
            visible_datasets(user)
            .filter(project__in=visible_projects(user), namespace=namespace, source_name=name)
            .first()
        )
        if dataset is None:
            raise NodeNotFound(f"No dataset named {name} in {namespace}.")
        return _dataset_root(dataset)
    if not node_type or object_id in (None, ""):
        raise NodeSpecError("Name a node: type and id, or namespace and name of a dataset.")
    if node_type not in NODE_TYPES:
        raise NodeSpecError(f"Unknown type {node_type!r}; use one of {', '.join(NODE_TYPES)}.")
    try:
        pk = int(object_id)
    except (TypeError, ValueError):
        raise NodeSpecError(f"id must be a whole number, not {object_id!r}.") from None
    obj = _visible_objects(user, node_type).filter(pk=pk).first()
    if obj is None:
        raise NodeNotFound(f"No {node_type.replace('_', ' ')} with id {pk}.")
    if node_type == NodeKind.DATASET:
        return _dataset_root(obj)
    if node_type == MODEL:
        version_ids = ModelVersion.objects.filter(model=obj).values("pk")
        nodes = LineageNode.objects.filter(kind=NodeKind.MODEL_VERSION, object_id__in=version_ids)
        return Root(MODEL, pk, obj.name, obj.get_absolute_url(), _ids(nodes))
    nodes = LineageNode.objects.filter(kind=node_type, object_id=pk)
    url = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else ""
    return Root(node_type, pk, node_label(obj), url or graph_page_url(node_type, pk), _ids(nodes))


def _ids(nodes: Any) -> tuple[int, ...]:
    return tuple(nodes.order_by("pk").values_list("pk", flat=True))


def _dataset_root(dataset: Dataset) -> Root:
    own = LineageNode.objects.filter(kind=NodeKind.DATASET, object_id=dataset.pk)
    versions = LineageNode.objects.filter(
        kind=NodeKind.DATASET_VERSION,
        object_id__in=DatasetVersion.objects.filter(dataset=dataset).values("pk"),
    )
    own_ids = _ids(own)  # two queries: one with OR would scan every node
    return Root(
        NodeKind.DATASET,
        dataset.pk,
        dataset.name,
        dataset.get_absolute_url(),
        node_ids=own_ids,
        upstream_ids=own_ids + _ids(versions),
    )


def _visible_objects(user: Any, node_type: str) -> Any:
    projects = visible_projects(user)
    if node_type == NodeKind.DATASET:
        return visible_datasets(user).filter(project__in=projects)
    if node_type == NodeKind.DATASET_VERSION:
        return DatasetVersion.objects.select_related("dataset").filter(
            dataset__in=visible_datasets(user), dataset__project__in=projects
        )
    if node_type == MODEL:
        return RegisteredModel.objects.filter(project__in=projects)
    if node_type == NodeKind.MODEL_VERSION:
        return ModelVersion.objects.select_related("model").filter(model__project__in=projects)
    if node_type == NodeKind.DEPLOYMENT:
        return Deployment.objects.filter(model_version__model__project__in=projects)
    if node_type == NodeKind.PIPELINE_JOB:
        return PipelineJob.objects.filter(_unassigned_or_in("project", projects))
    if node_type == NodeKind.PIPELINE_RUN:
        return PipelineRun.objects.select_related("job").filter(
            _unassigned_or_in("job__project", projects)
        )
    raise NodeSpecError(f"Unknown type {node_type!r}.")


def _unassigned_or_in(path: str, projects: Any) -> Q:
    return Q(**{f"{path}__isnull": True}) | Q(**{f"{path}__in": projects})


def describe(nodes: Iterable[Any], user: Any) -> dict[int, NodeInfo]:
    """The page, project, sensitivity and visibility of each node (anything with `id`,
    `kind`, `object_id` and `project_id`), in a fixed number of queries.

    A node is visible when its project is (nodes outside any project are visible to every
    signed-in user) and, for datasets and their versions, when the dataset is."""
    nodes = list(nodes)
    by_kind: dict[str, set[int]] = defaultdict(set)
    for node in nodes:
        by_kind[node.kind].add(node.object_id)
    project_ids = {node.project_id for node in nodes if node.project_id is not None}
    slugs = dict(Project.objects.filter(pk__in=project_ids).values_list("pk", "slug"))
    seen_projects = set(
        visible_projects(user).filter(pk__in=project_ids).values_list("pk", flat=True)
    )
    versions = {
        pk: (dataset_id, number, quality)
        for pk, dataset_id, number, quality in DatasetVersion.objects.filter(
            pk__in=by_kind[NodeKind.DATASET_VERSION]
        ).values_list("pk", "dataset_id", "version", "quality_status")
    }
    dataset_ids = by_kind[NodeKind.DATASET] | {dataset_id for dataset_id, _, _ in versions.values()}
    sensitivity = dict(Dataset.objects.filter(pk__in=dataset_ids).values_list("pk", "sensitivity"))
    seen_datasets = set(
        visible_datasets(user).filter(pk__in=dataset_ids).values_list("pk", flat=True)
    )
    model_versions = {
        pk: (model_id, number, drift_status)
        for pk, model_id, number, drift_status in ModelVersion.objects.filter(
            pk__in=by_kind[NodeKind.MODEL_VERSION]
        ).values_list("pk", "model_id", "version", "drift_status")
    }
    infos = {}
    for node in nodes:
        url = graph_page_url(node.kind, node.object_id)
        dataset_id = None
        quality = None
        drift_status = None
        if node.kind == NodeKind.DATASET:
            dataset_id = node.object_id
            if dataset_id in sensitivity:
                url = reverse("dataset-detail", args=[dataset_id])
        elif node.kind == NodeKind.DATASET_VERSION and node.object_id in versions:
            dataset_id, number, quality = versions[node.object_id]
            url = reverse("dataset-version-detail", args=[dataset_id, number])
        elif node.kind == NodeKind.MODEL_VERSION and node.object_id in model_versions:
            model_id, number, drift_status = model_versions[node.object_id]
            url = reverse("model-version-detail", args=[model_id, number])
        visible = node.project_id is None or node.project_id in seen_projects
        if dataset_id is not None and dataset_id in sensitivity:
            visible = visible and dataset_id in seen_datasets
        infos[node.id] = NodeInfo(
            url=url,
            project_slug=slugs.get(node.project_id),
            sensitivity=sensitivity.get(dataset_id) if dataset_id is not None else None,
            visible=visible,
            quality_status=quality,
            drift_status=drift_status,
        )
    return infos


def listed_nodes(
    nodes: Mapping[int, Reached | GraphNode], node_ids: Iterable[int], user: Any
) -> tuple[list[ListedNode], int]:
    """The nodes of `node_ids` the user may see, each with its page and its path from the
    start, and how many were left out as not visible. A step through a node the user may
    not see keeps only its kind."""
    infos = describe(nodes.values(), user)
    listed = []
    hidden = 0
    for node_id in node_ids:
        node, info = nodes[node_id], infos[node_id]
        if not info.visible:
            hidden += 1
            continue
        path = []
        for step_id in reversed(_chain(nodes, node_id)):
            step, step_info = nodes[step_id], infos[step_id]
            if step_info.visible:
                path.append(PathStep(step.id, step.kind, step.label, step.edge_kind, step_info.url))
            else:
                path.append(PathStep(None, step.kind, "(not visible to you)", step.edge_kind, None))
        listed.append(
            ListedNode(
                id=node.id,
                kind=node.kind,
                object_id=node.object_id,
                label=node.label,
                project_slug=info.project_slug,
                url=info.url,
                sensitivity=info.sensitivity,
                depth=node.depth,
                path=path,
                quality_status=info.quality_status,
                drift_status=info.drift_status,
            )
        )
    return listed, hidden


def present_walk(result: Walk, user: Any) -> tuple[list[ListedNode], int]:
    """The walk's matches the user may see, nearest first, and how many are hidden."""
    return listed_nodes(result.nodes, result.match_ids, user)


def present_subgraph(
    subgraph: Subgraph, user: Any
) -> tuple[list[ListedNode], list[GraphEdge], int]:
    """The subgraph's nodes the user may see, the edges among them, and how many nodes are
    hidden."""
    listed, hidden = listed_nodes(subgraph.nodes, list(subgraph.nodes), user)
    shown = {node.id for node in listed}
    edges = [edge for edge in subgraph.edges if edge.source_id in shown and edge.target_id in shown]
    return listed, edges, hidden
