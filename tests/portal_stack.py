"""The real portal, started as subprocesses for the end-to-end and browser tests.

`portal_stack` runs `manage.py runserver` and a Celery worker on Redis against a database of
its own (never pytest-django's test database): a fresh PostgreSQL database when the test run
uses PostgreSQL, else a SQLite file. It is started once per test session, shared by
tests/e2e and tests/browser (both conftests import the fixture; the stack itself lives in the
session's config stash, so it starts once), and stopped when the session ends.

The broker is the `redis_url` fixture's Redis database, flushed at start and end; a file lock
keeps a second test session on the same machine off it (that one takes the next free database).
Subprocess logs go to files under the stack's tmp folder; they are printed when the stack does
not come up, and attached to the report of every failing test that used it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 60.0
COMMAND_TIMEOUT = 300.0
LOG_TAIL_CHARS = 6000

USERNAME = "e2e-admin"
PASSWORD = "e2e-admin-password-1"  # a throwaway account in a throwaway database


@dataclass
class ApiResponse:
    status: int
    body: Any
    text: str


@dataclass
class PortalStack:
    base_url: str
    username: str
    password: str
    token: str
    env: dict[str, str]
    database_url: str
    broker_url: str
    worker_name: str
    log_dir: Path
    tmp_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    # --- HTTP -----------------------------------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        fields: dict[str, str] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        timeout: float = 30.0,
    ) -> ApiResponse:
        """Call /api/v1/<path> with the token; JSON or multipart (fields + files)."""
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        data: bytes | None = None
        if files is not None or fields is not None:
            data, content_type = encode_multipart(fields or {}, files or {})
            headers["Content-Type"] = content_type
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        url = f"{self.base_url}/api/v1/{path.lstrip('/')}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        text = raw.decode("utf-8", errors="replace")
        try:
            body = json.loads(text) if text else None
        except json.JSONDecodeError:
            body = None
        return ApiResponse(status, body, text)

    # --- the stack's own database (read-only checks) --------------------------------------

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows from the portal's database, read directly (placeholders: %s)."""
        if not _is_postgres(self.database_url):
            connection = sqlite3.connect(self.database_url.removeprefix("sqlite:///"))
            try:
                return connection.execute(sql.replace("%s", "?"), params).fetchall()
            finally:
                connection.close()
        import psycopg

        with psycopg.connect(postgres_conninfo(self.database_url)) as connection:
            return connection.execute(sql, params).fetchall()

    # --- logs and lifecycle ---------------------------------------------------------------

    def log_tail(self, limit: int = LOG_TAIL_CHARS) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            text = path.read_text(errors="replace")
            if len(text) > limit:
                text = "[...]\n" + text[-limit:]
            parts.append(f"----- {path.name} -----\n{text}")
        return "\n".join(parts)

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                pytest.fail(
                    f"The portal's {name} process exited with {process.returncode}.\n"
                    + self.log_tail()
                )

    def stop(self) -> None:
        for process in self.processes.values():
            _terminate_group(process)
        self.processes.clear()

    def restart_worker(self, down_for: float = 0.0) -> None:
        """Stop the Celery worker (and its pool), leave it down `down_for` seconds, start it
        again and wait until it is ready: an outage of the workers while the web serves."""
        worker = self.processes.pop("worker", None)
        if worker is not None:
            _terminate_group(worker)
        time.sleep(down_for)
        log = self.log_dir / "worker.log"
        ready_before = log.read_text(errors="replace").count(" ready.") if log.exists() else 0
        _spawn(self, "worker", worker_command(self.worker_name), log)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while log.read_text(errors="replace").count(" ready.") <= ready_before:
            self.check_alive()
            if time.monotonic() > deadline:
                pytest.fail(f"The restarted worker was not ready after {STARTUP_TIMEOUT:.0f} s")
            time.sleep(0.25)


def encode_multipart(
    fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]
) -> tuple[bytes, str]:
    boundary = f"----e2e{uuid.uuid4().hex}"
    lines: list[bytes] = []
    for name, value in fields.items():
        lines += [
            f"--{boundary}".encode(),
            f'Content-Disposition: form-data; name="{name}"'.encode(),
            b"",
            str(value).encode(),
        ]
    for name, (filename, content, content_type) in files.items():
        lines += [
            f"--{boundary}".encode(),
            f'Content-Disposition: form-data; name="{name}"; filename="{filename}"'.encode(),
            f"Content-Type: {content_type}".encode(),
            b"",
            content,
        ]
    lines += [f"--{boundary}--".encode(), b""]
    return b"\r\n".join(lines), f"multipart/form-data; boundary={boundary}"


def missing_service(reason: str) -> None:
    """A service a test needs is missing: outside CI the test skips, saying which; with
    MLOPS_REQUIRE_SERVICES=1 (as .ci/run sets) it fails, so CI never hides it."""
    if os.environ.get("MLOPS_REQUIRE_SERVICES") != "1":
        pytest.skip(f"{reason} (outside CI; MLOPS_REQUIRE_SERVICES=1 makes this fail)")
    pytest.fail(f"{reason} (MLOPS_REQUIRE_SERVICES=1: service-backed tests must run)")


def postgres_conninfo(url: str, dbname: str | None = None) -> str:
    """A libpq URL (psycopg does not know the `postgres+...`/`pgsql` spellings)."""
    parts = urlsplit(url)
    path = f"/{dbname}" if dbname is not None else parts.path
    return urlunsplit(("postgresql", parts.netloc, path, parts.query, ""))


def _with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{dbname}", parts.query, ""))


def _is_postgres(url: str) -> bool:
    return urlsplit(url).scheme.split("+")[0] in {"postgres", "postgresql", "pgsql"}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _terminate_group(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """Stop a process started in its own session, and its children (the worker's pool)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # The group may outlive its leader (a pool child): make sure nothing of it is left.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


class _Database:
    """A fresh database for the stack, dropped (PostgreSQL) at the end."""

    def __init__(self, tmp_dir: Path) -> None:
        test_url = os.environ.get("DATABASE_URL", "")
        self.admin_conninfo: str | None = None
        if test_url and _is_postgres(test_url):
            import psycopg

            self.name = f"mlops_e2e_{os.getpid()}"
            self.url = _with_database(test_url, self.name)
            self.admin_conninfo = postgres_conninfo(test_url, "postgres")
            try:
                with psycopg.connect(self.admin_conninfo, autocommit=True) as connection:
                    connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                    connection.execute(f'CREATE DATABASE "{self.name}"')
            except psycopg.OperationalError as exc:
                missing_service(f"PostgreSQL is not reachable at {test_url}: {exc}")
        else:
            self.name = str(tmp_dir / "portal.sqlite3")
            self.url = f"sqlite:///{self.name}"

    def drop(self) -> None:
        if self.admin_conninfo is None:
            return
        import psycopg

        with psycopg.connect(self.admin_conninfo, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def claim_redis_db(url: str) -> tuple[str, IO[bytes]]:
    """The broker URL for this stack and the lock that keeps it ours.

    Two test sessions on one machine (a developer's and CI's) must not share a broker
    database: each worker would take the other's messages and look the job up in the wrong
    database, and each start-up flushes the database. The stack uses the URL it is given;
    while another session holds that database it takes the next free one (15, 14, ...).
    """
    parts = urlsplit(url)
    given = int(parts.path.strip("/") or 0)
    for number in [given, *(n for n in range(15, -1, -1) if n != given)]:
        lock_path = Path(tempfile.gettempdir()) / (
            f"mlops-portal-e2e-{parts.hostname}-{parts.port or 6379}-{number}.lock"
        )
        handle = lock_path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, "")), handle
    raise RuntimeError(f"Every Redis database at {parts.netloc} is in use by another test run")


def _flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def _run(args: list[str], env: dict[str, str], log: Path) -> str:
    with log.open("ab") as out:
        out.write(f"$ {' '.join(args)}\n".encode())
        out.flush()
        result = subprocess.run(
            args,
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=out,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        out.write(result.stdout)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(args[1:])}` exited with {result.returncode}")
    return result.stdout.decode(errors="replace")


def _spawn(stack: PortalStack, name: str, args: list[str], log: Path) -> None:
    """Start a long-running process in its own session (so its children stop with it)."""
    with log.open("ab") as out:
        out.write(f"$ {' '.join(args)}\n".encode())
        out.flush()
        stack.processes[name] = subprocess.Popen(
            args,
            cwd=REPO,
            env=stack.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def _wait_until_up(stack: PortalStack, worker_log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    http_ok = worker_ok = False
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        stack.check_alive()
        if not http_ok:
            try:
                with urllib.request.urlopen(f"{stack.base_url}/login/", timeout=2) as response:
                    http_ok = response.status == 200
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(exc)
        if not worker_ok:
            worker_ok = " ready." in worker_log.read_text(errors="replace")
        if http_ok and worker_ok:
            return
        time.sleep(0.25)
    waiting_for = [name for name, ok in (("HTTP", http_ok), ("worker", worker_ok)) if not ok]
    raise RuntimeError(
        f"The portal stack was not up after {STARTUP_TIMEOUT:.0f} s "
        f"(waiting for {' and '.join(waiting_for)}; last HTTP error: {last_error})"
    )


def worker_command(worker_name: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "mlops_portal",
        "worker",
        "--loglevel=INFO",
        "--concurrency=1",
        "--without-mingle",
        "--without-gossip",
        "-n",
        worker_name,
    ]


CREATE_USER = """
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
user = User.objects.create_superuser({username!r}, "e2e@example.com", {password!r})
print("TOKEN=" + Token.objects.create(user=user).key)
"""


def start_stack(broker_url: str, tmp_dir: Path) -> tuple[PortalStack, _Database]:
    log_dir = tmp_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    database = _Database(tmp_dir)
    worker_name = f"e2e-{os.getpid()}@%h"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CELERY_", "PYTEST_", "DATABASE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="mlops_portal.settings",
        DATABASE_URL=database.url,
        CELERY_BROKER_URL=broker_url,
        CELERY_TASK_ALWAYS_EAGER="false",
        VAR_DIR=str(tmp_dir / "var"),
        MEDIA_ROOT=str(tmp_dir / "media"),
        DEBUG="true",
        SECRET_KEY="test",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        # Drift analyses above 1,000 rows share their features among worker tasks, so the
        # tests' 3,000-row sides exercise the split (it changes nothing else).
        DRIFT_CHUNK_ROWS="1000",
    )
    port = _free_port()
    stack = PortalStack(
        base_url=f"http://127.0.0.1:{port}",
        username=USERNAME,
        password=PASSWORD,
        token="",
        env=env,
        database_url=database.url,
        broker_url=broker_url,
        worker_name=worker_name.replace("%h", socket.gethostname()),
        log_dir=log_dir,
        tmp_dir=tmp_dir,
    )
    python = sys.executable
    try:
        _flush_redis(broker_url)  # no message left over from an interrupted run
        worker_log = log_dir / "worker.log"
        # The worker needs the database only when a task arrives: it boots during the
        # migrations (tasks queued meanwhile wait in Redis).
        _spawn(stack, "worker", worker_command(worker_name), worker_log)
        _run([python, "manage.py", "migrate", "--noinput"], env, log_dir / "setup.log")
        _spawn(
            stack,
            "web",
            [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            log_dir / "web.log",
        )
        output = _run(
            [
                python,
                "manage.py",
                "shell",
                "-c",
                CREATE_USER.format(username=USERNAME, password=PASSWORD),
            ],
            env,
            log_dir / "setup.log",
        )
        match = re.search(r"TOKEN=([0-9a-f]{40})", output)
        if match is None:
            raise RuntimeError(f"No token in the output of the user creation: {output!r}")
        stack.token = match.group(1)
        _wait_until_up(stack, worker_log)
    except BaseException as exc:
        stack.stop()
        database.drop()
        if isinstance(exc, RuntimeError | subprocess.TimeoutExpired):
            pytest.fail(f"{exc}\nLogs in {log_dir}:\n{stack.log_tail()}", pytrace=False)
        raise
    return stack, database


_STACK = pytest.StashKey[PortalStack]()
_STACK_ERROR = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def portal_stack(
    request: pytest.FixtureRequest, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> PortalStack:
    """The running portal (web + worker); one per session, whichever folder asks first."""
    config = request.config
    if _STACK in config.stash:
        return config.stash[_STACK]
    if _STACK_ERROR in config.stash:
        pytest.fail(config.stash[_STACK_ERROR], pytrace=False)
    started = time.monotonic()
    broker_url, broker_lock = claim_redis_db(redis_url)
    try:
        stack, database = start_stack(broker_url, tmp_path_factory.mktemp("portal-stack"))
    except BaseException as exc:
        broker_lock.close()
        if isinstance(exc, pytest.fail.Exception):
            config.stash[_STACK_ERROR] = str(exc)
        raise

    def teardown() -> None:
        try:
            stack.stop()
            _flush_redis(broker_url)
        finally:
            broker_lock.close()
            database.drop()

    config.add_cleanup(teardown)
    config.stash[_STACK] = stack
    print(
        f"\nportal stack up in {time.monotonic() - started:.1f} s at {stack.base_url} "
        f"(broker {broker_url}, database {database.url})"
    )
    return stack


def attach_logs(item: pytest.Item, report: pytest.TestReport) -> None:
    """Add the stack's logs to a failing test's report."""
    if report.failed and _STACK in item.config.stash:
        report.sections.append(("portal stack logs", item.config.stash[_STACK].log_tail()))


def wait_for_job(stack: PortalStack, job_id: int, timeout: float = 60.0) -> dict[str, Any]:
    """Poll the job until it has finished (bounded); the last state it had otherwise fails."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        stack.check_alive()
        response = stack.api("GET", f"jobs/{job_id}/")
        assert response.status == 200, response.text
        job = response.body
        if job["state"] in ("succeeded", "failed"):
            return job
        time.sleep(0.25)
    pytest.fail(f"Job {job_id} had not finished after {timeout:.0f} s: {job}")


def create_project(stack: PortalStack, prefix: str) -> dict[str, Any]:
    """A project with a unique slug (the stack's database is shared by the session)."""
    slug = f"{prefix}-{uuid.uuid4().hex[:8]}"
    response = stack.api("POST", "projects/", json_body={"name": slug.title(), "slug": slug})
    assert response.status == 201, response.text
    return response.body


def create_dataset(stack: PortalStack, prefix: str, name: str = "transactions") -> dict[str, Any]:
    project = create_project(stack, prefix)
    response = stack.api(
        "POST",
        "datasets/",
        json_body={"project": project["slug"], "name": name, "sensitivity": "internal"},
    )
    assert response.status == 201, response.text
    return response.body


def version_count(stack: PortalStack, dataset_id: int) -> int:
    response = stack.api("GET", f"dataset-versions/?dataset={dataset_id}")
    assert response.status == 200, response.text
    return int(response.body["count"])
