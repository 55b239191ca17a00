"""POST /api/v1/lineage: where OpenLineage clients (Airflow, Spark, dbt, Flink, the Python
client's HTTP transport) send their RunEvents. The work is done by lineage.openlineage."""

from __future__ import annotations

import io
import zlib
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage import openlineage

# Spark integrations send logical plans that weigh megabytes; far more is not an event.
MAX_EVENT_BYTES = 16 * 1024 * 1024


class EventTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = f"An OpenLineage event may be at most {MAX_EVENT_BYTES // 1024 // 1024} MiB."
    default_code = "event_too_large"


class OpenLineageJSONParser(JSONParser):
    """JSON, gzip-compressed or not (the client's `compression: gzip` option), with a size
    limit on what is read and on what it inflates to."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        body = stream.read(MAX_EVENT_BYTES + 1)
        if len(body) > MAX_EVENT_BYTES:
            raise EventTooLarge()
        request = (parser_context or {}).get("request")
        encoding = request.headers.get("Content-Encoding", "") if request is not None else ""
        if encoding.strip().lower() == "gzip":
            body = self.inflate(body)
        return super().parse(io.BytesIO(body), media_type, parser_context)

    @staticmethod
    def inflate(body: bytes) -> bytes:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            inflated = inflater.decompress(body, MAX_EVENT_BYTES + 1)
        except zlib.error as exc:
            raise exceptions.ParseError(f"The body is not valid gzip: {exc}") from exc
        if len(inflated) > MAX_EVENT_BYTES or inflater.unconsumed_tail:
            raise EventTooLarge()
        if not inflater.eof:
            raise exceptions.ParseError("The gzip body is truncated.")
        return inflated


class IngestResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["accepted", "duplicate"],
        help_text="`duplicate`: this exact event had been received; nothing changed.",
    )
    job = serializers.IntegerField(source="job_id", help_text="The pipeline job's id.")
    run = serializers.IntegerField(source="run_pk", help_text="The pipeline run's id.")
    run_id = serializers.UUIDField(help_text="The run's OpenLineage runId.")
    event = serializers.IntegerField(source="event_id", help_text="The stored event's id.")
    datasets = serializers.ListField(
        child=serializers.IntegerField(),
        source="dataset_ids",
        help_text="Catalog datasets the event names (matched or created).",
    )
    dataset_versions = serializers.ListField(
        child=serializers.IntegerField(),
        source="dataset_version_ids",
        help_text="Versions the run produced, one per output dataset.",
    )


EXAMPLE_EVENT = {
    "eventType": "COMPLETE",
    "eventTime": "2025-05-01T06:12:44.120Z",
    "producer": "https://github.com/apache/airflow/tree/providers-openlineage/2.2.0",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    "run": {"runId": "0196896a-4a7c-7d6e-9a43-3f4a5cdb1e10", "facets": {}},
    "job": {"namespace": "airflow-prod", "name": "fraud_features.build", "facets": {}},
    "inputs": [{"namespace": "s3://raw", "name": "cards/transactions.parquet"}],
    "outputs": [
        {
            "namespace": "s3://features",
            "name": "fraud/train.parquet",
            "facets": {
                "schema": {
                    "_producer": "https://github.com/apache/airflow",
                    "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
                    "fields": [{"name": "amount", "type": "DOUBLE"}],
                }
            },
        }
    ],
}


class OpenLineageIngestView(APIView):
    """Record one OpenLineage RunEvent."""

    parser_classes = [OpenLineageJSONParser]

    @extend_schema(
        operation_id="lineage_ingest",
        summary="Report an OpenLineage run event",
        description=(
            "Accepts an OpenLineage RunEvent (START, RUNNING, COMPLETE, FAIL, ABORT or OTHER) as "
            "Airflow, Spark, dbt, Flink and the OpenLineage clients send it, with "
            "`Authorization: Bearer <token>`. Records the job, the run, its input and output "
            "datasets (matched to catalog datasets by namespace and name, created as external "
            "datasets otherwise), one version per output and the lineage edges; facets are "
            "kept as sent. Events may arrive out of order; an event sent again changes nothing. "
            "New objects go to the project named by `project`, else the job's project, else a "
            "project named after the job namespace (created with the caller as its admin)."
        ),
        parameters=[
            OpenApiParameter(
                "project",
                OpenApiTypes.STR,
                OpenApiParameter.QUERY,
                description="Slug of the project new jobs and datasets go to "
                "(the contributor role there is needed).",
            )
        ],
        request={"application/json": OpenApiTypes.OBJECT},
        responses={
            201: IngestResultSerializer,
            200: OpenApiResponse(IngestResultSerializer, description="Already received."),
            400: OpenApiResponse(
                description='Malformed event; each field at fault is named: {"run.runId": [...]}.'
            ),
            403: OpenApiResponse(description="No contributor role in the project written to."),
            413: OpenApiResponse(description="Event larger than 16 MiB."),
        },
        examples=[OpenApiExample("Airflow task completed", value=EXAMPLE_EVENT, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        try:
            result = openlineage.ingest_event(
                request.data,
                user=request.user,
                project_slug=request.query_params.get("project") or None,
            )
        except openlineage.EventError as exc:
            raise serializers.ValidationError(exc.errors) from exc
        except openlineage.IngestForbidden as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        accepted = result.status == "accepted"
        return Response(
            IngestResultSerializer(result).data,
            status=status.HTTP_201_CREATED if accepted else status.HTTP_200_OK,
        )


@extend_schema(exclude=True)
class OpenLineageIngestSlashView(OpenLineageIngestView):
    """The same endpoint at `lineage/`, for clients configured with a trailing slash."""
