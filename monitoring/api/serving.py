"""Serving API: score with a model (`predict`), ingest predictions made elsewhere, join
ground truth, and read one logged prediction back."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any, NoReturn

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from lineage.choices import Role, Stage
from lineage.models import ModelVersion, Project, RegisteredModel
from mlops_portal.authentication import CachedBearerTokenAuthentication, CachedTokenAuthentication
from monitoring import model_cache, prediction_log, prediction_store, serving
from monitoring.models import PredictionRecord
from monitoring.permissions import hidden_inputs


class LenientJSONParser(JSONParser):
    """JSON, with NaN and Infinity read as numbers so that the answer can name the record
    and the feature that holds them (instead of refusing the whole body)."""

    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.loads(stream.read().decode(encoding), parse_constant=float)
        except (ValueError, UnicodeDecodeError) as exc:
            raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from exc


class ScoringFailed(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The model could not score the records."


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The prediction log is behind; retry shortly."
    wait = 1  # DRF's handler sends it as Retry-After


def served_error(exc: model_cache.ServingError) -> exceptions.APIException:
    error = exceptions.APIException({exc.field: [exc.message]})
    error.status_code = exc.status
    return error


def records_of(data: Any, *, single_key: str, limit: int) -> tuple[list[Any], bool]:
    """The request's records: `{"records": [...]}` (or a list under `single_key`) as a
    batch, one object under `single_key` as a single record."""
    if not isinstance(data, dict):
        raise exceptions.ValidationError(
            {
                "non_field_errors": [
                    f'Send a JSON object: {{"{single_key}": {{...}}}} or {{"records": [...]}}.'
                ]
            }
        )
    if "records" in data:
        records, single = data["records"], False
        key = "records"
    elif single_key in data:
        records, key = data[single_key], single_key
        single = isinstance(records, dict)
        records = [records] if single else records
    else:
        raise exceptions.ValidationError(
            {"records": [f'Send the record under "{single_key}", or a batch under "records".']}
        )
    if not isinstance(records, list):
        raise exceptions.ValidationError({key: ["A batch is a JSON list of records."]})
    if not records:
        raise exceptions.ValidationError({key: ["The batch is empty."]})
    if len(records) > limit:
        raise exceptions.ValidationError(
            {key: [f"A batch holds at most {limit:,} records; this one has {len(records):,}."]}
        )
    return records, single


def refused_list(refused: dict[int, list[str]], records: Sequence[Any]) -> list[dict[str, Any]]:
    listed = []
    for index, errors in sorted(refused.items()):
        entry: dict[str, Any] = {"index": index, "errors": errors}
        record = records[index]
        if isinstance(record, dict) and isinstance(record.get("request_id"), str):
            entry["request_id"] = record["request_id"]
        listed.append(entry)
    return listed


def _require_role(user: Any, project_id: int, role: str, doing: str) -> None:
    if not Project(pk=project_id).has_role(user, role):
        _refuse_role(project_id, role, doing)


def _refuse_role(project_id: int, role: str, doing: str) -> NoReturn:
    name = Project.objects.filter(pk=project_id).values_list("name", flat=True).first()
    raise exceptions.PermissionDenied(f"You need the {role} role in project '{name}' to {doing}.")


PREDICT_EXAMPLES = [
    OpenApiExample("One record", value={"inputs": {"amount": 12.5, "channel": "online"}}),
    OpenApiExample(
        "A batch",
        value={
            "records": [{"amount": 12.5, "channel": "online"}, {"amount": 3.0, "channel": "store"}]
        },
    ),
]


class PredictView(APIView):
    """Score one record (`inputs`) or a batch (`records`, at most SERVING_BATCH_LIMIT) with
    the model's production version, or with the version in the URL. Each scored record
    gets a request UUID and is logged; refused records are listed with their reasons."""

    parser_classes = [LenientJSONParser]
    renderer_classes = [JSONRenderer]
    authentication_classes = [
        CachedTokenAuthentication,
        CachedBearerTokenAuthentication,
        SessionAuthentication,
    ]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The predictions."),
            400: OpenApiResponse(description="Records refused, each with its reasons."),
            404: OpenApiResponse(description="No such model or version."),
            409: OpenApiResponse(description="No production version, or it cannot be loaded."),
            503: OpenApiResponse(description="The prediction log is behind: retry."),
        },
        examples=PREDICT_EXAMPLES,
    )
    def post(self, request: Request, pk: int, version: int | None = None) -> Response:
        started = time.perf_counter()
        logged_at = timezone.now()
        records, single = records_of(
            request.data, single_key="inputs", limit=settings.SERVING_BATCH_LIMIT
        )
        try:
            version_id, project_id, role = model_cache.served_version(
                pk, version, user=request.user
            )
            if role is None:
                _refuse_role(project_id, Role.VIEWER, "score with its models")
            loaded = model_cache.loaded_model(version_id)
        except model_cache.ServingError as exc:
            raise served_error(exc) from exc
        checked = serving.check_records(records, loaded.features)
        scores = None
        failure = None
        if checked.good:
            try:
                scores = serving.score(loaded.estimator, loaded.inputs(checked.good))
            except Exception as exc:  # the model refusing the data is the caller's answer
                failure = f"The model could not score the records ({type(exc).__name__}: {exc})."
        latency_ms = (time.perf_counter() - started) * 1000
        answers, entries = self._answers(loaded, checked, scores, logged_at, latency_ms)
        entries += [
            prediction_log.error_entry(
                model_id=loaded.model_id, model_version_id=loaded.version_id, logged_at=logged_at
            )
            for _ in range(len(records) - len(answers))
        ]
        try:
            prediction_log.log_predictions(entries)
        except prediction_log.SpoolFull as exc:
            raise ServiceUnavailable(str(exc)) from exc
        except OSError as exc:  # a full or read-only disk: nothing was logged, so nothing served
            raise ServiceUnavailable(
                f"The prediction log cannot be written ({exc.strerror}); retry shortly."
            ) from exc
        if failure:
            raise ScoringFailed({"non_field_errors": [failure]})
        if not answers:
            if single:
                raise exceptions.ValidationError({"inputs": checked.refused[0]})
            # A Response, not a ValidationError, which would turn the indexes into text.
            return Response(
                {"records": refused_list(checked.refused, records)},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if single:
            response = Response(
                {"model": loaded.model_id, "model_version": loaded.version, **answers[0]}
            )
            response["X-Request-ID"] = answers[0]["request_id"]
            return response
        return Response(
            {
                "model": loaded.model_id,
                "model_version": loaded.version,
                "predictions": answers,
                "refused": refused_list(checked.refused, records),
            }
        )

    @staticmethod
    def _answers(
        loaded: model_cache.LoadedModel,
        checked: serving.CheckedRecords,
        scores: serving.Scores | None,
        logged_at: Any,
        latency_ms: float,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        if scores is None:
            return [], []
        answers = []
        entries = []
        for row, (position, record) in enumerate(zip(checked.positions, checked.good, strict=True)):
            request_id = uuid.uuid4()
            probabilities = scores.probabilities[row] if scores.probabilities else None
            confidence = scores.confidence[row] if scores.confidence else None
            answers.append(
                {
                    "index": position,
                    "request_id": str(request_id),
                    "prediction": scores.predictions[row],
                    "probabilities": probabilities,
                    "confidence": confidence,
                }
            )
            entries.append(
                prediction_log.prediction_entry(
                    request_id=request_id,
                    model_id=loaded.model_id,
                    model_version_id=loaded.version_id,
                    logged_at=logged_at,
                    inputs=record,
                    prediction=scores.predictions[row],
                    probabilities=probabilities,
                    confidence=confidence,
                    latency_ms=latency_ms,
                )
            )
        return answers, entries


class PredictionIngestView(APIView):
    """Store predictions made elsewhere: `{"model": id, "records": [...]}`, at most
    PREDICTION_BATCH_LIMIT records, each with a client-chosen `request_id`. A UUID seen
    before is skipped (retries are safe); the answer counts the new ones and lists the
    refused records with their reasons, while the good ones are stored."""

    parser_classes = [LenientJSONParser]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(description="Refused.")},
        examples=[
            OpenApiExample(
                "A batch",
                value={
                    "model": 1,
                    "records": [
                        {
                            "request_id": "0b7c6f1e-2a52-4b1e-9a55-0d5f2b9f6a10",
                            "timestamp": "2026-11-26T14:03:00Z",
                            "inputs": {"amount": 12.5, "channel": "online"},
                            "prediction": 1,
                            "probabilities": {"0": 0.2, "1": 0.8},
                            "latency_ms": 4.1,
                        }
                    ],
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict) or "model" not in request.data:
            raise exceptions.ValidationError({"model": ["Name the model: its id."]})
        model = _model_or_404(request.data["model"])
        _require_role(request.user, model.project_id, Role.CONTRIBUTOR, "log its predictions")
        records, _ = records_of(
            request.data, single_key="records", limit=settings.PREDICTION_BATCH_LIMIT
        )
        versions = dict(ModelVersion.objects.filter(model=model).values_list("version", "pk"))
        default_version = request.data.get("model_version")
        if default_version is None:
            default_version = (
                ModelVersion.objects.filter(model=model, stage=Stage.PRODUCTION)
                .values_list("version", flat=True)
                .first()
            )
        elif isinstance(default_version, bool) or not isinstance(default_version, int):
            raise exceptions.ValidationError(
                {"model_version": ["A model version is a number, like 2."]}
            )
        elif default_version not in versions:
            raise exceptions.ValidationError(
                {"model_version": [f"Model '{model.name}' has no version {default_version}."]}
            )
        signatures = {
            pk: serving.features_of(signature)
            for pk, signature in ModelVersion.objects.filter(model=model).values_list(
                "pk", "signature"
            )
        }
        now = timezone.now()
        rows: list[dict[str, Any]] = []
        refused: dict[int, list[str]] = {}
        for index, record in enumerate(records):
            row, problems = _ingested_row(record, model, versions, default_version, signatures, now)
            if problems:
                refused[index] = problems
            else:
                assert row is not None
                rows.append(row)
        stored = prediction_store.store_predictions(rows) if rows else []
        body = {
            "received": len(records),
            "stored": len(stored),
            "duplicates": len(rows) - len(stored),
            "refused": refused_list(refused, records),
        }
        return Response(body, status=status.HTTP_200_OK if rows else status.HTTP_400_BAD_REQUEST)


def _model_or_404(value: Any) -> RegisteredModel:
    if isinstance(value, bool) or not isinstance(value, int):
        raise exceptions.ValidationError({"model": ["A model is named by its id (a number)."]})
    model = RegisteredModel.objects.filter(pk=value).first()
    if model is None:
        raise exceptions.NotFound({"model": [f"There is no model with id {value}."]})
    return model


def _ingested_row(
    record: Any,
    model: RegisteredModel,
    versions: dict[int, int],
    default_version: int | None,
    signatures: dict[int, list[serving.Feature]],
    now: Any,
) -> tuple[dict[str, Any] | None, list[str]]:
    if not isinstance(record, dict):
        return None, ["A record is a JSON object."]
    problems: list[str] = []
    try:
        request_id = uuid.UUID(str(record.get("request_id")))
    except ValueError:
        problems.append("'request_id' must be a UUID.")
        request_id = None
    number = record.get("model_version", default_version)
    version_id = None
    if isinstance(number, bool) or not isinstance(number, int | None):
        problems.append("'model_version' must be a version number, like 2.")
    elif number is None:
        problems.append(
            f"Model '{model.name}' has no version in production: name the 'model_version'."
        )
    elif (version_id := versions.get(number)) is None:
        problems.append(f"Model '{model.name}' has no version {number}.")
    inputs = record.get("inputs")
    if not isinstance(inputs, dict):
        problems.append("'inputs' must be an object of feature values.")
    elif version_id is not None and signatures[version_id]:
        # Without a signature there is nothing to check the inputs against.
        problems += serving.check_record(inputs, signatures[version_id])
    problem = serving.check_output(record.get("prediction"), model.task, "prediction")
    if problem:
        problems.append(problem)
    probabilities = record.get("probabilities")
    if probabilities is not None and (problem := serving.check_probabilities(probabilities)):
        problems.append(problem)
    confidence = record.get("confidence")
    if confidence is None and isinstance(probabilities, dict) and not problems:
        confidence = max(probabilities.values())
    elif confidence is not None and (problem := serving.check_fraction(confidence, "confidence")):
        problems.append(problem)
    latency = record.get("latency_ms")
    if latency is not None and (
        problem := serving.check_fraction(latency, "latency_ms", upper=None)
    ):
        problems.append(problem)
    logged_at = now
    if record.get("timestamp") is not None:
        parsed, problem = serving.parse_timestamp(record["timestamp"], now)
        if problem:
            problems.append(problem)
        logged_at = parsed or now
    label = record.get("label")
    if label is not None and (problem := serving.check_output(label, model.task, "label")):
        problems.append(problem)
    if problems:
        return None, problems
    return {
        "request_id": request_id,
        "model_id": model.pk,
        "model_version_id": version_id,
        "logged_at": logged_at,
        "source": "ingested",
        "inputs": inputs,
        "prediction": record["prediction"],
        "probabilities": probabilities,
        "confidence": confidence,
        "latency_ms": latency,
        "label": label,
        "labelled_at": now if label is not None else None,
    }, []


class FeedbackView(APIView):
    """Ground truth for logged predictions: `{"records": [{"request_id", "label"}]}` (or
    one `{"request_id", "label"}`), at most PREDICTION_BATCH_LIMIT. A UUID with no logged
    prediction is refused by name; sending a label again is harmless, a new one replaces it."""

    parser_classes = [LenientJSONParser]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiResponse(description="Refused records."),
            404: OpenApiResponse(description="None of the UUIDs has a logged prediction."),
        },
        examples=[
            OpenApiExample(
                "Labels",
                value={
                    "records": [{"request_id": "0b7c6f1e-2a52-4b1e-9a55-0d5f2b9f6a10", "label": 1}]
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = request.data
        if isinstance(data, dict) and "records" not in data and "request_id" in data:
            data = {"records": [data]}
        records, _ = records_of(data, single_key="records", limit=settings.PREDICTION_BATCH_LIMIT)
        refused: dict[int, list[str]] = {}
        wanted: list[dict[str, Any]] = []
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                refused[index] = ["A record is a JSON object with 'request_id' and 'label'."]
                continue
            problems = []
            try:
                request_id = uuid.UUID(str(record.get("request_id")))
            except ValueError:
                problems.append("'request_id' must be a UUID.")
            if "label" not in record or record["label"] is None:
                problems.append("'label' is required: the true class or value.")
            if problems:
                refused[index] = problems
            else:
                wanted.append(
                    {"position": index, "request_id": request_id, "label": record["label"]}
                )
        result = prediction_store.record_feedback(
            wanted,
            may_label=lambda project_id: Project(pk=project_id).has_role(
                request.user, Role.CONTRIBUTOR
            ),
        )
        refused.update(result.refused)
        body = {
            "received": len(records),
            "labelled": result.labelled,
            "unchanged": result.unchanged,
            "refused": refused_list(refused, records),
        }
        if result.labelled or result.unchanged:
            return Response(body)
        first_reasons = [reasons[0] for reasons in refused.values()]
        if first_reasons and all(r.startswith("No prediction was logged") for r in first_reasons):
            return Response(body, status=status.HTTP_404_NOT_FOUND)
        if first_reasons and all(r.startswith("You need the contributor") for r in first_reasons):
            return Response(body, status=status.HTTP_403_FORBIDDEN)
        return Response(body, status=status.HTTP_400_BAD_REQUEST)


class PredictionSerializer(serializers.ModelSerializer):
    model_version = serializers.IntegerField(source="model_version.version")
    model_name = serializers.CharField(source="model.name")
    inputs = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = PredictionRecord
        fields = [
            "request_id",
            "model",
            "model_name",
            "model_version",
            "logged_at",
            "source",
            "inputs",
            "prediction",
            "probabilities",
            "confidence",
            "latency_ms",
            "label",
            "labelled_at",
            "url",
        ]

    def get_inputs(self, obj: PredictionRecord) -> dict[str, Any] | None:
        """The inputs the caller may read, as on the prediction page: null when the
        training data is PII or confidential and the caller is not a member, without the
        dataset's PII columns otherwise."""
        hidden = hidden_inputs(self.context["request"].user, obj.model_version)
        if hidden is None:
            return None
        return {name: value for name, value in (obj.inputs or {}).items() if name not in hidden}

    def get_url(self, obj: PredictionRecord) -> str:
        return self.context["request"].build_absolute_uri(obj.get_absolute_url())


class PredictionDetailView(APIView):
    """One logged prediction by its request UUID."""

    @extend_schema(responses=PredictionSerializer)
    def get(self, request: Request, request_id: uuid.UUID) -> Response:
        record = (
            PredictionRecord.objects.select_related(
                "model__project",
                "model_version__model__project",
                "model_version__training_dataset_version__dataset",
            )
            .filter(request_id=request_id)
            .first()
        )
        if record is None:
            raise exceptions.NotFound(f"No prediction was logged with request_id {request_id}.")
        return Response(PredictionSerializer(record, context={"request": request}).data)
