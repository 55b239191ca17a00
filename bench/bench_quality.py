"""Benchmark the data quality engine against the portal's budget, and against pandera.

Run ``.venv/bin/python bench/bench_quality.py [--rows 1000000]``. It builds a seeded
rows x 20 table in memory (integers, floats, text, categories, booleans, datetimes and a date,
with a few nulls, NaN and -1 placeholders), then times ``monitoring.quality.run_suite`` on a suite
of 40 checks covering every check type (median of ``--repeat`` runs; reading a file is not
included). The same validations are then expressed as a pandera DataFrameSchema
(``lazy=True``) and timed too, with the Arrow -> pandas conversion pandera needs reported
separately, and the two tools are compared on which checks fail. Finally both run one range
check that 3% of the rows fail, the case where pandera collects every failing row.

pandera is an optional dependency used only here (``pip install pandera``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from monitoring.checks import normalise_check, normalise_checks  # noqa: E402
from monitoring.quality import run_suite  # noqa: E402

MAX_SECONDS = 5.0
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NAIVE_NOW = NOW.replace(tzinfo=None)
YEAR_SECONDS = 365 * 24 * 3600
STATUSES = ["new", "paid", "shipped", "delivered", "cancelled"]
CATEGORIES = [f"category_{index:02d}" for index in range(12)]
COUNTRIES = [
    "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GB", "GR", "HR",
    "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
]  # fmt: skip
EMAIL_PATTERN = r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]{2,}"
SKU_PATTERN = r"SKU-[0-9]{6}"
ZIP_PATTERN = r"[0-9]{5}"


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def build_table(rows: int, seed: int = 7) -> pa.Table:
    """A seeded rows x 20 table, built column by column without Python loops over rows."""
    rng = np.random.default_rng(seed)

    def mask(fraction: float) -> np.ndarray:
        return rng.random(rows) < fraction

    def pick(vocabulary: list[str], weights: np.ndarray | None = None) -> pa.Array:
        probabilities = None if weights is None else weights / weights.sum()
        codes = rng.choice(len(vocabulary), size=rows, p=probabilities).astype(np.int32)
        return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(vocabulary)).cast(
            pa.string()
        )

    ids = np.arange(rows, dtype=np.int64)
    age = rng.integers(18, 90, size=rows)
    age[mask(0.005)] = -1  # the classic "unknown" placeholder
    quantity = rng.poisson(3, size=rows) + 1
    price = np.round(rng.lognormal(3.0, 0.8, size=rows), 2)
    score = rng.normal(0.0, 1.0, size=rows)
    score[mask(0.001)] = np.nan
    discount = rng.uniform(0.0, 0.5, size=rows)
    created_seconds = rng.integers(0, YEAR_SECONDS, size=rows)
    created = NAIVE_NOW - timedelta(seconds=YEAR_SECONDS)
    created_at = np.datetime64(created, "s") + created_seconds.astype("timedelta64[s]")
    updated_at = created_at + rng.integers(0, 30 * 24 * 3600, size=rows).astype("timedelta64[s]")
    backwards = mask(0.0002)
    updated_at[backwards] = created_at[backwards] - np.timedelta64(3600, "s")
    signup_days = rng.integers(0, 3 * 365, size=rows)
    signup = (
        np.datetime64(NAIVE_NOW.date(), "D")
        - np.timedelta64(3, "D")
        - signup_days.astype("timedelta64[D]")
    )

    email = pc.binary_join_element_wise(
        "user", pc.cast(pa.array(ids % max(rows - 50, 1)), pa.string()), "@example.com", ""
    )
    malformed = pa.array(mask(0.001))
    email = pc.if_else(malformed, pc.replace_substring(email, "@", " at "), email)
    sku = pc.binary_join_element_wise(
        "SKU-",
        pc.utf8_lpad(pc.cast(pa.array(rng.integers(0, 1_000_000, size=rows)), pa.string()), 6, "0"),
        "",
    )
    zip_code = pc.utf8_lpad(
        pc.cast(pa.array(rng.integers(0, 100_000, size=rows)), pa.string()), 5, "0"
    )
    words = [f"comment {'lorem ipsum ' * (index % 25)}{index}" for index in range(1000)]
    status = pick([*STATUSES, ""], np.array([30.0, 30, 20, 15, 4.5, 0.5]))

    columns: dict[str, pa.Array] = {
        "order_id": pa.array(ids),
        "customer_id": pa.array(rng.integers(0, 200_000, size=rows)),
        "age": pa.array(age, mask=mask(0.002)),
        "quantity": pa.array(quantity),
        "price": pa.array(price),
        "score": pa.array(score, mask=mask(0.002)),
        "discount": pa.array(discount),
        "total_value": pa.array(np.round(price * quantity, 2)),
        "rating": pa.array(rng.integers(1, 6, size=rows).astype(np.int32)),
        "category": pick(CATEGORIES),
        "country": pick(COUNTRIES),
        "status": status,
        "email": pc.if_else(pa.array(mask(0.003)), pa.scalar(None, pa.string()), email),
        "sku": sku,
        "comment": pick(words),
        "zip_code": zip_code,
        "is_active": pa.array(rng.random(rows) < 0.8),
        "created_at": pa.array(created_at.astype("datetime64[us]")),
        "updated_at": pa.array(updated_at.astype("datetime64[us]")),
        "signup_date": pa.array(signup, pa.date32()),
    }
    return pa.table(columns)


def suite() -> list[dict[str, Any]]:
    """40 checks, every type, a realistic mix of passing and failing ones."""
    return [
        {"type": "row_count", "min_rows": 1_000, "max_rows": 5_000_000},
        {"type": "column_type", "column": "order_id", "expected_type": "integer"},
        {"type": "column_type", "column": "price", "expected_type": "float"},
        {"type": "column_type", "column": "created_at", "expected_type": "datetime"},
        {"type": "column_type", "column": "signup_date", "expected_type": "date"},
        {"type": "column_type", "column": "category", "expected_type": "string"},
        {"type": "not_null", "column": "order_id"},
        {"type": "not_null", "column": "score"},
        {"type": "not_null", "column": "email", "max_null_fraction": 0.01},
        {"type": "unique", "columns": ["order_id"]},
        {"type": "unique", "columns": ["email"]},
        {"type": "unique", "columns": ["customer_id", "created_at", "sku"]},
        {"type": "range", "column": "age", "min": 0, "max": 120},
        {
            "type": "range",
            "name": "range:age (tolerant)",
            "column": "age",
            "min": 0,
            "max": 120,
            "max_failing_fraction": 0.01,
            "severity": "warn",
        },
        {"type": "range", "column": "price", "min": 0, "min_inclusive": False},
        {"type": "range", "column": "discount", "min": 0, "max": 0.5},
        {"type": "range", "column": "rating", "min": 1, "max": 5},
        {"type": "range", "column": "score", "min": -4.5, "max": 4.5},
        {"type": "allowed_values", "column": "category", "values": CATEGORIES},
        {"type": "allowed_values", "column": "status", "values": STATUSES},
        {"type": "allowed_values", "column": "country", "values": COUNTRIES},
        {"type": "allowed_values", "column": "rating", "values": [1, 2, 3, 4, 5]},
        {"type": "regex", "column": "email", "pattern": EMAIL_PATTERN},
        {"type": "regex", "column": "sku", "pattern": SKU_PATTERN},
        {"type": "regex", "column": "zip_code", "pattern": ZIP_PATTERN},
        {"type": "string_length", "column": "comment", "max_length": 200},
        {"type": "string_length", "column": "country", "min_length": 2, "max_length": 2},
        {"type": "string_length", "column": "email", "min_length": 5},
        {"type": "sentinel", "column": "age", "values": [-1, 999]},
        {"type": "sentinel", "column": "quantity", "values": [-1, 0]},
        {"type": "sentinel", "column": "status", "values": [""]},
        {"type": "sentinel", "column": "price", "values": [-1, 9999.0]},
        {"type": "freshness", "column": "created_at", "max_age_hours": 48},
        {"type": "freshness", "column": "signup_date", "max_age_hours": 24},
        {"type": "distribution", "column": "price", "statistic": "mean", "min": 20, "max": 40},
        {"type": "distribution", "column": "score", "statistic": "std", "min": 0.9, "max": 1.1},
        {"type": "distribution", "column": "age", "statistic": "median", "min": 30, "max": 60},
        {
            "type": "distribution",
            "column": "total_value",
            "statistic": "quantile",
            "quantile": 0.99,
            "max": 2_000,
        },
        {"type": "expression", "expression": "updated_at >= created_at"},
        {"type": "expression", "expression": "abs(total_value - price * quantity) < 0.01"},
    ]


#: discount is uniform on [0, 0.5), so 3% of the rows lie above 0.485.
HEAVY_CHECK = {
    "type": "range",
    "name": "range:discount (3% fail)",
    "column": "discount",
    "min": 0,
    "max": 0.485,
}


# --------------------------------------------------------------------------------------------
# pandera equivalents
# --------------------------------------------------------------------------------------------


def pandera_schema(checks: list[dict[str, Any]]) -> tuple[Any, dict[tuple[Any, str], str]]:
    """An equivalent pandera DataFrameSchema and a map from its failure keys to check names.

    pandera reports built-in checks by their own label, so failures are matched back by
    (column, check number) for checks, and (column, "not_nullable"/"field_uniqueness"/dtype)
    for column properties.
    """
    import pandas as pd
    import pandera.pandas as pdp

    column_checks: dict[str, list[tuple[str, Any]]] = {}
    column_options: dict[str, dict[str, Any]] = {}
    frame_checks: list[tuple[str, Any]] = []
    unique_combinations: list[str] = []
    names: dict[tuple[Any, str], str] = {}
    dtypes = {
        "integer": "int64",
        "float": "float64",
        "datetime": "datetime64[us]",
        "date": pdp.Date,
        "string": str,
    }

    def options(column: str) -> dict[str, Any]:
        return column_options.setdefault(column, {"nullable": True})

    def add(column: str, name: str, check: Any) -> None:
        column_checks.setdefault(column, []).append((name, check))

    def tolerant(condition: Callable[[Any], Any], tolerance: float) -> Callable[[Any], bool]:
        return lambda series: bool(condition(series.dropna()).sum() <= tolerance * len(series))

    for check in checks:
        kind, name = check["type"], check.get("name") or f"{check['type']}:{check.get('column')}"
        column = check.get("column")
        tolerance = check.get("max_failing_fraction", 0)
        if kind == "row_count":
            low, high = check["min_rows"], check["max_rows"]
            frame_checks.append(
                (name, pdp.Check(lambda frame, a=low, b=high: a <= len(frame) <= b))
            )
        elif kind == "column_type":
            options(column)["dtype"] = dtypes[check["expected_type"]]
            names[(column, "dtype")] = name
        elif kind == "not_null":
            if check.get("max_null_fraction"):
                limit = check["max_null_fraction"]
                add(
                    column,
                    name,
                    pdp.Check(lambda s, x=limit: s.isna().mean() <= x, ignore_na=False),
                )
            else:
                options(column)["nullable"] = False
                names[(column, "not_nullable")] = name
        elif kind == "unique":
            if len(check["columns"]) == 1:
                options(check["columns"][0])["unique"] = True
                names[(check["columns"][0], "field_uniqueness")] = name
            else:
                unique_combinations = check["columns"]
                names[(None, "multiple_fields_uniqueness")] = name
        elif kind == "range":
            low, high = check.get("min"), check.get("max")
            include_low, include_high = check["min_inclusive"], check["max_inclusive"]
            if tolerance:

                def outside(s: Any, a: Any = low, b: Any = high) -> Any:
                    return (s < a) | (s > b)

                add(column, name, pdp.Check(tolerant(outside, tolerance)))
            elif low is not None and high is not None:
                add(column, name, pdp.Check.in_range(low, high, include_low, include_high))
            elif low is not None:
                add(column, name, pdp.Check.ge(low) if include_low else pdp.Check.gt(low))
            else:
                add(column, name, pdp.Check.le(high) if include_high else pdp.Check.lt(high))
        elif kind == "allowed_values":
            add(column, name, pdp.Check.isin(check["values"]))
        elif kind == "regex":
            add(column, name, pdp.Check.str_matches(f"(?:{check['pattern']})$"))
        elif kind == "string_length":
            add(column, name, pdp.Check.str_length(check["min_length"], check["max_length"]))
        elif kind == "sentinel":
            add(column, name, pdp.Check.notin(check["values"]))
        elif kind == "freshness":
            limit = pd.Timestamp(NAIVE_NOW - timedelta(hours=check["max_age_hours"]))
            add(column, name, pdp.Check(lambda s, x=limit: pd.Timestamp(s.max()) >= x))
        elif kind == "distribution":
            statistic, low, high = check["statistic"], check.get("min"), check.get("max")
            quantile = 0.5 if statistic == "median" else check.get("quantile")
            method = "quantile" if statistic in ("median", "quantile") else statistic

            def within(
                s: Any, m: str = method, q: Any = quantile, a: Any = low, b: Any = high
            ) -> bool:
                value = s.quantile(q) if m == "quantile" else getattr(s, m)()
                return (a is None or value >= a) and (b is None or value <= b)

            add(column, name, pdp.Check(within))
        elif kind == "expression":
            frame_checks.append((name, pdp.Check(_pandas_expression(check["expression"]))))

    columns = {}
    for column in set(column_checks) | set(column_options):
        listed = column_checks.get(column, [])
        for number, (name, _) in enumerate(listed):
            names[(column, str(number))] = name
        columns[column] = pdp.Column(checks=[check for _, check in listed], **options(column))
    for number, (name, _) in enumerate(frame_checks):
        names[(None, str(number))] = name
    schema = pdp.DataFrameSchema(
        columns,
        checks=[check for _, check in frame_checks],
        unique=unique_combinations or None,
    )
    return schema, names


def _pandas_expression(expression: str) -> Callable[[Any], Any]:
    """The suite's two expressions, hand-written in pandas (nulls do not count as failures)."""
    if expression == "updated_at >= created_at":
        return lambda frame: (
            (frame["updated_at"] >= frame["created_at"])
            | frame["updated_at"].isna()
            | frame["created_at"].isna()
        )
    if expression == "abs(total_value - price * quantity) < 0.01":
        return lambda frame: (
            (frame["total_value"] - frame["price"] * frame["quantity"]).abs() < 0.01
        )
    raise ValueError(f"no pandas version of {expression!r}")


def run_pandera(schema: Any, names: dict[tuple[Any, str], str], frame: Any) -> set[str]:
    """Validate lazily and return the names of the checks pandera reports as failing."""
    import pandera.pandas as pdp

    try:
        schema.validate(frame, lazy=True)
    except pdp.errors.SchemaErrors as errors:
        failed: set[str] = set()
        columns = ["schema_context", "column", "check", "check_number"]
        cases = errors.failure_cases[columns].drop_duplicates()
        for context, column, check, number in cases.itertuples(index=False):
            if check == "not_nullable" or check == "field_uniqueness":
                key: tuple[Any, str] = (column, check)
            elif check == "multiple_fields_uniqueness":
                key = (None, check)
            elif check.startswith("dtype("):
                key = (column, "dtype")
            elif context == "DataFrameSchema":  # frame-level checks are reported per cell
                key = (None, str(int(number)))
            else:
                key = (column, str(int(number)))
            failed.add(names.get(key, f"unmatched {context}/{column}/{check}"))
        return failed
    return set()


# --------------------------------------------------------------------------------------------
# Timing and report
# --------------------------------------------------------------------------------------------


def median_seconds(function: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--skip-pandera", action="store_true", help="time our engine only")
    args = parser.parse_args()

    started = time.perf_counter()
    table = build_table(args.rows, args.seed)
    checks = normalise_checks(suite())
    print(
        f"built {table.num_rows:,} x {table.num_columns} table "
        f"({table.nbytes / 2**20:.0f} MiB) in {time.perf_counter() - started:.1f} s; "
        f"{len(checks)} checks, {len({check['type'] for check in checks})} check types"
    )

    ours_s, results = median_seconds(lambda: run_suite(table, checks, now=NOW), args.repeat)
    ours_failed = {result.name for result in results if result.outcome != "passed"}
    errored = [result for result in results if result.outcome == "errored"]
    heavy_s, heavy = median_seconds(lambda: run_suite(table, [HEAVY_CHECK], now=NOW), args.repeat)

    rows: list[tuple[str, str, str]] = [
        ("ours: run_suite, 40 checks", f"{ours_s:.2f} s", f"budget {MAX_SECONDS:.0f} s"),
        (
            "ours: 1 range check, 3% failing",
            f"{heavy_s:.3f} s",
            f"{heavy[0].failing_count:,} failing rows",
        ),
    ]
    agreement = None
    if not args.skip_pandera:
        try:
            import pandera  # noqa: F401
        except ImportError:
            print("pandera is not installed: pip install pandera (or use --skip-pandera)")
            return 2
        convert_s, frame = median_seconds(table.to_pandas, args.repeat)
        schema, names = pandera_schema(checks)
        pandera_s, pandera_failed = median_seconds(
            lambda: run_pandera(schema, names, frame), args.repeat
        )
        heavy_schema, heavy_names = pandera_schema([normalise_check(HEAVY_CHECK)])
        pandera_heavy_s, _ = median_seconds(
            lambda: run_pandera(heavy_schema, heavy_names, frame), args.repeat
        )
        rows += [
            ("pandas: table.to_pandas()", f"{convert_s:.2f} s", "needed by pandera"),
            ("pandera: validate(lazy=True), 40", f"{pandera_s:.2f} s", "excluding conversion"),
            (
                "pandera: conversion + validate",
                f"{convert_s + pandera_s:.2f} s",
                f"{(convert_s + pandera_s) / ours_s:.1f}x ours",
            ),
            ("pandera: 1 range check, 3% failing", f"{pandera_heavy_s:.3f} s", "excl. conversion"),
        ]
        agreement = (ours_failed, pandera_failed)

    width = max(len(label) for label, _, _ in rows)
    print()
    for label, figure, note in rows:
        print(f"{label:<{width}}  {figure:>9}  {note}")
    print()
    print(f"checks failing (ours): {len(ours_failed)} of {len(checks)}")
    for result in errored:
        print(f"  errored: {result.name}: {result.message}")
    if agreement is not None:
        ours_set, theirs = agreement
        if ours_set == theirs:
            listed = ", ".join(sorted(ours_set))
            print(f"pandera agrees on which {len(ours_set)} checks fail: {listed}")
        else:
            print("pandera DISAGREES on which checks fail:")
            print(f"  only ours:    {sorted(ours_set - theirs)}")
            print(f"  only pandera: {sorted(theirs - ours_set)}")
    within = ours_s <= MAX_SECONDS
    verdict = "PASS" if within else "FAIL"
    print(f"requirement     {verdict} (run_suite {ours_s:.2f} s, budget {MAX_SECONDS:.0f} s)")
    return 0 if within and not errored else 1


if __name__ == "__main__":
    raise SystemExit(main())
