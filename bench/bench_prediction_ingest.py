"""Throughput of bulk ingestion: `POST /api/v1/predictions` with batches of 10,000.

Run ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python
bench/bench_prediction_ingest.py [--records 200000] [--clients 2]``.

gunicorn (4 sync worker processes) on a scratch PostgreSQL database; `--clients` threads
send pre-encoded batches (10 numeric features, a class, its probabilities, a latency, a
client UUID each) back to back. Throughput = records stored / wall time from the first
request to the last answer. Then the same batches are sent again: every record is a
duplicate, none is stored twice. Goal (issue 6): at least 20,000 records/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _serving import FEATURES, start_portal

GOAL_RECORDS_PER_SECOND = 20_000
BATCH = 10_000


def batches(model_id: int, records: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(records, len(FEATURES))).round(4)
    positive = rng.random(records).round(4)
    bodies = []
    for start in range(0, records, BATCH):
        rows = [
            {
                "request_id": str(uuid.uuid4()),
                "inputs": dict(zip(FEATURES, values[index].tolist(), strict=True)),
                "prediction": int(positive[index] > 0.5),
                "probabilities": {"0": round(1 - positive[index], 4), "1": positive[index]},
                "latency_ms": 3.2,
            }
            for index in range(start, min(start + BATCH, records))
        ]
        bodies.append(json.dumps({"model": model_id, "records": rows}).encode())
    return bodies


def send_all(portal, bodies: list[bytes], clients: int) -> tuple[float, int, list[str]]:
    stored = 0
    failures: list[str] = []
    lock = threading.Lock()
    queue = list(bodies)

    def client() -> None:
        nonlocal stored
        connection = portal.connection()
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop()
            connection.request(
                "POST",
                "/api/v1/predictions",
                body=body,
                headers={
                    "Authorization": f"Token {portal.token}",
                    "Content-Type": "application/json",
                },
            )
            response = connection.getresponse()
            answer = json.loads(response.read())
            with lock:
                if response.status == 200:
                    stored += answer["stored"]
                else:
                    failures.append(f"{response.status}: {str(answer)[:200]}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, stored, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()
    portal = start_portal("bench_prediction_ingest")
    try:
        bodies = batches(portal.model_id, args.records, seed=1)
        megabytes = sum(len(body) for body in bodies) / 2**20
        elapsed, stored, failures = send_all(portal, bodies, args.clients)
        again, stored_again, failures_again = send_all(portal, bodies, args.clients)
    finally:
        portal.stop_all()
    print(
        f"Sent {args.records:,} records in {len(bodies)} batches of {BATCH:,} "
        f"({megabytes:.0f} MiB of JSON) from {args.clients} clients"
    )
    print(
        f"Stored {stored:,} in {elapsed:.1f} s: {stored / elapsed:,.0f} records/s "
        f"({megabytes / elapsed:.1f} MiB/s)"
    )
    print(f"Resent the same batches: {stored_again:,} stored (all duplicates) in {again:.1f} s")
    print(
        f"Failures: {len(failures) + len(failures_again)}"
        + (f" (first: {(failures + failures_again)[0]})" if failures or failures_again else "")
    )
    verdict = (
        "met"
        if stored / elapsed >= GOAL_RECORDS_PER_SECOND and stored == args.records
        else "NOT met"
    )
    print(f"Goal >= {GOAL_RECORDS_PER_SECOND:,} records/s: {verdict}")


if __name__ == "__main__":
    main()
