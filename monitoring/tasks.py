"""Celery tasks of the monitoring app. Runs themselves go through lineage's claimed
`run_job`; beat calls this one to start a scheduled run."""

from __future__ import annotations

from celery import shared_task

from monitoring import drift_runs, services

# The drift tasks live with their service; importing it here registers them with Celery.
__all__ = ["drift_runs", "run_scheduled_quality_suite"]


@shared_task
def run_scheduled_quality_suite(suite_id: int) -> int | None:
    """Queue a run of the suite on its dataset's latest stored version (run by beat)."""
    run = services.run_scheduled(suite_id)
    return run.pk if run else None
