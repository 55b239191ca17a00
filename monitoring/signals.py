"""Quality follows the catalog: a new stored version is checked, and destroyed data
takes its sample rows with it."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from lineage.models import DatasetVersion
from monitoring import services


@receiver(post_save, sender=DatasetVersion)
def check_new_version(sender: type, instance: DatasetVersion, created: bool, **kwargs: Any) -> None:
    if created:
        # In the version's own transaction: a stored version never exists without the run
        # its suite asks for (the worker starts once it commits).
        services.on_new_dataset_version(instance)
    elif instance.destroyed_at and "destroyed_at" in (kwargs.get("update_fields") or ()):
        services.purge_samples(instance)
