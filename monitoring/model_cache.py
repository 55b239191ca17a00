"""Model versions loaded for serving: each artifact is read with skops once per process and
kept (versions are immutable), while which version is in production is asked of the
database on every request, so promoting a version takes effect without a restart."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection

from lineage import artifacts
from lineage.choices import Role, Stage
from lineage.models import Membership, ModelVersion, RegisteredModel
from monitoring.serving import Feature, array_of, features_of, frame_of, takes_arrays


class ServingError(Exception):
    """A request the portal cannot serve; `status` is the HTTP answer."""

    def __init__(self, message: str, status: int = 400, field: str = "non_field_errors") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.field = field


@dataclass(frozen=True)
class LoadedModel:
    version_id: int
    version: int
    model_id: int
    project_id: int
    task: str
    features: list[Feature]
    estimator: Any
    # Scored from a float array rather than a frame (see serving.takes_arrays).
    takes_arrays: bool = False

    def inputs(self, records: Sequence[Mapping[str, Any]]) -> Any:
        """Checked records in the form the model scores fastest."""
        if self.takes_arrays:
            return array_of(records, self.features)
        return frame_of(records, self.features)


_loaded: OrderedDict[int, LoadedModel] = OrderedDict()
_cache_lock = threading.Lock()
_load_locks: dict[int, threading.Lock] = {}


_answers: dict[tuple[int, int | None, int | None], tuple[float, tuple[int, int, str | None]]] = {}


def served_version(
    model_id: int, version: int | None = None, *, user: Any = None
) -> tuple[int, int, str | None]:
    """The version to score with (the production one, or `version` when given): its id,
    its project's id and `user`'s role there (None: not a member), in one query.

    The answer is kept `SERVING_VERSION_CACHE_SECONDS` (1 s): a client scoring hundreds of
    records a second costs the database one query a second, and a promotion or a role
    change takes effect within that second.
    """
    key = (model_id, version, getattr(user, "pk", None))
    now = time.monotonic()
    remembered = _answers.get(key)
    if remembered is not None and remembered[0] > now:
        return remembered[1]
    answer = _served_version(model_id, version, user)
    if settings.SERVING_VERSION_CACHE_SECONDS > 0:
        if len(_answers) > 10_000:
            _answers.clear()
        _answers[key] = (now + settings.SERVING_VERSION_CACHE_SECONDS, answer)
    return answer


def _served_version(model_id: int, version: int | None, user: Any) -> tuple[int, int, str | None]:
    # Plain SQL: on the request path of every prediction, where compiling the ORM's
    # query would cost more than running it.
    condition, value = (
        ("v.stage = %s", Stage.PRODUCTION) if version is None else ("v.version = %s", version)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT v.id, m.project_id, (SELECT r.role FROM {Membership._meta.db_table} r "
            "WHERE r.project_id = m.project_id AND r.user_id = %s) "
            f"FROM {ModelVersion._meta.db_table} v "
            f"JOIN {RegisteredModel._meta.db_table} m ON m.id = v.model_id "
            f"WHERE v.model_id = %s AND {condition} ORDER BY v.version DESC LIMIT 1",
            [getattr(user, "pk", None), model_id, value],
        )
        found = cursor.fetchone()
    if found is not None:
        version_id, project_id, member_role = found
        if getattr(user, "is_superuser", False):
            member_role = Role.ADMIN
        return version_id, project_id, member_role
    model = RegisteredModel.objects.filter(pk=model_id).values_list("name", flat=True).first()
    if model is None:
        raise ServingError(f"There is no model with id {model_id}.", status=404, field="model")
    if version is None:
        raise ServingError(
            f"Model '{model}' has no version in production: promote one, or score with "
            "/versions/<n>/predict.",
            status=409,
            field="model",
        )
    raise ServingError(
        f"Model '{model}' has no version {version}.", status=404, field="model_version"
    )


def loaded_model(version_id: int) -> LoadedModel:
    """The version's estimator, loaded once per process (the least recently used beyond
    `SERVING_CACHE_SIZE` is let go)."""
    with _cache_lock:
        found = _loaded.get(version_id)
        if found is not None:
            _loaded.move_to_end(version_id)
            return found
        load_lock = _load_locks.setdefault(version_id, threading.Lock())
    # One thread loads a version while the others wait for it, not for every version.
    with load_lock:
        with _cache_lock:
            found = _loaded.get(version_id)
        if found is None:
            found = _load(version_id)
            with _cache_lock:
                _loaded[version_id] = found
                while len(_loaded) > settings.SERVING_CACHE_SIZE:
                    _loaded.popitem(last=False)
    return found


def _load(version_id: int) -> LoadedModel:
    version = ModelVersion.objects.select_related("model").get(pk=version_id)
    features = features_of(version.signature or [])
    if not features:
        raise ServingError(
            f"{version} has no signature: register it with its input features to serve it.",
            status=409,
            field="model_version",
        )
    try:
        with version.artifact.open("rb") as handle:
            estimator = artifacts.load_estimator(handle, extra_trusted=settings.MODEL_TRUSTED_TYPES)
    except (artifacts.ArtifactError, OSError) as exc:
        raise ServingError(
            f"{version} cannot be loaded: {exc}", status=409, field="model_version"
        ) from exc
    return LoadedModel(
        version_id=version.pk,
        version=version.version,
        model_id=version.model_id,
        project_id=version.model.project_id,
        task=version.model.task,
        features=features,
        estimator=estimator,
        takes_arrays=takes_arrays(estimator, features),
    )


def forget_answers() -> None:
    """Ask the database again on the next request (a stage or a membership changed)."""
    _answers.clear()


def forget_all() -> None:
    """Empty the caches (tests, and a model whose artifact storage changed)."""
    with _cache_lock:
        _loaded.clear()
        _answers.clear()
