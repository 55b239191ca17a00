"""The audit log, read-only: the page (/audit/), its CSV export (/audit/export.csv) and the
API (/api/v1/audit-log/), all filtered by one filterset.

Who sees which entries (`visible_entries`): superusers see every entry. Anyone else sees
the entries of the projects where they are admin or reviewer (the people who answer for
the project's governance) and their own actions anywhere, sign-ins included. Viewers and
contributors therefore see only what they did. Entries without a project that are not the
user's own (another person's sign-in, a failed sign-in, a pipeline job reported without a
project) are for superusers only.

Nothing here writes: there is no form, no create, change or delete route; the API answers
405 to POST, PUT, PATCH and DELETE.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import django_filters
from django import forms
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers, viewsets

from lineage import audit
from lineage.choices import AuditAction, Role
from lineage.models import (
    AuditEntry,
    Dataset,
    DatasetVersion,
    Membership,
    ModelVersion,
    Project,
    RegisteredModel,
)

PAGE_SIZE = 50
# Updates with this many changes or fewer show them in the row; more fold under a summary.
INLINE_CHANGES = 3
AUDITOR_ROLES = (Role.ADMIN, Role.REVIEWER)
CSV_COLUMNS = [
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "object",
    "project",
    "before",
    "after",
    "remote_addr",
]
# A spreadsheet would run a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def visible_entries(user: Any) -> QuerySet[AuditEntry]:
    """The entries `user` may read (see the module's docstring)."""
    if not getattr(user, "is_authenticated", False):
        return AuditEntry.objects.none()
    if user.is_superuser:
        return AuditEntry.objects.all()
    audited_projects = Membership.objects.filter(user=user, role__in=AUDITOR_ROLES).values(
        "project_id"
    )
    return AuditEntry.objects.filter(Q(project_id__in=audited_projects) | Q(actor=user))


class AuditEntryFilterSet(django_filters.FilterSet):
    """Filters shared by the page, the CSV export and the API."""

    user = django_filters.CharFilter(
        field_name="actor_name", lookup_expr="iexact", label="User (username)"
    )
    action = django_filters.ChoiceFilter(choices=AuditAction.choices)
    object_type = django_filters.ChoiceFilter(
        choices=audit.object_type_choices, label="Object type"
    )
    object_id = django_filters.CharFilter(label="Object id")
    q = django_filters.CharFilter(
        field_name="object_repr", lookup_expr="icontains", label="Object name contains"
    )
    project = django_filters.CharFilter(field_name="project__slug", label="Project (slug)")
    date_from = django_filters.DateFilter(
        method="filter_date_from",
        label="From (date)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = django_filters.DateFilter(
        method="filter_date_to",
        label="To (date, included)",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    class Meta:
        model = AuditEntry
        fields = ["user", "action", "object_type", "object_id", "q", "project"]

    # Whole days in the portal's time zone, compared on the indexed column itself.
    def filter_date_from(
        self, qs: QuerySet[AuditEntry], name: str, value: dt.date
    ) -> QuerySet[AuditEntry]:
        return qs.filter(at__gte=start_of(value))

    def filter_date_to(
        self, qs: QuerySet[AuditEntry], name: str, value: dt.date
    ) -> QuerySet[AuditEntry]:
        return qs.filter(at__lt=start_of(value + dt.timedelta(days=1)))


def start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def filtered_entries(request: HttpRequest) -> AuditEntryFilterSet:
    entries = visible_entries(request.user).select_related("project").order_by("-at", "-pk")
    return AuditEntryFilterSet(request.GET, queryset=entries, request=request)


# The page ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryRow:
    """An entry as a table row: the object's link while it still exists, its changes."""

    entry: AuditEntry
    object_type_label: str
    url: str | None
    changes: list[audit.Change]
    inline: bool
    summary: str


def object_urls(entries: Iterable[AuditEntry]) -> dict[tuple[str, str], str]:
    """Links to the objects of `entries` that still exist, one query per object type."""
    ids_by_type: dict[str, set[int]] = defaultdict(set)
    for entry in entries:
        if entry.object_id.isdigit():
            ids_by_type[entry.object_type].add(int(entry.object_id))
    urls: dict[tuple[str, str], str] = {}
    for object_type, ids in ids_by_type.items():
        for pk, url in _urls_of(object_type, ids):
            urls[(object_type, str(pk))] = url
    return urls


def _urls_of(object_type: str, ids: set[int]) -> Iterator[tuple[int, str]]:
    if object_type == "project":
        for pk, slug in Project.objects.filter(pk__in=ids).values_list("pk", "slug"):
            yield pk, reverse("project-detail", args=[slug])
    elif object_type == "dataset":
        for pk in Dataset.objects.filter(pk__in=ids).values_list("pk", flat=True):
            yield pk, reverse("dataset-detail", args=[pk])
    elif object_type == "registeredmodel":
        for pk in RegisteredModel.objects.filter(pk__in=ids).values_list("pk", flat=True):
            yield pk, reverse("model-detail", args=[pk])
    elif object_type == "datasetversion":
        dataset_versions = DatasetVersion.objects.filter(pk__in=ids)
        for pk, dataset_id, number in dataset_versions.values_list("pk", "dataset_id", "version"):
            yield pk, reverse("dataset-version-detail", args=[dataset_id, number])
    elif object_type == "modelversion":
        model_versions = ModelVersion.objects.filter(pk__in=ids)
        for pk, model_id, number in model_versions.values_list("pk", "model_id", "version"):
            yield pk, reverse("model-version-detail", args=[model_id, number])


def entry_rows(entries: list[AuditEntry]) -> list[EntryRow]:
    """Rows for the page. A change of a few fields shows them in the row; a create, a
    delete or a larger change folds them under a summary (the keys, or their count)."""
    urls = object_urls(entries)
    labels = dict(audit.object_type_choices())
    rows = []
    for entry in entries:
        changes = audit.describe_changes(entry.before, entry.after)
        both_sides = entry.before is not None and entry.after is not None
        if both_sides:
            summary = ", ".join(change.key for change in changes)
        else:
            summary = f"{len(changes)} field{'' if len(changes) == 1 else 's'}"
        rows.append(
            EntryRow(
                entry=entry,
                object_type_label=labels.get(entry.object_type, entry.object_type),
                url=urls.get((entry.object_type, entry.object_id)),
                changes=changes,
                inline=both_sides and len(changes) <= INLINE_CHANGES,
                summary=summary,
            )
        )
    return rows


def audit_log(request: HttpRequest) -> HttpResponse:
    filterset = filtered_entries(request)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "lineage/audit_log.html",
        {"filter": filterset, "page": page, "rows": entry_rows(list(page.object_list))},
    )


# The CSV export ----------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write returns the text, for csv.writer in a stream."""

    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def csv_row(entry: AuditEntry) -> list[str]:
    project = entry.project.slug if entry.project else entry.project_id
    values = [
        entry.at.isoformat(),
        entry.actor_name,
        entry.action,
        entry.object_type,
        entry.object_id,
        entry.object_repr,
        project,
        json.dumps(entry.before, ensure_ascii=False) if entry.before is not None else "",
        json.dumps(entry.after, ensure_ascii=False) if entry.after is not None else "",
        entry.remote_addr,
    ]
    return [csv_cell(value) for value in values]


def audit_log_csv(request: HttpRequest) -> StreamingHttpResponse:
    """The filtered entries as CSV, streamed so a large export holds no memory."""
    entries = filtered_entries(request).qs
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(CSV_COLUMNS)
        for entry in entries.iterator(chunk_size=2000):
            yield writer.writerow(csv_row(entry))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="audit-log-{stamp}.csv"'
    return response


# The API -----------------------------------------------------------------------------------


class AuditEntrySerializer(serializers.ModelSerializer):
    project = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = AuditEntry
        fields = [
            "id",
            "at",
            "actor",
            "actor_name",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "project",
            "before",
            "after",
            "remote_addr",
        ]
        read_only_fields = fields


class AuditEntryViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit log: every create, change, delete, stage change, review decision, data
    destruction and sign-in, newest first. Read-only: entries are never changed or deleted.
    Superusers see every entry; others those of projects where they are admin or reviewer,
    and their own."""

    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
    search_fields = ["actor_name", "object_repr"]
    ordering_fields = ["at"]

    def get_queryset(self) -> QuerySet[AuditEntry]:
        return visible_entries(self.request.user).select_related("project").order_by("-at", "-pk")
