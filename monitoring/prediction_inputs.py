"""Logged production inputs as the current data of a drift analysis: "model M, inputs
logged from T1 to T2", read with one range scan of the (model, logged_at) index and parsed
by Arrow's JSON reader rather than row by row."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
from django.db import connection
from django.utils import timezone

from lineage import profiling
from lineage.models import ModelVersion
from monitoring.drift_runs import CurrentReader, DriftError
from monitoring.models import DriftAnalysis, PredictionRecord

TIME_COLUMN = "logged_at"
DEFAULT_SPAN = dt.timedelta(days=1)
ARROW_TYPES = {
    "integer": pa.float64(),  # nulls and JSON's 1.0 read as floats; the tests compare numbers
    "float": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
}


def check(
    model_version: ModelVersion, start: Any, end: Any
) -> tuple[dt.datetime, dt.datetime, dict[str, str]]:
    """The window (the last day when not given) and its schema; refuses an empty window."""
    end = end or timezone.now()
    start = start or end - DEFAULT_SPAN
    if start >= end:
        raise DriftError(
            "The start of the logged inputs must come before their end.", "current_start"
        )
    model = model_version.model
    logged = PredictionRecord.objects.filter(
        model=model, logged_at__gte=start, logged_at__lt=end
    ).exists()
    if not logged:
        raise DriftError(
            f"No inputs of model '{model.name}' were logged between "
            f"{start:%Y-%m-%d %H:%M} and {end:%Y-%m-%d %H:%M} UTC.",
            "current_start",
        )
    schema = {
        str(feature["name"]): str(feature.get("type") or "unknown")
        for feature in model_version.signature or []
    }
    schema[TIME_COLUMN] = "datetime"
    return start, end, schema


def read(analysis: DriftAnalysis, columns: list[str]) -> pa.Table:
    """The inputs logged for the analysis's model in its window, with their time."""
    model_version = analysis.model_version
    table_name = PredictionRecord._meta.db_table
    if connection.vendor == "postgresql":
        # Seconds and text: no Python datetime or dict per row.
        selected = "extract(epoch FROM logged_at)::float8, inputs::text"
    else:
        selected = "logged_at, inputs"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {selected} FROM {table_name} "
            "WHERE model_id = %s AND logged_at >= %s AND logged_at < %s ORDER BY logged_at",
            [
                model_version.model_id,
                # As the ORM stores them (SQLite compares the text: no "+00:00" suffix).
                connection.ops.adapt_datetimefield_value(analysis.current_start),
                connection.ops.adapt_datetimefield_value(analysis.current_end),
            ],
        )
        rows = cursor.fetchall()
    if not rows:
        raise profiling.DataFileError("No inputs were logged in this window any more.")
    wanted = [name for name in dict.fromkeys(columns) if name != TIME_COLUMN]
    types = {
        str(feature["name"]): ARROW_TYPES.get(str(feature.get("type")), pa.string())
        for feature in model_version.signature or []
    }
    schema = pa.schema([(name, types.get(name, pa.string())) for name in wanted])
    text = "\n".join(inputs for _, inputs in rows).encode()
    parsed = pa_json.read_json(
        io.BytesIO(text),
        parse_options=pa_json.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior="ignore"
        ),
    )
    table = parsed.select(wanted)
    if TIME_COLUMN in columns:
        table = table.append_column(TIME_COLUMN, _times([value for value, _ in rows]))
    return table


def _times(values: list[Any]) -> pa.Array:
    """Logging times as a UTC timestamp column: PostgreSQL's epoch seconds, or SQLite's
    stored text (naive UTC), converted by Arrow."""
    utc = pa.timestamp("us", tz="UTC")
    if values and isinstance(values[0], float):
        micros = np.rint(np.asarray(values, dtype=np.float64) * 1e6).astype(np.int64)
        return pa.array(micros, pa.int64()).cast(utc)
    if values and isinstance(values[0], str):
        return pc.assume_timezone(pa.array(values).cast(pa.timestamp("us")), "UTC")
    aware = [value if value.tzinfo else value.replace(tzinfo=dt.UTC) for value in values]
    return pa.array(aware, utc)


READER = CurrentReader(check=check, read=read, time_column=TIME_COLUMN)
