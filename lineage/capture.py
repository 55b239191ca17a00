"""Writing the lineage graph: one node per catalog or pipeline object, edges in the
direction data flows. Called where objects are created, so lineage is captured as a
side effect of ordinary catalog work (registering a model links it to its data)."""

from __future__ import annotations

from typing import Any

from lineage.choices import EdgeKind, NodeKind
from lineage.models import (
    Dataset,
    DatasetVersion,
    Deployment,
    LineageEdge,
    LineageNode,
    ModelVersion,
    PipelineJob,
    PipelineRun,
)

NODE_KINDS: dict[type, str] = {
    Dataset: NodeKind.DATASET,
    DatasetVersion: NodeKind.DATASET_VERSION,
    PipelineJob: NodeKind.PIPELINE_JOB,
    PipelineRun: NodeKind.PIPELINE_RUN,
    ModelVersion: NodeKind.MODEL_VERSION,
    Deployment: NodeKind.DEPLOYMENT,
}


def node_label(obj: Any) -> str:
    if isinstance(obj, PipelineRun):
        return f"{obj.job.name} run {str(obj.run_id)[:8]}"
    if isinstance(obj, Deployment):
        return f"{obj.name} ({obj.environment})"
    return str(obj)[:500]


def node_project_id(obj: Any) -> int | None:
    if isinstance(obj, Dataset):
        return obj.project_id
    if isinstance(obj, DatasetVersion):
        return obj.dataset.project_id
    if isinstance(obj, ModelVersion):
        return obj.model.project_id
    if isinstance(obj, Deployment):
        return obj.model_version.model.project_id
    if isinstance(obj, PipelineJob):
        return obj.project_id
    if isinstance(obj, PipelineRun):
        return obj.job.project_id
    return None


def node_for(obj: Any) -> LineageNode:
    """The graph node standing for `obj`, created on first use."""
    node, _ = LineageNode.objects.get_or_create(
        kind=NODE_KINDS[type(obj)],
        object_id=obj.pk,
        defaults={"label": node_label(obj), "project_id": node_project_id(obj)},
    )
    return node


def link(source: Any, target: Any, kind: str) -> LineageEdge:
    """An edge from `source` (upstream) to `target`; linking twice is a no-op."""
    edge, _ = LineageEdge.objects.get_or_create(
        source=node_for(source), target=node_for(target), kind=kind
    )
    return edge


def capture_dataset_version(version: DatasetVersion) -> None:
    link(version.dataset, version, EdgeKind.HAS_VERSION)


def capture_model_version(version: ModelVersion) -> None:
    node_for(version)
    if version.training_dataset_version_id:
        link(version.training_dataset_version, version, EdgeKind.TRAINED_ON)
    if version.evaluation_dataset_version_id:
        link(version.evaluation_dataset_version, version, EdgeKind.EVALUATED_ON)
    if version.produced_by_run_id:
        link(version.produced_by_run, version, EdgeKind.PRODUCED)


def capture_deployment(deployment: Deployment) -> None:
    link(deployment.model_version, deployment, EdgeKind.DEPLOYED_AS)
