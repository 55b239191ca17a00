"""The prediction log's spool (monitoring/prediction_log.py): a request appends its records
to a segment file and a writer stores sealed segments, deleting each only after its batch
is committed. Nothing is lost (a failed store leaves the files; a later drain stores them;
the segments of a process that died are adopted by another; a line torn by a crash costs
that line only) and nothing is stored twice (storing is idempotent on the request UUID, and
a record's aggregates are written in the same transaction as the record). Past its bound
the spool refuses more (predict answers 503) instead of growing without end."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Sum
from django.utils import timezone
from rest_framework.test import APIClient

from lineage.models import RegisteredModel
from monitoring import model_cache, prediction_log, rollups
from monitoring.models import PredictionRecord, PredictionRollup

pytestmark = pytest.mark.django_db

RECORD = {"amount": 120.0, "items": 2, "channel": "online"}
GHOST = "ghost-host-4242-deadbeef"


@pytest.fixture(autouse=True)
def _fresh_model_cache() -> Iterator[None]:
    model_cache.forget_all()
    yield
    model_cache.forget_all()


@pytest.fixture
def spool_dir(settings: Any) -> Path:
    return Path(settings.PREDICTION_SPOOL_DIR)


@pytest.fixture
def entries(served_model: RegisteredModel) -> Callable[[int], list[dict[str, Any]]]:
    """`count` scored records of the served model, as the predict view logs them."""
    version = served_model.versions.get(version=1)

    def make(count: int) -> list[dict[str, Any]]:
        return [
            prediction_log.prediction_entry(
                request_id=uuid.uuid4(),
                model_id=served_model.pk,
                model_version_id=version.pk,
                logged_at=timezone.now(),
                inputs=dict(RECORD),
                prediction=1,
                probabilities={"0": 0.3, "1": 0.7},
                confidence=0.7,
                latency_ms=2.5,
            )
            for _ in range(count)
        ]

    return make


def segments(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if not path.name.endswith(".lock"))


def stored_ids() -> list[str]:
    return [str(value) for value in PredictionRecord.objects.values_list("request_id", flat=True)]


def ids_of(batch: list[dict[str, Any]]) -> set[str]:
    return {entry["request_id"] for entry in batch}


def requests_logged() -> int:
    return PredictionRollup.objects.aggregate(n=Sum("requests"))["n"] or 0


def write_ghost_segment(
    directory: Path, number: int, batch: list[dict[str, Any]], kind: str
) -> Path:
    """A segment of a process that no longer runs, as it left it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{GHOST}-{number:09d}.{kind}"
    path.write_text("".join(json.dumps(entry) + "\n" for entry in batch))
    return path


def test_appended_records_wait_on_disk_until_a_drain_stores_and_deletes_them(
    entries: Callable[[int], list[dict[str, Any]]], spool_dir: Path
) -> None:
    spool = prediction_log.spool()
    batch = entries(5)
    spool.append(batch[:2], start_writer=False)
    spool.append(batch[2:], start_writer=False)
    (segment,) = segments(spool_dir)
    assert segment.endswith(".open")
    lines = (spool_dir / segment).read_text().splitlines()
    assert [json.loads(line)["request_id"] for line in lines] == [e["request_id"] for e in batch]
    assert spool.waiting_bytes() == (spool_dir / segment).stat().st_size
    assert not PredictionRecord.objects.exists()

    assert spool.drain() == 5
    assert segments(spool_dir) == []
    assert spool.waiting_bytes() == 0
    assert sorted(stored_ids()) == sorted(ids_of(batch))
    assert requests_logged() == 5
    assert spool.drain() == 0


def test_a_failed_store_leaves_the_files_and_a_later_drain_stores_them_exactly_once(
    entries: Callable[[int], list[dict[str, Any]]],
    spool_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The aggregates fail after the records were inserted: the records go back with them."""
    spool = prediction_log.spool()
    first, second = entries(4), entries(3)
    spool.append(first, start_writer=False)
    real_partials = rollups.partials

    def failing_partials(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(rollups, "partials", failing_partials)
    with pytest.raises(RuntimeError):
        spool.drain()
    (waiting,) = segments(spool_dir)
    assert waiting.endswith(".ready")
    assert not PredictionRecord.objects.exists() and requests_logged() == 0
    waiting_bytes = spool.waiting_bytes()
    assert waiting_bytes > 0

    spool.append(second, start_writer=False)  # the requests go on meanwhile
    assert len(segments(spool_dir)) == 2
    monkeypatch.setattr(rollups, "partials", real_partials)
    assert spool.drain() == 7
    assert segments(spool_dir) == []
    assert spool.waiting_bytes() == 0
    assert sorted(stored_ids()) == sorted(ids_of(first) | ids_of(second))
    assert requests_logged() == 7


def test_a_spool_holds_the_lock_of_its_process_while_it_runs(
    entries: Callable[[int], list[dict[str, Any]]], spool_dir: Path
) -> None:
    spool = prediction_log.spool()
    spool.append(entries(1), start_writer=False)
    (lock_path,) = spool_dir.glob("*.lock*")
    assert lock_path.name.endswith(".lock")
    assert lock_path.stem == (spool_dir / segments(spool_dir)[0]).name.rsplit("-", 1)[0]
    assert prediction_log.adopt(lock_path) == 0  # alive: its segments are its own
    assert len(segments(spool_dir)) == 1
    assert spool.drain() == 1


def test_the_segments_of_a_dead_process_are_adopted(
    entries: Callable[[int], list[dict[str, Any]]], spool_dir: Path
) -> None:
    sealed, still_open = entries(3), entries(2)
    write_ghost_segment(spool_dir, 1, sealed, "ready")
    write_ghost_segment(spool_dir, 2, still_open, "open")
    (spool_dir / f"{GHOST}.lock").touch()  # its lock is held by no one any more

    assert prediction_log.recover() == 5
    assert sorted(stored_ids()) == sorted(ids_of(sealed) | ids_of(still_open))
    assert list(spool_dir.glob(f"{GHOST}*")) == []
    assert requests_logged() == 5
    assert prediction_log.recover() == 0


def test_the_segments_of_a_live_process_are_left_to_it(
    entries: Callable[[int], list[dict[str, Any]]], spool_dir: Path
) -> None:
    batch = entries(2)
    write_ghost_segment(spool_dir, 1, batch, "open")
    lock_path = spool_dir / f"{GHOST}.lock"
    held = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert prediction_log.recover() == 0
        assert segments(spool_dir) == [f"{GHOST}-000000001.open"]
        assert not PredictionRecord.objects.exists()
    finally:
        os.close(held)  # the process dies
    assert prediction_log.recover() == 2
    assert sorted(stored_ids()) == sorted(ids_of(batch))


def test_a_segment_stored_but_not_deleted_before_a_crash_is_not_stored_twice(
    entries: Callable[[int], list[dict[str, Any]]], spool_dir: Path
) -> None:
    spool = prediction_log.spool()
    batch = entries(4)
    spool.append(batch, start_writer=False)
    (segment,) = segments(spool_dir)
    # The process stored the segment and died before deleting it: a copy stays behind.
    shutil.copy(spool_dir / segment, spool_dir / f"{GHOST}-000000001.ready")
    (spool_dir / f"{GHOST}.lock").touch()
    assert spool.drain() == 4
    rollups_before = list(PredictionRollup.objects.values_list("requests", "labelled", "stats"))

    assert prediction_log.recover() == 0
    assert segments(spool_dir) == []
    assert PredictionRecord.objects.count() == 4
    assert list(PredictionRollup.objects.values_list("requests", "labelled", "stats")) == (
        rollups_before
    )


def test_a_torn_last_line_costs_that_line_only(
    entries: Callable[[int], list[dict[str, Any]]],
    spool_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    batch = entries(4)
    path = write_ghost_segment(spool_dir, 1, batch, "open")
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # the process died writing the last line
    (spool_dir / f"{GHOST}.lock").touch()

    with caplog.at_level(logging.ERROR, logger="monitoring.prediction_log"):
        assert prediction_log.recover() == 3
    assert sorted(stored_ids()) == sorted(ids_of(batch[:3]))
    assert "Skipped a torn line 4" in caplog.text
    assert not path.exists()


def test_storing_the_same_segment_twice_stores_it_once(
    entries: Callable[[int], list[dict[str, Any]]], spool_dir: Path
) -> None:
    path = write_ghost_segment(spool_dir, 1, entries(3), "ready")
    assert prediction_log.store_segment(path) == 3
    rollup_rows = PredictionRollup.objects.count()
    assert prediction_log.store_segment(path) == 0
    assert PredictionRecord.objects.count() == 3
    assert PredictionRollup.objects.count() == rollup_rows and requests_logged() == 3


def test_refused_requests_are_logged_as_errors_without_records(
    served_model: RegisteredModel, spool_dir: Path
) -> None:
    version = served_model.versions.get(version=1)
    spool = prediction_log.spool()
    error = prediction_log.error_entry(
        model_id=served_model.pk, model_version_id=version.pk, logged_at=timezone.now()
    )
    spool.append([error, error], start_writer=False)
    assert spool.drain() == 0
    assert not PredictionRecord.objects.exists()
    assert PredictionRollup.objects.aggregate(n=Sum("errors"))["n"] == 2


def test_the_spool_refuses_records_past_its_bound_until_it_is_drained(
    entries: Callable[[int], list[dict[str, Any]]], tmp_path: Path
) -> None:
    one = entries(1)
    size = len(json.dumps(one[0], separators=(",", ":"), default=str)) + 1
    spool = prediction_log.PredictionSpool(
        tmp_path / "bounded", max_bytes=int(size * 2.5), flush_seconds=60
    )
    spool.append(entries(1), start_writer=False)
    spool.append(entries(1), start_writer=False)
    refused = entries(1)
    with pytest.raises(prediction_log.SpoolFull, match="retry shortly"):
        spool.append(refused, start_writer=False)
    (segment,) = segments(tmp_path / "bounded")
    assert refused[0]["request_id"] not in (tmp_path / "bounded" / segment).read_text()

    assert spool.drain() == 2
    spool.append(refused, start_writer=False)
    assert spool.drain() == 1
    assert PredictionRecord.objects.count() == 3


def test_predict_answers_503_under_back_pressure_and_loses_nothing_it_answered(
    served_model: RegisteredModel,
    viewer: User,
    api_client_for: Callable[[User], APIClient],
    settings: Any,
) -> None:
    # A writer that does not get to the database in time: the backlog grows to the bound.
    settings.PREDICTION_LOG_WRITER = "thread"
    settings.PREDICTION_LOG_FLUSH_SECONDS = 3600
    settings.PREDICTION_SPOOL_MAX_BYTES = 2_000
    client = api_client_for(viewer)
    url = f"/api/v1/models/{served_model.pk}/predict"
    answered: list[str] = []
    statuses = []
    for _ in range(30):
        response = client.post(url, {"inputs": RECORD}, format="json")
        statuses.append(response.status_code)
        if response.status_code == 200:
            answered.append(response.json()["request_id"])
        else:
            break
    assert statuses[-1] == 503, statuses
    assert set(statuses[:-1]) == {200} and len(answered) >= 3
    assert "retry shortly" in response.json()["detail"]
    assert not PredictionRecord.objects.exists()  # all of it still on disk

    spool = prediction_log.spool()
    assert spool.drain() == len(answered)
    assert sorted(stored_ids()) == sorted(answered)
    response = client.post(url, {"inputs": RECORD}, format="json")
    assert response.status_code == 200
    assert spool.drain() == 1
    assert PredictionRecord.objects.count() == len(answered) + 1


def test_concurrent_requests_each_land_once(
    entries: Callable[[int], list[dict[str, Any]]], spool_dir: Path
) -> None:
    spool = prediction_log.spool()
    batches = [entries(3) for _ in range(8 * 20)]
    errors: list[BaseException] = []

    def send(part: list[list[dict[str, Any]]]) -> None:
        try:
            for batch in part:
                spool.append(batch, start_writer=False)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(batches[n::8],)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert spool.drain() == 480
    expected = set().union(*(ids_of(batch) for batch in batches))
    assert sorted(stored_ids()) == sorted(expected)
    assert requests_logged() == 480


@pytest.mark.django_db(transaction=True)
def test_the_writer_thread_stores_what_predict_logged(
    served_model: RegisteredModel,
    viewer: User,
    api_client_for: Callable[[User], APIClient],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.PREDICTION_LOG_WRITER = "thread"
    settings.PREDICTION_LOG_FLUSH_SECONDS = 0.05
    # The thread's connection is let go at its next round, not kept for reuse: the test
    # database can be dropped at the end of the session.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    client = api_client_for(viewer)
    url = f"/api/v1/models/{served_model.pk}/predict"
    response = client.post(url, {"records": [RECORD] * 5}, format="json")
    assert response.status_code == 200
    answered = sorted(answer["request_id"] for answer in response.json()["predictions"])
    spool = prediction_log.spool()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and PredictionRecord.objects.count() < 5:
            time.sleep(0.05)
        assert sorted(stored_ids()) == answered
        assert requests_logged() == 5
        assert spool.waiting_bytes() == 0
    finally:
        time.sleep(0.3)  # a few idle rounds: the thread closes its connection
        spool.flush_seconds = 3600  # then sleeps through the rest of the session
        time.sleep(0.1)


def test_the_spool_is_ready_when_its_folder_is_writable(
    entries: Callable[[int], list[dict[str, Any]]], settings: Any, tmp_path: Path
) -> None:
    ok, detail = prediction_log.spool_ready()
    assert ok and detail == "0.0 MiB waiting to be stored."
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    settings.PREDICTION_SPOOL_DIR = blocked
    ok, detail = prediction_log.spool_ready()
    assert not ok and detail.startswith(f"The prediction spool {blocked} cannot be created")


def test_the_spool_is_not_ready_when_it_is_full(
    entries: Callable[[int], list[dict[str, Any]]], settings: Any
) -> None:
    batch = entries(2)
    size = sum(len(json.dumps(entry, separators=(",", ":"))) + 1 for entry in batch)
    settings.PREDICTION_SPOOL_MAX_BYTES = size
    spool = prediction_log.spool()
    spool.append(batch, start_writer=False)
    ok, detail = prediction_log.spool_ready()
    assert not ok and detail.startswith("The prediction log is behind")
    spool.drain()
    assert prediction_log.spool_ready()[0]
