"""Give the versions that existed before the lineage graph their nodes and edges."""

from django.db import migrations


def backfill(apps, schema_editor):  # type: ignore[no-untyped-def]
    node_model = apps.get_model("lineage", "LineageNode")
    edge_model = apps.get_model("lineage", "LineageEdge")
    dataset_version_model = apps.get_model("lineage", "DatasetVersion")
    model_version_model = apps.get_model("lineage", "ModelVersion")

    def node(kind, obj, label, project_id):  # type: ignore[no-untyped-def]
        found, _ = node_model.objects.get_or_create(
            kind=kind, object_id=obj.pk, defaults={"label": label, "project_id": project_id}
        )
        return found

    for version in dataset_version_model.objects.select_related("dataset"):
        dataset = version.dataset
        edge_model.objects.get_or_create(
            source=node("dataset", dataset, dataset.name, dataset.project_id),
            target=node(
                "dataset_version", version, f"{dataset.name} v{version.version}", dataset.project_id
            ),
            kind="has_version",
        )
    for version in model_version_model.objects.select_related(
        "model", "training_dataset_version__dataset", "evaluation_dataset_version__dataset"
    ):
        project_id = version.model.project_id
        model_node = node(
            "model_version", version, f"{version.model.name} v{version.version}", project_id
        )
        for data_version, kind in (
            (version.training_dataset_version, "trained_on"),
            (version.evaluation_dataset_version, "evaluated_on"),
        ):
            if data_version is None:
                continue
            label = f"{data_version.dataset.name} v{data_version.version}"
            source = node("dataset_version", data_version, label, project_id)
            edge_model.objects.get_or_create(source=source, target=model_node, kind=kind)


class Migration(migrations.Migration):
    dependencies = [("lineage", "0002_lineage_graph")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
