"""Benchmark the per-feature drift engine (feature_statistics + decide) against its budget.

Run ``.venv/bin/python bench/bench_drift_features.py [--rows 100000 1000000]``. For each size,
a seeded reference and a mildly drifted current table (12 numeric and 8 categorical columns
with a few nulls) are written as Parquet in a temporary directory; a fresh subprocess then
reads both with ``lineage.profiling.read_table`` and times ``feature_statistics`` + ``decide``
over all 20 features, so the peak RSS it reports is that size's whole process: interpreter,
libraries, both tables and the analysis.

Arrow's memory pool is chosen with ``--memory-pool`` (default jemalloc) and applies to the
child only. pyarrow's own default, mimalloc, keeps 100-150 MiB of freed buffers per process
after a multi-threaded Parquet read (per-thread heaps), which is not the engine's memory:
``--memory-pool mimalloc`` shows that figure. A worker picks its pool with the
``ARROW_DEFAULT_MEMORY_POOL`` environment variable.

Budget (issue 5): at least 10x faster than Evidently's data drift report (~140 s for
1,000,000 x 20 on 2 cores, so at most 14 s) with at most a third of its peak memory
(1.9 GiB, so at most 600 MiB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_SECONDS = 14.0
MAX_RSS_MIB = 600.0
EVIDENTLY_SECONDS = {100_000: 16.0, 1_000_000: 140.0}
CATEGORY_CARDINALITIES = (3, 5, 12, 30, 50, 100, 250, 1000)
# What the current table changes, mildly: the engine should flag these and nothing else.
EXPECTED_DRIFT = ("float_0", "float_2", "int_2", "cat_1", "cat_3")


def make_table(rows: int, seed: int, *, drifted: bool) -> pa.Table:
    """12 numeric (6 integer, 6 float) and 8 text columns, seeded; ``drifted`` shifts a few."""
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {}
    values: np.ndarray
    for index in range(6):
        if index % 2:
            values = rng.integers(-1_000, 1_000_000, size=rows)
        else:
            rate = 3.6 if drifted and index == 2 else 3.0  # +0.35 sd
            values = rng.poisson(rate, rows)
        mask = rng.random(rows) < 0.005 * (index + 1)
        columns[f"int_{index}"] = pa.array(values.astype(np.int64), mask=mask)
    for index in range(6):
        if index % 3 == 0:
            shift = 3.0 if drifted and index == 0 else 0.0  # +0.2 sd
            values = rng.normal(100.0 + shift, 15.0, size=rows)
        elif index % 3 == 1:
            values = rng.lognormal(3.0, 1.0, size=rows)
        else:
            width = 1.3 if drifted and index == 2 else 1.0  # spread x 1.3
            values = rng.uniform(-width, width, size=rows)
        missing = 0.01 * (index + 1)
        mask = rng.random(rows) < missing
        columns[f"float_{index}"] = pa.array(np.round(values, 4), mask=mask)
    for index, cardinality in enumerate(CATEGORY_CARDINALITIES):
        weights = 1.0 / np.arange(1, cardinality + 1)
        names = [f"c{index}_{value:04d}" for value in range(cardinality)]
        if drifted and index == 1:  # the top two categories swap most of their share
            weights[0], weights[1] = weights[1], weights[0]
        if drifted and index == 3:  # a new category takes 3% of rows
            weights = np.append(weights * 0.97 / weights.sum(), 0.03)
            names.append("c3_new")
        codes = rng.choice(len(names), size=rows, p=weights / weights.sum()).astype(np.int32)
        mask = pa.array(rng.random(rows) < 0.02)
        text = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(names)).cast(pa.string())
        columns[f"cat_{index}"] = pc.if_else(mask, pa.nulls(rows, pa.string()), text)
    return pa.table(columns)


def child(reference_path: str, current_path: str) -> None:
    """Read both tables, run feature_statistics + decide, print one JSON line."""
    sys.path.insert(0, str(REPO_ROOT))
    from lineage.profiling import read_table
    from monitoring.drift import DriftThresholds, decide, feature_statistics

    started = time.perf_counter()
    reference = read_table(reference_path, "parquet")
    current = read_table(current_path, "parquet")
    read_done = time.perf_counter()
    after_read_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    import pyarrow

    pool = pyarrow.default_memory_pool().backend_name
    thresholds = DriftThresholds()
    features = reference.column_names
    statistics = feature_statistics(reference, current, features, thresholds)
    statistics_done = time.perf_counter()
    decided = decide(statistics, thresholds)
    decide_done = time.perf_counter()
    json.dumps(decided, allow_nan=False)  # what a worker stores must be JSON
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "rows": current.num_rows,
                "memory_pool": pool,
                "features": len(features),
                "read_s": read_done - started,
                "statistics_s": statistics_done - read_done,
                "decide_s": decide_done - statistics_done,
                "analysis_s": decide_done - read_done,
                "tables_mib": (reference.nbytes + current.nbytes) / 2**20,
                "rss_after_read_mib": after_read_kib / 1024,
                "peak_rss_mib": peak_kib / 1024,
                "drifted": [feature["name"] for feature in decided if feature["drifted"]],
            }
        )
    )


def run_size(rows: int, seed: int, folder: Path, memory_pool: str) -> dict[str, Any]:
    reference_path = folder / f"reference-{rows}.parquet"
    current_path = folder / f"current-{rows}.parquet"
    pq.write_table(make_table(rows, seed, drifted=False), reference_path)
    pq.write_table(make_table(rows, seed + 1, drifted=True), current_path)
    completed = subprocess.run(
        [
            sys.executable,
            os.fspath(Path(__file__).resolve()),
            "--child",
            os.fspath(reference_path),
            os.fspath(current_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "ARROW_DEFAULT_MEMORY_POOL": memory_pool},
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr)
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--memory-pool", choices=("jemalloc", "mimalloc", "system"), default="jemalloc"
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0

    passed = True
    print(
        "feature_statistics + decide, 20 features (12 numeric, 8 categorical), "
        f"{os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        for rows in args.rows:
            started = time.perf_counter()
            result = run_size(rows, args.seed, Path(tmp), args.memory_pool)
            wall = time.perf_counter() - started
            analysis_s, peak = result["analysis_s"], result["peak_rss_mib"]
            drifted = result["drifted"]
            print(f"\nrows            {rows:,} per side ({wall:.1f} s including data generation)")
            print(f"read both       {result['read_s']:.2f} s")
            print(f"statistics      {result['statistics_s']:.2f} s")
            print(f"decide          {result['decide_s'] * 1000:.1f} ms")
            print(
                f"analysis        {analysis_s:.2f} s"
                + (
                    f"   (Evidently ~{EVIDENTLY_SECONDS[rows]:.0f} s on 2 cores: "
                    f"{EVIDENTLY_SECONDS[rows] / analysis_s:.0f}x)"
                    if rows in EVIDENTLY_SECONDS
                    else ""
                )
            )
            print(
                f"peak RSS        {peak:.0f} MiB (after reading the tables: "
                f"{result['rss_after_read_mib']:.0f} MiB; tables {result['tables_mib']:.0f} MiB; "
                f"Arrow pool {result['memory_pool']})"
            )
            print(f"drifted         {', '.join(drifted) or 'none'}")
            if sorted(drifted) != sorted(EXPECTED_DRIFT):
                print(f"                (expected {', '.join(EXPECTED_DRIFT)})")
            if rows >= 1_000_000:
                ok = analysis_s <= MAX_SECONDS and peak <= MAX_RSS_MIB
                passed = passed and ok
                print(
                    f"budget          {'PASS' if ok else 'FAIL'} (<= {MAX_SECONDS:.0f} s, "
                    f"<= {MAX_RSS_MIB:.0f} MiB)"
                )
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
