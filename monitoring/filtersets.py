"""Filtersets shared by the quality pages and the API."""

from __future__ import annotations

import django_filters

from lineage.choices import JobState, QualityStatus
from monitoring.choices import RunTrigger
from monitoring.models import QualityRun, QualitySuite


class QualitySuiteFilterSet(django_filters.FilterSet):
    project = django_filters.CharFilter(field_name="dataset__project__slug", label="Project (slug)")
    q = django_filters.CharFilter(
        field_name="dataset__name", lookup_expr="icontains", label="Dataset"
    )

    # Ids, not choice lists: a choice list would name every dataset, restricted ones too.
    dataset = django_filters.NumberFilter(field_name="dataset_id", label="Dataset id")

    class Meta:
        model = QualitySuite
        fields = ["project", "dataset", "q"]


class QualityRunFilterSet(django_filters.FilterSet):
    project = django_filters.CharFilter(
        field_name="dataset_version__dataset__project__slug", label="Project (slug)"
    )
    dataset = django_filters.NumberFilter(
        field_name="dataset_version__dataset_id", label="Dataset id"
    )
    dataset_version = django_filters.NumberFilter(
        field_name="dataset_version_id", label="Dataset version id"
    )
    status = django_filters.ChoiceFilter(choices=QualityStatus.choices, label="Quality status")
    state = django_filters.ChoiceFilter(choices=JobState.choices, label="Run state")
    trigger = django_filters.ChoiceFilter(choices=RunTrigger.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = QualityRun
        fields = ["project", "dataset", "dataset_version", "status", "state", "trigger"]
