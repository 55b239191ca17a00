"""Celery tasks of the monitoring app: thin wrappers that beat calls. Quality runs and
drift analyses themselves go through lineage's claimed `run_job`."""

from __future__ import annotations

from celery import shared_task

from monitoring import drift_runs, services

# The drift tasks live with their service; importing it here registers them with Celery.
__all__ = [
    "apply_prediction_retention",
    "compact_prediction_rollups",
    "drift_runs",
    "evaluate_alerts",
    "recover_prediction_spool",
    "run_scheduled_quality_suite",
]


@shared_task
def run_scheduled_quality_suite(suite_id: int) -> int | None:
    """Queue a run of the suite on its dataset's latest stored version (run by beat)."""
    run = services.run_scheduled(suite_id)
    return run.pk if run else None


@shared_task
def evaluate_alerts() -> dict[str, int]:
    """Beat, every minute: open and resolve alert incidents."""
    from monitoring import alerts

    return alerts.evaluate_rules()


@shared_task
def apply_prediction_retention() -> dict[int, int]:
    """Beat, daily: delete logged predictions past each model's retention."""
    from monitoring import retention

    return retention.apply_retention()


@shared_task
def compact_prediction_rollups() -> int:
    """Beat, hourly: merge each past hour's partial aggregates into one row."""
    from monitoring import prediction_stats

    return prediction_stats.compact_rollups()


@shared_task
def recover_prediction_spool() -> int:
    """Beat, every minute: store what web processes that died left in the spool."""
    from monitoring import prediction_log

    return prediction_log.recover()
