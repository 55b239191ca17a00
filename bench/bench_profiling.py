"""Benchmark reading + profiling a large mixed CSV against the portal's performance budget.

Run ``.venv/bin/python bench/bench_profiling.py [--rows 1000000]``. The CSV (12 numeric and
8 categorical columns, seeded) is generated in a temporary directory, then read and profiled in
a fresh subprocess so the peak RSS reported is the profiling's own, not the generator's.
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

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_SECONDS = 10.0
MAX_RSS_MIB = 2048.0
NUMERIC_INT_COLUMNS = 6
NUMERIC_FLOAT_COLUMNS = 6
CATEGORY_CARDINALITIES = (5, 12, 30, 50, 100, 250, 500, 1000)


def generate_csv(path: Path, rows: int, seed: int = 42) -> None:
    """Write a seeded rows x 20 CSV with nulls, skew and categorical columns, vectorised."""
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {}
    for index in range(NUMERIC_INT_COLUMNS):
        values = rng.integers(-1_000, 1_000_000, size=rows) if index % 2 else rng.poisson(3, rows)
        mask = rng.random(rows) < 0.02 * index
        columns[f"int_{index}"] = pa.array(values.astype(np.int64), mask=mask)
    for index in range(NUMERIC_FLOAT_COLUMNS):
        if index % 3 == 0:
            values = rng.normal(100.0, 15.0, size=rows)
        elif index % 3 == 1:
            values = rng.lognormal(3.0, 1.0, size=rows)
        else:
            values = rng.uniform(-1.0, 1.0, size=rows)
        mask = rng.random(rows) < 0.01 * (index + 1)
        columns[f"float_{index}"] = pa.array(np.round(values, 4), mask=mask)
    for index, cardinality in enumerate(CATEGORY_CARDINALITIES):
        vocabulary = pa.array([f"cat{index}_{value:04d}" for value in range(cardinality)])
        # Zipf-like skew so top values are meaningful.
        weights = 1.0 / np.arange(1, cardinality + 1)
        codes = rng.choice(cardinality, size=rows, p=weights / weights.sum()).astype(np.int32)
        mask = rng.random(rows) < 0.03
        indices = pa.array(codes, mask=mask)
        columns[f"cat_{index}"] = pa.DictionaryArray.from_arrays(indices, vocabulary).cast(
            pa.string()
        )
    pa_csv.write_csv(pa.table(columns), path)


def child(path: str) -> None:
    """Read + profile ``path`` and print timings and peak RSS as one JSON line."""
    sys.path.insert(0, str(REPO_ROOT))
    from lineage.profiling import profile_table, read_table

    started = time.perf_counter()
    table = read_table(path, "csv")
    read_done = time.perf_counter()
    profile = profile_table(table)
    profile_done = time.perf_counter()
    json.dumps(profile, allow_nan=False)  # the result must be storable as JSON
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "rows": profile["row_count"],
                "columns": profile["column_count"],
                "read_s": read_done - started,
                "profile_s": profile_done - read_done,
                "total_s": profile_done - started,
                "peak_rss_mib": peak_kib / 1024,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0

    with tempfile.TemporaryDirectory(prefix="bench-profiling-") as tmp:
        path = Path(tmp) / "mixed.csv"
        started = time.perf_counter()
        generate_csv(path, args.rows, args.seed)
        generated_s = time.perf_counter() - started
        size_mib = path.stat().st_size / 2**20
        print(f"generated {path.name}: {size_mib:.1f} MiB in {generated_s:.1f} s")
        completed = subprocess.run(
            [sys.executable, os.fspath(Path(__file__).resolve()), "--child", os.fspath(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            print(completed.stderr, file=sys.stderr)
            return completed.returncode
        result = json.loads(completed.stdout.strip().splitlines()[-1])

    children_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    time_ok = result["total_s"] <= MAX_SECONDS
    memory_ok = result["peak_rss_mib"] <= MAX_RSS_MIB
    print(f"rows            {result['rows']:,}")
    print(f"columns         {result['columns']}")
    print(f"file size       {size_mib:.1f} MiB")
    print(f"read            {result['read_s']:.2f} s")
    print(f"profile         {result['profile_s']:.2f} s")
    print(f"total           {result['total_s']:.2f} s   (budget {MAX_SECONDS:.0f} s)")
    print(
        f"peak RSS        {result['peak_rss_mib']:.0f} MiB (budget {MAX_RSS_MIB:.0f} MiB; "
        f"RUSAGE_CHILDREN {children_mib:.0f} MiB)"
    )
    verdict = "PASS" if time_ok and memory_ok else "FAIL"
    time_note = "ok" if time_ok else "over"
    memory_note = "ok" if memory_ok else "over"
    print(f"requirements    {verdict} (time {time_note}, memory {memory_note})")
    return 0 if time_ok and memory_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
