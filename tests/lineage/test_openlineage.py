"""POST /api/v1/lineage: OpenLineage RunEvents become jobs, runs, datasets, versions and
edges, whatever order they arrive in and however often; malformed events are refused with
the field at fault named, and change nothing."""

from __future__ import annotations

import gzip
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.test import APIClient

from lineage import services
from lineage.choices import EdgeKind, NodeKind, Role
from lineage.models import (
    Dataset,
    DatasetVersion,
    LineageEdge,
    LineageEvent,
    LineageNode,
    Membership,
    PipelineJob,
    PipelineRun,
    Project,
)
from lineage.openlineage import EventError, event_digest, external_uri_for, parse_event

URL = "/api/v1/lineage"
RUN_ID = "0196896a-4a7c-7d6e-9a43-3f4a5cdb1e10"
PRODUCER = "https://github.com/apache/airflow/tree/providers-openlineage/2.2.0"
RAW = ("s3://raw", "cards/transactions.parquet")
FEATURES = ("s3://features", "fraud/train.parquet")
COLUMNS = [("amount", "DOUBLE"), ("hour", "INT")]


def dataset(
    identity: tuple[str, str],
    columns: list[tuple[str, str]] | None = None,
    facets: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An input or output dataset as OpenLineage reports it."""
    reported = {"namespace": identity[0], "name": identity[1], "facets": dict(facets or {})}
    if columns:
        reported["facets"]["schema"] = {
            "_producer": PRODUCER,
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
            "fields": [{"name": name, "type": kind} for name, kind in columns],
        }
    return {**reported, **extra}


def run_event(
    event_type: str | None,
    event_time: str,
    *,
    run_id: str = RUN_ID,
    job: tuple[str, str] = ("airflow-prod", "fraud_features.build"),
    inputs: list[dict[str, Any]] | None = None,
    outputs: list[dict[str, Any]] | None = None,
    run_facets: dict[str, Any] | None = None,
    job_facets: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A RunEvent of the feature-building task: reads RAW, writes FEATURES by default."""
    event: dict[str, Any] = {
        "eventTime": event_time,
        "producer": PRODUCER,
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": run_id, "facets": run_facets or {}},
        "job": {"namespace": job[0], "name": job[1], "facets": job_facets or {}},
        "inputs": [dataset(RAW)] if inputs is None else inputs,
        "outputs": [dataset(FEATURES, COLUMNS)] if outputs is None else outputs,
    }
    if event_type is not None:
        event["eventType"] = event_type
    return event


def start_event(**changes: Any) -> dict[str, Any]:
    return run_event("START", "2025-05-01T06:00:00Z", **changes)


def complete_event(**changes: Any) -> dict[str, Any]:
    return run_event(
        "COMPLETE",
        "2025-05-01T06:12:44.120Z",
        outputs=[
            dataset(
                FEATURES,
                COLUMNS,
                outputFacets={"outputStatistics": {"rowCount": 1200, "size": 48000}},
            )
        ],
        **changes,
    )


def post(client: APIClient, event: Any, url: str = URL) -> Response:
    return client.post(url, event, format="json")


def row_counts() -> dict[str, int]:
    models = [Project, Membership, PipelineJob, PipelineRun, LineageEvent, Dataset]
    models += [DatasetVersion, LineageNode, LineageEdge]
    return {model.__name__: model.objects.count() for model in models}


def node_key(node: LineageNode) -> tuple[Any, ...]:
    """A node named by what it stands for, not by its id."""
    if node.kind == NodeKind.DATASET:
        found = Dataset.objects.get(pk=node.object_id)
        return ("dataset", found.namespace, found.source_name or found.name)
    if node.kind == NodeKind.DATASET_VERSION:
        version = DatasetVersion.objects.select_related("dataset").get(pk=node.object_id)
        return ("version", version.dataset.source_name, version.version)
    if node.kind == NodeKind.PIPELINE_JOB:
        job = PipelineJob.objects.get(pk=node.object_id)
        return ("job", job.namespace, job.name)
    return ("run", str(PipelineRun.objects.get(pk=node.object_id).run_id))


def edges() -> set[tuple[Any, ...]]:
    return {
        (node_key(edge.source), edge.kind, node_key(edge.target))
        for edge in LineageEdge.objects.select_related("source", "target")
    }


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def facets(run: PipelineRun) -> tuple[str]:
    return (canonical(run.facets),)


def contents(version: DatasetVersion) -> tuple[str, str, str]:
    run_id = str(version.produced_by_run.run_id) if version.produced_by_run else ""
    return canonical(version.schema), canonical(version.facets), run_id


def database_state() -> dict[str, set[tuple[Any, ...]]]:
    """Every row ingestion writes, by natural keys, so two histories can be compared."""
    return {
        "projects": {
            (m.project.slug, m.user.username, m.role)
            for m in Membership.objects.select_related("project", "user")
        },
        "jobs": {
            (j.namespace, j.name, j.project.slug if j.project else None, canonical(j.facets))
            for j in PipelineJob.objects.select_related("project")
        },
        "runs": {
            (str(r.run_id), r.state, r.started_at, r.ended_at, r.last_event_time, *facets(r))
            for r in PipelineRun.objects.all()
        },
        "events": {(e.digest, e.event_type, e.event_time) for e in LineageEvent.objects.all()},
        "datasets": {
            (d.project.slug, d.name, d.namespace, d.source_name)
            for d in Dataset.objects.select_related("project")
        },
        "versions": {
            (v.dataset.source_name, v.version, v.external_uri, v.source, v.format, *contents(v))
            for v in DatasetVersion.objects.select_related("dataset", "produced_by_run")
        },
        "edges": edges(),
    }


@pytest.fixture
def api(api_client_for: Callable[[User], APIClient], contributor: User) -> APIClient:
    return api_client_for(contributor)


@pytest.fixture
def state_after(api: APIClient) -> Callable[[list[dict[str, Any]]], dict[str, set[Any]]]:
    """The database state after posting these events, then undone for the next history."""

    def replay(events: list[dict[str, Any]]) -> dict[str, set[Any]]:
        with transaction.atomic():
            for event in events:
                assert post(api, event).status_code in (200, 201)
            state = database_state()
            transaction.set_rollback(True)
        return state

    return replay


# A run, start to finish --------------------------------------------------------------------


@pytest.mark.django_db
def test_a_start_then_complete_records_the_job_run_datasets_version_and_edges(
    api: APIClient, contributor: User
) -> None:
    started = post(api, start_event())
    completed = post(api, complete_event())

    assert started.status_code == 201
    assert completed.status_code == 201
    assert completed.json()["status"] == "accepted"
    assert completed.json()["run_id"] == RUN_ID
    job = PipelineJob.objects.get()
    run = PipelineRun.objects.get()
    assert (job.namespace, job.name) == ("airflow-prod", "fraud_features.build")
    assert completed.json()["job"] == job.pk
    assert completed.json()["run"] == run.pk
    assert run.job == job
    assert run.state == "COMPLETE"
    assert run.started_at.isoformat() == "2025-05-01T06:00:00+00:00"
    assert run.ended_at.isoformat() == "2025-05-01T06:12:44.120000+00:00"
    assert run.last_event_time == run.ended_at
    assert list(run.events.values_list("event_type", flat=True)) == ["START", "COMPLETE"]


@pytest.mark.django_db
def test_a_new_namespace_gets_its_own_project_with_the_caller_as_admin(
    api: APIClient, contributor: User
) -> None:
    post(api, start_event())

    project = Project.objects.get(slug="airflow-prod")
    assert project.role_of(contributor) == Role.ADMIN
    assert PipelineJob.objects.get().project == project
    assert set(Dataset.objects.values_list("project__slug", flat=True)) == {"airflow-prod"}


@pytest.mark.django_db
def test_unknown_datasets_become_external_datasets_with_a_version_per_output(
    api: APIClient, contributor: User
) -> None:
    post(api, start_event())
    post(api, complete_event())

    raw = Dataset.objects.get(namespace="s3://raw")
    features = Dataset.objects.get(namespace="s3://features")
    assert (raw.name, raw.source_name, raw.is_external) == (RAW[1], RAW[1], True)
    assert not raw.versions.exists()
    version = features.versions.get()
    assert version.version == 1
    assert version.produced_by_run == PipelineRun.objects.get()
    assert (version.source, version.format) == ("pipeline", "external")
    assert version.profile_status == "not_applicable"
    assert version.external_uri == "s3://features/fraud/train.parquet"
    assert version.created_by == contributor
    assert version.schema == [
        {"name": "amount", "type": "DOUBLE"},
        {"name": "hour", "type": "INT"},
    ]
    assert version.facets["outputStatistics"] == {"rowCount": 1200, "size": 48000}


@pytest.mark.django_db
def test_inputs_flow_into_the_run_and_the_run_into_its_outputs(api: APIClient) -> None:
    post(api, start_event())
    post(api, complete_event())

    run = ("run", RUN_ID)
    assert edges() == {
        (("job", "airflow-prod", "fraud_features.build"), EdgeKind.RAN_AS, run),
        (("dataset", *RAW), EdgeKind.CONSUMED, run),
        (run, EdgeKind.PRODUCED, ("version", FEATURES[1], 1)),
        (("dataset", *FEATURES), EdgeKind.HAS_VERSION, ("version", FEATURES[1], 1)),
    }


@pytest.mark.django_db
def test_datasets_already_in_the_catalog_are_matched_by_namespace_and_name(
    api: APIClient, project: Project, contributor: User
) -> None:
    raw = Dataset.objects.create(project=project, name="raw transactions")
    raw_version = services.create_external_dataset_version(
        raw, "s3://raw/cards/transactions.parquet", user=contributor
    )
    features = Dataset.objects.create(project=project, name="fraud features")
    services.create_external_dataset_version(
        features, "s3://features/fraud/train.parquet", user=contributor
    )

    post(api, start_event())
    post(api, complete_event())

    assert Dataset.objects.count() == 2
    produced = features.versions.get(produced_by_run__isnull=False)
    assert produced.version == 2
    run = ("run", RUN_ID)
    assert (("version", RAW[1], raw_version.version), EdgeKind.CONSUMED, run) in edges()
    assert (run, EdgeKind.PRODUCED, ("version", FEATURES[1], 2)) in edges()
    assert (("dataset", *FEATURES), EdgeKind.HAS_VERSION, ("version", FEATURES[1], 2)) in edges()


@pytest.mark.django_db
def test_the_answer_does_not_name_another_projects_restricted_dataset(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    project: Project,
    contributor: User,
) -> None:
    raw = Dataset.objects.create(project=project, name="raw cards", sensitivity="pii")
    services.create_external_dataset_version(
        raw, "s3://raw/cards/transactions.parquet", user=contributor
    )

    response = post(api_client_for(outsider), start_event())

    assert response.status_code == 201
    features = Dataset.objects.get(source_name=FEATURES[1])
    assert response.json()["datasets"] == [features.pk]
    assert response.json()["dataset_versions"] == [features.versions.get().pk]


@pytest.mark.django_db
def test_a_run_reading_what_it_writes_consumes_the_earlier_version(
    api: APIClient, project: Project, contributor: User
) -> None:
    table = Dataset.objects.create(project=project, name="fraud features")
    services.create_external_dataset_version(
        table, "s3://features/fraud/train.parquet", user=contributor
    )
    appended = dataset(FEATURES, COLUMNS)

    post(api, start_event(inputs=[appended], outputs=[appended]))
    post(api, complete_event(inputs=[appended]))

    run = ("run", RUN_ID)
    assert (("version", FEATURES[1], 1), EdgeKind.CONSUMED, run) in edges()
    assert (run, EdgeKind.PRODUCED, ("version", FEATURES[1], 2)) in edges()
    assert (("version", FEATURES[1], 2), EdgeKind.CONSUMED, run) not in edges()


# Order and repetition ----------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_events_in_any_order_and_sent_twice_leave_the_same_state(
    state_after: Callable[[list[dict[str, Any]]], dict[str, set[Any]]],
) -> None:
    start = start_event(
        run_facets={"progress": {"done": 0}, "nominalTime": {"nominalStartTime": "06:00"}},
        job_facets={"sql": {"query": "select 1"}},
    )
    running = run_event("RUNNING", "2025-05-01T06:05:00Z", run_facets={"progress": {"done": 40}})
    complete = complete_event(
        run_facets={"progress": {"done": 100}}, job_facets={"sql": {"query": "select 2"}}
    )

    in_order = state_after([start, running, complete])
    histories = [
        [*order, *order[::-1]] for order in itertools.permutations([start, running, complete])
    ]

    for history in histories:
        assert state_after(history) == in_order
    (run,) = in_order["runs"]
    assert run[1] == "COMPLETE"
    assert json.loads(run[-1]) == {
        "progress": {"done": 100},
        "nominalTime": {"nominalStartTime": "06:00"},
    }
    ((*_, job_facets),) = in_order["jobs"]
    assert json.loads(job_facets) == {"sql": {"query": "select 2"}}


@pytest.mark.django_db
def test_an_event_sent_again_is_a_duplicate_and_changes_nothing(api: APIClient) -> None:
    first = post(api, start_event())
    before = row_counts()

    again = post(api, start_event())

    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["run"] == first.json()["run"]
    assert row_counts() == before


@pytest.mark.django_db
def test_key_order_does_not_make_an_event_new(api: APIClient) -> None:
    event = start_event()
    post(api, event)

    reordered = dict(reversed(list(event.items())))

    assert post(api, reordered).json()["status"] == "duplicate"


@pytest.mark.django_db
def test_an_older_event_arriving_late_does_not_move_the_state_back(api: APIClient) -> None:
    post(api, start_event())
    post(api, complete_event())

    post(api, run_event("RUNNING", "2025-05-01T06:05:00Z"))

    run = PipelineRun.objects.get()
    assert run.state == "COMPLETE"
    assert run.last_event_time.isoformat() == "2025-05-01T06:12:44.120000+00:00"


@pytest.mark.django_db
def test_a_complete_sent_in_the_same_instant_as_the_start_completes_the_run(
    api: APIClient,
) -> None:
    post(api, run_event("COMPLETE", "2025-05-01T06:00:00Z"))
    post(api, run_event("START", "2025-05-01T06:00:00Z"))

    assert PipelineRun.objects.get().state == "COMPLETE"


@pytest.mark.django_db
def test_an_event_without_a_type_adds_facets_but_leaves_the_state(api: APIClient) -> None:
    post(api, start_event())

    response = post(
        api, run_event(None, "2025-05-01T07:00:00Z", run_facets={"note": {"text": "late"}})
    )

    run = PipelineRun.objects.get()
    assert response.status_code == 201
    assert run.state == "START"
    assert run.facets["note"] == {"text": "late"}
    assert run.events.latest("event_time").event_type == "OTHER"


# Facets ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_facets_the_portal_does_not_know_are_kept(api: APIClient) -> None:
    acme = {"_producer": "https://acme.example/pipelines", "_schemaURL": "https://acme.example/x"}
    event = start_event(
        run_facets={"acme_cost": {**acme, "euros": 3.5}},
        job_facets={"acme_owner": {**acme, "team": "fraud"}},
        inputs=[dataset(RAW, inputFacets={"acme_freshness": {**acme, "hours": 2}})],
        outputs=[
            dataset(
                FEATURES,
                COLUMNS,
                facets={"acme_quality": {**acme, "score": 0.97}},
                outputFacets={"acme_rows_dropped": {**acme, "count": 4}},
            )
        ],
    )

    post(api, event)

    assert PipelineRun.objects.get().facets["acme_cost"]["euros"] == 3.5
    assert PipelineJob.objects.get().facets["acme_owner"]["team"] == "fraud"
    version = DatasetVersion.objects.get()
    assert version.facets["acme_quality"]["score"] == 0.97
    assert version.facets["acme_rows_dropped"]["count"] == 4
    assert version.facets["schema"]["fields"][0] == {"name": "amount", "type": "DOUBLE"}
    stored = LineageEvent.objects.get().payload
    assert stored == event
    assert stored["inputs"][0]["inputFacets"]["acme_freshness"]["hours"] == 2


@pytest.mark.django_db
def test_a_later_event_completes_the_version_it_did_not_create(api: APIClient) -> None:
    post(api, start_event(outputs=[dataset(FEATURES)]))

    post(api, complete_event())

    version = DatasetVersion.objects.get()
    assert version.column_names == ["amount", "hour"]
    assert version.facets["outputStatistics"]["rowCount"] == 1200


# Cycles ------------------------------------------------------------------------------------


def find_cycle() -> list[int] | None:
    """A directed cycle among the stored edges, as node ids, if there is one."""
    successors: dict[int, list[int]] = {}
    for source, target in LineageEdge.objects.values_list("source_id", "target_id"):
        successors.setdefault(source, []).append(target)
    done: set[int] = set()
    for start in successors:
        path, on_path, stack = [], set(), [(start, iter(successors.get(start, [])))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, following = stack[-1]
            step = next(following, None)
            if step is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif step in on_path:
                return [*path[path.index(step) :], step]
            elif step not in done:
                stack.append((step, iter(successors.get(step, []))))
                path.append(step)
                on_path.add(step)
    return None


@pytest.mark.django_db
def test_a_cycle_reported_by_pipelines_is_stored_and_ingestion_goes_on(api: APIClient) -> None:
    graph = pytest.importorskip("lineage.graph")
    x, y = ("s3://lake", "x"), ("s3://lake", "y")
    run_a, run_b = "0196896a-0000-7000-8000-00000000000a", "0196896a-0000-7000-8000-00000000000b"
    job_a, job_b = ("airflow-prod", "a"), ("airflow-prod", "b")
    # B announces its output first; A then reads it and writes Y; B's next event reads Y.
    history = [
        run_event("START", "2025-05-01T06:00:00Z", run_id=run_b, job=job_b, inputs=[],
                  outputs=[dataset(x)]),
        run_event("START", "2025-05-01T06:01:00Z", run_id=run_a, job=job_a, inputs=[dataset(x)],
                  outputs=[dataset(y)]),
        run_event("COMPLETE", "2025-05-01T06:02:00Z", run_id=run_b, job=job_b,
                  inputs=[dataset(y)], outputs=[dataset(x)]),
        run_event("COMPLETE", "2025-05-01T06:03:00Z", run_id=run_a, job=job_a,
                  inputs=[dataset(x)], outputs=[dataset(y)]),
    ]  # fmt: skip

    statuses = [post(api, event).status_code for event in history]
    cycle = find_cycle()
    walked = graph.walk(
        [LineageNode.objects.get(kind=NodeKind.DATASET, label="x").pk], "downstream"
    )
    later = post(api, run_event("START", "2025-05-02T06:00:00Z", job=job_a, inputs=[dataset(x)]))

    assert statuses == [201, 201, 201, 201]
    assert cycle is not None
    assert {node_key(LineageNode.objects.get(pk=pk)) for pk in cycle} == {
        ("run", run_a),
        ("run", run_b),
        ("version", "x", 1),
        ("version", "y", 1),
    }
    assert ("run", run_a) in {node_key(LineageNode.objects.get(pk=n.id)) for n in walked.matches}
    assert later.status_code == 201


# Projects and permissions ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_contributor_can_name_the_project_new_objects_go_to(
    api: APIClient, project: Project
) -> None:
    response = post(api, start_event(), url=f"{URL}?project={project.slug}")

    assert response.status_code == 201
    assert PipelineJob.objects.get().project == project
    assert set(Dataset.objects.values_list("project", flat=True)) == {project.pk}
    assert not Project.objects.filter(slug="airflow-prod").exists()


@pytest.mark.django_db
def test_a_viewer_naming_the_project_is_refused_and_nothing_is_created(
    api_client_for: Callable[[User], APIClient], viewer: User, project: Project
) -> None:
    before = row_counts()

    response = post(api_client_for(viewer), start_event(), url=f"{URL}?project={project.slug}")

    assert response.status_code == 403
    assert "contributor" in response.json()["detail"]
    assert row_counts() == before


@pytest.mark.django_db
def test_an_unknown_project_is_named_in_the_error(api: APIClient) -> None:
    response = post(api, start_event(), url=f"{URL}?project=nowhere")

    assert response.status_code == 400
    assert response.json() == {"project": ["No project has the slug 'nowhere'."]}


@pytest.mark.django_db
def test_an_outsider_cannot_add_runs_to_another_projects_job(
    api: APIClient,
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    project: Project,
) -> None:
    post(api, start_event(), url=f"{URL}?project={project.slug}")
    before = row_counts()

    response = post(
        api_client_for(outsider), start_event(run_id="0196896a-0000-7000-8000-0000000000ff")
    )

    assert response.status_code == 403
    assert row_counts() == before


@pytest.mark.django_db
def test_a_run_id_already_used_by_another_job_is_refused(api: APIClient) -> None:
    post(api, start_event())
    before = row_counts()

    response = post(api, start_event(job=("airflow-prod", "another.task")))

    assert response.status_code == 400
    assert "belongs to the job airflow-prod/fraud_features.build" in response.json()["run.runId"][0]
    assert row_counts() == before


@pytest.mark.django_db
def test_an_anonymous_caller_is_refused(project: Project) -> None:
    response = post(APIClient(), start_event())

    assert response.status_code == 401
    assert not PipelineRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("keyword", ["Bearer", "Token"])
def test_an_api_token_works_with_either_keyword(contributor: User, keyword: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {Token.objects.create(user=contributor).key}")

    response = post(client, start_event())

    assert response.status_code == 201
    assert LineageEvent.objects.get().received_by == contributor


@pytest.mark.django_db
def test_an_unknown_bearer_token_is_refused(contributor: User) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")

    assert post(client, start_event()).status_code == 401


@pytest.mark.django_db
def test_the_url_with_a_trailing_slash_works_too(api: APIClient) -> None:
    assert post(api, start_event(), url=f"{URL}/").status_code == 201


@pytest.mark.django_db
def test_a_gzip_compressed_event_is_accepted(api: APIClient) -> None:
    body = gzip.compress(json.dumps(start_event()).encode())

    response = api.post(
        URL, body, content_type="application/json", headers={"Content-Encoding": "gzip"}
    )

    assert response.status_code == 201
    assert PipelineRun.objects.get().state == "START"


# Malformed events --------------------------------------------------------------------------


def without(path: str) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        target = event
        for parent in parents:
            target = target[int(parent)] if isinstance(target, list) else target[parent]
        del target[key]

    return change


def setting(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(event: dict[str, Any]) -> None:
        *parents, key = path.split(".")
        target = event
        for parent in parents:
            target = target[int(parent)] if isinstance(target, list) else target[parent]
        target[key] = value

    return change


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (without("run.runId"), "run.runId", "Required."),
        (setting("run.runId", "run-42"), "run.runId", "Not a UUID: 'run-42'."),
        (setting("run.runId", 42), "run.runId", "Expected a string, not a number."),
        (without("run"), "run", "Required."),
        (setting("eventTime", "yesterday"), "eventTime",
         "Not an ISO 8601 date-time: 'yesterday'."),
        (setting("eventTime", "2025-05-01"), "eventTime",
         "Not an ISO 8601 date-time: '2025-05-01'."),
        (without("eventTime"), "eventTime", "Required."),
        (setting("eventType", "FINISHED"), "eventType",
         "'FINISHED' is not an event type: expected one of START, RUNNING, COMPLETE, ABORT, "
         "FAIL, OTHER."),
        (setting("job.name", 42), "job.name", "Expected a string, not a number."),
        (setting("job.namespace", ""), "job.namespace", "Required."),
        (setting("job", "airflow"), "job", "Expected an object, not a string."),
        (setting("inputs", {"namespace": "s3://raw"}), "inputs",
         "Expected an array, not an object."),
        (setting("inputs", ["s3://raw"]), "inputs[0]", "Expected an object, not a string."),
        (without("outputs.0.namespace"), "outputs[0].namespace", "Required."),
        (setting("outputs.0.name", ["x"]), "outputs[0].name", "Expected a string, not an array."),
        (setting("run.facets", []), "run.facets", "Expected an object, not an array."),
        (setting("job.facets.sql", "select 1"), "job.facets.sql",
         "Expected an object, not a string."),
        (setting("outputs.0.facets.schema.fields", "amount"), "outputs[0].facets.schema.fields",
         "Expected an array, not a string."),
        (setting("outputs.0.facets.schema.fields.0.name", None),
         "outputs[0].facets.schema.fields[0].name", "Required."),
        (setting("job.facets.note", {"text": "a\u0000b"}), "job.facets.note.text",
         "Text cannot contain NUL characters or unpaired surrogates."),
    ],
)  # fmt: skip
def test_a_malformed_event_is_refused_naming_the_field_and_changes_nothing(
    api: APIClient, change: Callable[[dict[str, Any]], None], field: str, message: str
) -> None:
    event = start_event()
    change(event)
    before = row_counts()

    response = post(api, event)

    assert response.status_code == 400
    assert response.json()[field] == [message]
    assert row_counts() == before


@pytest.mark.django_db
def test_every_field_at_fault_is_named_at_once(api: APIClient) -> None:
    event = start_event()
    del event["run"]["runId"]
    event["eventTime"] = "soon"

    response = post(api, event)

    assert set(response.json()) == {"run.runId", "eventTime"}


@pytest.mark.django_db
def test_a_body_that_is_not_json_is_refused(api: APIClient) -> None:
    before = row_counts()

    response = api.post(URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert row_counts() == before


@pytest.mark.django_db
def test_a_json_array_is_refused(api: APIClient) -> None:
    before = row_counts()

    response = post(api, [start_event(), complete_event()])

    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Expected an OpenLineage RunEvent object, not an array."]
    }
    assert row_counts() == before


# Plain parsing and naming ------------------------------------------------------------------


def test_a_time_without_a_zone_is_read_as_utc() -> None:
    parsed = parse_event(run_event("START", "2025-05-01T06:00:00"))

    assert parsed.event_time.isoformat() == "2025-05-01T06:00:00+00:00"


def test_nanoseconds_sent_by_java_producers_are_accepted() -> None:
    parsed = parse_event(run_event("START", "2025-05-01T06:00:00.123456789Z"))

    assert parsed.event_time.microsecond == 123456


def test_a_missing_event_type_reads_as_other() -> None:
    assert parse_event(run_event(None, "2025-05-01T06:00:00Z")).event_type == "OTHER"


def test_the_digest_ignores_key_order_but_not_content() -> None:
    event = start_event()

    assert event_digest(dict(reversed(list(event.items())))) == event_digest(event)
    assert event_digest({**event, "eventType": "RUNNING"}) != event_digest(event)


def test_text_no_database_can_store_is_refused() -> None:
    event = start_event(run_facets={"note": {"text": "half a pair \ud800"}})

    with pytest.raises(EventError) as raised:
        parse_event(event)

    assert list(raised.value.errors) == ["run.facets.note.text"]


def test_a_parse_error_carries_every_field() -> None:
    with pytest.raises(EventError) as raised:
        parse_event({"eventTime": "2025-05-01T06:00:00Z"})

    assert raised.value.errors == {"run": ["Required."], "job": ["Required."]}


@pytest.mark.parametrize(
    ("namespace", "name", "uri"),
    [
        ("s3://bucket", "path/x", "s3://bucket/path/x"),
        ("gs://bucket", "events/2025/part-0.parquet", "gs://bucket/events/2025/part-0.parquet"),
        ("hdfs://namenode:8020", "/warehouse/orders", "hdfs://namenode:8020/warehouse/orders"),
        ("postgres://db.example:5432", "sales.public.orders",
         "postgres://db.example:5432/sales.public.orders"),
        ("file", "/data/transactions.csv", "file:///data/transactions.csv"),
        ("bigquery", "acme.sales.orders", "bigquery://acme.sales.orders"),
        ("airflow-prod", "temp_table", ""),
        ("s3://bucket/", "x", ""),
    ],
)  # fmt: skip
def test_an_external_uri_is_formed_only_when_it_names_the_same_dataset_back(
    namespace: str, name: str, uri: str
) -> None:
    assert external_uri_for(namespace, name) == uri


@pytest.mark.django_db
def test_an_outsider_cannot_write_a_version_into_another_projects_dataset(
    api_client_for: Callable[[User], APIClient],
    outsider: User,
    project: Project,
    contributor: User,
) -> None:
    target = Dataset.objects.create(project=project, name="features", sensitivity="pii")
    services.create_external_dataset_version(
        target, f"{FEATURES[0]}/{FEATURES[1]}", user=contributor
    )
    before = row_counts()

    response = post(api_client_for(outsider), start_event())

    assert response.status_code == 403
    assert "an output dataset" in str(response.json())  # not named: the outsider can't see it
    assert FEATURES[1] not in str(response.json())
    assert row_counts() == before
    assert target.versions.count() == 1
