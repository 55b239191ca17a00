"""Job delivery: a job survives a dead broker, a dead worker and a duplicate message."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from lineage.models import Dataset, DatasetVersion, Job
from lineage.tasks import redispatch_queued_jobs, run_job

ROOT = Path(__file__).resolve().parents[2]


def test_a_job_left_running_by_a_dead_worker_is_taken_back_only_by_its_own_redelivery(
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        version = add_version(dataset)
    job = Job.objects.get(target_id=version.pk)

    assert job.claim(task_id="first-delivery")
    # The worker dies here; a duplicate message (another task id) must not start it twice…
    assert not Job.objects.get(pk=job.pk).claim(task_id="duplicate")
    # …but the broker's redelivery of the same task may take it back.
    assert Job.objects.get(pk=job.pk).claim(task_id="first-delivery")
    assert Job.objects.get(pk=job.pk).attempts == 2


def test_a_finished_job_is_never_run_again_by_a_redelivered_task(
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        version = add_version(dataset)
    job = Job.objects.get(target_id=version.pk)
    assert job.state == "succeeded"

    run_job.apply(args=[job.pk], task_id=job.worker_task_id)

    job.refresh_from_db()
    assert (job.state, job.attempts) == ("succeeded", 1)


def test_beat_redispatches_a_job_that_waited_too_long_in_the_queue(
    dataset: Dataset,
    add_version: Callable[..., DatasetVersion],
    eager_tasks: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=False):  # the message never left
        stale = add_version(dataset)
        fresh = add_version(dataset)
    Job.objects.filter(target_id=stale.pk).update(created_at=timezone.now() - timedelta(hours=1))

    assert redispatch_queued_jobs() == 1

    assert Job.objects.get(target_id=stale.pk).state == "succeeded"
    assert DatasetVersion.objects.get(pk=stale.pk).profile_status == "succeeded"
    assert Job.objects.get(target_id=fresh.pk).state == "queued"  # still within its grace


def test_an_upload_is_kept_when_the_broker_is_down_and_its_job_waits_in_the_queue(
    tmp_path: Path,
) -> None:
    """A real unreachable broker (nothing listens on port 1), in a process of its own."""
    env = {
        **os.environ,
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'broker-down.sqlite3'}",
        "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    script = (
        "from django.core.files.base import ContentFile\n"
        "from lineage.models import Dataset, Job, Project\n"
        "from lineage import services\n"
        "project = Project.objects.create(name='p', slug='p')\n"
        "dataset = Dataset.objects.create(project=project, name='d')\n"
        "version = services.create_dataset_version_from_upload(\n"
        "    dataset, ContentFile(b'a,b\\n1,2\\n', name='x.csv'), user=None)\n"
        "print('RESULT', version.version, Job.objects.get().state)\n"
    )
    result = subprocess.run(
        [*manage, "shell", "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert "RESULT 1 queued" in result.stdout
    assert "stays queued for redispatch" in result.stderr
