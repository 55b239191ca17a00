"""How fast a quality suite is suggested from a stored profile.

Requirement: ``monitoring.suggest.suggest_checks`` takes at most 1 s (median of 5) on a stored
profile, up to 1,000 columns.

A seeded 1,000,000 x 20 table (6 integer, 6 float, 8 text columns with nulls, skew, a key and
a long tail) is built in memory with numpy/pyarrow and profiled with
``lineage.profiling.profile_table``. The profile goes through a JSON round-trip, as it is read
back from the database, before suggestions are timed: once on its 20 columns, and once on a
1,000-column profile made of its columns repeated 50 times under new names.

    .venv/bin/python bench/bench_quality_suggest.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

REPO_ROOT = Path(__file__).resolve().parent.parent
MAX_SECONDS = 1.0
WIDE_COLUMNS = 1000
CATEGORY_CARDINALITIES = (2, 5, 12, 30, 50, 500, 5000)


def generate_table(rows: int, seed: int = 42) -> pa.Table:
    """A seeded rows x 20 table with nulls, skew, a key, a long tail and free text."""
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {"order_id": pa.array(np.arange(1, rows + 1, dtype=np.int64))}
    for index in range(5):
        counts = rng.integers(-1_000, 1_000_000, size=rows) if index % 2 else rng.poisson(3, rows)
        mask = rng.random(rows) < 0.02 * index
        columns[f"int_{index}"] = pa.array(counts.astype(np.int64), mask=mask)
    for index in range(6):
        if index % 3 == 0:
            values = rng.normal(100.0, 15.0, size=rows)
        elif index % 3 == 1:
            values = rng.lognormal(3.0, 1.0, size=rows)
        else:
            values = rng.uniform(-1.0, 1.0, size=rows)
        mask = rng.random(rows) < 0.01 * index
        columns[f"float_{index}"] = pa.array(np.round(values, 4), mask=mask)
    for index, cardinality in enumerate(CATEGORY_CARDINALITIES):
        vocabulary = pa.array([f"cat{index}_{value:04d}" for value in range(cardinality)])
        weights = 1.0 / np.arange(1, cardinality + 1)  # Zipf-like skew
        codes = rng.choice(cardinality, size=rows, p=weights / weights.sum()).astype(np.int32)
        mask = rng.random(rows) < 0.03
        columns[f"cat_{index}"] = pa.DictionaryArray.from_arrays(
            pa.array(codes, mask=mask), vocabulary
        ).cast(pa.string())
    columns["flag"] = pa.array(rng.random(rows) < 0.1)
    return pa.table(columns)


def widen(profile: dict[str, Any], columns: int) -> dict[str, Any]:
    """The profile's columns repeated under new names until there are ``columns`` of them."""
    source = profile["columns"]
    wide = [
        {**source[index % len(source)], "name": f"{source[index % len(source)]['name']}_{index}"}
        for index in range(columns)
    ]
    return {**profile, "column_count": columns, "columns": wide}


def median_seconds(run: Callable[[], object], repeat: int) -> tuple[float, object]:
    timings = []
    result: object = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO_ROOT))
    from lineage.profiling import profile_table
    from monitoring.suggest import suggest_checks

    started = time.perf_counter()
    table = generate_table(args.rows, args.seed)
    generated_s = time.perf_counter() - started
    started = time.perf_counter()
    stored = json.dumps(profile_table(table), allow_nan=False)
    profiled_s = time.perf_counter() - started

    profile = json.loads(stored)  # as read back from the database
    narrow_s, narrow = median_seconds(lambda: suggest_checks(profile), args.repeat)
    wide_profile = json.loads(json.dumps(widen(profile, WIDE_COLUMNS)))
    wide_s, wide = median_seconds(lambda: suggest_checks(wide_profile), args.repeat)
    assert isinstance(narrow, list) and isinstance(wide, list)

    ok = max(narrow_s, wide_s) <= MAX_SECONDS
    rows = [
        ("rows", f"{table.num_rows:,}"),
        ("columns", f"{table.num_columns}"),
        ("generate", f"{generated_s:.2f} s"),
        ("profile", f"{profiled_s:.2f} s ({len(stored) / 1024:.0f} KiB of JSON)"),
        (
            f"suggest, {table.num_columns} columns",
            f"{narrow_s * 1000:.2f} ms median of {args.repeat} ({len(narrow)} checks)",
        ),
        (
            f"suggest, {WIDE_COLUMNS:,} columns",
            f"{wide_s * 1000:.2f} ms median of {args.repeat} ({len(wide):,} checks; "
            f"budget {MAX_SECONDS:.0f} s)",
        ),
        ("requirements", "PASS" if ok else "FAIL"),
    ]
    for label, value in rows:
        print(f"{label:<24}{value}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
