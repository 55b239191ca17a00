"""Shared set-up of the serving benchmarks: a scratch database with a user, a token and a
gradient boosting model in production, and the portal served by gunicorn (and, when asked,
a Celery worker) as separate processes, as in production."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import ROOT, use_scratch_database

FEATURES = [f"f{index}" for index in range(10)]


@dataclass
class Portal:
    base_url: str
    token: str
    model_id: int
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def connection(self) -> http.client.HTTPConnection:
        parts = urlsplit(self.base_url)
        return http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)

    def post(self, connection: http.client.HTTPConnection, path: str, body: Any) -> tuple[int, Any]:
        connection.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None

    def start_worker(self) -> None:
        log = open(Path(self.env["VAR_DIR"]) / "worker.log", "ab")  # noqa: SIM115
        self.processes["worker"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "mlops_portal",
                "worker",
                "--concurrency=1",
                "--without-mingle",
                "--without-gossip",
                "--loglevel=WARNING",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)


def gradient_boosting_artifact(seed: int = 0) -> bytes:
    """A GradientBoostingClassifier (100 trees of depth 3) over 10 numeric features."""
    import pandas as pd
    import skops.io as sio
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(5_000, len(FEATURES))), columns=FEATURES)
    target = (frame["f0"] + frame["f1"] * frame["f2"] + rng.normal(0, 0.5, len(frame)) > 0).astype(
        int
    )
    return sio.dumps(GradientBoostingClassifier(random_state=0).fit(frame, target))


def record(rng: np.random.Generator) -> dict[str, float]:
    return {
        name: round(float(value), 4)
        for name, value in zip(FEATURES, rng.normal(size=len(FEATURES)), strict=True)
    }


def start_portal(name: str, *, workers: int = 2, threads: int = 4, celery: bool = False) -> Portal:
    """Scratch database (DATABASE_URL's server when it is PostgreSQL), a model in production,
    gunicorn on a free port: by default 4 sync worker processes, the README's layout for 2
    cores (threads share one interpreter lock per process; idle sync workers take the next
    connection, so the load spreads evenly)."""
    label = use_scratch_database(name)
    print(f"Database: {label}")
    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from rest_framework.authtoken.models import Token

    from lineage import services
    from lineage.choices import ModelTask, Role, Stage
    from lineage.models import Membership, Project, RegisteredModel

    user = User.objects.create_user("bench", password="bench-password")
    token = Token.objects.create(user=user)
    project = Project.objects.create(name="Bench", slug="bench", created_by=user)
    Membership.objects.create(project=project, user=user, role=Role.ADMIN)
    model = RegisteredModel.objects.create(
        project=project, name="scorer", task=ModelTask.CLASSIFICATION, owner=user
    )
    version = services.register_model_version(
        model,
        SimpleUploadedFile("model.skops", gradient_boosting_artifact()),
        {"signature": [{"name": name, "type": "float"} for name in FEATURES]},
        user=user,
    )
    version.change_stage(Stage.PRODUCTION, user)
    from django.db import connections

    connections.close_all()
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECRET_KEY="bench-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    portal = Portal(f"http://127.0.0.1:{port}", token.key, model.pk, env)
    log = open(Path(env["VAR_DIR"]) / "gunicorn.log", "ab")  # noqa: SIM115
    portal.processes["web"] = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "mlops_portal.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "-k",
            "gthread" if threads > 1 else "sync",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    if celery:
        portal.start_worker()
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    # Load the model in every gunicorn worker before measuring.
    warm = portal.connection()
    rng = np.random.default_rng(0)
    for _ in range(50 * workers):
        status, body = portal.post(
            warm, f"/api/v1/models/{model.pk}/predict", {"inputs": record(rng)}
        )
        if status != 200:
            raise SystemExit(f"Warm-up predict answered {status}: {body}")
    return portal


def percentile(values: list[float], level: float) -> float:
    return float(np.percentile(np.asarray(values), level))


def _client_process(address: tuple[str, int], head: str, bodies: list[bytes], results: Any) -> None:
    """One load-generating client: its own process (no GIL shared with the others) and one
    kept-alive connection; requests pre-encoded, answers read by Content-Length, so the
    client's own time stays small beside the server's."""
    connection = None
    requests = [head.format(length=len(body)).encode() + body for body in bodies]
    latencies: list[float] = []
    answers: list[tuple[int, bytes]] = []
    pending = b""
    for request in requests:
        started = time.perf_counter()
        if connection is None:  # first, and after a server that closes (sync workers)
            connection = socket.create_connection(address)
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sendall(request)
        while b"\r\n\r\n" not in pending:
            pending += connection.recv(65536)
        header, _, rest = pending.partition(b"\r\n\r\n")
        length = int(header.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        while len(rest) < length:
            rest += connection.recv(65536)
        latencies.append((time.perf_counter() - started) * 1000)
        answers.append((int(header[9:12]), rest[:length]))
        pending = rest[length:]
        if b"connection: close" in header.lower():
            connection.close()
            connection, pending = None, b""
    if connection is not None:
        connection.close()
    results.put((latencies, answers))


def run_clients(
    portal: Portal, path: str, bodies: list[list[bytes]]
) -> tuple[list[float], list[tuple[int, bytes]], float]:
    """Send each list of bodies from its own client process at once; return every latency
    (ms), every answer (status, body) and the wall time."""
    import multiprocessing

    parts = urlsplit(portal.base_url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
        f"Authorization: Token {portal.token}\r\nContent-Type: application/json\r\n"
        "Content-Length: {length}\r\n\r\n"
    )
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    processes = [
        context.Process(
            target=_client_process, args=((parts.hostname, parts.port), head, part, results)
        )
        for part in bodies
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    latencies: list[float] = []
    answers: list[tuple[int, bytes]] = []
    for _ in processes:
        part_latencies, part_answers = results.get()
        latencies += part_latencies
        answers += part_answers
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    return latencies, answers, elapsed
