"""Celery tasks: thin, idempotent, claimed. The work itself lives in plain functions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from lineage import profiling, services, webhooks
from lineage.choices import JobState, JobType
from lineage.models import Job

logger = logging.getLogger(__name__)

# Errors whose message is meant for the user; anything else is reported generically.
USER_FACING_ERRORS: tuple[type[Exception], ...] = (profiling.DataFileError, services.CatalogError)

# A handler returns this when it handed the work on (to subtasks) and the job ends later,
# when the last of them finishes; otherwise the job succeeds when the handler returns.
DEFERRED = "deferred"

HANDLERS: dict[str, Callable[[Job], Any]] = {
    JobType.PROFILE_DATASET_VERSION: services.profile_dataset_version,
}
FAILURE_HOOKS: dict[str, Callable[[Job, str], None]] = {
    JobType.PROFILE_DATASET_VERSION: services.mark_profiling_failed,
}
RETRY_HOOKS: dict[str, Callable[[Job], None]] = {
    JobType.PROFILE_DATASET_VERSION: services.mark_profiling_pending,
}


def register_job_type(
    job_type: str,
    handler: Callable[[Job], Any],
    *,
    on_failure: Callable[[Job, str], None] | None = None,
    on_retry: Callable[[Job], None] | None = None,
    user_facing_errors: tuple[type[Exception], ...] = (),
) -> None:
    """Let another app (monitoring) run its jobs through the same claimed `run_job` task,
    so every background operation shares one Job table, progress bar and retry button."""
    global USER_FACING_ERRORS
    HANDLERS[job_type] = handler
    if on_failure is not None:
        FAILURE_HOOKS[job_type] = on_failure
    if on_retry is not None:
        RETRY_HOOKS[job_type] = on_retry
    USER_FACING_ERRORS = tuple(dict.fromkeys(USER_FACING_ERRORS + user_facing_errors))


# A queued job older than this was probably never delivered (broker down at the time).
REDISPATCH_AFTER = timedelta(minutes=2)


def dispatch(job_id: int) -> None:
    """Send a job to the workers. If the broker is unreachable the job stays queued and
    `redispatch_queued_jobs` sends it again later: the request that created it still works."""
    try:
        run_job.delay(job_id)
    except BrokerError:
        logger.warning("Broker unreachable; job %s stays queued for redispatch", job_id)


@shared_task(
    bind=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def run_job(self: Any, job_id: int) -> None:
    """Run one queued job; a no-op if it is gone or another worker has claimed it."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or not job.claim(task_id=self.request.id or ""):
        return
    try:
        outcome = HANDLERS[job.job_type](job)
    except OperationalError:
        # The database hiccupped: give the job back so the retry can claim it again.
        Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED)
        raise
    except USER_FACING_ERRORS as exc:
        _fail(job, str(exc))
    except Exception as exc:
        logger.exception("Job %s failed", job.pk)
        _fail(job, f"Unexpected error ({type(exc).__name__}): {exc}")
    else:
        if outcome != DEFERRED:
            job.succeed()


@shared_task
def redispatch_queued_jobs() -> int:
    """Send again the jobs that have waited in the queue too long (run by beat)."""
    cutoff = timezone.now() - REDISPATCH_AFTER
    stale = list(
        Job.objects.filter(state=JobState.QUEUED, created_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:500]
    )
    for job_id in stale:
        dispatch(job_id)
    return len(stale)


@shared_task(
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_jitter=True,
    max_retries=8,
)
def post_webhook(project_id: int, payload: dict[str, Any]) -> int | None:
    """POST a notification to the project's webhook; network errors and 5xx answers are
    retried with backoff (a 4xx is the receiver refusing: not retried)."""
    from lineage.models import Project

    project = Project.objects.filter(pk=project_id).only("webhook_url").first()
    if project is None or not project.webhook_url:
        return None
    return webhooks.post_json(project.webhook_url, payload)


@shared_task
def find_expired_data() -> int:
    """Daily: tell owners about data kept past its retention date (run by beat)."""
    from lineage import governance

    return governance.notify_expired_data()


def fail_job(job: Job, message: str) -> None:
    """End a job as failed with a message for the user, running its type's failure hook."""
    _fail(job, message)


def _fail(job: Job, message: str) -> None:
    job.fail(message)
    hook = FAILURE_HOOKS.get(job.job_type)
    if hook:
        hook(job, message)
