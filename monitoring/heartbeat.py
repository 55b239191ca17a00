"""Each Celery worker records that it is alive, for `/healthz`.

When a worker is ready, a daemon thread of its main process upserts its `WorkerHeartbeat`
every `WORKER_HEARTBEAT_SECONDS` (15), so a worker busy with a long task (or one whose
database is briefly down) never blocks on it, and a stuck or dead worker stops beating.
A worker that shuts down cleanly removes its row at once; rows of workers gone for a day
(hosts that were replaced) are pruned. Connected from `MonitoringConfig.ready()`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from celery.signals import worker_ready, worker_shutdown
from django.conf import settings
from django.db import connection
from django.utils import timezone

from monitoring.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

FORGET_AFTER = dt.timedelta(days=1)

_lock = threading.Lock()
_running: dict[str, tuple[threading.Thread, threading.Event]] = {}


def beat(hostname: str, now: dt.datetime | None = None) -> None:
    WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"last_seen": now or timezone.now()}
    )


def forget(hostname: str) -> None:
    WorkerHeartbeat.objects.filter(hostname=hostname).delete()


def prune(now: dt.datetime | None = None) -> int:
    cutoff = (now or timezone.now()) - FORGET_AFTER
    deleted, _ = WorkerHeartbeat.objects.filter(last_seen__lt=cutoff).delete()
    return deleted


def start(hostname: str, interval: float | None = None) -> threading.Thread:
    """Start the worker's heartbeat thread (once: a consumer that reconnects to the
    broker is "ready" again, and keeps its thread)."""
    with _lock:
        running = _running.get(hostname)
        if running is not None and running[0].is_alive():
            return running[0]
        stopping = threading.Event()
        interval = interval or float(settings.WORKER_HEARTBEAT_SECONDS)
        thread = threading.Thread(
            target=_run,
            args=(hostname, interval, stopping),
            name=f"heartbeat-{hostname}",
            daemon=True,
        )
        _running[hostname] = (thread, stopping)
        thread.start()
        return thread


def stop(hostname: str, *, remove: bool = True, timeout: float = 5.0) -> None:
    with _lock:
        running = _running.pop(hostname, None)
    if running is not None:
        thread, stopping = running
        stopping.set()
        thread.join(timeout)
    if remove:
        try:
            forget(hostname)
        except Exception as exc:  # shutting down: the row goes stale on its own
            logger.warning("Could not remove the heartbeat of %s: %s", hostname, exc)
        finally:
            connection.close()


def _run(hostname: str, interval: float, stopping: threading.Event) -> None:
    try:
        prune()
    except Exception as exc:
        logger.warning("Could not prune old worker heartbeats: %s", exc)
    while not stopping.is_set():
        try:
            beat(hostname)
        except Exception as exc:  # the database may be down for a while: keep trying
            logger.warning("Worker heartbeat of %s not recorded: %s", hostname, exc)
        finally:
            # This thread's own connection: closed each time, so a broken one is replaced.
            connection.close()
        stopping.wait(interval)


@worker_ready.connect
def start_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    start(sender.hostname)


@worker_shutdown.connect
def stop_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    stop(sender.hostname)
