"""The log of served predictions, off the request path.

A request appends its records to this process's open segment file in the spool folder (one
`write`, no database) and returns. A writer thread seals the segment every
`PREDICTION_LOG_FLUSH_SECONDS`, stores its records in one batch and deletes the file only
after the commit. So:

- nothing is dropped: a record is on disk before the answer leaves, and a segment whose
  batch failed (database down) stays until a later attempt succeeds;
- nothing is stored twice: storing is idempotent on the request UUID, so a segment stored
  but not yet deleted when the process died is harmless to store again;
- the buffer is bounded: past `PREDICTION_SPOOL_MAX_BYTES` waiting, predict answers 503
  (back-pressure) instead of growing the backlog;
- a process that dies leaves its segments behind; every writer (and the beat task
  `recover_prediction_spool`) adopts the segments of processes that no longer hold their
  lock file.

With `PREDICTION_LOG_WRITER = "sync"` (tests) the request stores its own segment at once.
"""

from __future__ import annotations

import atexit
import datetime as dt
import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

PREDICTION = "p"
ERROR = "e"
# Records stored per transaction when a segment is large (after an outage).
STORE_BATCH = 5_000


class SpoolFull(Exception):
    """The log is too far behind to take more records: the caller should retry later."""


class PredictionSpool:
    def __init__(self, directory: Path, *, max_bytes: int, flush_seconds: float) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._drain_lock = threading.Lock()
        self._pid: int | None = None
        self._token = ""
        self._lock_fd: int | None = None
        self._segment_fd: int | None = None
        self._segment_path: Path | None = None
        self._sequence = 0
        self._waiting_bytes = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_adoption = 0.0

    # Writing ----------------------------------------------------------------------------

    def append(self, entries: Sequence[dict[str, Any]], *, start_writer: bool = True) -> None:
        data = "".join(
            json.dumps(entry, separators=(",", ":"), default=str) + "\n" for entry in entries
        ).encode()
        with self._lock:
            self._own()
            if self._waiting_bytes + len(data) > self.max_bytes:
                raise SpoolFull(
                    f"The prediction log has {self._waiting_bytes / 2**20:.0f} MiB waiting to be "
                    "stored; retry shortly."
                )
            if self._segment_fd is None:
                self._sequence += 1
                self._segment_path = self.directory / f"{self._token}-{self._sequence:09d}.open"
                self._segment_fd = os.open(
                    self._segment_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
                )
            # One write of whole lines: a crash can only tear the last one.
            os.write(self._segment_fd, data)
            self._waiting_bytes += len(data)
        if start_writer:
            self._ensure_writer()

    def _own(self) -> None:
        """Take a lock file of this process's own (again after a fork)."""
        if self._pid == os.getpid():
            return
        for inherited in (self._segment_fd, self._lock_fd):
            if inherited is not None:
                os.close(inherited)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._pid = os.getpid()
        self._token = f"{socket.gethostname()}-{self._pid}-{uuid.uuid4().hex[:8]}"
        # Locked before it gets its name: an adopter never finds it free (and deletes it).
        unnamed = self.directory / f"{self._token}.lock.new"
        self._lock_fd = os.open(unnamed, os.O_RDWR | os.O_CREAT)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        unnamed.rename(self.directory / f"{self._token}.lock")
        self._segment_fd = None
        self._segment_path = None
        self._sequence = 0
        self._waiting_bytes = 0
        self._thread = None
        atexit.register(self._at_exit)

    def _seal(self) -> None:
        with self._lock:
            if self._segment_fd is None or self._segment_path is None:
                return
            os.close(self._segment_fd)
            self._segment_path.rename(self._segment_path.with_suffix(".ready"))
            self._segment_fd = None
            self._segment_path = None

    # Storing ----------------------------------------------------------------------------

    def drain(self) -> int:
        """Seal the open segment and store every sealed one of this process; return how
        many new records were stored. A failure leaves the files for the next attempt."""
        with self._drain_lock:
            if self._pid != os.getpid():
                return 0
            self._seal()
            stored = 0
            for path in sorted(self.directory.glob(f"{self._token}-*.ready")):
                size = path.stat().st_size
                stored += store_segment(path)
                path.unlink()
                with self._lock:
                    self._waiting_bytes -= size
            return stored

    def adopt_orphans(self) -> int:
        """Store and delete the segments of processes that died (their lock is free)."""
        if not self.directory.exists():
            return 0
        stored = 0
        for lock_path in self.directory.glob("*.lock"):
            if lock_path.stem == self._token:
                continue
            stored += adopt(lock_path)
        return stored

    # The writer thread ------------------------------------------------------------------

    def _ensure_writer(self) -> None:
        if settings.PREDICTION_LOG_WRITER == "sync":
            self.drain()
            return
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="prediction-log-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        failures = 0
        while True:
            time.sleep(self.flush_seconds if not failures else min(30.0, 0.5 * 2**failures))
            close_old_connections()
            try:
                self.drain()
                if time.monotonic() - self._last_adoption > 30:
                    self._last_adoption = time.monotonic()
                    self.adopt_orphans()
                failures = 0
            except Exception:
                failures += 1
                logger.exception("Storing logged predictions failed; the segments wait on disk.")
                close_old_connections()

    def _at_exit(self) -> None:
        try:
            self.drain()
        except Exception:
            logger.warning("Logged predictions left in %s for another process.", self.directory)

    def waiting_bytes(self) -> int:
        return self._waiting_bytes


def adopt(lock_path: Path) -> int:
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # its process is alive
        if not lock_path.exists():
            return 0  # another process adopted it first
        token = lock_path.stem
        stored = 0
        segments = [*lock_path.parent.glob(f"{token}-*.open")]
        segments += lock_path.parent.glob(f"{token}-*.ready")
        for segment in sorted(segments, key=lambda path: path.stem):
            stored += store_segment(segment)
            segment.unlink()
        lock_path.unlink()
        return stored
    finally:
        os.close(fd)


def store_segment(path: Path) -> int:
    """Store the records of one segment file; return how many were new."""
    from monitoring.prediction_store import store_errors, store_predictions

    predictions: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                entry = json.loads(line)
            except ValueError:
                # Only a crash mid-write tears a line, and only the last one.
                logger.error(
                    "Skipped a torn line %d of %s (a process died writing it).", number, path
                )
                continue
            entry["logged_at"] = dt.datetime.fromisoformat(entry["logged_at"])
            (errors if entry.pop("k") == ERROR else predictions).append(entry)
    stored = 0
    for start in range(0, len(predictions), STORE_BATCH):
        stored += len(store_predictions(predictions[start : start + STORE_BATCH]))
    store_errors(errors)
    return stored


_spool: PredictionSpool | None = None
_spool_lock = threading.Lock()


def spool() -> PredictionSpool:
    global _spool
    with _spool_lock:
        if _spool is None or _spool.directory != Path(settings.PREDICTION_SPOOL_DIR):
            _spool = PredictionSpool(
                Path(settings.PREDICTION_SPOOL_DIR),
                max_bytes=settings.PREDICTION_SPOOL_MAX_BYTES,
                flush_seconds=settings.PREDICTION_LOG_FLUSH_SECONDS,
            )
        return _spool


def log_predictions(entries: Sequence[dict[str, Any]]) -> None:
    """Hand scored records (and refused requests) to the log; raises SpoolFull when it is
    too far behind."""
    spool().append(entries)


def prediction_entry(
    *,
    request_id: uuid.UUID,
    model_id: int,
    model_version_id: int,
    logged_at: dt.datetime,
    inputs: dict[str, Any],
    prediction: Any,
    probabilities: dict[str, float] | None,
    confidence: float | None,
    latency_ms: float,
) -> dict[str, Any]:
    return {
        "k": PREDICTION,
        "request_id": str(request_id),
        "model_id": model_id,
        "model_version_id": model_version_id,
        "logged_at": logged_at.isoformat(),
        "source": "served",
        "inputs": inputs,
        "prediction": prediction,
        "probabilities": probabilities,
        "confidence": confidence,
        "latency_ms": latency_ms,
    }


def error_entry(*, model_id: int, model_version_id: int, logged_at: dt.datetime) -> dict[str, Any]:
    return {
        "k": ERROR,
        "model_id": model_id,
        "model_version_id": model_version_id,
        "logged_at": logged_at.isoformat(),
    }


def spool_ready() -> tuple[bool, str]:
    """Whether this process can log predictions: the spool folder is writable and not full."""
    directory = Path(settings.PREDICTION_SPOOL_DIR)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return False, f"The prediction spool {directory} cannot be created: {exc.strerror}."
    if not os.access(directory, os.W_OK):
        return False, f"The prediction spool {directory} is not writable."
    waiting = spool().waiting_bytes()
    # Unready a little before predict starts refusing, so a balancer can move traffic first.
    if waiting >= 0.9 * settings.PREDICTION_SPOOL_MAX_BYTES:
        return False, f"The prediction log is behind: {waiting / 2**20:.0f} MiB waiting."
    return True, f"{waiting / 2**20:.1f} MiB waiting to be stored."


def recover() -> int:
    """Beat: store what processes that died left in the spool (same host only)."""
    return spool().adopt_orphans()
