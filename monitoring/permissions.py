"""Who may see and change quality suites and runs: the rules of the dataset they belong to
(lineage.permissions), in the UI and the API alike."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from lineage.permissions import restricted_data_filter
from monitoring.models import QualityRun, QualitySuite


def visible_suites(user: Any) -> QuerySet[QualitySuite]:
    suites = QualitySuite.objects.all()
    condition = restricted_data_filter(user, "dataset__")
    return suites if condition is None else suites.filter(condition)


def visible_runs(user: Any) -> QuerySet[QualityRun]:
    runs = QualityRun.objects.all()
    condition = restricted_data_filter(user, "dataset_version__dataset__")
    return runs if condition is None else runs.filter(condition)
