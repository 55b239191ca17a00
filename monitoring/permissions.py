"""Who may see and change quality suites, runs and analyses, and which logged inputs: the
rules of the data they belong to (lineage.permissions), in the UI and the API alike."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from lineage.models import ModelVersion
from lineage.permissions import (
    RESTRICTED_SENSITIVITIES,
    may_see_pii,
    pii_columns,
    restricted_data_filter,
    visible_projects,
)
from monitoring.models import DriftAnalysis, QualityRun, QualitySuite


def visible_suites(user: Any) -> QuerySet[QualitySuite]:
    suites = QualitySuite.objects.all()
    condition = restricted_data_filter(user, "dataset__")
    return suites if condition is None else suites.filter(condition)


def visible_runs(user: Any) -> QuerySet[QualityRun]:
    runs = QualityRun.objects.all()
    condition = restricted_data_filter(user, "dataset_version__dataset__")
    return runs if condition is None else runs.filter(condition)


def visible_analyses(user: Any) -> QuerySet[DriftAnalysis]:
    """Analyses of models the user may see, comparing data the user may see (both sides)."""
    analyses = DriftAnalysis.objects.filter(
        model_version__model__project__in=visible_projects(user)
    )
    for version in ("reference_version", "current_version"):
        condition = restricted_data_filter(user, f"{version}__dataset__")
        if condition is not None:
            analyses = analyses.filter(condition | Q(**{f"{version}__isnull": True}))
    return analyses


def hidden_inputs(user: Any, version: ModelVersion) -> frozenset[str] | None:
    """The logged input features of `version` this user may not read (the prediction page
    and the API alike), None for all of them: none for the project's members; for anyone
    else all of them when the training data is PII or confidential, else the columns its
    dataset marks PII."""
    training = version.training_dataset_version
    if training is None or may_see_pii(user, version.model.project):
        return frozenset()
    dataset = training.dataset
    if dataset.sensitivity in RESTRICTED_SENSITIVITIES:
        return None
    columns = pii_columns(dataset)
    return None if columns is None else frozenset(columns)
