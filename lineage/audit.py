"""The audit log's recording: who did what to which object, when, from where, with the
fields before and after.

Three sources feed it:

- `record()`, called by the code that performs an event with a meaning of its own (a
  review requested or decided, data destroyed);
- model signals, for every create, change and delete of the catalog's models
  (`AUDITED_MODELS`) and for changes to their tags. A model version whose stage changes is
  recorded as `stage_change`;
- Django's authentication signals, for sign-ins, failed sign-ins and sign-outs.

Entries are written in the caller's transaction: when an audit write fails, the action it
records fails with it (inside `transaction.atomic`; in autocommit mode each statement
commits on its own). Receivers never fail on an unusual object, though: a missing parent
or project leaves the entry's project empty.

The acting user comes from the request being served, which `AuditContextMiddleware`
keeps in a context variable. `request.user` is read when an entry is written, not when
the request arrives, so the user DRF authenticated (from an API token) is the one
recorded. Outside a request (Celery tasks, management commands) the actor is empty, shown
as "system", unless the caller passes `actor=`.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.exceptions import ObjectDoesNotExist
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.fields.files import FieldFile
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save
from django.http import HttpRequest, HttpResponseBase

from lineage.choices import AuditAction
from lineage.models import (
    AuditEntry,
    Dataset,
    DatasetVersion,
    Deployment,
    Membership,
    ModelVersion,
    PipelineJob,
    PipelineRun,
    Project,
    RegisteredModel,
    Review,
)

# Where each audited model's project is found, from the object (attribute path).
PROJECT_PATHS: dict[type[models.Model], str] = {
    Project: "pk",
    Membership: "project_id",
    Dataset: "project_id",
    DatasetVersion: "dataset.project_id",
    RegisteredModel: "project_id",
    ModelVersion: "model.project_id",
    Deployment: "model_version.model.project_id",
    Review: "model_version.model.project_id",
    PipelineJob: "project_id",
    PipelineRun: "job.project_id",
}
AUDITED_MODELS: tuple[type[models.Model], ...] = tuple(PROJECT_PATHS)

# Never copied into an entry: large (a dataset's profile, reported facets and payloads) or
# secret (passwords).
EXCLUDED_FIELDS = frozenset({"profile", "password", "facets", "payload"})

VALUE_PREVIEW_CHARS = 80

_current_request: ContextVar[HttpRequest | None] = ContextVar("audit_request", default=None)


class AuditContextMiddleware:
    """Makes the request being served known to the audit receivers, for its user and its
    address. Goes after AuthenticationMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


def current_request() -> HttpRequest | None:
    return _current_request.get()


# Recording ---------------------------------------------------------------------------------


def record(
    action: str,
    obj: models.Model | None = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: Any = None,
    actor_name: str | None = None,
    project: Project | int | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    object_repr: str | None = None,
    request: HttpRequest | None = None,
) -> AuditEntry:
    """Append one entry to the audit log and return it.

    `action` is an `AuditAction` value. `obj` is the object acted on; its type, id, text
    and project are taken from it unless `object_type`, `object_id`, `object_repr` or
    `project` (a Project or its id) are given. `before` and `after` are dicts of what
    changed; values are made JSON-safe (dates as ISO text, files as their names).

    The actor is `actor` when given, else the signed-in user of the request being served
    (None outside a request: a task or command). `actor_name` defaults to the actor's
    username. `request` defaults to the current request and gives `remote_addr`.

    Example, from the code deciding a review:

        audit.record("review_decided", review, before={"state": "pending"},
                     after={"state": "approved", "comment": comment}, actor=user)
    """
    request = request if request is not None else _current_request.get()
    if actor is None:
        actor = _user_of(request)
    if not getattr(actor, "is_authenticated", False):
        actor = None
    if isinstance(project, Project):
        project = project.pk
    if obj is not None:
        object_type = object_type or obj._meta.model_name
        object_id = object_id if object_id is not None else obj.pk
        object_repr = object_repr if object_repr is not None else _describe(obj)
        project = project if project is not None else project_id_of(obj)
    return AuditEntry.objects.create(
        action=AuditAction(action),
        actor_id=actor.pk if actor is not None else None,
        actor_name=(actor_name if actor_name is not None else _username(actor))[:150],
        object_type=(object_type or "")[:100],
        object_id="" if object_id is None else str(object_id)[:100],
        object_repr=(object_repr or "")[:500],
        project_id=project,
        before=json_safe(before) if before is not None else None,
        after=json_safe(after) if after is not None else None,
        remote_addr=_remote_addr(request),
    )


def project_id_of(obj: Any) -> int | None:
    """The id of the project an object belongs to, following its parents; None when it
    has none or a parent is gone."""
    path = PROJECT_PATHS.get(type(obj), "project_id")
    current = obj
    try:
        for attribute in path.split("."):
            current = getattr(current, attribute, None)
            if current is None:
                return None
    except ObjectDoesNotExist:
        return None
    return current if isinstance(current, int) else None


def json_safe(value: Any) -> Any:
    """`value` as plain JSON types: dates and times as ISO text, UUIDs and decimals as text,
    files as their stored names, anything else unknown as its text."""
    return json.loads(json.dumps(value, cls=_AuditJSONEncoder))


class _AuditJSONEncoder(DjangoJSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, FieldFile):
            return o.name or ""
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def _user_of(request: HttpRequest | None) -> Any:
    user = getattr(request, "user", None) if request is not None else None
    return user if getattr(user, "is_authenticated", False) else None


def _username(actor: Any) -> str:
    return actor.get_username() if actor is not None else ""


def _remote_addr(request: HttpRequest | None) -> str | None:
    """The client address Django saw, or None (no request, or not an IP address, as with
    a Unix socket)."""
    if request is None:
        return None
    address = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def _describe(obj: models.Model) -> str:
    try:
        return str(obj)
    except ObjectDoesNotExist:
        return f"{obj._meta.verbose_name} #{obj.pk}"


# Field snapshots and changes ---------------------------------------------------------------


def audited_fields(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    """The fields an entry shows: concrete ones, less the excluded and the `auto_now`
    timestamps (which change on every save and say nothing the entry's time does not)."""
    return [
        field
        for field in model._meta.concrete_fields
        if field.name not in EXCLUDED_FIELDS and not getattr(field, "auto_now", False)
    ]


def snapshot(instance: models.Model, fields: Iterable[models.Field[Any, Any]]) -> dict[str, Any]:
    """The fields' current values on the instance, JSON-safe, keyed by field name (a foreign
    key as the related row's id)."""
    values: dict[str, Any] = json_safe(
        {field.name: getattr(instance, field.attname) for field in fields}
    )
    return values


def changed_values(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, from each side."""
    changed = [key for key in after if before.get(key) != after[key]]
    return {key: before.get(key) for key in changed}, {key: after[key] for key in changed}


@dataclass(frozen=True)
class Change:
    """One line of an entry's diff, values shortened for a table cell."""

    key: str
    before: str
    after: str


def describe_changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Change]:
    """The keys that differ between `before` and `after`, in order, with short texts of
    their values ("—" for none): every key of a create or a delete."""
    before, after = before or {}, after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [
        Change(key, _preview(before.get(key)), _preview(after.get(key)))
        for key in keys
        if before.get(key) != after.get(key) or key not in before or key not in after
    ]


def _preview(value: Any) -> str:
    if value is None or value == "":
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if len(text) > VALUE_PREVIEW_CHARS:
        return text[: VALUE_PREVIEW_CHARS - 1] + "…"
    return text


def object_type_choices() -> list[tuple[str, str]]:
    """The object types entries can have, for filters: the audited models and users."""
    user_model = get_user_model()
    return [
        (model._meta.model_name or "", str(model._meta.verbose_name).capitalize())
        for model in (*AUDITED_MODELS, user_model)
    ]


# Model receivers ---------------------------------------------------------------------------

_SNAPSHOT_ATTRIBUTE = "_audit_before"
_TAGS_ATTRIBUTE = "_audit_tags_before"


def _snapshot_before_save(
    sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any
) -> None:
    """Read the row as stored before a change, limited to the fields being saved (never the
    large excluded ones, so saving a profile does not read the old one)."""
    if raw or instance._state.adding or instance.pk is None:
        return
    fields = audited_fields(sender)
    update_fields = kwargs.get("update_fields")
    if update_fields is not None:
        fields = [field for field in fields if field.name in update_fields]
    if not fields:
        setattr(instance, _SNAPSHOT_ATTRIBUTE, {})
        return
    stored = (
        sender._base_manager.using(kwargs.get("using"))
        .filter(pk=instance.pk)
        .values(*[field.attname for field in fields])
        .first()
    )
    if stored is not None:
        by_name = {field.name: stored[field.attname] for field in fields}
        setattr(instance, _SNAPSHOT_ATTRIBUTE, json_safe(by_name))


def _record_save(
    sender: type[models.Model],
    instance: models.Model,
    created: bool,
    raw: bool = False,
    **kwargs: Any,
) -> None:
    if raw:
        return
    stored = instance.__dict__.pop(_SNAPSHOT_ATTRIBUTE, None)
    fields = audited_fields(sender)
    if created or stored is None:
        record(
            AuditAction.CREATE if created else AuditAction.UPDATE,
            instance,
            after=snapshot(instance, fields),
        )
        return
    current = snapshot(instance, [field for field in fields if field.name in stored])
    before, after = changed_values(stored, current)
    if not after:
        return  # saved without a change
    action = AuditAction.UPDATE
    if isinstance(instance, ModelVersion) and "stage" in after:
        action = AuditAction.STAGE_CHANGE
    record(action, instance, before=before, after=after)


def _record_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    record(AuditAction.DELETE, instance, before=snapshot(instance, audited_fields(sender)))


def _tagged_objects(
    instance: models.Model, model: type[models.Model], reverse: bool, pk_set: set[Any] | None
) -> list[models.Model]:
    """The datasets or models whose tags a change touches: the instance itself, or, when
    the change is made from a tag's side, the objects it names (or all, for a clear)."""
    if not reverse:
        return [instance]
    if pk_set is None:
        return list(model._base_manager.filter(tags=instance))
    return list(model._base_manager.filter(pk__in=pk_set))


def _tag_names(obj: models.Model) -> list[str]:
    return sorted(obj.tags.values_list("name", flat=True))  # type: ignore[attr-defined]


def _record_tags(
    sender: type[models.Model],
    instance: models.Model,
    action: str,
    reverse: bool,
    model: type[models.Model],
    pk_set: set[Any] | None,
    **kwargs: Any,
) -> None:
    """A change of tags is recorded as an update of the tagged object, with its tag names
    before and after (one entry per add, remove or clear)."""
    tagged_model = type(instance) if not reverse else model
    if tagged_model not in (Dataset, RegisteredModel):
        return
    if action.startswith("pre_"):
        objects = _tagged_objects(instance, tagged_model, reverse, pk_set)
        setattr(instance, _TAGS_ATTRIBUTE, [(obj, _tag_names(obj)) for obj in objects])
        return
    for obj, names_before in instance.__dict__.pop(_TAGS_ATTRIBUTE, []):
        names_after = _tag_names(obj)
        if names_after != names_before:
            record(
                AuditAction.UPDATE, obj, before={"tags": names_before}, after={"tags": names_after}
            )


def _connect_model_receivers() -> None:
    for model in AUDITED_MODELS:
        uid = f"audit-{model._meta.label_lower}"
        pre_save.connect(_snapshot_before_save, sender=model, dispatch_uid=uid)
        post_save.connect(_record_save, sender=model, dispatch_uid=uid)
        post_delete.connect(_record_delete, sender=model, dispatch_uid=uid)
    for through in (Dataset.tags.through, RegisteredModel.tags.through):
        m2m_changed.connect(_record_tags, sender=through, dispatch_uid=f"audit-{through.__name__}")


_connect_model_receivers()


# Authentication receivers ------------------------------------------------------------------


def _record_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record(AuditAction.LOGIN, user, actor=user, request=request, object_type="user")


def _record_logout(
    sender: Any, request: HttpRequest | None, user: Any = None, **kwargs: Any
) -> None:
    if user is None:
        return  # nobody was signed in
    record(AuditAction.LOGOUT, user, actor=user, request=request, object_type="user")


def _record_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Keep the name that was tried (as the actor's name, so the user filter finds
    attempts on an account), never the password or any other credential."""
    username_field = get_user_model().USERNAME_FIELD
    attempted = str(credentials.get(username_field) or credentials.get("username") or "")
    record(
        AuditAction.LOGIN_FAILED,
        actor_name=attempted,
        object_type="user",
        object_repr=attempted,
        request=request,
    )


user_logged_in.connect(_record_login, dispatch_uid="audit-login")
user_logged_out.connect(_record_logout, dispatch_uid="audit-logout")
user_login_failed.connect(_record_login_failed, dispatch_uid="audit-login-failed")
