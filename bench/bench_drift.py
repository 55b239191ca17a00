"""Benchmark the drift engine against Evidently's data drift report on the same data.

Run ``.venv/bin/python bench/bench_drift.py [--sizes 100000 1000000] [--skip-evidently]``.

Steps:

1. For each size, write a seeded reference and a current table (rows x 20 features: 12 numeric,
   8 categorical, a few nulls; in current, a mean shift, a variance change, a change of category
   frequencies and a new category) once, as Parquet, in a temporary directory.
2. Ours, in a fresh subprocess per size: read both files with ``lineage.profiling.read_table``
   and run ``monitoring.drift.feature_statistics`` + ``decide`` + ``summarise`` (the per-feature
   analysis the issue's goal is about).
3. Evidently 0.7, in a fresh subprocess per size run by the Python of a separate virtual
   environment (``var/bench-evidently-venv``, created here if missing, because Evidently pins
   versions the portal does not use): ``pandas.read_parquet`` for both files, then
   ``Report([DataDriftPreset()]).run(current, reference)`` with a ``DataDefinition`` naming the
   numeric and categorical columns (so neither tool guesses types, and Evidently does not treat
   a 1,000-value category as text). Evidently's telemetry is switched off (``DO_NOT_TRACK``).
4. The domain classifier (``monitoring.domain.domain_classifier``) on at most 50,000 sampled
   rows per side of each size, in its own subprocess.

Times are measured inside each child, from before reading the files to the result (so the
interpreter's start and imports are left out); peak memory is the child's whole-process peak
RSS (``ru_maxrss``, the same as VmHWM), imports included, for both tools alike. The goals
(issue 5): at 1,000,000 x 20, ours at least 10 times faster than Evidently with at most a
third of its peak memory; the classifier in at most 10 s.
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
import pyarrow.parquet as pq

REPO_ROOT = Path(__file__).resolve().parent.parent
EVIDENTLY_VENV = REPO_ROOT / "var" / "bench-evidently-venv"
# pandas 3 removed internals Evidently 0.7 imports, hence the pin.
EVIDENTLY_REQUIREMENTS = ("evidently>=0.7,<0.8", "pandas<3", "pyarrow")
NUMERIC_FEATURES = 12
CATEGORY_CARDINALITIES = (3, 5, 12, 30, 50, 100, 250, 1000)
CLASSIFIER_ROWS = 50_000
GOAL_SPEED = 10.0  # ours at least this many times faster than Evidently...
GOAL_MEMORY = 1 / 3  # ...with at most this share of its peak memory...
GOAL_AT_ROWS = 1_000_000  # ...at this size
GOAL_CLASSIFIER_SECONDS = 10.0


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def make_table(rows: int, *, drifted: bool, seed: int) -> pa.Table:
    """rows x 20 seeded features; with ``drifted``, num_0's mean moves by 0.25 sd, num_1's
    spread grows by half, cat_1's frequencies change and cat_2 gets a new value."""
    rng = np.random.default_rng(seed)
    columns: dict[str, pa.Array] = {}
    for index in range(NUMERIC_FEATURES):
        if index % 4 == 0:
            values = rng.normal(100.0, 15.0, rows)
        elif index % 4 == 1:
            values = rng.normal(0.0, 1.0, rows)
        elif index % 4 == 2:
            values = rng.lognormal(3.0, 1.0, rows)
        else:
            values = rng.integers(0, 1_000, rows).astype(np.float64)
        if drifted and index == 0:
            values = values + 0.25 * 15.0
        if drifted and index == 1:
            values = values * 1.5
        mask = rng.random(rows) < 0.01 * (index % 3)
        columns[f"num_{index}"] = pa.array(values, mask=mask)
    for index, cardinality in enumerate(CATEGORY_CARDINALITIES):
        weights = 1.0 / np.arange(1, cardinality + 1)
        if drifted and index == 1:
            weights = weights[::-1]
        names = [f"c{index}_{value:04d}" for value in range(cardinality)]
        if drifted and index == 2:
            names.append("brand_new")
            weights = np.append(weights * 0.95, weights.sum() * 0.05)
        codes = rng.choice(len(names), size=rows, p=weights / weights.sum()).astype(np.int32)
        mask = rng.random(rows) < 0.02
        indices = pa.array(codes, mask=mask)
        columns[f"cat_{index}"] = pa.DictionaryArray.from_arrays(indices, pa.array(names)).cast(
            pa.string()
        )
    return pa.table(columns)


def write_data(folder: Path, rows: int, seed: int) -> tuple[Path, Path]:
    reference_path = folder / f"reference-{rows}.parquet"
    current_path = folder / f"current-{rows}.parquet"
    pq.write_table(make_table(rows, drifted=False, seed=seed), reference_path)
    pq.write_table(make_table(rows, drifted=True, seed=seed + 1), current_path)
    return reference_path, current_path


def feature_names() -> tuple[list[str], list[str]]:
    numeric = [f"num_{index}" for index in range(NUMERIC_FEATURES)]
    categorical = [f"cat_{index}" for index in range(len(CATEGORY_CARDINALITIES))]
    return numeric, categorical


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --------------------------------------------------------------------------------------------
# Children (each prints one JSON line)
# --------------------------------------------------------------------------------------------


def child_ours(reference_path: str, current_path: str) -> dict[str, Any]:
    sys.path.insert(0, str(REPO_ROOT))
    from lineage.profiling import read_table
    from monitoring.drift import DriftThresholds, decide, feature_statistics, summarise

    thresholds = DriftThresholds()
    started = time.perf_counter()
    reference = read_table(reference_path, "parquet")
    current = read_table(current_path, "parquet")
    read_done = time.perf_counter()
    features = [name for name in reference.column_names if name in current.column_names]
    results = decide(feature_statistics(reference, current, features, thresholds), thresholds)
    summary = summarise(results, None, thresholds)
    json.dumps(results, allow_nan=False)  # what would be stored
    done = time.perf_counter()
    return {
        "read_s": read_done - started,
        "analyse_s": done - read_done,
        "total_s": done - started,
        "peak_rss_mib": peak_rss_mib(),
        "drifted": sorted(summary["drifted_features"]),
    }


def child_evidently(reference_path: str, current_path: str) -> dict[str, Any]:
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently import __version__ as evidently_version
    from evidently.presets import DataDriftPreset

    numeric, categorical = feature_names()
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    started = time.perf_counter()
    reference_frame = pd.read_parquet(reference_path)
    current_frame = pd.read_parquet(current_path)
    read_done = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(current_frame, data_definition=definition),
        Dataset.from_pandas(reference_frame, data_definition=definition),
    )
    metrics = snapshot.dict()["metrics"]
    done = time.perf_counter()
    drifted = []
    for metric in metrics:
        config = metric.get("config", {})
        # Evidently's default tests (distances for > 1,000 rows) drift above the threshold.
        is_value_drift = config.get("type", "").endswith("ValueDrift")
        if is_value_drift and float(metric["value"]) >= float(config["threshold"]):
            drifted.append(config["column"])
    return {
        "read_s": read_done - started,
        "analyse_s": done - read_done,
        "total_s": done - started,
        "peak_rss_mib": peak_rss_mib(),
        "drifted": sorted(drifted),
        "version": evidently_version,
    }


def child_classifier(reference_path: str, current_path: str) -> dict[str, Any]:
    sys.path.insert(0, str(REPO_ROOT))
    from lineage.profiling import read_table
    from monitoring.domain import domain_classifier
    from monitoring.drift import DriftThresholds

    thresholds = DriftThresholds(classifier_rows=CLASSIFIER_ROWS)
    reference = read_table(reference_path, "parquet")
    current = read_table(current_path, "parquet")
    features = [name for name in reference.column_names if name in current.column_names]
    started = time.perf_counter()
    result = domain_classifier(reference, current, features, thresholds=thresholds)
    done = time.perf_counter()
    return {
        "total_s": done - started,
        "peak_rss_mib": peak_rss_mib(),
        "auc": result.get("auc"),
        "rows_reference": result.get("rows_reference"),
        "rows_current": result.get("rows_current"),
    }


CHILDREN = {"ours": child_ours, "evidently": child_evidently, "classifier": child_classifier}


def run_child(
    python: str | Path, kind: str, paths: tuple[Path, Path], env: dict[str, str] | None = None
) -> dict[str, Any]:
    command = [
        os.fspath(python),
        os.fspath(Path(__file__).resolve()),
        "--child",
        kind,
        *(os.fspath(path) for path in paths),
    ]
    started = time.perf_counter()
    completed = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    process_s = time.perf_counter() - started
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
        return {"error": f"{kind} exited with {completed.returncode}:\n{tail}"}
    # The whole process's time too (start and imports included), for comparison with figures
    # quoted for whole runs.
    return {**json.loads(completed.stdout.strip().splitlines()[-1]), "process_s": process_s}


# --------------------------------------------------------------------------------------------
# Evidently's environment
# --------------------------------------------------------------------------------------------


def evidently_python(venv: Path) -> Path:
    """The Python of a virtual environment with Evidently 0.7, created (a few minutes) if
    missing or broken."""
    python = venv / "bin" / "python"
    check = [os.fspath(python), "-c", "import evidently, pandas, pyarrow"]
    if python.exists() and subprocess.run(check, capture_output=True, check=False).returncode == 0:
        return python
    print(f"creating {venv} with {' '.join(EVIDENTLY_REQUIREMENTS)} (takes a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", os.fspath(venv)], check=True)
    pip = [os.fspath(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *EVIDENTLY_REQUIREMENTS], check=True)
    subprocess.run(check, check=True)
    return python


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def verdict(rows: int, speed: float | None, memory: float | None) -> str:
    if speed is None or memory is None:
        return "n/a"
    ok = speed >= GOAL_SPEED and memory <= GOAL_MEMORY
    if rows < GOAL_AT_ROWS:
        return f"{'pass' if ok else 'fail'} (goal is set at {GOAL_AT_ROWS:,})"
    return "PASS" if ok else "FAIL"


def print_table(results: list[dict[str, Any]]) -> bool:
    header = (
        f"{'rows':>10}  {'ours s':>7} {'ours MiB':>9}  {'Evidently s':>11} {'Evid. MiB':>9}  "
        f"{'faster':>7} {'memory':>7}  goal (>= {GOAL_SPEED:g}x faster, <= 1/3 memory)"
    )
    print(header)
    print("-" * len(header))
    all_ok = True
    for entry in results:
        ours, theirs = entry["ours"], entry.get("evidently")
        speed = memory = None
        theirs_s = theirs_mib = "-"
        if theirs and "error" not in theirs:
            speed = theirs["total_s"] / ours["total_s"]
            memory = ours["peak_rss_mib"] / theirs["peak_rss_mib"]
            theirs_s = f"{theirs['total_s']:.2f}"
            theirs_mib = f"{theirs['peak_rss_mib']:.0f}"
        outcome = verdict(entry["rows"], speed, memory)
        all_ok = all_ok and outcome != "FAIL"
        print(
            f"{entry['rows']:>10,}  {ours['total_s']:>7.2f} {ours['peak_rss_mib']:>9.0f}  "
            f"{theirs_s:>11} {theirs_mib:>9}  "
            f"{'-' if speed is None else f'{speed:.1f}x':>7} "
            f"{'-' if memory is None else f'{memory:.2f}':>7}  {outcome}"
        )
    return all_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--skip-evidently", action="store_true", help="time ours only")
    parser.add_argument("--skip-classifier", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--evidently-venv", type=Path, default=EVIDENTLY_VENV)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, reference_path, current_path = args.child
        print(json.dumps(CHILDREN[kind](reference_path, current_path)))
        return 0

    theirs_python = None if args.skip_evidently else evidently_python(args.evidently_venv)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPU(s); Python {sys.version.split()[0]}; load average {load:.1f}")
    if load > 0.5 * (os.cpu_count() or 1):
        print("warning: the machine is busy, timings will be slower than on an idle one")
    results: list[dict[str, Any]] = []
    classifier_ok = True
    with tempfile.TemporaryDirectory(prefix="bench-drift-") as tmp:
        for rows in args.sizes:
            started = time.perf_counter()
            paths = write_data(Path(tmp), rows, args.seed)
            size_mib = sum(path.stat().st_size for path in paths) / 2**20
            print(
                f"\n{rows:,} rows x 20 features per side: {size_mib:.1f} MiB of Parquet, "
                f"written in {time.perf_counter() - started:.1f} s"
            )
            entry: dict[str, Any] = {"rows": rows, "ours": run_child(sys.executable, "ours", paths)}
            if "error" in entry["ours"]:
                print(entry["ours"]["error"], file=sys.stderr)
                return 1
            ours = entry["ours"]
            print(
                f"  ours       {ours['total_s']:7.2f} s (read {ours['read_s']:.2f} s, analyse "
                f"{ours['analyse_s']:.2f} s; whole process {ours['process_s']:.1f} s), "
                f"peak {ours['peak_rss_mib']:.0f} MiB; "
                f"drifted: {', '.join(ours['drifted']) or 'none'}"
            )
            if theirs_python is not None:
                theirs = run_child(theirs_python, "evidently", paths, {"DO_NOT_TRACK": "1"})
                entry["evidently"] = theirs
                if "error" in theirs:
                    print(theirs["error"], file=sys.stderr)
                else:
                    print(
                        f"  Evidently  {theirs['total_s']:7.2f} s (read {theirs['read_s']:.2f} s, "
                        f"report {theirs['analyse_s']:.2f} s; whole process "
                        f"{theirs['process_s']:.1f} s), peak "
                        f"{theirs['peak_rss_mib']:.0f} MiB; Evidently {theirs['version']}; "
                        f"drifted: {', '.join(theirs['drifted']) or 'none'}"
                    )
            if not args.skip_classifier:
                classifier = run_child(sys.executable, "classifier", paths)
                entry["classifier"] = classifier
                if "error" in classifier:
                    print(classifier["error"], file=sys.stderr)
                    classifier_ok = False
                else:
                    ok = classifier["total_s"] <= GOAL_CLASSIFIER_SECONDS
                    classifier_ok = classifier_ok and ok
                    print(
                        f"  classifier {classifier['total_s']:7.2f} s on "
                        f"{classifier['rows_reference']:,} + {classifier['rows_current']:,} rows, "
                        f"AUC {classifier['auc']:.3f}, peak {classifier['peak_rss_mib']:.0f} MiB "
                        f"({'PASS' if ok else 'FAIL'}, goal <= {GOAL_CLASSIFIER_SECONDS:g} s)"
                    )
            results.append(entry)

    print()
    table_ok = print_table(results)
    if not args.skip_classifier:
        timings = [
            f"{entry['classifier']['total_s']:.2f} s"
            for entry in results
            if "error" not in entry["classifier"]
        ]
        print(
            f"\ndomain classifier on <= {CLASSIFIER_ROWS:,} rows per side: {', '.join(timings)} "
            f"({'PASS' if classifier_ok else 'FAIL'}, goal <= {GOAL_CLASSIFIER_SECONDS:g} s)"
        )
    return 0 if table_ok and classifier_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
