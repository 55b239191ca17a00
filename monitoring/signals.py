"""Quality follows the catalog: a new stored version is checked, and destroyed data
takes its sample rows with it. Serving forgets which version is in production, and who
may score, as soon as this process sees either change (other processes within a second)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from lineage.models import DatasetVersion, Membership, ModelVersion
from monitoring import model_cache, services


@receiver(post_save, sender=DatasetVersion)
def check_new_version(sender: type, instance: DatasetVersion, created: bool, **kwargs: Any) -> None:
    if created:
        # In the version's own transaction: a stored version never exists without the run
        # its suite asks for (the worker starts once it commits).
        services.on_new_dataset_version(instance)
    elif instance.destroyed_at and "destroyed_at" in (kwargs.get("update_fields") or ()):
        services.purge_samples(instance)


@receiver(post_save, sender=ModelVersion)
@receiver(post_delete, sender=ModelVersion)
@receiver(post_save, sender=Membership)
@receiver(post_delete, sender=Membership)
def forget_served_versions(sender: type, **kwargs: Any) -> None:
    model_cache.forget_answers()
