"""Classification that flows along lineage: which sensitivities and tags reach an object
from the data upstream of it, and through which path.

Computed from the graph on every read, never copied onto downstream objects, so removing a
PII mark upstream clears it everywhere downstream at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lineage import graph
from lineage.choices import NodeKind, Sensitivity
from lineage.models import Dataset, DatasetVersion, LineageNode, ModelVersion
from lineage.permissions import can_see_dataset

RANK = {
    Sensitivity.PUBLIC: 0,
    Sensitivity.INTERNAL: 1,
    Sensitivity.CONFIDENTIAL: 2,
    Sensitivity.PII: 3,
}
DATA_KINDS = (NodeKind.DATASET, NodeKind.DATASET_VERSION)
# How far upstream to look, and how many data nodes to read at most.
MAX_SOURCES = 5000


@dataclass(frozen=True)
class SensitivityReach:
    """One source of sensitive data upstream of an object (or the object itself)."""

    sensitivity: str
    dataset_id: int
    source_label: str
    column: str | None
    depth: int
    path_labels: list[str] = field(default_factory=list)  # from the source to the object

    def as_dict(self) -> dict[str, Any]:
        return {
            "sensitivity": self.sensitivity,
            "dataset": self.dataset_id,
            "source": self.source_label,
            "column": self.column,
            "depth": self.depth,
            "path": self.path_labels,
        }


@dataclass(frozen=True)
class TagReach:
    tag: str
    dataset_id: int
    source_label: str
    depth: int


@dataclass
class Classification:
    """Everything that reaches an object: the strongest sensitivity and where each comes
    from, and the tags of the data upstream."""

    sensitivities: list[SensitivityReach]
    tags: list[TagReach]

    @property
    def highest(self) -> str | None:
        if not self.sensitivities:
            return None
        return max((reach.sensitivity for reach in self.sensitivities), key=RANK.__getitem__)

    @property
    def tag_names(self) -> list[str]:
        return sorted({reach.tag for reach in self.tags})

    def as_dict(self) -> dict[str, Any]:
        return {
            "highest_sensitivity": self.highest,
            "sensitivities": [reach.as_dict() for reach in self.sensitivities],
            "tags": self.tag_names,
        }


def _start_nodes(obj: Any) -> list[LineageNode]:
    """The graph nodes standing for `obj`; a dataset stands for itself and its versions,
    since lineage (derived data, pipeline outputs) arrives at versions."""
    if isinstance(obj, Dataset):
        versions = DatasetVersion.objects.filter(dataset=obj).values("pk")
        return list(
            LineageNode.objects.filter(kind=NodeKind.DATASET, object_id=obj.pk)
            | LineageNode.objects.filter(kind=NodeKind.DATASET_VERSION, object_id__in=versions)
        )
    kind = {DatasetVersion: NodeKind.DATASET_VERSION, ModelVersion: NodeKind.MODEL_VERSION}.get(
        type(obj)
    )
    if kind is None:
        return []
    return list(LineageNode.objects.filter(kind=kind, object_id=obj.pk))


# A step of a path: its label, and the dataset it belongs to (None for jobs, models…).
Step = tuple[str, int | None]


def classify(obj: Any, user: Any = None) -> Classification:
    """The sensitivities and tags reaching `obj` (a dataset, dataset version or model
    version), including its own, each with the path from its source to `obj`. Data the
    user may not see keeps its sensitivity but loses its name, in the path too."""
    own_dataset = obj if isinstance(obj, Dataset) else getattr(obj, "dataset", None)
    found: dict[int, tuple[int, list[Step]]] = {}  # dataset id -> (depth, path)
    if own_dataset is not None:
        own_path: list[Step] = [(own_dataset.name, own_dataset.pk)]
        if not isinstance(obj, Dataset):
            own_path.append((str(obj), own_dataset.pk))
        found[own_dataset.pk] = (0, own_path)
    starts = _start_nodes(obj)
    if starts:
        result = graph.walk(
            [node.pk for node in starts], "upstream", graph.MAX_DEPTH, MAX_SOURCES, DATA_KINDS
        )
        version_ids = [
            reached.object_id
            for reached in result.nodes.values()
            if reached.kind == NodeKind.DATASET_VERSION
        ]
        version_datasets = dict(
            DatasetVersion.objects.filter(pk__in=version_ids).values_list("pk", "dataset_id")
        )

        def dataset_of(node_id: int) -> int | None:
            reached = result.nodes[node_id]
            if reached.kind == NodeKind.DATASET:
                return reached.object_id
            if reached.kind == NodeKind.DATASET_VERSION:
                return version_datasets.get(reached.object_id)
            return None

        for reached in result.matches:
            dataset_id = dataset_of(reached.id)
            if dataset_id is None or (
                dataset_id in found and found[dataset_id][0] <= reached.depth
            ):
                continue
            ids = list(reversed(graph.path_to(result, reached.id)))  # source first
            path: list[Step] = [
                (result.nodes[node_id].label, dataset_of(node_id)) for node_id in ids
            ]
            found[dataset_id] = (reached.depth, path)
    datasets = {
        dataset.pk: dataset
        for dataset in Dataset.objects.filter(
            pk__in={step[1] for _, path in found.values() for step in path if step[1]} | set(found)
        )
        .select_related("project")
        .prefetch_related("tags")
    }
    hidden = {
        pk
        for pk, dataset in datasets.items()
        if user is not None and not can_see_dataset(user, dataset)
    }

    def shown(path: list[Step]) -> list[str]:
        labels = []
        for label, dataset_id in path:
            if dataset_id in hidden:
                label = f"a {datasets[dataset_id].get_sensitivity_display()} dataset"
            if not labels or labels[-1] != label:
                labels.append(label)
        return labels

    sensitivities: list[SensitivityReach] = []
    tags: list[TagReach] = []
    for dataset_id, (depth, steps) in found.items():
        dataset = datasets[dataset_id]
        visible = dataset_id not in hidden
        label = dataset.name if visible else f"a {dataset.get_sensitivity_display()} dataset"
        path = shown(steps)
        # A source reached through a version is shown from its dataset: "customers → v3 → …".
        if path and path[0] != label:
            path.insert(0, label)
        sensitivities.append(
            SensitivityReach(dataset.sensitivity, dataset.pk, label, None, depth, path)
        )
        for column, sensitivity in sorted((dataset.column_sensitivity or {}).items()):
            if RANK.get(sensitivity, 0) > RANK[dataset.sensitivity]:
                sensitivities.append(
                    SensitivityReach(
                        sensitivity, dataset.pk, label, column if visible else None, depth, path
                    )
                )
        if visible:
            tags.extend(TagReach(tag.name, dataset.pk, label, depth) for tag in dataset.tags.all())
    sensitivities.sort(key=lambda reach: (-RANK[reach.sensitivity], reach.depth, reach.dataset_id))
    return Classification(sensitivities, tags)


def sensitivities_reaching(obj: Any, user: Any = None) -> list[SensitivityReach]:
    return classify(obj, user).sensitivities


def model_versions_downstream(version: DatasetVersion) -> list[ModelVersion]:
    """Every model version that depends on a dataset version, however indirectly."""
    starts = _start_nodes(version)
    if not starts:
        return []
    result = graph.walk(
        [node.pk for node in starts],
        "downstream",
        graph.MAX_DEPTH,
        100_000,
        [NodeKind.MODEL_VERSION],
    )
    ids = [reached.object_id for reached in result.matches]
    return list(
        ModelVersion.objects.filter(pk__in=ids).select_related("model__project", "model__owner")
    )
