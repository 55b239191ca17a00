"""The official OpenLineage Python client, its HTTP transport pointed at a live portal with an
API token, reports runs the way Airflow and Spark integrations do; the portal records them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attr
import pytest
import requests
from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, connections
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import (
    InputDataset,
    Job,
    OutputDataset,
    Run,
    RunEvent,
    RunState,
)
from openlineage.client.facet_v2 import (
    RunFacet,
    job_type_job,
    nominal_time_run,
    output_statistics_output_dataset,
    schema_dataset,
    sql_job,
)
from openlineage.client.serde import Serde
from openlineage.client.transport.http import (
    ApiKeyTokenProvider,
    HttpCompression,
    HttpConfig,
    HttpTransport,
)
from openlineage.client.uuid import generate_new_uuid
from rest_framework.authtoken.models import Token

from lineage.choices import EdgeKind, NodeKind
from lineage.models import (
    Dataset,
    DatasetVersion,
    LineageEdge,
    LineageEvent,
    PipelineJob,
    PipelineRun,
    Project,
)

PRODUCER = "https://github.com/acme/pipelines/fraud-features"


@attr.define
class AcmeCostRunFacet(RunFacet):
    """A facet of our own: the portal has never heard of it and must keep it."""

    euros: float


@pytest.fixture
def server_url(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """The live portal's address. Its threads close their database connections after each
    request: a thread kept alive for a client's next request would otherwise hold a
    persistent PostgreSQL connection open when the test database is dropped."""
    monkeypatch.setitem(connections.settings[DEFAULT_DB_ALIAS], "CONN_MAX_AGE", 0)
    return str(live_server.url)


@pytest.fixture
def client_for(server_url: str) -> Iterator[Callable[..., OpenLineageClient]]:
    """Clients as a pipeline configures them: HTTP transport, `api_key` auth with the user's
    API token."""
    clients: list[OpenLineageClient] = []

    def make(user: User, **config: Any) -> OpenLineageClient:
        transport = HttpTransport(
            HttpConfig(
                url=server_url,
                endpoint=config.pop("endpoint", "api/v1/lineage"),
                auth=ApiKeyTokenProvider({"apiKey": Token.objects.create(user=user).key}),
                retry={"total": 0},
                **config,
            )
        )
        clients.append(OpenLineageClient(transport=transport))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def feature_run_event(state: RunState, event_time: str, run_id: str) -> RunEvent:
    """The feature-building task: reads raw transactions, writes the training table."""
    columns = schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name="amount", type="DOUBLE"),
            schema_dataset.SchemaDatasetFacetFields(name="merchant", type="STRING"),
        ]
    )
    output_facets = {}
    if state == RunState.COMPLETE:
        output_facets["outputStatistics"] = (
            output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=1200, size=48000
            )
        )
    return RunEvent(
        eventType=state,
        eventTime=event_time,
        producer=PRODUCER,
        run=Run(
            runId=run_id,
            facets={
                "nominalTime": nominal_time_run.NominalTimeRunFacet(
                    nominalStartTime="2025-05-01T06:00:00Z"
                ),
                "acme_cost": AcmeCostRunFacet(euros=3.5),
            },
        ),
        job=Job(
            namespace="airflow-prod",
            name="fraud_features.build",
            facets={
                "jobType": job_type_job.JobTypeJobFacet(
                    processingType="BATCH", integration="AIRFLOW", jobType="TASK"
                ),
                "sql": sql_job.SQLJobFacet(query="select * from raw.transactions"),
            },
        ),
        inputs=[InputDataset(namespace="s3://raw", name="cards/transactions.parquet")],
        outputs=[
            OutputDataset(
                namespace="s3://features",
                name="fraud/train.parquet",
                facets={"schema": columns},
                outputFacets=output_facets,
            )
        ],
    )


@pytest.mark.django_db(transaction=True)
def test_a_run_reported_by_the_official_client_is_recorded(
    client_for: Callable[..., OpenLineageClient], contributor: User
) -> None:
    client = client_for(contributor)
    run_id = str(generate_new_uuid())

    client.emit(feature_run_event(RunState.START, "2025-05-01T06:00:00.000Z", run_id))
    client.emit(feature_run_event(RunState.COMPLETE, "2025-05-01T06:12:44.120Z", run_id))

    job = PipelineJob.objects.get(namespace="airflow-prod", name="fraud_features.build")
    run = PipelineRun.objects.get(run_id=run_id)
    assert job.project == Project.objects.get(slug="airflow-prod")
    assert job.facets["jobType"]["integration"] == "AIRFLOW"
    assert job.facets["sql"]["query"] == "select * from raw.transactions"
    assert run.job == job
    assert run.state == "COMPLETE"
    assert run.started_at.isoformat() == "2025-05-01T06:00:00+00:00"
    assert run.ended_at.isoformat() == "2025-05-01T06:12:44.120000+00:00"
    assert run.facets["acme_cost"]["euros"] == 3.5
    assert run.facets["nominalTime"]["nominalStartTime"] == "2025-05-01T06:00:00Z"
    assert LineageEvent.objects.filter(run=run, received_by=contributor).count() == 2

    raw = Dataset.objects.get(namespace="s3://raw", source_name="cards/transactions.parquet")
    version = DatasetVersion.objects.get(produced_by_run=run)
    assert version.dataset.source_name == "fraud/train.parquet"
    assert version.external_uri == "s3://features/fraud/train.parquet"
    assert version.schema == [
        {"name": "amount", "type": "DOUBLE"},
        {"name": "merchant", "type": "STRING"},
    ]
    assert version.facets["outputStatistics"]["rowCount"] == 1200
    edges = set(
        LineageEdge.objects.values_list("source__kind", "source__object_id", "kind", "target__kind")
    )
    assert (NodeKind.DATASET, raw.pk, EdgeKind.CONSUMED, NodeKind.PIPELINE_RUN) in edges
    assert (NodeKind.PIPELINE_JOB, job.pk, EdgeKind.RAN_AS, NodeKind.PIPELINE_RUN) in edges
    assert (NodeKind.PIPELINE_RUN, run.pk, EdgeKind.PRODUCED, NodeKind.DATASET_VERSION) in edges


@pytest.mark.django_db(transaction=True)
def test_an_event_the_client_sends_again_changes_nothing(
    client_for: Callable[..., OpenLineageClient], contributor: User
) -> None:
    client = client_for(contributor)
    event = feature_run_event(RunState.START, "2025-05-01T06:00:00.000Z", str(generate_new_uuid()))

    client.emit(event)
    client.emit(event)

    assert LineageEvent.objects.count() == 1
    assert DatasetVersion.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_gzip_compressed_events_from_the_client_are_accepted(
    client_for: Callable[..., OpenLineageClient], contributor: User
) -> None:
    client = client_for(contributor, compression=HttpCompression.GZIP)
    run_id = str(generate_new_uuid())

    client.emit(feature_run_event(RunState.START, "2025-05-01T06:00:00.000Z", run_id))

    assert PipelineRun.objects.get(run_id=run_id).state == "START"


@pytest.mark.django_db(transaction=True)
def test_the_client_is_refused_where_its_user_only_views(
    client_for: Callable[..., OpenLineageClient], viewer: User, project: Project
) -> None:
    client = client_for(viewer, endpoint=f"api/v1/lineage?project={project.slug}")

    with pytest.raises(requests.HTTPError) as refused:
        client.emit(
            feature_run_event(RunState.START, "2025-05-01T06:00:00.000Z", str(generate_new_uuid()))
        )

    assert refused.value.response.status_code == 403
    assert not PipelineRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_events_posted_at_the_same_moment_are_each_recorded_once(
    server_url: str, contributor: User
) -> None:
    run_id = str(generate_new_uuid())
    events = [
        Serde.to_json(feature_run_event(state, time, run_id))
        for state, time in [
            (RunState.START, "2025-05-01T06:00:00.000Z"),
            (RunState.COMPLETE, "2025-05-01T06:12:44.120Z"),
        ]
    ] * 3
    headers = {
        "Authorization": f"Bearer {Token.objects.create(user=contributor).key}",
        "Content-Type": "application/json",
    }
    everyone_ready = threading.Barrier(len(events))

    def send(body: str) -> int:
        everyone_ready.wait()
        return requests.post(
            f"{server_url}/api/v1/lineage", data=body, headers=headers, timeout=60
        ).status_code

    with ThreadPoolExecutor(len(events)) as pool:
        statuses = sorted(pool.map(send, events))

    assert statuses == [200, 200, 200, 200, 201, 201]
    assert PipelineRun.objects.get().state == "COMPLETE"
    assert LineageEvent.objects.count() == 2
    assert DatasetVersion.objects.count() == 1
    assert Project.objects.filter(slug="airflow-prod").count() == 1
