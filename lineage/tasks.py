"""Celery tasks: thin, idempotent, claimed. The work itself lives in plain functions."""

from __future__ import annotations

import logging
from collections.abc import Callable

from celery import shared_task
from django.db import OperationalError

from lineage import profiling, services
from lineage.choices import JobType
from lineage.models import Job

logger = logging.getLogger(__name__)

# Errors whose message is meant for the user; anything else is reported generically.
USER_FACING_ERRORS: tuple[type[Exception], ...] = (profiling.DataFileError, services.CatalogError)

HANDLERS: dict[str, Callable[[Job], None]] = {
    JobType.PROFILE_DATASET_VERSION: services.profile_dataset_version,
}
FAILURE_HOOKS: dict[str, Callable[[Job, str], None]] = {
    JobType.PROFILE_DATASET_VERSION: services.mark_profiling_failed,
}


@shared_task(
    autoretry_for=(OperationalError,), retry_backoff=True, retry_jitter=True, max_retries=5
)
def run_job(job_id: int) -> None:
    """Run one queued job; a no-op if it is gone or another worker has claimed it."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or not job.claim():
        return
    try:
        HANDLERS[job.job_type](job)
    except OperationalError:
        # The database hiccupped: give the job back so the retry can claim it again.
        Job.objects.filter(pk=job.pk).update(state="queued")
        raise
    except USER_FACING_ERRORS as exc:
        _fail(job, str(exc))
    except Exception as exc:
        logger.exception("Job %s failed", job.pk)
        _fail(job, f"Unexpected error ({type(exc).__name__}): {exc}")
    else:
        job.succeed()


def _fail(job: Job, message: str) -> None:
    job.fail(message)
    hook = FAILURE_HOOKS.get(job.job_type)
    if hook:
        hook(job, message)
