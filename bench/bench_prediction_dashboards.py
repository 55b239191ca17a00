"""Server time of the monitoring pages for a model with 10 million logged predictions, and
the time to read one day of its inputs for a drift analysis.

Run ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python
bench/bench_prediction_dashboards.py [--records 10000000] [--days 30]``.

Steps: a scratch PostgreSQL database; the records (10 numeric features, a class with its
probabilities, a latency; 30% carry their true label) are written in time order over
`--days` days through the portal's own write path (`prediction_store.store_predictions`,
10,000 a batch, hourly aggregates included), then the beat's compaction runs. Each page is
then rendered in-process with Django's test client (so the time is the server's: view,
queries, template, no network) five times after one warm-up; the median and the slowest are
printed. Goal (issue 6): every page in at most 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _setup import use_scratch_database

GOAL_SECONDS = 1.0
BATCH = 10_000
FEATURES = [f"f{index}" for index in range(10)]


def populate(model, version, records: int, days: int) -> float:
    from monitoring import prediction_store

    rng = np.random.default_rng(0)
    end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    start = end - dt.timedelta(days=days)
    step = (end - start) / records
    started = time.perf_counter()
    for first in range(0, records, BATCH):
        count = min(BATCH, records - first)
        values = rng.normal(size=(count, len(FEATURES))).round(3)
        # Confidence sags over the period, as a model going stale would.
        positive = np.clip(rng.beta(2, 2, count) * (1 - 0.3 * first / records), 0, 1).round(4)
        truth = (rng.random(count) < positive).astype(int)
        labelled = rng.random(count) < 0.3
        latency = rng.lognormal(1.2, 0.4, count).round(2)
        rows = []
        for index in range(count):
            prediction = int(positive[index] > 0.5)
            rows.append(
                {
                    "request_id": uuid.uuid4(),
                    "model_id": model.pk,
                    "model_version_id": version.pk,
                    "logged_at": start + step * (first + index),
                    "source": "ingested",
                    "inputs": dict(zip(FEATURES, values[index].tolist(), strict=True)),
                    "prediction": prediction,
                    "probabilities": {"0": float(1 - positive[index]), "1": float(positive[index])},
                    "confidence": float(max(positive[index], 1 - positive[index])),
                    "latency_ms": float(latency[index]),
                    "label": int(truth[index]) if labelled[index] else None,
                    "labelled_at": end if labelled[index] else None,
                }
            )
        prediction_store.store_predictions(rows)
        if (first // BATCH) % 100 == 99:
            done = first + count
            rate = done / (time.perf_counter() - started)
            print(f"  {done:,} stored ({rate:,.0f} records/s)", flush=True)
    return time.perf_counter() - started


def timed(client, url: str, runs: int = 5) -> tuple[float, float]:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    label = use_scratch_database("bench_prediction_dashboards")
    print(f"Database: {label}")
    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test import Client

    from lineage import services
    from lineage.choices import ModelTask, Stage
    from lineage.models import Project, RegisteredModel
    from monitoring import prediction_inputs, prediction_stats
    from monitoring.models import DriftAnalysis, PredictionRecord, PredictionRollup

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _serving import gradient_boosting_artifact

    user = User.objects.create_superuser("bench", password="bench-password")
    project = Project.objects.create(name="Bench", slug="bench", created_by=user)
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
    print(f"Writing {args.records:,} predictions over {args.days} days…")
    seconds = populate(model, version, args.records, args.days)
    print(
        f"Stored {args.records:,} in {seconds:.0f} s ({args.records / seconds:,.0f} records/s, "
        "in-process, one writer)"
    )
    partials = PredictionRollup.objects.count()
    started = time.perf_counter()
    removed = prediction_stats.compact_rollups()
    print(
        f"Compaction: {partials:,} partial rows -> {partials - removed:,} in "
        f"{time.perf_counter() - started:.1f} s"
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
            cursor.execute(
                "SELECT pg_size_pretty(pg_total_relation_size('monitoring_predictionrecord'))"
            )
            print(f"Prediction log on disk: {cursor.fetchone()[0]} (table and indexes)")
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["testserver"]
    client = Client()
    client.force_login(user)
    sample = (
        PredictionRecord.objects.filter(model=model)
        .order_by("-logged_at")
        .values_list("request_id", flat=True)[:1][0]
    )
    pages = {
        "Model dashboard, 24 h": f"/monitoring/models/{model.pk}/?range=24h",
        "Model dashboard, 7 days": f"/monitoring/models/{model.pk}/?range=7d",
        "Model dashboard, 30 days": f"/monitoring/models/{model.pk}/?range=30d",
        "Model dashboard, 90 days": f"/monitoring/models/{model.pk}/?range=90d",
        "Monitoring overview": "/monitoring/",
        "Home": "/",
        "Request lookup": f"/monitoring/predictions/{sample}/",
    }
    worst = 0.0
    for name, url in pages.items():
        median, slowest = timed(client, url)
        worst = max(worst, slowest)
        print(f"{name:<28} median {median * 1000:7.1f} ms, slowest {slowest * 1000:7.1f} ms")
    end = (
        PredictionRecord.objects.filter(model=model)
        .order_by("-logged_at")
        .values_list("logged_at", flat=True)[0]
    )
    analysis = DriftAnalysis(
        model_version=version,
        current_start=end - dt.timedelta(days=1),
        current_end=end + dt.timedelta(seconds=1),
    )
    started = time.perf_counter()
    table = prediction_inputs.read(analysis, [*FEATURES, prediction_inputs.TIME_COLUMN])
    print(
        f"One day of inputs for a drift analysis: {table.num_rows:,} rows x "
        f"{table.num_columns} columns read in {time.perf_counter() - started:.2f} s"
    )
    verdict = "met" if worst <= GOAL_SECONDS else "NOT met"
    print(f"Goal: every page <= {GOAL_SECONDS:.0f} s with {args.records:,} predictions: {verdict}")


if __name__ == "__main__":
    main()
