"""Who may see and change what. The UI and the API both ask these functions.

Every signed-in user can read the catalog; changing a project's contents needs the
contributor role in it, and changing the project itself (or its members) the admin role.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import permissions

from lineage.choices import Role
from lineage.models import Project


def visible_projects(user: Any) -> QuerySet[Project]:
    if not getattr(user, "is_authenticated", False):
        return Project.objects.none()
    return Project.objects.all()


def sees_every_project(user: Any) -> bool:
    """True when no project is hidden from the user, so lists need no visibility filter."""
    return bool(getattr(user, "is_authenticated", False))


def restrict_to_visible(queryset: QuerySet[Any], user: Any, project_path: str) -> QuerySet[Any]:
    """Keep the rows whose project (reached by `project_path`) the user may see.

    The filter is left out when the user sees everything: a subquery that selects every
    project still stops SQLite from walking an index in order.
    """
    if sees_every_project(user):
        return queryset
    return queryset.filter(**{f"{project_path}__in": visible_projects(user)})


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
