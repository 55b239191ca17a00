"""`/healthz` and `/readyz`: open to probes without a login, 200 only when healthy, and
the worker heartbeat they read."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.signals import worker_ready, worker_shutdown
from django.db import OperationalError, connection
from django.test import Client
from django.utils import timezone

from mlops_portal.celery import app
from monitoring import heartbeat
from monitoring.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> Client:
    """Nobody signed in: a load balancer's probe."""
    return Client()


@pytest.fixture
def live_worker() -> WorkerHeartbeat:
    return WorkerHeartbeat.objects.create(
        hostname="celery@worker-1", last_seen=timezone.now() - dt.timedelta(seconds=5)
    )


@pytest.fixture
def broker_conf() -> Iterator[Any]:
    """The Celery app's broker settings, put back after the test changes them."""
    saved = (app.conf.broker_url, dict(app.conf.broker_transport_options))
    yield app.conf
    app.conf.broker_url, app.conf.broker_transport_options = saved


def test_it_answers_200_when_the_database_broker_and_a_worker_are_healthy(
    client: Client, live_worker: WorkerHeartbeat
) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "workers"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert body["checks"]["workers"]["alive"] == 1
    assert body["checks"]["broker"]["detail"] == "filesystem broker reachable."
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_fails_without_any_worker_heartbeat(client: Client) -> None:
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["workers"]["status"] == "fail"
    assert "none ever recorded" in body["checks"]["workers"]["detail"]
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["broker"]["status"] == "ok"


def test_a_heartbeat_older_than_a_minute_is_a_dead_worker(client: Client) -> None:
    WorkerHeartbeat.objects.create(
        hostname="celery@gone", last_seen=timezone.now() - dt.timedelta(seconds=75)
    )

    response = client.get("/healthz")

    assert response.status_code == 503
    workers = response.json()["checks"]["workers"]
    assert workers["alive"] == 0
    assert 74 <= workers["last_heartbeat_seconds_ago"] < 80
    assert "the last was 75 s ago" in workers["detail"]


def test_the_staleness_limit_is_a_setting(client: Client, settings: Any) -> None:
    settings.WORKER_HEARTBEAT_STALE_SECONDS = 120
    WorkerHeartbeat.objects.create(
        hostname="celery@slow", last_seen=timezone.now() - dt.timedelta(seconds=75)
    )

    assert client.get("/healthz").status_code == 200


def test_an_unreachable_broker_fails_within_about_a_second(
    client: Client, live_worker: WorkerHeartbeat, broker_conf: Any
) -> None:
    broker_conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    started = time.monotonic()
    response = client.get("/healthz")

    assert time.monotonic() - started < 3
    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker["status"] == "fail"
    assert broker["detail"] == "broker unreachable (OperationalError)."
    # The answer names the failure, not the connection string.
    assert "127.0.0.1" not in response.content.decode()


def test_a_reachable_redis_broker_is_healthy(
    client: Client, live_worker: WorkerHeartbeat, broker_conf: Any, redis_url: str
) -> None:
    broker_conf.broker_url = redis_url
    broker_conf.broker_transport_options = {}

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"]["detail"] == "redis broker reachable."


def test_a_filesystem_broker_without_its_queue_folder_fails(
    client: Client, live_worker: WorkerHeartbeat, broker_conf: Any, tmp_path: Path
) -> None:
    broker_conf.broker_transport_options = {
        **broker_conf.broker_transport_options,
        "data_folder_in": str(tmp_path / "missing"),
    }

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {
        "status": "fail",
        "detail": "The broker's queue folder is not writable.",
        "duration_ms": response.json()["checks"]["broker"]["duration_ms"],
    }


def test_a_database_that_does_not_answer_fails_both_probes(
    client: Client, live_worker: WorkerHeartbeat, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(connection, "cursor", refuse)

    health = client.get("/healthz")
    ready = client.get("/readyz")

    assert health.status_code == 503
    assert health.json()["checks"]["database"]["detail"] == (
        "database unreachable (OperationalError)."
    )
    assert health.json()["checks"]["workers"]["status"] == "fail"
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"]["status"] == "fail"


def test_the_probes_answer_get_only(client: Client) -> None:
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


# Readiness ----------------------------------------------------------------------------------


def test_it_is_ready_with_a_database_and_a_writable_spool_even_without_workers(
    client: Client, broker_conf: Any
) -> None:
    broker_conf.broker_url = "redis://127.0.0.1:1/0"  # serving goes on without the broker

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "prediction_spool"}
    assert body["checks"]["prediction_spool"]["status"] == "ok"


def test_it_is_not_ready_when_the_prediction_spool_cannot_be_written(
    client: Client, settings: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings.PREDICTION_SPOOL_DIR = blocker / "spool"

    response = client.get("/readyz")

    assert response.status_code == 503
    spool = response.json()["checks"]["prediction_spool"]
    assert spool["status"] == "fail"
    assert "cannot be created" in spool["detail"]


def test_a_signed_in_user_gets_the_same_answer(client: Client, viewer: Any) -> None:
    client.force_login(viewer)

    assert client.get("/readyz").status_code == 200


# The heartbeat --------------------------------------------------------------------------------


def test_a_beat_records_the_worker_and_refreshes_it() -> None:
    earlier = timezone.now() - dt.timedelta(minutes=5)
    heartbeat.beat("celery@a", now=earlier)
    heartbeat.beat("celery@a")

    [row] = WorkerHeartbeat.objects.all()
    assert row.hostname == "celery@a"
    assert row.last_seen > earlier + dt.timedelta(minutes=4)


def test_workers_gone_for_a_day_are_pruned() -> None:
    now = timezone.now()
    heartbeat.beat("celery@old", now=now - dt.timedelta(days=2))
    heartbeat.beat("celery@recent", now=now - dt.timedelta(hours=1))

    assert heartbeat.prune(now) == 1
    assert list(WorkerHeartbeat.objects.values_list("hostname", flat=True)) == ["celery@recent"]


@pytest.mark.django_db(transaction=True)
def test_a_ready_worker_beats_from_a_thread_until_it_shuts_down(client: Client) -> None:
    class Worker:  # what the signals' senders (the consumer, the worker) carry
        hostname = "celery@signalled"

    worker = Worker()

    worker_ready.send(sender=worker)
    try:
        deadline = time.monotonic() + 10
        while not WorkerHeartbeat.objects.filter(hostname=worker.hostname).exists():
            assert time.monotonic() < deadline, "no heartbeat recorded"
            time.sleep(0.05)
        # Ready again (the consumer reconnected): still one thread.
        first = heartbeat.start(worker.hostname)
        worker_ready.send(sender=worker)
        assert heartbeat.start(worker.hostname) is first

        assert client.get("/healthz").json()["checks"]["workers"]["alive"] == 1
    finally:
        worker_shutdown.send(sender=worker)

    assert not first.is_alive()
    assert not WorkerHeartbeat.objects.filter(hostname=worker.hostname).exists()
