"""OpenLineage ingestion: the RunEvents that Airflow, Spark, dbt and Flink emit become jobs,
runs, datasets, dataset versions and lineage edges.

`parse_event` checks an event's shape in plain Python and names each field at fault;
`ingest_event` writes what the event says, in one transaction. Events may arrive out of
order and more than once: what is stored depends only on the set of events received.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.text import slugify

from lineage import capture
from lineage.choices import (
    DataFormat,
    EdgeKind,
    NodeKind,
    ProfileStatus,
    Role,
    RunState,
    VersionSource,
)
from lineage.models import (
    Dataset,
    DatasetVersion,
    LineageEdge,
    LineageEvent,
    Membership,
    PipelineJob,
    PipelineRun,
    Project,
)
from lineage.permissions import can_contribute, can_see_dataset
from lineage.uris import UnsupportedURIError, dataset_identity

# In the order the OpenLineage spec lists them.
EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
TERMINAL_STATES = frozenset({RunState.COMPLETE, RunState.FAIL, RunState.ABORT})
# Events are ordered by time, then by how far along the run they say it is (a COMPLETE
# and a START sent in the same millisecond leave the run complete), then by digest, so any
# two distinct events compare the same way whatever order they arrive in.
TYPE_RANK = {
    RunState.OTHER: 0,
    RunState.START: 1,
    RunState.RUNNING: 2,
    RunState.COMPLETE: 3,
    RunState.ABORT: 4,
    RunState.FAIL: 5,
}
# The lengths of the columns the names are stored in.
MAX_NAMESPACE_LENGTH = 500
MAX_NAME_LENGTH = 1000
MAX_DATASET_LABEL_LENGTH = 200
MAX_URI_LENGTH = 2000
# PostgreSQL refuses NUL characters and lone surrogates in JSON text.
_UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")


class EventError(ValueError):
    """An event the portal refuses; `errors` maps each field at fault to what is wrong."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in errors.items()))
        self.errors = errors


class IngestForbidden(PermissionError):
    """The caller may not write lineage into the project the event would change."""


@dataclass(frozen=True)
class ParsedDataset:
    """An input or output dataset of an event, named the OpenLineage way."""

    namespace: str
    name: str
    facets: dict[str, Any]
    # inputFacets or outputFacets: what this run did with the dataset (row counts, sizes…).
    io_facets: dict[str, Any]
    schema: list[dict[str, str]]

    @property
    def version_facets(self) -> dict[str, Any]:
        return {**self.io_facets, **self.facets}


@dataclass(frozen=True)
class ParsedEvent:
    """A checked OpenLineage RunEvent, with the digest that recognises it when re-sent."""

    event_type: str
    event_time: datetime
    run_id: uuid.UUID
    run_facets: dict[str, Any]
    job_namespace: str
    job_name: str
    job_facets: dict[str, Any]
    inputs: list[ParsedDataset]
    outputs: list[ParsedDataset]
    payload: dict[str, Any]
    digest: str


@dataclass(frozen=True)
class IngestResult:
    """What happened to an event: `accepted`, or `duplicate` when it had been received."""

    status: str
    job_id: int
    run_pk: int
    run_id: uuid.UUID
    event_id: int
    dataset_ids: list[int] = field(default_factory=list)
    dataset_version_ids: list[int] = field(default_factory=list)


# Parsing -----------------------------------------------------------------------------------


class _Errors(dict[str, list[str]]):
    def add(self, name: str, message: str) -> None:
        self.setdefault(name, []).append(message)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _mapping(
    container: dict[str, Any], key: str, path: str, errors: _Errors, *, required: bool
) -> dict[str, Any] | None:
    value = container.get(key)
    if value is None:
        if required:
            errors.add(path, "Required.")
        return None
    if not isinstance(value, dict):
        errors.add(path, f"Expected an object, not {_json_type(value)}.")
        return None
    return value


def _text(
    container: dict[str, Any], key: str, path: str, errors: _Errors, *, max_length: int
) -> str:
    value = container.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.add(path, "Required.")
        return ""
    if not isinstance(value, str):
        errors.add(path, f"Expected a string, not {_json_type(value)}.")
        return ""
    if len(value) > max_length:
        errors.add(path, f"At most {max_length} characters (this has {len(value)}).")
        return ""
    return value


def _event_type(payload: dict[str, Any], errors: _Errors) -> str:
    value = payload.get("eventType")
    if value is None:
        # The spec lets some producers leave it out: such an event adds facets, no state.
        return RunState.OTHER
    if not isinstance(value, str):
        errors.add("eventType", f"Expected a string, not {_json_type(value)}.")
    elif value not in EVENT_TYPES:
        errors.add(
            "eventType",
            f"{value[:50]!r} is not an event type: expected one of {', '.join(EVENT_TYPES)}.",
        )
    else:
        return value
    return RunState.OTHER


def parse_event_time(value: str) -> datetime | None:
    """An ISO 8601 date-time (a time zone-less one is read as UTC), or None."""
    has_time = "t" in value.lower() or " " in value.strip()
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if not has_time:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _event_time(payload: dict[str, Any], errors: _Errors) -> datetime | None:
    value = payload.get("eventTime")
    if value is None:
        errors.add("eventTime", "Required.")
        return None
    if not isinstance(value, str):
        errors.add("eventTime", f"Expected a string, not {_json_type(value)}.")
        return None
    moment = parse_event_time(value)
    if moment is None:
        errors.add("eventTime", f"Not an ISO 8601 date-time: {value[:100]!r}.")
    return moment


def _run_id(run: dict[str, Any], errors: _Errors) -> uuid.UUID | None:
    value = run.get("runId")
    if value is None:
        errors.add("run.runId", "Required.")
        return None
    if not isinstance(value, str):
        errors.add("run.runId", f"Expected a string, not {_json_type(value)}.")
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        errors.add("run.runId", f"Not a UUID: {value[:100]!r}.")
        return None


def _facets(
    container: dict[str, Any] | None, key: str, path: str, errors: _Errors
) -> dict[str, Any]:
    """A facets object, kept whole: facets the portal does not know are stored as sent."""
    if container is None:
        return {}
    facets = _mapping(container, key, path, errors, required=False) or {}
    for name, facet in facets.items():
        if facet is not None and not isinstance(facet, dict):
            errors.add(f"{path}.{name}", f"Expected an object, not {_json_type(facet)}.")
    return facets


def _schema(facets: dict[str, Any], path: str, errors: _Errors) -> list[dict[str, str]]:
    """Columns from the `schema` facet: each field's name and type."""
    schema_facet = facets.get("schema")
    if not isinstance(schema_facet, dict):
        return []
    fields = schema_facet.get("fields")
    if fields is None:
        return []
    if not isinstance(fields, list):
        errors.add(f"{path}.schema.fields", f"Expected an array, not {_json_type(fields)}.")
        return []
    columns = []
    for index, column in enumerate(fields):
        column_path = f"{path}.schema.fields[{index}]"
        if not isinstance(column, dict):
            errors.add(column_path, f"Expected an object, not {_json_type(column)}.")
            continue
        name = _text(column, "name", f"{column_path}.name", errors, max_length=MAX_NAME_LENGTH)
        column_type = column.get("type")
        if column_type is not None and not isinstance(column_type, str):
            errors.add(f"{column_path}.type", f"Expected a string, not {_json_type(column_type)}.")
        columns.append({"name": name, "type": column_type or "unknown"})
    return columns


def _datasets(
    payload: dict[str, Any], key: str, io_key: str, errors: _Errors
) -> list[ParsedDataset]:
    items = payload.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        errors.add(key, f"Expected an array, not {_json_type(items)}.")
        return []
    datasets = []
    for index, item in enumerate(items):
        path = f"{key}[{index}]"
        if not isinstance(item, dict):
            errors.add(path, f"Expected an object, not {_json_type(item)}.")
            continue
        facets = _facets(item, "facets", f"{path}.facets", errors)
        datasets.append(
            ParsedDataset(
                namespace=_text(
                    item, "namespace", f"{path}.namespace", errors, max_length=MAX_NAMESPACE_LENGTH
                ),
                name=_text(item, "name", f"{path}.name", errors, max_length=MAX_NAME_LENGTH),
                facets=facets,
                io_facets=_facets(item, io_key, f"{path}.{io_key}", errors),
                schema=_schema(facets, f"{path}.facets", errors),
            )
        )
    return datasets


def _unstorable_text_at(value: Any, path: str = "") -> str | None:
    """The path of the first string (or key) that no database can store, if any."""
    stack = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, str):
            if _UNSTORABLE_TEXT.search(current):
                return where or "non_field_errors"
        elif isinstance(current, dict):
            for key, item in current.items():
                child = f"{where}.{key}" if where else str(key)
                if _UNSTORABLE_TEXT.search(str(key)):
                    return child
                stack.append((item, child))
        elif isinstance(current, list):
            stack.extend((item, f"{where}[{index}]") for index, item in enumerate(current))
    return None


def event_digest(payload: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces): the same event sent twice,
    whatever its key order, has the same digest."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def parse_event(payload: Any) -> ParsedEvent:
    """Check an OpenLineage RunEvent and return its parts; EventError names every field at
    fault. `producer` and `schemaURL` are kept as given."""
    if not isinstance(payload, dict):
        message = f"Expected an OpenLineage RunEvent object, not {_json_type(payload)}."
        raise EventError({"non_field_errors": [message]})
    errors = _Errors()
    event_type = _event_type(payload, errors)
    event_time = _event_time(payload, errors)
    run = _mapping(payload, "run", "run", errors, required=True)
    run_id = _run_id(run, errors) if run is not None else None
    run_facets = _facets(run, "facets", "run.facets", errors)
    job = _mapping(payload, "job", "job", errors, required=True)
    job_namespace = job_name = ""
    if job is not None:
        job_namespace = _text(
            job, "namespace", "job.namespace", errors, max_length=MAX_NAMESPACE_LENGTH
        )
        job_name = _text(job, "name", "job.name", errors, max_length=MAX_NAME_LENGTH)
    job_facets = _facets(job, "facets", "job.facets", errors)
    inputs = _datasets(payload, "inputs", "inputFacets", errors)
    outputs = _datasets(payload, "outputs", "outputFacets", errors)
    if not errors and (where := _unstorable_text_at(payload)):
        errors.add(where, "Text cannot contain NUL characters or unpaired surrogates.")
    if errors or event_time is None or run_id is None:
        raise EventError(dict(errors))
    return ParsedEvent(
        event_type=event_type,
        event_time=event_time,
        run_id=run_id,
        run_facets=run_facets,
        job_namespace=job_namespace,
        job_name=job_name,
        job_facets=job_facets,
        inputs=inputs,
        outputs=outputs,
        payload=payload,
        digest=event_digest(payload),
    )


def external_uri_for(namespace: str, name: str) -> str:
    """The URI an OpenLineage (namespace, name) stands for (`s3://bucket` + `path/x` →
    `s3://bucket/path/x`), or "" when none names it back to the same pair."""
    candidates = (f"{namespace.rstrip('/')}/{name.lstrip('/')}", f"{namespace}://{name}")
    for candidate in candidates:
        try:
            identity = dataset_identity(candidate)
        except UnsupportedURIError:
            continue
        if identity == (namespace, name) and len(candidate) <= MAX_URI_LENGTH:
            return candidate
    return ""


def namespace_slug(namespace: str) -> str:
    """The slug of the project a job namespace's objects go to when no project is named."""
    return slugify(namespace)[:100].strip("-_") or "openlineage"


# Ingestion ---------------------------------------------------------------------------------


class _AlreadyReceived(Exception):
    """Raised inside the transaction when another request stored the same event first."""


def ingest_event(payload: Any, *, user: Any, project_slug: str | None = None) -> IngestResult:
    """Record an OpenLineage RunEvent.

    Steps: parse it (EventError names the fields at fault); find the project new objects
    go to and check the caller may contribute there (IngestForbidden); answer `duplicate`
    for an event already received; then, in one transaction: the job, the run (locked, so
    events of one run apply one at a time), the raw event, the run's state and facets, the
    job's facets, the datasets, the output versions and the edges.
    """
    event = parse_event(payload)
    project = _existing_project(event, project_slug)
    _authorize(user, event, project)
    receipt = _receipt(event.digest)
    if receipt is not None:
        return receipt
    try:
        with transaction.atomic():
            return _record(event, project, user)
    except _AlreadyReceived:
        receipt = _receipt(event.digest)
        if receipt is None:
            raise
        return receipt


def _existing_project(event: ParsedEvent, project_slug: str | None) -> Project | None:
    """The project named on the URL, else the job's, else the namespace's project; None
    when the namespace's project is still to be created."""
    if project_slug:
        project = Project.objects.filter(slug=project_slug).first()
        if project is None:
            raise EventError({"project": [f"No project has the slug {project_slug[:100]!r}."]})
        return project
    job = (
        PipelineJob.objects.select_related("project")
        .filter(namespace=event.job_namespace, name=event.job_name)
        .first()
    )
    if job is not None and job.project is not None:
        return job.project
    return Project.objects.filter(slug=namespace_slug(event.job_namespace)).first()


def _authorize(user: Any, event: ParsedEvent, project: Project | None) -> None:
    """The caller needs the contributor role where the event creates objects and in the
    project of the job it adds a run to."""
    job_project = Project.objects.filter(
        pipeline_jobs__namespace=event.job_namespace, pipeline_jobs__name=event.job_name
    ).first()
    for target in (project, job_project):
        if target is not None and not can_contribute(user, target):
            raise IngestForbidden(
                f"You need the contributor role in project '{target.slug}' to report lineage there."
            )


def _receipt(digest: str) -> IngestResult | None:
    received = LineageEvent.objects.select_related("run").filter(digest=digest).first()
    if received is None:
        return None
    return IngestResult(
        status="duplicate",
        job_id=received.run.job_id,
        run_pk=received.run.pk,
        run_id=received.run.run_id,
        event_id=received.pk,
    )


def _namespace_project(namespace: str, user: Any) -> Project:
    """The namespace's own project, created on first use with the caller as its admin."""
    project, created = Project.objects.get_or_create(
        slug=namespace_slug(namespace),
        defaults={
            "name": namespace[:200],
            "description": f"Lineage reported by pipelines of the namespace {namespace}.",
            "created_by": user,
        },
    )
    if created:
        Membership.objects.create(project=project, user=user, role=Role.ADMIN)
    elif not can_contribute(user, project):
        raise IngestForbidden(
            f"You need the contributor role in project '{project.slug}' to report lineage there."
        )
    return project


def _record(event: ParsedEvent, project: Project | None, user: Any) -> IngestResult:
    project = project or _namespace_project(event.job_namespace, user)
    job, _ = PipelineJob.objects.get_or_create(
        namespace=event.job_namespace, name=event.job_name, defaults={"project": project}
    )
    job = PipelineJob.objects.select_for_update().get(pk=job.pk)
    run, _ = PipelineRun.objects.get_or_create(
        run_id=event.run_id, defaults={"job": job, "state": RunState.OTHER}
    )
    if run.job_id != job.pk:
        other = PipelineJob.objects.get(pk=run.job_id)
        raise EventError(
            {"run.runId": [f"Run {event.run_id} belongs to the job {other}, not {job}."]}
        )
    run = PipelineRun.objects.select_for_update().select_related("job").get(pk=run.pk)
    try:
        with transaction.atomic():
            received = LineageEvent.objects.create(
                run=run,
                event_type=event.event_type,
                event_time=event.event_time,
                payload=event.payload,
                digest=event.digest,
                received_by=user,
            )
    except IntegrityError:
        raise _AlreadyReceived from None

    _apply_to_run(run, event)
    _apply_to_job(job, event)
    capture.link(job, run, EdgeKind.RAN_AS)

    # Every dataset first, in one order, so two events naming the same datasets never wait
    # on each other's half-created rows.
    named = sorted({(d.namespace, d.name) for d in [*event.inputs, *event.outputs]})
    datasets = {identity: _dataset_for(*identity, project=project) for identity in named}
    for parsed in event.outputs:
        # Writing a version into another project's dataset needs a role there; the
        # refusal rolls the whole event back and does not name data the caller can't see.
        target = datasets[parsed.namespace, parsed.name]
        if not can_contribute(user, target.project):
            shown = (
                f"{parsed.namespace}/{parsed.name}"
                if can_see_dataset(user, target)
                else ("an output dataset")
            )
            raise IngestForbidden(
                f"{shown} belongs to a project where you cannot add versions (contributor "
                "role needed)."
            )
    for parsed in event.inputs:
        _link_input(datasets[parsed.namespace, parsed.name], run)
    versions = [
        _output_version(datasets[parsed.namespace, parsed.name], parsed, run, user)
        for parsed in sorted(event.outputs, key=lambda d: (d.namespace, d.name))
    ]
    # Matching is global, but the answer names only what the caller may see: a PII
    # dataset of another project stays unseen, even by id.
    visible = {dataset.pk for dataset in datasets.values() if can_see_dataset(user, dataset)}
    return IngestResult(
        status="accepted",
        job_id=job.pk,
        run_pk=run.pk,
        run_id=run.run_id,
        event_id=received.pk,
        dataset_ids=sorted(visible),
        dataset_version_ids=sorted({v.pk for v in versions if v.dataset_id in visible}),
    )


def _newer_than(event: ParsedEvent) -> Q:
    """Stored events that come after `event` in the order every event is compared by."""
    rank = TYPE_RANK[RunState(event.event_type)]
    later_types = [name for name, other in TYPE_RANK.items() if other > rank]
    return (
        Q(event_time__gt=event.event_time)
        | Q(event_time=event.event_time, event_type__in=later_types)
        | Q(event_time=event.event_time, event_type=event.event_type, digest__gt=event.digest)
    )


def _merge_facets(
    current: dict[str, Any], incoming: dict[str, Any], newer: QuerySet[LineageEvent], path: str
) -> dict[str, Any]:
    """Facets with those of a new event merged in: each facet keeps the value of the latest
    event that reported it, so the result does not depend on arrival order."""
    if not incoming:
        return current
    merged = dict(current)
    has_newer = newer.exists()
    for name, value in incoming.items():
        if (
            name in merged
            and has_newer
            and newer.filter(**{f"payload__{path}__has_key": name}).exists()
        ):
            continue
        merged[name] = value
    return merged


def _apply_to_run(run: PipelineRun, event: ParsedEvent) -> None:
    """The run's state is that of its latest event (OTHER events carry none); START sets
    when it started, the latest COMPLETE, FAIL or ABORT when it ended."""
    newer = run.events.filter(_newer_than(event))
    if event.event_type != RunState.OTHER and not (
        newer.exclude(event_type=RunState.OTHER).exists()
    ):
        run.state = event.event_type
    if run.last_event_time is None or event.event_time > run.last_event_time:
        run.last_event_time = event.event_time
    if event.event_type == RunState.START and (
        run.started_at is None or event.event_time < run.started_at
    ):
        run.started_at = event.event_time
    if event.event_type in TERMINAL_STATES and (
        run.ended_at is None or event.event_time > run.ended_at
    ):
        run.ended_at = event.event_time
    run.facets = _merge_facets(run.facets, event.run_facets, newer, "run__facets")
    run.save(update_fields=["state", "last_event_time", "started_at", "ended_at", "facets"])


def _apply_to_job(job: PipelineJob, event: ParsedEvent) -> None:
    newer = LineageEvent.objects.filter(run__job=job).filter(_newer_than(event))
    facets = _merge_facets(job.facets, event.job_facets, newer, "job__facets")
    if facets != job.facets:
        job.facets = facets
        job.save(update_fields=["facets", "updated_at"])


def _dataset_label(project: Project, namespace: str, name: str) -> str:
    """A catalog name for a new external dataset that no other dataset of the project has:
    its OpenLineage name, else with its namespace, else numbered (long names keep their end)."""

    def fit(text: str) -> str:
        limit = MAX_DATASET_LABEL_LENGTH
        return text if len(text) <= limit else "…" + text[-(limit - 1) :]

    candidates = [fit(name), fit(f"{name} ({namespace})")]
    candidates += [fit(f"{name} ({namespace}) {number}") for number in range(2, 20)]
    taken = set(
        Dataset.objects.filter(project=project, name__in=candidates).values_list("name", flat=True)
    )
    for candidate in candidates:
        if candidate not in taken:
            return candidate
    return fit(f"{name} {uuid.uuid4().hex[:8]}")


def _dataset_for(namespace: str, name: str, *, project: Project) -> Dataset:
    """The catalog dataset with this namespace and name, in any project; else a new
    external dataset in `project`."""
    for _attempt in range(3):
        found = Dataset.objects.filter(namespace=namespace, source_name=name).first()
        if found is not None:
            return found
        try:
            with transaction.atomic():
                return Dataset.objects.create(
                    project=project,
                    name=_dataset_label(project, namespace, name),
                    namespace=namespace,
                    source_name=name,
                )
        except IntegrityError:
            continue  # created meanwhile by another event, or its label was just taken
    raise IntegrityError(f"Could not record the dataset {namespace}/{name}.")


def _link_input(dataset: Dataset, run: PipelineRun) -> None:
    """Link what the run read: the dataset's latest version not written by the run itself,
    or the dataset when it has none. A run keeps the first one it was linked to, so its
    later events do not add versions that other runs wrote meanwhile."""
    run_node = capture.node_for(run)
    already = LineageEdge.objects.filter(target=run_node, kind=EdgeKind.CONSUMED).filter(
        Q(source__kind=NodeKind.DATASET, source__object_id=dataset.pk)
        | Q(
            source__kind=NodeKind.DATASET_VERSION,
            source__object_id__in=dataset.versions.values("pk"),
        )
    )
    if already.exists():
        return
    version = dataset.versions.exclude(produced_by_run=run).order_by("-version").first()
    capture.link(version or dataset, run, EdgeKind.CONSUMED)


def _output_version(
    dataset: Dataset, parsed: ParsedDataset, run: PipelineRun, user: Any
) -> DatasetVersion:
    """The version of `dataset` the run produced: created by the first event that names it,
    completed by later ones (schema, facets not seen before)."""
    version = DatasetVersion.objects.filter(dataset=dataset, produced_by_run=run).first()
    if version is not None:
        version.merge_pipeline_report(parsed.schema, parsed.version_facets)
    else:
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        version = DatasetVersion.objects.create(
            dataset=locked,
            version=locked.next_version_number(),
            external_uri=external_uri_for(parsed.namespace, parsed.name),
            format=DataFormat.EXTERNAL,
            schema=parsed.schema,
            facets=parsed.version_facets,
            profile_status=ProfileStatus.NOT_APPLICABLE,
            source=VersionSource.PIPELINE,
            produced_by_run=run,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        Dataset.objects.filter(pk=dataset.pk).update(updated_at=version.created_at)
    capture.link(run, version, EdgeKind.PRODUCED)
    capture.capture_dataset_version(version)
    return version
