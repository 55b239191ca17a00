"""Catalog operations that span several objects: creating versions from uploads, registering
model versions, starting jobs. Views, serializers and commands call these, so the UI and the
API follow the same rules and leave nothing half-made."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files import File
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from lineage import artifacts, capture, profiling
from lineage.choices import DataFormat, JobType, ProfileStatus, Stage, VersionSource
from lineage.models import (
    Dataset,
    DatasetVersion,
    Job,
    ModelVersion,
    PipelineRun,
    Project,
    RegisteredModel,
)
from lineage.uris import UnsupportedURIError, dataset_identity


class CatalogError(ValueError):
    """Input the catalog refuses; `field` names the part of the request at fault."""

    def __init__(self, message: str, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class SpooledFile:
    """An upload copied to a local temporary file, with its hash and size."""

    path: Path
    sha256: str
    size: int


@contextmanager
def spool_upload(upload: IO[bytes], *, field: str) -> Iterator[SpooledFile]:
    """Copy an upload to a temporary file, hashing it and enforcing the size limit."""
    limit = settings.MAX_UPLOAD_BYTES
    digest = hashlib.sha256()
    size = 0
    handle, name = tempfile.mkstemp(prefix="upload-", dir=None)
    try:
        with os.fdopen(handle, "wb") as out:
            chunks = (
                upload.chunks()
                if hasattr(upload, "chunks")
                else iter(lambda: upload.read(1 << 20), b"")
            )
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise CatalogError(
                        f"The file is larger than the upload limit of {filesizeformat(limit)}.",
                        field,
                    )
                digest.update(chunk)
                out.write(chunk)
        yield SpooledFile(Path(name), digest.hexdigest(), size)
    finally:
        Path(name).unlink(missing_ok=True)


def _store_and_create(instance: Any, file_field: str, spooled: SpooledFile, after_save: Any) -> Any:
    """Save the file and the row together: if the row cannot be written, delete the file."""
    stored_name = None
    try:
        with transaction.atomic():
            field_file = getattr(instance, file_field)
            with spooled.path.open("rb") as handle:
                field_file.save("upload", File(handle), save=False)
            stored_name = field_file.name
            instance.save()
            after_save(instance)
    except BaseException:
        if stored_name:
            getattr(instance, file_field).storage.delete(stored_name)
        raise
    return instance


def create_dataset_version_from_upload(
    dataset: Dataset,
    upload: Any,
    *,
    user: Any,
    source: str = VersionSource.UPLOAD,
    description: str = "",
) -> DatasetVersion:
    """Validate an uploaded CSV or Parquet file, store it as the dataset's next version and
    queue its profiling.

    Steps: check the extension; spool to disk while hashing and checking the size; read the
    whole table (so a malformed row anywhere is refused now, not in a worker); then store
    the file and create the row in one transaction; profiling starts after commit.
    """
    if dataset.is_external:
        raise CatalogError(
            "This dataset references external data; add versions as URIs, not files.", "file"
        )
    filename = os.path.basename(getattr(upload, "name", "") or "")
    try:
        file_format = profiling.detect_format(filename)
    except profiling.DataFileError as exc:
        raise CatalogError(str(exc), "file") from exc
    with spool_upload(upload, field="file") as spooled:
        if spooled.size == 0:
            raise CatalogError("The file is empty.", "file")
        try:
            table = profiling.read_table(spooled.path, file_format)
        except profiling.DataFileError as exc:
            raise CatalogError(str(exc), "file") from exc
        schema = profiling.table_schema(table)
        row_count = table.num_rows
        del table
        with transaction.atomic():
            locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
            version = DatasetVersion(
                dataset=locked,
                version=locked.next_version_number(),
                format=file_format,
                original_filename=filename[:255],
                sha256=spooled.sha256,
                size_bytes=spooled.size,
                row_count=row_count,
                schema=schema,
                profile_status=ProfileStatus.PENDING,
                source=source,
                description=description,
                created_by=user if getattr(user, "is_authenticated", False) else None,
            )
            _store_and_create(version, "file", spooled, lambda saved: _after_upload(saved, user))
            Dataset.objects.filter(pk=dataset.pk).update(updated_at=version.created_at)
    return version


def _after_upload(version: DatasetVersion, user: Any) -> None:
    capture.capture_dataset_version(version)
    enqueue_profiling(version, user)


def create_external_dataset_version(
    dataset: Dataset,
    uri: str,
    *,
    user: Any,
    source: str = VersionSource.API,
    description: str = "",
    schema: list[dict[str, str]] | None = None,
    row_count: int | None = None,
) -> DatasetVersion:
    """Record a version of data that lives elsewhere (nothing is fetched or profiled)."""
    try:
        namespace, name = dataset_identity(uri)
    except UnsupportedURIError as exc:
        raise CatalogError(str(exc), "external_uri") from exc
    with transaction.atomic():
        locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
        if not locked.source_name:
            clash = Dataset.objects.filter(namespace=namespace, source_name=name).exclude(
                pk=locked.pk
            )
            if clash.exists():
                raise CatalogError(
                    f"{namespace}/{name} is already registered as another dataset.",
                    "external_uri",
                )
            if not locked.versions.exists():
                locked.namespace, locked.source_name = namespace, name
                locked.save(update_fields=["namespace", "source_name", "updated_at"])
        version = DatasetVersion.objects.create(
            dataset=locked,
            version=locked.next_version_number(),
            external_uri=uri.strip(),
            format=DataFormat.EXTERNAL,
            schema=schema or [],
            row_count=row_count,
            profile_status=ProfileStatus.NOT_APPLICABLE,
            source=source,
            description=description,
            created_by=user if getattr(user, "is_authenticated", False) else None,
        )
        capture.capture_dataset_version(version)
    return version


def enqueue_profiling(version: DatasetVersion, user: Any) -> Job:
    """Create the profiling job and hand it to a worker once the transaction commits."""
    from lineage.tasks import dispatch

    job = Job.objects.create(
        job_type=JobType.PROFILE_DATASET_VERSION,
        project_id=version.dataset.project_id,
        target_type=ContentType.objects.get_for_model(DatasetVersion),
        target_id=version.pk,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    transaction.on_commit(lambda: dispatch(job.pk))
    return job


def reprofile(version: DatasetVersion, user: Any) -> Job:
    """Profile a stored version again, with a new job."""
    with transaction.atomic():
        DatasetVersion.objects.filter(pk=version.pk).update(
            profile_status=ProfileStatus.PENDING, profile_error=""
        )
        return enqueue_profiling(version, user)


def retry_job(job: Job) -> bool:
    """Queue a failed job again (the retry button)."""
    from lineage.tasks import RETRY_HOOKS, dispatch

    if not job.requeue():
        return False
    hook = RETRY_HOOKS.get(job.job_type)
    if hook is not None:
        hook(job)
    transaction.on_commit(lambda: dispatch(job.pk))
    return True


def mark_profiling_pending(job: Job) -> None:
    DatasetVersion.objects.filter(pk=job.target_id).update(
        profile_status=ProfileStatus.PENDING, profile_error=""
    )


def read_version_table(version: DatasetVersion) -> Any:
    """The table of a stored version (a pyarrow Table), or a DataFileError saying why it
    cannot be read: destroyed, kept elsewhere, or its file gone. Profiling, quality runs
    and drift analyses all read through here."""
    if version.destroyed_at:
        raise profiling.DataFileError(
            f"The data of {version} was destroyed on {version.destroyed_at:%Y-%m-%d}: "
            "there is nothing left to read."
        )
    if not version.file:
        raise profiling.DataFileError(f"{version} has no stored file: its data lives elsewhere.")
    try:
        with version.file.open("rb") as handle:
            return profiling.read_table(handle, version.format)
    except FileNotFoundError:
        raise profiling.DataFileError("The stored file is missing.") from None


def profile_dataset_version(job: Job) -> None:
    """Read a stored version and save its profile, moving the job's progress bar."""
    version = DatasetVersion.objects.select_related("dataset").get(pk=job.target_id)
    job.set_progress(5)
    table = read_version_table(version)
    job.set_progress(30)
    profile = profiling.profile_table(
        table, progress=lambda fraction: job.set_progress(30 + 65 * fraction)
    )
    version.profile = profile
    version.profile_status = ProfileStatus.SUCCEEDED
    version.profile_error = ""
    version.save(update_fields=["profile", "profile_status", "profile_error"])


def mark_profiling_failed(job: Job, error: str) -> None:
    DatasetVersion.objects.filter(pk=job.target_id).update(
        profile_status=ProfileStatus.FAILED, profile_error=error
    )


def _resolve_dataset_version(project: Project, value: Any, field: str) -> DatasetVersion | None:
    if value in (None, ""):
        return None
    if isinstance(value, DatasetVersion):
        candidate: DatasetVersion | None = value
        if candidate.dataset.project_id != project.pk:
            candidate = None
    else:
        try:
            pk = int(value)
        except (TypeError, ValueError):
            raise CatalogError(f"'{value}' is not a dataset version id.", field) from None
        candidate = (
            DatasetVersion.objects.select_related("dataset")
            .filter(pk=pk, dataset__project=project)
            .first()
        )
    if candidate is None:
        # Another project's version reads as missing too: its id says nothing.
        raise CatalogError(f"Dataset version {value} does not exist in this project.", field)
    return candidate


def _derive_signature(
    info: artifacts.ArtifactInfo, training: DatasetVersion | None, target_column: str
) -> list[dict[str, str]]:
    """Feature names and types: the estimator's own names, typed from the training schema."""
    training_types = (
        {column["name"]: column["type"] for column in training.schema} if training else {}
    )
    if info.feature_names:
        return [{"name": n, "type": training_types.get(n, "unknown")} for n in info.feature_names]
    if training is not None:
        return [
            {"name": column["name"], "type": column["type"]}
            for column in training.schema
            if column["name"] != target_column
        ]
    if info.n_features:
        return [{"name": f"x{index}", "type": "float"} for index in range(info.n_features)]
    return []


def register_model_version(
    model: RegisteredModel, artifact_upload: Any, metadata: dict[str, Any], *, user: Any
) -> ModelVersion:
    """Check an uploaded skops artifact and its metadata, then store the model's next version.

    `metadata` is already shaped (see ModelVersionMetadataSerializer); this checks what needs
    the database and the artifact: the dataset versions exist in the project, the estimator
    loads without untrusted types and fits the model's task.
    """
    project = model.project
    training = _resolve_dataset_version(
        project, metadata.get("training_dataset_version"), "training_dataset_version"
    )
    evaluation = _resolve_dataset_version(
        project, metadata.get("evaluation_dataset_version"), "evaluation_dataset_version"
    )
    run = None
    if metadata.get("pipeline_run_id"):
        run = PipelineRun.objects.filter(run_id=metadata["pipeline_run_id"]).first()
        if run is None:
            raise CatalogError(
                f"No pipeline run {metadata['pipeline_run_id']} has been reported; send its "
                "OpenLineage START event first.",
                "pipeline_run_id",
            )
    target_column = metadata.get("target_column") or ""
    if (
        training is not None
        and target_column
        and training.schema
        and (target_column not in training.column_names)
    ):
        raise CatalogError(f"The training data has no column '{target_column}'.", "target_column")
    with spool_upload(artifact_upload, field="artifact") as spooled:
        if spooled.size == 0:
            raise CatalogError("The artifact file is empty.", "artifact")
        try:
            info = artifacts.inspect_artifact(
                spooled.path, extra_trusted=settings.MODEL_TRUSTED_TYPES
            )
        except artifacts.ArtifactError as exc:
            raise CatalogError(str(exc), "artifact") from exc
        if info.task and info.task != model.task:
            raise CatalogError(
                f"The artifact is a {info.task} estimator ({info.estimator_class}) but "
                f"'{model.name}' is a {model.task} model.",
                "artifact",
            )
        signature = metadata.get("signature") or _derive_signature(info, training, target_column)
        hyperparameters = metadata.get("hyperparameters") or info.hyperparameters
        with transaction.atomic():
            locked = RegisteredModel.objects.select_for_update().get(pk=model.pk)
            version = ModelVersion(
                model=locked,
                version=locked.next_version_number(),
                description=metadata.get("description", ""),
                artifact_sha256=spooled.sha256,
                artifact_size=spooled.size,
                estimator_class=info.estimator_class,
                framework=info.framework,
                framework_version=metadata.get("framework_version") or info.framework_version,
                hyperparameters=hyperparameters,
                metrics=metadata.get("metrics") or {},
                training_dataset_version=training,
                evaluation_dataset_version=evaluation,
                code_repository=metadata.get("code_repository", ""),
                code_commit=metadata.get("code_commit", ""),
                python_version=metadata.get("python_version", ""),
                packages=metadata.get("packages") or {},
                signature=signature,
                target_column=target_column,
                produced_by_run=run,
                stage=Stage.NONE,
                created_by=user if getattr(user, "is_authenticated", False) else None,
            )
            _store_and_create(version, "artifact", spooled, capture.capture_model_version)
            RegisteredModel.objects.filter(pk=model.pk).update(updated_at=version.created_at)
    return version
