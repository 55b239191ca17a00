"""No loss under load: bulk ingestion and predict at concurrency 16 while the Celery worker
is stopped and restarted; afterwards every request UUID is stored exactly once.

Run ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python
bench/bench_prediction_load.py [--bulk 200000] [--predict 20000] [--concurrency 16]``.

gunicorn (4 sync worker processes) and a Celery worker on a scratch PostgreSQL database.
Of the `--concurrency` client threads, a quarter send the bulk records (client UUIDs, 1,000
a batch; every 20th batch is sent twice, as a client retrying after a timeout would) and
the rest send single-record predicts (the server's UUIDs, from the answers). When half of
the work is done the worker is stopped (SIGTERM) and started again 5 s later. Then the
log is compared with what was sent and answered.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _serving import FEATURES, record, start_portal

BATCH = 1_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bulk", type=int, default=200_000)
    parser.add_argument("--predict", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    portal = start_portal("bench_prediction_load", celery=True)
    bulk_threads = max(1, args.concurrency // 4)
    predict_threads = args.concurrency - bulk_threads
    sent: set[str] = set()
    answered: set[str] = set()
    failures: list[str] = []
    progress = {"done": 0}
    lock = threading.Lock()
    total_work = args.bulk + args.predict
    rng = np.random.default_rng(3)
    batches: list[list[dict]] = []
    for start in range(0, args.bulk, BATCH):
        values = rng.normal(size=(min(BATCH, args.bulk - start), len(FEATURES))).round(4)
        batches.append(
            [
                {
                    "request_id": str(uuid.uuid4()),
                    "inputs": dict(zip(FEATURES, row.tolist(), strict=True)),
                    "prediction": int(row[0] > 0),
                    "probabilities": {"0": 0.4, "1": 0.6} if row[0] > 0 else {"0": 0.7, "1": 0.3},
                }
                for row in values
            ]
        )
    for batch in batches:
        sent.update(item["request_id"] for item in batch)
    queue = list(enumerate(batches))

    def bulk_client() -> None:
        connection = portal.connection()
        while True:
            with lock:
                if not queue:
                    return
                number, batch = queue.pop()
            body = {"model": portal.model_id, "records": batch}
            for _attempt in range(2 if number % 20 == 0 else 1):
                status, answer = portal.post(connection, "/api/v1/predictions", body)
                if status != 200:
                    with lock:
                        failures.append(f"bulk {status}: {str(answer)[:200]}")
            with lock:
                progress["done"] += len(batch)

    def predict_client(count: int, seed: int) -> None:
        local = np.random.default_rng(seed)
        connection = portal.connection()
        path = f"/api/v1/models/{portal.model_id}/predict"
        for _ in range(count):
            status, answer = portal.post(connection, path, {"inputs": record(local)})
            with lock:
                if status == 200:
                    answered.add(answer["request_id"])
                else:
                    failures.append(f"predict {status}: {str(answer)[:200]}")
                progress["done"] += 1

    threads = [threading.Thread(target=bulk_client) for _ in range(bulk_threads)]
    threads += [
        threading.Thread(target=predict_client, args=(args.predict // predict_threads, seed))
        for seed in range(predict_threads)
    ]
    started = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        while progress["done"] < total_work // 2 and any(t.is_alive() for t in threads):
            time.sleep(0.2)
        print(
            f"Half-way ({progress['done']:,} records) after {time.perf_counter() - started:.1f} s: "
            "stopping the Celery worker",
            flush=True,
        )
        portal.stop("worker")
        time.sleep(5)
        portal.start_worker()
        print(f"Worker started again at {time.perf_counter() - started:.1f} s", flush=True)
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        time.sleep(3)  # the writer threads' last flush
    finally:
        portal.stop_all()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT request_id::text FROM monitoring_predictionrecord")
        stored = [value for (value,) in cursor.fetchall()]
        cursor.execute("SELECT coalesce(sum(requests), 0) FROM monitoring_predictionrollup")
        (aggregated,) = cursor.fetchone()
    stored_set = set(stored)
    expected = sent | answered
    missing = expected - stored_set
    print(
        f"Sent {args.bulk:,} bulk records ({len(batches)} batches, every 20th twice) and "
        f"{len(answered):,} answered predicts from {args.concurrency} clients in {elapsed:.1f} s"
    )
    print(
        f"Stored rows: {len(stored):,}; distinct UUIDs: {len(stored_set):,}; "
        f"expected UUIDs missing: {len(missing):,}; hourly aggregates count {aggregated:,}"
    )
    print(f"Failures: {len(failures)}" + (f" (first: {failures[0]})" if failures else ""))
    # The warm-up predicts of start_portal are logged too: stored = expected + warm-up.
    exactly_once = len(stored) == len(stored_set) and not missing and aggregated == len(stored)
    print("Every UUID stored exactly once: " + ("yes" if exactly_once and not failures else "NO"))


if __name__ == "__main__":
    main()
