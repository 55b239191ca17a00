"""Probes for load balancers and orchestrators, open without a login.

`/healthz` says whether the whole system works: the database, the broker, and at least
one Celery worker alive (by the heartbeat each records, `monitoring.heartbeat`); 200 only
when all three are. `/readyz` says whether this web process can serve predictions: its
database and its prediction spool; a broker or worker outage does not make it unready,
because serving goes on without them.

Answers name what failed, but not the error's text (an unauthenticated page should not
show connection strings); the log has the details.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 1.0

Check = dict[str, Any]


def _timed(check: Callable[[], Check], name: str) -> Check:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # a probe reports every failure, whatever its kind
        # No traceback: probes repeat every few seconds during an outage.
        logger.warning("Health check %s failed: %s", name, exc)
        result = {"status": "fail", "detail": f"{name} unreachable ({type(exc).__name__})."}
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def check_database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"status": "ok", "detail": f"{connection.vendor} answers."}


def check_broker() -> Check:
    """Connect to the broker the workers read, giving up after about a second."""
    from mlops_portal.celery import app

    with app.connection_for_write(
        connect_timeout=BROKER_TIMEOUT_SECONDS,
        transport_options={
            "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
            "socket_timeout": BROKER_TIMEOUT_SECONDS,
        },
    ) as broker:
        broker.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT_SECONDS)
        transport = broker.transport_cls
        if transport == "filesystem":
            # Connecting to the filesystem transport touches nothing: check its folder.
            folder = broker.transport_options.get("data_folder_in", "")
            if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
                return {"status": "fail", "detail": "The broker's queue folder is not writable."}
    return {"status": "ok", "detail": f"{transport} broker reachable."}


def check_workers(now: dt.datetime | None = None) -> Check:
    now = now or timezone.now()
    stale_after = settings.WORKER_HEARTBEAT_STALE_SECONDS
    alive = WorkerHeartbeat.objects.filter(last_seen__gte=now - dt.timedelta(seconds=stale_after))
    count = alive.count()
    newest = WorkerHeartbeat.objects.order_by("-last_seen").values_list("last_seen", flat=True)
    last_seen = newest.first()
    age = round((now - last_seen).total_seconds(), 1) if last_seen else None
    if count:
        return {
            "status": "ok",
            "detail": f"{count} worker{'s' if count != 1 else ''} alive.",
            "alive": count,
            "last_heartbeat_seconds_ago": age,
        }
    detail = f"No worker heartbeat in the last {stale_after} s" + (
        f" (the last was {age:.0f} s ago)." if age is not None else "; none ever recorded."
    )
    return {"status": "fail", "detail": detail, "alive": 0, "last_heartbeat_seconds_ago": age}


def check_spool() -> Check:
    from monitoring.prediction_log import spool_ready

    ready, detail = spool_ready()
    return {"status": "ok" if ready else "fail", "detail": detail}


def _answer(checks: dict[str, Check]) -> JsonResponse:
    healthy = all(check["status"] == "ok" for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "fail", "checks": checks},
        status=200 if healthy else 503,
    )


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return _answer(
        {
            "database": _timed(check_database, "database"),
            "broker": _timed(check_broker, "broker"),
            "workers": _timed(check_workers, "workers"),
        }
    )


@login_not_required
@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    return _answer(
        {
            "database": _timed(check_database, "database"),
            "prediction_spool": _timed(check_spool, "prediction spool"),
        }
    )
