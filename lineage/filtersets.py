"""One filterset per list, shared by the HTML list pages and the API."""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from lineage.choices import (
    DataFormat,
    JobState,
    JobType,
    ModelTask,
    ProfileStatus,
    QualityStatus,
    Sensitivity,
    Stage,
)
from lineage.models import Dataset, DatasetVersion, Job, ModelVersion, Project, RegisteredModel


class SearchFilter(django_filters.CharFilter):
    """`q`: a case-insensitive match on name or description."""

    def filter(self, qs: QuerySet[Any], value: str) -> QuerySet[Any]:
        if not value:
            return qs
        return qs.filter(Q(name__icontains=value) | Q(description__icontains=value))


class ProjectFilterSet(django_filters.FilterSet):
    q = SearchFilter(label="Search")

    class Meta:
        model = Project
        fields = ["q", "slug"]


class DatasetFilterSet(django_filters.FilterSet):
    q = SearchFilter(label="Search")
    project = django_filters.CharFilter(field_name="project__slug", label="Project (slug)")
    tag = django_filters.CharFilter(field_name="tags__name", label="Tag", distinct=True)
    owner = django_filters.CharFilter(field_name="owner__username", label="Owner (username)")
    sensitivity = django_filters.ChoiceFilter(choices=Sensitivity.choices)
    external = django_filters.ChoiceFilter(
        label="Stored",
        choices=[("false", "In the portal"), ("true", "Elsewhere (external)")],
        empty_label="Anywhere",
        method="filter_external",
    )
    ordering = django_filters.OrderingFilter(
        fields=(("name", "name"), ("updated_at", "updated"), ("sensitivity", "sensitivity"))
    )

    class Meta:
        model = Dataset
        fields = ["q", "project", "tag", "owner", "sensitivity", "namespace"]

    def filter_external(self, qs: QuerySet[Dataset], name: str, value: str) -> QuerySet[Dataset]:
        if value == "true":
            return qs.exclude(source_name="")
        if value == "false":
            return qs.filter(source_name="")
        return qs


class DatasetVersionFilterSet(django_filters.FilterSet):
    # An id, not a choice list: the list would name every dataset, restricted ones too.
    dataset = django_filters.NumberFilter(field_name="dataset_id", label="Dataset id")
    project = django_filters.CharFilter(field_name="dataset__project__slug", label="Project (slug)")
    # Not `format`: DRF reserves `?format=` for choosing the response's renderer.
    file_format = django_filters.ChoiceFilter(field_name="format", choices=DataFormat.choices)
    profile_status = django_filters.ChoiceFilter(choices=ProfileStatus.choices)
    quality_status = django_filters.ChoiceFilter(choices=QualityStatus.choices)
    destroyed = django_filters.BooleanFilter(
        field_name="destroyed_at", lookup_expr="isnull", exclude=True, label="Destroyed"
    )
    expired = django_filters.BooleanFilter(method="filter_expired", label="Past retention")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    def filter_expired(
        self, qs: QuerySet[DatasetVersion], name: str, value: bool | None
    ) -> QuerySet[DatasetVersion]:
        if value is None:
            return qs
        past = Q(dataset__retain_until__lt=timezone.localdate(), destroyed_at__isnull=True)
        return qs.filter(past) if value else qs.exclude(past)

    class Meta:
        model = DatasetVersion
        fields = [
            "dataset",
            "project",
            "version",
            "file_format",
            "profile_status",
            "quality_status",
            "sha256",
            "source",
        ]


class RegisteredModelFilterSet(django_filters.FilterSet):
    q = SearchFilter(label="Search")
    project = django_filters.CharFilter(field_name="project__slug", label="Project (slug)")
    tag = django_filters.CharFilter(field_name="tags__name", label="Tag", distinct=True)
    owner = django_filters.CharFilter(field_name="owner__username", label="Owner (username)")
    task = django_filters.ChoiceFilter(choices=ModelTask.choices)
    stage = django_filters.ChoiceFilter(
        choices=Stage.choices, method="filter_stage", label="Has a version in stage"
    )
    ordering = django_filters.OrderingFilter(fields=(("name", "name"), ("updated_at", "updated")))

    class Meta:
        model = RegisteredModel
        fields = ["q", "project", "tag", "owner", "task", "stage"]

    def filter_stage(
        self, qs: QuerySet[RegisteredModel], name: str, value: str
    ) -> QuerySet[RegisteredModel]:
        return qs.filter(versions__stage=value).distinct() if value else qs


class ModelVersionFilterSet(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="model__project__slug", label="Project (slug)")
    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    training_dataset_version = django_filters.NumberFilter()

    class Meta:
        model = ModelVersion
        fields = ["model", "project", "version", "stage", "training_dataset_version"]


class JobFilterSet(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="project__slug", label="Project (slug)")
    state = django_filters.ChoiceFilter(choices=JobState.choices)
    job_type = django_filters.ChoiceFilter(choices=JobType.choices)

    class Meta:
        model = Job
        fields = ["project", "state", "job_type", "target_id"]
