"""Walking the lineage graph in the database: nearest first, each node once at its shortest
distance, with a path back to the start; cycles and depth caps end the walk; the layout puts
every node right of what it was made from."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from itertools import pairwise

import pytest

from lineage import graph
from lineage.choices import EdgeKind, NodeKind
from lineage.models import LineageEdge, LineageNode

pytestmark = pytest.mark.django_db

KIND_BY_PREFIX = {
    "d": NodeKind.DATASET_VERSION,
    "r": NodeKind.PIPELINE_RUN,
    "m": NodeKind.MODEL_VERSION,
    "x": NodeKind.DEPLOYMENT,
}

Build = Callable[..., dict[str, int]]


@pytest.fixture
def build() -> Build:
    """A graph from "a>b" edge strings; a node's kind comes from the first letter of its name
    (d: dataset version, r: run, m: model version, x: deployment). Returns name → node id."""

    def make(*edges: str, kind: str = EdgeKind.DERIVED_FROM) -> dict[str, int]:
        names = list(dict.fromkeys(name for edge in edges for name in edge.split(">")))
        existing = {node.label: node.pk for node in LineageNode.objects.all()}
        fresh = [name for name in names if name not in existing]
        first_object_id = LineageNode.objects.count() + 1
        LineageNode.objects.bulk_create(
            LineageNode(
                kind=KIND_BY_PREFIX.get(name[0], NodeKind.DATASET_VERSION),
                object_id=first_object_id + index,
                label=name,
            )
            for index, name in enumerate(fresh)
        )
        ids = {node.label: node.pk for node in LineageNode.objects.all()}
        LineageEdge.objects.bulk_create(
            LineageEdge(source_id=ids[source], target_id=ids[target], kind=kind)
            for source, target in (edge.split(">") for edge in edges)
        )
        return ids

    return make


def labels(nodes: Iterable[graph.Reached]) -> list[str]:
    return [node.label for node in nodes]


def path_labels(result: graph.Walk, ids: dict[str, int], name: str) -> list[str]:
    by_id = {node_id: label for label, node_id in ids.items()}
    return [by_id[node_id] for node_id in graph.path_to(result, ids[name])]


def test_it_walks_a_chain_downstream_nearest_first(build: Build) -> None:
    ids = build("d1>r1", "r1>d2", "d2>m1", "m1>x1")

    result = graph.walk([ids["d1"]], "downstream")

    assert labels(result.matches) == ["r1", "d2", "m1", "x1"]
    assert [node.depth for node in result.matches] == [1, 2, 3, 4]
    assert not result.truncated


def test_it_walks_upstream_against_the_edges(build: Build) -> None:
    ids = build("d1>r1", "r1>d2", "d2>m1", "m1>x1", "m1>x2")

    result = graph.walk([ids["x1"]], "upstream")

    assert labels(result.matches) == ["m1", "d2", "r1", "d1"]
    assert path_labels(result, ids, "d1") == ["x1", "m1", "d2", "r1", "d1"]


def test_the_start_node_is_not_its_own_dependant(build: Build) -> None:
    ids = build("d1>r1", "r1>d1")

    result = graph.walk([ids["d1"]], "downstream")

    assert labels(result.matches) == ["r1"]
    assert ids["d1"] in result.nodes  # kept for paths, not listed


def test_a_diamond_lists_each_node_once_at_its_shortest_depth(build: Build) -> None:
    ids = build("d1>r1", "d1>r2", "r1>d2", "r2>d2", "d2>m1", "d1>m1")

    result = graph.walk([ids["d1"]], "downstream")

    assert sorted(labels(result.matches)) == ["d2", "m1", "r1", "r2"]
    assert result.nodes[ids["m1"]].depth == 1
    assert result.nodes[ids["d2"]].depth == 2


def test_the_path_follows_the_shortest_route_through_the_lowest_parent(build: Build) -> None:
    ids = build("d1>r1", "d1>r2", "r1>d2", "r2>d2", "d2>m1")

    result = graph.walk([ids["d1"]], "downstream")

    assert path_labels(result, ids, "m1") == ["d1", "r1", "d2", "m1"]
    assert result.nodes[ids["m1"]].edge_kind == EdgeKind.DERIVED_FROM
    assert result.nodes[ids["d1"]].parent_id is None


def test_a_cycle_ends_and_lists_each_node_once(build: Build) -> None:
    ids = build("d1>r1", "r1>d2", "d2>r2", "r2>d1", "d2>m1")

    downstream = graph.walk([ids["d1"]], "downstream")
    upstream = graph.walk([ids["m1"]], "upstream")

    assert labels(downstream.matches) == ["r1", "d2", "r2", "m1"]
    assert sorted(labels(upstream.matches)) == ["d1", "d2", "r1", "r2"]
    assert path_labels(upstream, ids, "r2") == ["m1", "d2", "r1", "d1", "r2"]


def test_many_paths_do_not_multiply_the_work(build: Build) -> None:
    # 30 layers of 3 nodes, each joined to every node of the next: 3^30 paths.
    layers = [[f"d{layer}_{index}" for index in range(3)] for layer in range(31)]
    edges = [
        f"{source}>{target}"
        for left, right in pairwise(layers)
        for source in left
        for target in right
    ]
    ids = build(*edges)

    started = time.perf_counter()
    result = graph.walk([ids["d0_0"]], "downstream")
    elapsed = time.perf_counter() - started

    assert len(result.matches) == 90
    assert result.nodes[ids["d30_2"]].depth == 30
    assert elapsed < 2


def test_depth_limits_the_walk(build: Build) -> None:
    ids = build("d1>r1", "r1>d2", "d2>m1", "m1>x1")

    result = graph.walk([ids["d1"]], "downstream", max_depth=2)

    assert labels(result.matches) == ["r1", "d2"]
    assert graph.walk([ids["d1"]], "downstream", max_depth=0).matches == []


def test_depth_is_capped_so_a_long_chain_stops(build: Build) -> None:
    chain = [f"d{index}" for index in range(graph.MAX_DEPTH + 10)]
    ids = build(*(f"{a}>{b}" for a, b in pairwise(chain)))

    result = graph.walk([ids["d0"]], "downstream", max_depth=10_000)

    assert len(result.matches) == graph.MAX_DEPTH
    assert max(node.depth for node in result.matches) == graph.MAX_DEPTH


def test_the_limit_keeps_the_nearest_and_says_it_was_truncated(build: Build) -> None:
    ids = build("d1>r1", "d1>r2", "r1>d2", "r2>d3", "d2>m1", "d3>m2")

    result = graph.walk([ids["d1"]], "downstream", limit=3)

    assert labels(result.matches) == ["r1", "r2", "d2"]
    assert result.truncated
    assert ids["d3"] not in result.nodes


def test_a_kinds_filter_lists_only_those_kinds_with_paths_through_the_others(
    build: Build,
) -> None:
    ids = build("d1>r1", "r1>d2", "d2>m1", "m1>x1", "d2>m2")

    result = graph.walk([ids["d1"]], "downstream", kinds=[NodeKind.MODEL_VERSION])

    assert labels(result.matches) == ["m1", "m2"]
    assert not result.truncated
    assert path_labels(result, ids, "m2") == ["d1", "r1", "d2", "m2"]


def test_it_walks_from_several_start_nodes_at_once(build: Build) -> None:
    ids = build("d1>m1", "d2>r1", "r1>m2")

    result = graph.walk([ids["d1"], ids["d2"]], "downstream")

    assert labels(result.matches) == ["m1", "r1", "m2"]
    assert path_labels(result, ids, "m2") == ["d2", "r1", "m2"]


def test_a_walk_from_nothing_reaches_nothing() -> None:
    result = graph.walk([], "upstream")

    assert result.matches == [] and not result.truncated
    assert graph.path_to(result, 1) == []


def test_an_unknown_direction_is_refused(build: Build) -> None:
    ids = build("d1>r1")

    with pytest.raises(ValueError, match="direction"):
        graph.walk([ids["d1"]], "sideways")  # type: ignore[arg-type]


def test_the_neighbourhood_has_both_sides_and_every_edge_among_them(build: Build) -> None:
    ids = build("d0>r1", "r1>d1", "d1>r2", "d1>m1", "r2>d2", "d2>m1", "m1>x1", "x1>d9")

    subgraph = graph.neighbourhood([ids["d1"]], upstream_depth=1, downstream_depth=2)

    assert {node.label: node.depth for node in subgraph.nodes.values()} == {
        "r1": -1,
        "d1": 0,
        "r2": 1,
        "m1": 1,
        "d2": 2,
        "x1": 2,
    }
    by_id = {node_id: label for label, node_id in ids.items()}
    assert {f"{by_id[e.source_id]}>{by_id[e.target_id]}" for e in subgraph.edges} == {
        "r1>d1",
        "d1>r2",
        "d1>m1",
        "r2>d2",
        "d2>m1",
        "m1>x1",
    }
    assert not subgraph.truncated


def test_the_neighbourhood_keeps_the_nearest_nodes_within_its_limit(build: Build) -> None:
    ids = build("d0>d1", "d1>r1", "r1>d2", "d2>m1")

    subgraph = graph.neighbourhood([ids["d1"]], upstream_depth=5, downstream_depth=5, limit=3)

    assert {node.label for node in subgraph.nodes.values()} == {"d0", "d1", "r1"}
    assert subgraph.truncated


# Layout ----------------------------------------------------------------------------------


def test_the_layout_puts_every_node_right_of_what_it_was_made_from() -> None:
    edges = [(1, 2), (2, 3), (1, 3), (3, 4), (5, 4), (4, 6), (2, 6)]

    positions = graph.layered_layout(range(1, 7), edges)

    for source, target in edges:
        assert positions[source][0] < positions[target][0]
    assert positions[5][0] == positions[4][0] - 1  # a lone source sits next to what it feeds


def test_nodes_of_a_layer_get_distinct_heights() -> None:
    positions = graph.layered_layout([1, 2, 3, 4], [(1, 2), (1, 3), (1, 4)])

    assert len({positions[node][1] for node in (2, 3, 4)}) == 3
    assert {positions[node][0] for node in (2, 3, 4)} == {1.0}


def test_the_layout_survives_a_cycle() -> None:
    positions = graph.layered_layout([1, 2, 3, 4], [(1, 2), (2, 3), (3, 1), (3, 4), (4, 4)])

    assert set(positions) == {1, 2, 3, 4}
    assert positions[3][0] < positions[4][0]


def crossings(positions: dict[int, tuple[float, float]], edges: list[tuple[int, int]]) -> int:
    """Pairs of edges between neighbouring layers that cross."""
    spans = [
        (positions[source], positions[target])
        for source, target in edges
        if positions[target][0] - positions[source][0] == 1
    ]
    return sum(
        1
        for index, (start, end) in enumerate(spans)
        for other_start, other_end in spans[index + 1 :]
        if start[0] == other_start[0] and (start[1] - other_start[1]) * (end[1] - other_end[1]) < 0
    )


def test_ordering_the_layers_removes_crossings() -> None:
    edges = [(0, 5), (0, 7), (1, 5), (2, 4), (2, 6), (2, 7), (3, 5), (4, 10), (6, 9), (7, 8)]
    edges.append((7, 10))

    unordered = graph.layered_layout(range(11), edges, sweeps=0)
    ordered = graph.layered_layout(range(11), edges)

    assert crossings(unordered, edges) > 0
    assert crossings(ordered, edges) == 0


def test_the_layout_of_200_nodes_is_quick_and_never_worse_than_unordered() -> None:
    rng = random.Random(3)  # 10 layers of 20 nodes, each fed by 3 nodes of the layer before
    edges = sorted(
        {
            (20 * (node // 20 - 1) + rng.randrange(20), node)
            for node in range(20, 200)
            for _ in range(3)
        }
    )

    started = time.perf_counter()
    positions = graph.layered_layout(range(200), edges)

    assert time.perf_counter() - started < 1
    assert all(positions[source][0] < positions[target][0] for source, target in edges)
    assert len(set(positions.values())) == 200
    unordered = graph.layered_layout(range(200), edges, sweeps=0)
    assert crossings(positions, edges) < crossings(unordered, edges)
