"""Stored files follow their rows: when a version row is deleted (directly or by cascade),
its file is deleted once the transaction commits, so a rollback keeps both."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from lineage.models import DatasetVersion, ModelVersion


def _delete_file_on_commit(field_file: Any) -> None:
    if not field_file:
        return
    storage, name = field_file.storage, field_file.name
    transaction.on_commit(lambda: storage.delete(name))


@receiver(post_delete, sender=DatasetVersion)
def delete_dataset_file(sender: type, instance: DatasetVersion, **kwargs: Any) -> None:
    _delete_file_on_commit(instance.file)


@receiver(post_delete, sender=ModelVersion)
def delete_model_artifact(sender: type, instance: ModelVersion, **kwargs: Any) -> None:
    _delete_file_on_commit(instance.artifact)
