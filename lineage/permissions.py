"""Who may see and change what. The UI and the API both ask these functions.

Every signed-in user can read the catalog, except datasets marked PII or confidential:
those, their versions, files, profiles and jobs are visible to the project's members only,
and to anyone else they do not exist (404, so their names do not leak). Changing a
project's contents needs the contributor role in it; changing the project itself (or its
members) the admin role; deciding reviews the reviewer role; destroying data the admin role.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet
from rest_framework import permissions

from lineage.choices import Role, Sensitivity
from lineage.models import Dataset, DatasetVersion, Job, Membership, Project

RESTRICTED_SENSITIVITIES = (Sensitivity.PII, Sensitivity.CONFIDENTIAL)


def visible_projects(user: Any) -> QuerySet[Project]:
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    return Project.objects.all()


def member_project_ids(user: Any) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).values("project_id")


def member_projects(user: Any) -> QuerySet[Project]:
    """The projects the user belongs to (every project, for a superuser)."""
    if getattr(user, "is_superuser", False):
        return Project.objects.all()
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    return Project.objects.filter(pk__in=member_project_ids(user))


def restricted_data_filter(user: Any, dataset_path: str = "") -> Q | None:
    """The condition that hides PII and confidential datasets from non-members, or None
    when the user may see every dataset (a superuser).

    `dataset_path` leads from the queried model to its dataset (`"dataset__"` for versions).
    """
    if getattr(user, "is_superuser", False):
        return None
    if not getattr(user, "is_authenticated", False):
        return Q(pk__in=[])
    return ~Q(**{f"{dataset_path}sensitivity__in": RESTRICTED_SENSITIVITIES}) | Q(
        **{f"{dataset_path}project_id__in": member_project_ids(user)}
    )


def visible_datasets(user: Any) -> QuerySet[Dataset]:
    condition = restricted_data_filter(user)
    datasets = Dataset.objects.all()
    return datasets if condition is None else datasets.filter(condition)


def visible_dataset_versions(user: Any) -> QuerySet[DatasetVersion]:
    condition = restricted_data_filter(user, "dataset__")
    versions = DatasetVersion.objects.all()
    return versions if condition is None else versions.filter(condition)


def visible_jobs(user: Any) -> QuerySet[Job]:
    """Jobs of the user's projects, and elsewhere only those on data they may see."""
    jobs = Job.objects.all()
    if getattr(user, "is_superuser", False):
        return jobs
    if not getattr(user, "is_authenticated", False):
        return jobs.none()
    condition = Q(project_id__in=member_project_ids(user))
    for model, visible in VISIBLE_JOB_TARGETS.items():
        condition |= Q(
            target_type=ContentType.objects.get_for_model(model),
            target_id__in=visible(user).values("pk"),
        )
    return jobs.filter(condition)


# What a non-member may follow the jobs of, by target model; other apps add theirs
# (monitoring: quality runs on data the user may see).
VISIBLE_JOB_TARGETS: dict[type[Model], Callable[[Any], QuerySet[Any]]] = {
    DatasetVersion: visible_dataset_versions,
}


def can_see_dataset(user: Any, dataset: Dataset) -> bool:
    if dataset.sensitivity not in RESTRICTED_SENSITIVITIES:
        return bool(getattr(user, "is_authenticated", False))
    return dataset.project.role_of(user) is not None


def pii_columns(dataset: Dataset) -> set[str] | None:
    """Columns holding PII: every column (None) when the whole dataset is PII."""
    if dataset.sensitivity == Sensitivity.PII:
        return None
    return {
        column
        for column, sensitivity in (dataset.column_sensitivity or {}).items()
        if sensitivity == Sensitivity.PII
    }


def may_see_pii(user: Any, project: Project) -> bool:
    """PII values are for the project's members, as PII datasets are."""
    return bool(getattr(user, "is_superuser", False)) or project.role_of(user) is not None


# What a profile may show of a PII column to someone who may not see PII: its shape, not
# its values (no extremes, quantiles, histogram or frequent values).
PII_PROFILE_KEYS = frozenset(
    {"name", "type", "kind", "count", "nulls", "null_fraction", "distinct"}
)


def visible_profile(
    profile: dict[str, Any] | None, dataset: Dataset, user: Any
) -> dict[str, Any] | None:
    """A version's profile as this user may read it: PII columns without their values
    unless the user may see PII."""
    if not profile or may_see_pii(user, dataset.project):
        return profile
    hidden = pii_columns(dataset)
    columns = []
    for column in profile.get("columns", []):
        if hidden is None or column.get("name") in hidden:
            column = {key: value for key, value in column.items() if key in PII_PROFILE_KEYS}
            column["masked"] = True
        columns.append(column)
    return {**profile, "columns": columns}


def can_contribute(user: Any, project: Project) -> bool:
    return project.has_role(user, Role.CONTRIBUTOR)


def can_administer(user: Any, project: Project) -> bool:
    return project.has_role(user, Role.ADMIN)


def project_of(obj: Any) -> Project:
    """The project an object belongs to, following its parents."""
    for path in ("project", "dataset.project", "model.project"):
        current = obj
        for attribute in path.split("."):
            current = getattr(current, attribute, None)
            if current is None:
                break
        if isinstance(current, Project):
            return current
    if isinstance(obj, Project):
        return obj
    raise TypeError(f"{type(obj).__name__} has no project")


class CatalogPermission(permissions.BasePermission):
    """Reads for any signed-in user; writes for contributors of the object's project
    (admins for the project itself)."""

    message = "You need the contributor role in this project to change it."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        if isinstance(obj, Project):
            self.message = "You need the admin role in this project to change it."
            return can_administer(request.user, obj)
        return can_contribute(request.user, project_of(obj))
