"""How fast the dataset-version list API answers with 10,000 versions in the database.

Requirement: at most 50 ms median. Runs the whole Django stack in-process (middleware,
authentication, DRF, filters, pagination, serialisation); no network in between.

    .venv/bin/python bench/bench_dataset_version_list.py            # SQLite
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/...  # PostgreSQL
"""

from __future__ import annotations

import argparse
import statistics
import time

from _setup import use_scratch_database


def realistic_profile() -> tuple[dict, list[dict[str, str]]]:
    """A real profile of a 20-column table (12 numeric, 8 categorical), as a version stores."""
    import numpy as np
    import pyarrow as pa

    from lineage.profiling import profile_table, table_schema

    rng = np.random.default_rng(0)
    columns = {f"number_{i}": rng.normal(size=2_000) for i in range(12)}
    columns |= {f"category_{i}": rng.choice([f"v{j}" for j in range(50)], 2_000) for i in range(8)}
    table = pa.table(columns)
    return profile_table(table), table_schema(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--datasets", type=int, default=200)
    parser.add_argument("--requests", type=int, default=60)
    args = parser.parse_args()
    label = use_scratch_database("mlops_bench_versions")

    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from lineage.models import Dataset, DatasetVersion, Membership, Project

    user = User.objects.create_user("bench", password="bench")
    project = Project.objects.create(name="Bench", slug="bench")
    Membership.objects.create(project=project, user=user, role="admin")
    datasets = Dataset.objects.bulk_create(
        Dataset(project=project, name=f"dataset-{index}") for index in range(args.datasets)
    )
    profile, schema = realistic_profile()
    per_dataset = args.versions // args.datasets
    started = time.perf_counter()
    DatasetVersion.objects.bulk_create(
        (
            DatasetVersion(
                dataset=dataset,
                version=number,
                format="csv",
                file=f"datasets/{dataset.pk}/{number}.csv",
                sha256="0" * 64,
                size_bytes=1_000_000,
                row_count=10_000,
                schema=schema,
                profile=profile,
                profile_status="succeeded",
            )
            for dataset in datasets
            for number in range(1, per_dataset + 1)
        ),
        batch_size=1000,
    )
    # A real database has statistics (autovacuum gathers them); a bulk load does not yet.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"database: {label}")
    elapsed = time.perf_counter() - started
    print(f"versions: {DatasetVersion.objects.count():,} (created in {elapsed:.1f} s)")

    client = APIClient(SERVER_NAME="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    cases = {
        "first page (50)": "/api/v1/dataset-versions/",
        "page 100": "/api/v1/dataset-versions/?page=100",
        "filtered by dataset": f"/api/v1/dataset-versions/?dataset={datasets[7].pk}",
    }
    worst = 0.0
    for name, url in cases.items():
        assert client.get(url).status_code == 200  # warm-up, and a sanity check
        timings = []
        for _ in range(args.requests):
            begin = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - begin) * 1000)
            assert response.status_code == 200
        median = statistics.median(timings)
        worst = max(worst, median)
        p95 = statistics.quantiles(timings, n=20)[-1]
        print(
            f"{name:>22}: median {median:6.1f} ms   p95 {p95:6.1f} ms   ({args.requests} requests)"
        )
    verdict = "meets" if worst <= 50 else "MISSES"
    print(f"requirement: median <= 50 ms -> {verdict} (worst median {worst:.1f} ms)")


if __name__ == "__main__":
    main()
