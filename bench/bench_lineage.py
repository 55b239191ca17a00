"""How fast impact (downstream) and provenance (upstream) answer on a lineage graph of
100,000 nodes and 300,000 edges.

Requirement: either walk takes at most 100 ms median on PostgreSQL, walking as deep as the
graph goes (up to lineage.graph.MAX_DEPTH edges).

The graph is what a few hundred teams' pipelines would report over a few weeks, with every
node backed by a real catalog row (datasets, versions, jobs, runs, models, deployments):

- ~40 shared hub datasets (raw events, customers, reference tables) with 60 daily snapshot
  versions each, read by many pipelines;
- ~900 pipelines of 2-5 layered stages. Each stage is a job; each of its runs (one per day
  of the pipeline's schedule, 4-16 runs) consumes versions of the pipeline's own raw inputs,
  of hub datasets, of the previous stage's outputs (fan-in) and sometimes of the stage
  before that (a skip), and produces a new version of one or two output datasets (fan-out);
- a third of the pipelines also read the final output of an earlier pipeline, so lineage
  chains across teams; most train a model on their final output (evaluated on the previous
  day's) and deploy the latest versions;
- a few pipelines feed their final output back into their first stage (a feedback loop),
  which puts cycles in the graph;
- an archived dataset with enough versions to make the node count exact, and extra reads
  of hub snapshots by random runs to make the edge count exact.

Walks start from 50 random nodes of each kind and are timed twice: as the API walks by
default (the nearest 1,000 nodes; on PostgreSQL the walk stops once it has them) and over
the whole reach. The heaviest starts, the hub datasets (whose downstream is a quarter of the
graph), are shown apart. Last, requests go through the whole API stack (authentication,
node look-up, the walk, visibility, page links, serialisation).

    .venv/bin/python bench/bench_lineage.py                    # SQLite (slow to load)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/bench_lineage.py
    ... bench_lineage.py --explain    # EXPLAIN ANALYZE of the slowest walk
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from _setup import use_scratch_database

REQUIREMENT_MS = 100.0
NODE_KINDS = ("dataset", "dataset_version", "job", "run", "model_version", "deployment")


class GraphBuilder:
    """Catalog rows and graph rows with ids assigned here, so they load with COPY."""

    def __init__(self, rng: random.Random, projects: list[Any]) -> None:
        from lineage import models

        self.models = models
        self.rng = rng
        self.projects = projects
        self.next_id: dict[str, int] = defaultdict(int)
        self.rows: dict[type, list[Any]] = defaultdict(list)
        self.node_ids: dict[tuple[str, int], int] = {}
        self.nodes_by_kind: dict[str, list[int]] = defaultdict(list)
        self.edges: set[tuple[int, int, str]] = set()
        self.hub_nodes: list[int] = []  # the shared datasets' own nodes
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def _new(self, model_class: type, /, **fields: Any) -> Any:
        self.next_id[model_class.__name__] += 1
        obj = model_class(pk=self.next_id[model_class.__name__], **fields)
        self.rows[model_class].append(obj)
        return obj

    def _node(self, kind: str, obj: Any, label: str, project: Any) -> int:
        node_id = len(self.node_ids) + 1
        self.node_ids[(kind, obj.pk)] = node_id
        self.nodes_by_kind[kind].append(node_id)
        self._new(
            self.models.LineageNode,
            kind=kind,
            object_id=obj.pk,
            label=label[:500],
            project_id=project.pk if project else None,
        )
        return node_id

    @property
    def node_count(self) -> int:
        return len(self.node_ids)

    def link(self, source: int, target: int, kind: str) -> None:
        self.edges.add((source, target, kind))

    def dataset(self, name: str, project: Any, versions: int, start_day: int = 0) -> list[int]:
        """A dataset with its versions; returns the version node ids (one per day)."""
        sensitivity = self.rng.choices(
            ["public", "internal", "confidential", "pii"], weights=[20, 55, 15, 10]
        )[0]
        dataset = self._new(
            self.models.Dataset,
            project=project,
            name=name,
            sensitivity=sensitivity,
            namespace="s3://lake",
            source_name=name,
        )
        dataset_node = self._node("dataset", dataset, name, project)
        version_nodes = []
        for number in range(1, versions + 1):
            version = self._new(
                self.models.DatasetVersion,
                dataset=dataset,
                version=number,
                format="external",
                external_uri=f"s3://lake/{name}/day={start_day + number}",
                source="pipeline",
                profile_status="not_applicable",
                created_at=self.now + timedelta(days=start_day + number),
            )
            node = self._node("dataset_version", version, f"{name} v{number}", project)
            self.link(dataset_node, node, "has_version")
            version_nodes.append(node)
        return version_nodes

    def job(self, name: str, project: Any) -> tuple[Any, int]:
        job = self._new(
            self.models.PipelineJob,
            project=project if self.rng.random() > 0.1 else None,
            namespace="airflow://prod",
            name=name,
        )
        return job, self._node("job", job, name, job.project)

    def run(self, job: Any, job_node: int, day: int) -> int:
        run = self._new(
            self.models.PipelineRun,
            job=job,
            run_id=uuid.UUID(int=self.rng.getrandbits(128)),
            state="COMPLETE",
            started_at=self.now + timedelta(days=day),
        )
        node = self._node("run", run, f"{job.name} run {day}", job.project)
        self.link(job_node, node, "ran_as")
        return node

    def model_versions(self, name: str, project: Any, trained_on: list[tuple[int, int]]) -> None:
        """Versions of a model, each trained on one dataset version and evaluated on the
        previous one; the latest one or two are deployed."""
        model = self._new(
            self.models.RegisteredModel, project=project, name=name, task="classification"
        )
        versions = []
        for number, (train, evaluate) in enumerate(trained_on, start=1):
            version = self._new(
                self.models.ModelVersion,
                model=model,
                version=number,
                artifact=f"models/{model.pk}/{number}.skops",
                artifact_sha256="0" * 64,
                artifact_size=1,
            )
            node = self._node("model_version", version, f"{name} v{number}", project)
            self.link(train, node, "trained_on")
            if evaluate != train:
                self.link(evaluate, node, "evaluated_on")
            versions.append((version, node))
        for environment, (version, node) in zip(
            ("production", "staging"), reversed(versions[-self.rng.randint(1, 2) :]), strict=False
        ):
            deployment = self._new(
                self.models.Deployment, model_version=version, name=name, environment=environment
            )
            self.link(
                node,
                self._node("deployment", deployment, f"{name} ({environment})", project),
                "deployed_as",
            )


def build_graph(builder: GraphBuilder, node_target: int, edge_target: int) -> None:
    rng = builder.rng
    hubs = [
        builder.dataset(f"hub/{name}", rng.choice(builder.projects), 60)
        for name in [f"source_{index}" for index in range(40)]
    ]
    builder.hub_nodes = builder.nodes_by_kind["dataset"][:]
    finals: list[list[int]] = []  # each pipeline's final output versions, for later pipelines
    all_runs: list[tuple[int, int]] = []  # (run node, day)
    pipeline = 0
    while builder.node_count < node_target - 150:
        pipeline += 1
        project = rng.choice(builder.projects)
        days = rng.randint(4, 16)
        start_day = rng.randint(0, 60 - days)
        stages = rng.randint(2, 5)
        raw = [
            builder.dataset(f"p{pipeline}/raw_{index}", project, days, start_day)
            for index in range(rng.randint(1, 2))
        ]
        hub_reads = rng.sample(range(len(hubs)), rng.randint(2, 4))
        upstream_final = rng.choice(finals) if finals and rng.random() < 0.35 else None
        feedback = rng.random() < 0.01
        previous: list[list[int]] = raw
        before_previous: list[list[int]] = []
        for stage in range(1, stages + 1):
            job, job_node = builder.job(f"p{pipeline}.stage_{stage}", project)
            outputs = [
                builder.dataset(f"p{pipeline}/stage_{stage}_{index}", project, days, start_day)
                for index in range(1 if rng.random() < 0.7 else 2)
            ]
            skip = rng.choice(before_previous) if before_previous and rng.random() < 0.3 else None
            for day in range(days):
                run = builder.run(job, job_node, start_day + day)
                all_runs.append((run, start_day + day))
                for versions in previous:
                    builder.link(versions[day], run, "consumed")
                if skip:
                    builder.link(skip[day], run, "consumed")
                if stage == 1:
                    for hub in hub_reads:
                        builder.link(hubs[hub][start_day + day], run, "consumed")
                    if upstream_final:
                        builder.link(
                            upstream_final[min(day, len(upstream_final) - 1)], run, "consumed"
                        )
                elif rng.random() < 0.2:
                    builder.link(rng.choice(hubs)[start_day + day], run, "consumed")
                for versions in outputs:
                    builder.link(run, versions[day], "produced")
            before_previous, previous = previous, outputs
        final = previous[0]
        finals.append(final)
        if feedback:
            first_stage_runs = [node for node, _ in all_runs[-stages * days :][:days]]
            for day, run in enumerate(first_stage_runs):
                builder.link(final[day], run, "consumed")
        if rng.random() < 0.6:
            days_trained = sorted(rng.sample(range(days), max(1, days // 2)))
            builder.model_versions(
                f"p{pipeline}-model",
                project,
                [(final[day], final[max(day - 1, 0)]) for day in days_trained],
            )
    # An archived dataset with just enough versions makes the node count exact.
    missing = node_target - builder.node_count
    if missing >= 2:
        builder.dataset("archive/old_exports", rng.choice(builder.projects), missing - 1)
    elif missing == 1:
        builder.job("archive.retired_job", rng.choice(builder.projects))
    # Reference reads: a run reads a hub snapshot of its day, until the edge target.
    while len(builder.edges) < edge_target:
        run, day = rng.choice(all_runs)
        builder.link(rng.choice(hubs)[day], run, "consumed")


def load(rows: dict[type, list[Any]], edges: Iterable[tuple[int, int, str]]) -> None:
    """COPY every row into PostgreSQL (bulk_create on SQLite), then reset the sequences."""
    from django.core.management.color import no_style
    from django.db import connection

    from lineage.models import LineageEdge

    edge_rows = [
        LineageEdge(pk=index, source_id=source, target_id=target, kind=kind)
        for index, (source, target, kind) in enumerate(sorted(edges), start=1)
    ]
    for model, objects in [*rows.items(), (LineageEdge, edge_rows)]:
        if connection.vendor != "postgresql":
            model.objects.bulk_create(objects, batch_size=2000)
            continue
        fields = model._meta.concrete_fields
        columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        sql = f"COPY {model._meta.db_table} ({columns}) FROM STDIN"
        with (
            connection.cursor() as cursor,
            cursor.connection.cursor() as raw,
            raw.copy(sql) as copy,
        ):
            for obj in objects:
                copy.write_row(
                    [
                        field.get_db_prep_save(field.pre_save(obj, True), connection)
                        for field in fields
                    ]
                )
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), [*rows, LineageEdge]):
            cursor.execute(statement)
        cursor.execute("ANALYZE")


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return (time.perf_counter() - started) * 1000, result


def summary(label: str, timings: list[float], counts: list[int], noun: str) -> str:
    timings = sorted(timings)
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    return (
        f"{label:<28} median {statistics.median(timings):7.1f} ms   p95 {p95:7.1f} ms"
        f"   {noun}: median {statistics.median(counts):,.0f}, max {max(counts):,}"
    )


def measure(walk: Callable[..., Any], node_ids: list[int], direction: str, limit: int) -> Any:
    """Timings (ms) and nodes found of one walk from each node; the slowest start."""
    timings, counts, slowest = [], [], (0.0, 0)
    for node_id in node_ids:
        elapsed, result = timed(lambda n=node_id: walk([n], direction, limit=limit))
        timings.append(elapsed)
        counts.append(len(result.match_ids))
        slowest = max(slowest, (elapsed, node_id))
    return timings, counts, slowest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--edges", type=int, default=300_000)
    parser.add_argument("--starts", type=int, default=50, help="start nodes per kind")
    parser.add_argument("--requests", type=int, default=20, help="API requests per endpoint")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest")
    args = parser.parse_args()
    label = use_scratch_database("mlops_bench_lineage")

    from django.contrib.auth.models import User
    from django.db import connection
    from rest_framework.test import APIClient

    from lineage import graph
    from lineage.models import LineageEdge, LineageNode, Membership, Project

    rng = random.Random(args.seed)
    projects = [Project.objects.create(name=f"Team {n}", slug=f"team-{n}") for n in range(8)]
    user = User.objects.create_user("bench", password="bench")
    Membership.objects.bulk_create(
        Membership(project=project, user=user, role="viewer") for project in projects[:4]
    )
    builder = GraphBuilder(rng, projects)
    seconds, _ = timed(lambda: build_graph(builder, args.nodes, args.edges))
    print(f"generated in {seconds / 1000:.1f} s; loading…", flush=True)
    seconds, _ = timed(lambda: load(builder.rows, builder.edges))
    print(f"database: {label}; loaded in {seconds / 1000:.1f} s")
    print(
        f"graph: {LineageNode.objects.count():,} nodes, {LineageEdge.objects.count():,} edges; "
        + ", ".join(f"{len(ids):,} {kind}" for kind, ids in builder.nodes_by_kind.items())
    )

    starts = {kind: rng.sample(builder.nodes_by_kind[kind], args.starts) for kind in NODE_KINDS}
    graph.walk(starts["dataset"][:1], "downstream")  # connect and warm up
    slowest: tuple[float, int, str] = (0.0, 0, "downstream")
    for limit, heading, noun in (
        (1_000, "as the API walks by default: the nearest 1,000 nodes", "nodes listed"),
        (1_000_000, "the whole reach: every node, however many", "nodes reached"),
    ):
        for direction in ("downstream", "upstream"):
            print(f"\n{direction}, {heading} (depth up to {graph.MAX_DEPTH}):")
            all_timings: list[float] = []
            all_counts: list[int] = []
            for kind, node_ids in starts.items():
                timings, counts, (elapsed, node_id) = measure(
                    graph.walk, node_ids, direction, limit
                )
                all_timings += timings
                all_counts += counts
                if limit == 1_000:
                    slowest = max(slowest, (elapsed, node_id, direction))
                print("  " + summary(f"from a {kind}", timings, counts, noun))
            median = statistics.median(all_timings)
            verdict = "meets" if median <= REQUIREMENT_MS else "MISSES"
            print(
                "  "
                + summary(f"from any of these {len(all_timings)}", all_timings, all_counts, noun)
            )
            print(f"  → {verdict} the {REQUIREMENT_MS:.0f} ms median requirement ({median:.1f} ms)")

    print("\nthe heaviest starts, shown apart: the 40 shared hub datasets and their snapshots")
    hub_versions = rng.sample(builder.nodes_by_kind["dataset_version"][: 40 * 60], args.starts)
    for limit, noun in ((1_000, "nodes listed"), (1_000_000, "nodes reached")):
        for name, node_ids in (("hub datasets", builder.hub_nodes), ("hub versions", hub_versions)):
            timings, counts, _ = measure(graph.walk, node_ids, "downstream", limit)
            label = f"downstream from {name}" + (", all" if limit > 1_000 else "")
            print("  " + summary(label, timings, counts, noun))

    client = APIClient(SERVER_NAME="localhost")
    client.force_authenticate(user)
    # Requests name objects the user may see (others answer 404 before any walk).
    member_of = {project.pk for project in projects[:4]}
    visible = {
        dataset.pk
        for dataset in builder.rows[builder.models.Dataset]
        if dataset.sensitivity not in ("pii", "confidential") or dataset.project_id in member_of
    }
    version_ids = rng.sample(
        [
            obj.pk
            for obj in builder.rows[builder.models.DatasetVersion]
            if obj.dataset_id in visible
        ],
        args.requests,
    )
    model_version_ids = rng.sample(
        [obj.pk for obj in builder.rows[builder.models.ModelVersion]], args.requests
    )
    dataset_ids = rng.sample(sorted(visible), args.requests)
    print(
        "\nwhole API requests (authentication, node look-up, walk, visibility, page links, JSON),"
        "\nby a user in 4 of the 8 projects (others' PII and confidential data is hidden):"
    )
    for path, node_type, ids, extra in (
        ("/api/v1/lineage/downstream", "dataset_version", version_ids, {}),
        (
            "/api/v1/lineage/downstream",
            "dataset",
            dataset_ids,
            {"kinds": "model_version,deployment"},
        ),
        ("/api/v1/lineage/upstream", "model_version", model_version_ids, {}),
        ("/api/v1/lineage/graph", "model_version", model_version_ids, {}),
    ):
        timings, sizes = [], []
        for object_id in ids:
            params = {"type": node_type, "id": object_id, **extra}
            elapsed, response = timed(lambda p=path, q=params: client.get(p, q))
            assert response.status_code == 200, response.content[:300]
            timings.append(elapsed)
            sizes.append(len(response.json()["nodes"]))
        label = f"{path.rsplit('/', 1)[1]} of a {node_type}" + (" (kinds)" if extra else "")
        print("  " + summary(label, timings, sizes, "nodes answered"))

    if args.explain:
        elapsed, node_id, direction = slowest
        print(f"\nslowest walk: {direction} from node {node_id}, {elapsed:.1f} ms")
        connection.force_debug_cursor = True
        graph.walk([node_id], direction)  # type: ignore[arg-type]
        sql = connection.queries[-1]["sql"]
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            print("\n".join(row[0] for row in cursor.fetchall()))


if __name__ == "__main__":
    main()
