"""Read uploaded tables (CSV / Parquet) and compute a JSON-ready statistical profile.

Everything here is plain Python on top of pyarrow and numpy so it can run in a web request, a
Celery worker or a script alike. Reading turns every way an upload can be unreadable into a
:class:`DataFileError` whose message is a sentence meant for the person who uploaded the file;
profiling is vectorised (one sort per numeric column, hash-based value counts for the rest) so a
million-row file is profiled in about a second.
"""

from __future__ import annotations

import io
import math
import os
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

__all__ = [
    "QUANTILES",
    "DataFileError",
    "detect_format",
    "profile_table",
    "read_table",
    "table_schema",
]

#: Quantiles reported for numeric columns; the keys of ``column["quantiles"]`` are ``str(q)``.
QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)

_EXTENSIONS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_SNIFF_BYTES = 64 * 1024
# Larger blocks than pyarrow's 1 MiB default: fewer, bigger parse tasks, and type inference sees
# more rows before it commits to a type.
_CSV_BLOCK_SIZE = 8 * 1024 * 1024
_MAX_SNIPPET = 80
_EPOCH = datetime(1970, 1, 1)
_UNIT_TO_MICROSECONDS = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}

Source = str | os.PathLike[str] | BinaryIO


class DataFileError(ValueError):
    """A file that cannot be read as a table; str(exc) is a user-facing sentence naming the problem.

    It subclasses ValueError so callers that already treat bad input as ValueError keep working.
    """


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def detect_format(filename: str) -> str:
    """Return ``"csv"`` or ``"parquet"`` from a file name's extension (case-insensitive).

    The extension is all we trust at upload time; the content is validated by :func:`read_table`.
    """
    extension = os.path.splitext(os.fspath(filename))[1].lower()
    if extension in _EXTENSIONS:
        return _EXTENSIONS[extension]
    if not extension:
        raise DataFileError("The file name has no extension: upload a .csv or .parquet file.")
    raise DataFileError(f"Unsupported file type '{extension}': upload a .csv or .parquet file.")


def read_table(source: Source, file_format: str) -> pa.Table:
    """Read a CSV or Parquet upload into a :class:`pyarrow.Table`, or raise :class:`DataFileError`.

    ``source`` is a path or a binary file object (e.g. a Django ``UploadedFile``); a path is
    faster because pyarrow then reads it natively without going through Python file calls. A file
    object is read from its current position and left open.
    """
    fmt = file_format.lower().strip()
    if fmt not in ("csv", "parquet"):
        raise DataFileError(f"Unsupported file format '{file_format}': use csv or parquet.")
    arrow_source, head = _prepare(source)
    if fmt == "csv":
        _sniff_csv(head)
        table = _read_csv(arrow_source)
    else:
        table = _read_parquet(arrow_source)
    try:
        names = table.column_names
    except UnicodeDecodeError as exc:  # pyarrow keeps the raw header bytes; names fail to decode
        raise _not_utf8_error("the header row has invalid characters") from exc
    _check_column_names(names)
    if fmt == "csv":
        _check_utf8_columns(table)
    if table.num_rows == 0:
        raise DataFileError("The file has a header but no data rows.")
    return table


class _Rewindable:
    """What pyarrow is handed: a path, or a file object rewound to the start before each read."""

    def __init__(self, source: Source) -> None:
        self._path: str | None = None
        self._file: BinaryIO | None = None
        self._start = 0
        if isinstance(source, str | os.PathLike):
            self._path = os.fspath(source)
        else:
            fileobj = source
            if not _is_seekable(fileobj):
                # pyarrow may need to re-read (to locate a malformed row), so buffer it once.
                fileobj = io.BytesIO(fileobj.read())
            self._file = fileobj
            self._start = fileobj.tell()

    def get(self) -> str | BinaryIO:
        if self._path is not None:
            return self._path
        assert self._file is not None
        self._file.seek(self._start)
        return self._file


def _is_seekable(fileobj: Any) -> bool:
    try:
        return bool(fileobj.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _prepare(source: Source) -> tuple[_Rewindable, bytes]:
    """Return a rewindable source and the first bytes of the file, refusing empty files early."""
    try:
        rewindable = _Rewindable(source)
    except FileNotFoundError as exc:
        raise DataFileError("The file could not be found.") from exc
    except OSError as exc:
        raise DataFileError("The file could not be opened.") from exc
    raw = rewindable.get()
    try:
        if isinstance(raw, str):
            with open(raw, "rb") as handle:
                head = _read_head(handle)
        else:
            head = _read_head(raw)
    except FileNotFoundError as exc:
        raise DataFileError("The file could not be found.") from exc
    except OSError as exc:
        raise DataFileError("The file could not be read.") from exc
    return rewindable, head


def _read_head(handle: BinaryIO) -> bytes:
    """Return the first bytes of the file; raise if it is empty or holds only whitespace."""
    head = handle.read(_SNIFF_BYTES) or b""
    if head.strip():
        return head
    while chunk := handle.read(1024 * 1024):
        if chunk.strip():
            return head
    raise DataFileError("The file is empty.")


def _sniff_csv(head: bytes) -> None:
    """Catch the usual wrong-file cases before pyarrow turns them into confusing errors."""
    if head.startswith(b"PK\x03\x04"):
        raise DataFileError(
            "The file is not CSV text: it looks like an Excel workbook or a zip archive. "
            "Export it as CSV (UTF-8) and upload that instead."
        )
    if head.startswith(b"PAR1"):
        raise DataFileError(
            "The file is a Parquet file, not CSV: rename it to .parquet and upload it again."
        )
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise DataFileError(
            "The file is not UTF-8 text (it looks like UTF-16 or a binary file). "
            "Re-save it as CSV with UTF-8 encoding and upload it again."
        )


def _not_utf8_error(detail: str = "") -> DataFileError:
    suffix = f" ({detail})" if detail else ""
    return DataFileError(
        f"The file is not UTF-8 text{suffix}. Re-save it with UTF-8 encoding "
        "(in Excel: 'CSV UTF-8') and upload it again."
    )


def _csv_options(*, use_threads: bool = True) -> dict[str, Any]:
    return {
        "read_options": pa_csv.ReadOptions(use_threads=use_threads, block_size=_CSV_BLOCK_SIZE),
        # Empty strings and "NA"/"NULL"-style markers are missing values in text columns too,
        # otherwise null fractions of categorical columns would always be zero.
        "convert_options": pa_csv.ConvertOptions(strings_can_be_null=True),
    }


def _read_csv(source: _Rewindable) -> pa.Table:
    try:
        return pa_csv.read_csv(source.get(), **_csv_options())
    except UnicodeDecodeError as exc:  # raised for a header that is not valid UTF-8
        raise _not_utf8_error("the header row has invalid characters") from exc
    except (pa.ArrowException, ValueError, OSError) as exc:
        message = str(exc)
        if "Empty CSV file" in message:
            raise DataFileError("The file is empty.") from exc
        if "Expected" in message and "columns, got" in message:
            raise _malformed_row_error(source, message) from exc
        if "UTF8" in message or "UTF-8" in message:
            raise _not_utf8_error() from exc
        conversion = re.search(r"In CSV column #(\d+): .*?conversion error to (\w+)", message)
        if conversion:
            raise DataFileError(
                f"Column {int(conversion.group(1)) + 1} has values that do not match the type "
                f"({conversion.group(2)}) of its other values."
            ) from exc
        raise DataFileError("The file could not be read as CSV.") from exc


def _malformed_row_error(source: _Rewindable, message: str) -> DataFileError:
    """Build the wrong-field-count message, re-reading serially to learn the line number.

    pyarrow only numbers the bad row ("Row #N", the physical line) when it parses on a single
    thread, so the fast multithreaded read is retried serially only on this (rare) failure path.
    """
    try:
        pa_csv.read_csv(source.get(), **_csv_options(use_threads=False))
    except Exception as exc:  # the same parse error, now with its line number
        message = str(exc)
    match = re.search(
        r"(?:Row #(\d+): )?Expected (\d+) columns, got (\d+)(?:: (.*))?", message, re.S
    )
    if match is None:
        return DataFileError("The file is not a valid CSV table: its rows have different lengths.")
    line, expected, actual, text = match.groups()
    where = f"Line {line}" if line else "A row"
    snippet = ""
    if text:
        text = text.strip()
        text = text if len(text) <= _MAX_SNIPPET else text[:_MAX_SNIPPET] + "..."
        snippet = f" (the row starts: {text!r})"
    return DataFileError(
        f"The file is not a valid CSV table: {where} has {actual} fields but the header has "
        f"{expected}{snippet}. Check for unquoted commas or missing values."
    )


def _read_parquet(source: _Rewindable) -> pa.Table:
    try:
        parquet_file = pq.ParquetFile(source.get())
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise DataFileError("The file is not a valid Parquet file.") from exc
    try:
        return parquet_file.read(use_threads=True)
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise DataFileError(
            "The Parquet file is damaged or uses features that cannot be read."
        ) from exc


def _check_column_names(names: list[str]) -> None:
    empty = [index + 1 for index, name in enumerate(names) if not name.strip()]
    if empty:
        positions = ", ".join(str(position) for position in empty)
        plural = "s" if len(empty) > 1 else ""
        raise DataFileError(
            f"The file has an empty column name (column{plural} {positions}): "
            "give every column a name in the header row."
        )
    duplicates = [name for name, seen in Counter(names).items() if seen > 1]
    if duplicates:
        listed = ", ".join(repr(name) for name in duplicates)
        raise DataFileError(
            f"The file has duplicate column names ({listed}): give every column a unique name."
        )


def _check_utf8_columns(table: pa.Table) -> None:
    """pyarrow infers ``binary`` for CSV text that is not valid UTF-8 instead of failing."""
    for field in table.schema:
        if pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type):
            raise _not_utf8_error(f"column '{field.name}' contains invalid characters")


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


def _portable_type(data_type: pa.DataType) -> str:
    """Map an Arrow type to the small vocabulary the portal stores and compares."""
    if pa.types.is_dictionary(data_type):
        return _portable_type(data_type.value_type)
    if pa.types.is_integer(data_type):
        return "integer"
    if pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "float"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if (
        pa.types.is_string(data_type)
        or pa.types.is_large_string(data_type)
        or pa.types.is_string_view(data_type)
    ):
        return "string"
    if pa.types.is_timestamp(data_type):
        return "datetime"
    if pa.types.is_date(data_type):
        return "date"
    return "other"


def table_schema(table: pa.Table) -> list[dict[str, str]]:
    """Return ``[{"name": ..., "type": ...}, ...]`` with portable type names, in column order.

    Portable names (integer, float, boolean, string, datetime, date, other) keep the stored
    schema independent of CSV-vs-Parquet details such as int32 vs int64 or timestamp units.
    """
    return [{"name": field.name, "type": _portable_type(field.type)} for field in table.schema]


# --------------------------------------------------------------------------------------------
# Profiling
# --------------------------------------------------------------------------------------------

_KIND_BY_TYPE = {
    "integer": "numeric",
    "float": "numeric",
    "boolean": "boolean",
    "datetime": "datetime",
    "date": "datetime",
}


def profile_table(
    table: pa.Table,
    *,
    histogram_bins: int = 20,
    top_values: int = 10,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """Profile every column of ``table`` into a JSON-serialisable dict.

    The result only holds plain ``int``/``float``/``str``/``None`` values (never NaN or inf), so
    it can go straight into a JSONField. ``progress`` receives the completed fraction (0..1)
    after each column, for a progress bar.
    """
    if histogram_bins < 1:
        raise ValueError("histogram_bins must be at least 1")
    if top_values < 0:
        raise ValueError("top_values must not be negative")
    columns = []
    total = table.num_columns
    for index, (field, column) in enumerate(zip(table.schema, table.columns, strict=True)):
        columns.append(_profile_column(field.name, column, histogram_bins, top_values))
        if progress is not None:
            progress((index + 1) / total)
    if progress is not None and total == 0:
        progress(1.0)
    return {"row_count": table.num_rows, "column_count": total, "columns": columns}


def _profile_column(name: str, column: pa.ChunkedArray, bins: int, top: int) -> dict[str, Any]:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    portable = _portable_type(column.type)
    kind = _KIND_BY_TYPE.get(portable, "categorical")
    rows = len(column)
    nulls = column.null_count
    profile: dict[str, Any] = {"name": name, "type": portable, "kind": kind}
    if kind == "numeric":
        stats = _numeric_stats(column, bins)
        nulls += stats.pop("nan_count")
    elif kind == "datetime":
        stats = _datetime_stats(column, bins)
    else:
        stats = _frequency_stats(column, top, rows - nulls)
    profile.update(
        count=rows - nulls,
        nulls=nulls,
        null_fraction=(nulls / rows) if rows else 0.0,
        distinct=stats.pop("distinct"),
    )
    profile.update(stats)
    return profile


def _valid_values(column: pa.ChunkedArray) -> np.ndarray:
    """Non-null values as one contiguous numpy array (zero-copy per chunk where possible)."""
    if column.null_count:
        column = pc.drop_null(column)
    if column.num_chunks == 0:
        return np.empty(0)
    if column.num_chunks == 1:
        values: np.ndarray = column.chunk(0).to_numpy(zero_copy_only=False)
        return values
    return np.concatenate([chunk.to_numpy(zero_copy_only=False) for chunk in column.chunks])


def _numeric_stats(column: pa.ChunkedArray, bins: int) -> dict[str, Any]:
    """Stats for integer/float columns from one sorted copy of the values.

    Sorting once (~50 ms per million values) gives min, max, exact quantiles, distinct count,
    zero/negative counts and the histogram by binary search; hashing floats for the distinct
    count alone would cost ~10x more.
    """
    if pa.types.is_decimal(column.type):
        column = column.cast(pa.float64())
    values = _valid_values(column)
    nan_count = 0
    infinite = 0
    if values.dtype.kind == "f":
        finite = np.isfinite(values)
        if not finite.all():
            nan_mask = np.isnan(values)
            nan_count = int(nan_mask.sum())
            infinite = int(values.size - nan_count - finite.sum())
            values = values[finite]
    ordered = np.sort(values)
    n = ordered.size
    stats: dict[str, Any] = {"nan_count": nan_count, "infinite": infinite}
    if n == 0:
        stats.update(
            distinct=0,
            min=None,
            max=None,
            mean=None,
            std=None,
            quantiles={str(q): None for q in QUANTILES},
            zeros=0,
            negatives=0,
            histogram={"edges": [], "counts": []},
        )
        return stats
    as_float = ordered.astype(np.float64, copy=False)
    low, high = ordered[0], ordered[-1]
    zero_start = int(np.searchsorted(ordered, 0, side="left"))
    zero_end = int(np.searchsorted(ordered, 0, side="right"))
    edges, counts = _sorted_histogram(as_float, bins)
    stats.update(
        distinct=_sorted_distinct(ordered),
        min=_scalar(low),
        max=_scalar(high),
        mean=_finite(float(np.mean(as_float))),
        std=_finite(float(np.std(as_float, ddof=1))) if n > 1 else None,
        quantiles={
            str(q): _finite(v) for q, v in zip(QUANTILES, _sorted_quantiles(as_float), strict=True)
        },
        zeros=zero_end - zero_start,
        negatives=zero_start,
        histogram={"edges": [_finite(edge) for edge in edges], "counts": counts},
    )
    return stats


def _sorted_distinct(ordered: np.ndarray) -> int:
    if ordered.size == 0:
        return 0
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + 1


def _sorted_quantiles(ordered: np.ndarray) -> list[float]:
    """Linear-interpolation quantiles (numpy's default method) read off a sorted array."""
    last = ordered.size - 1
    result = []
    for q in QUANTILES:
        position = q * last
        lower = math.floor(position)
        upper = min(lower + 1, last)
        fraction = position - lower
        result.append(float(ordered[lower] + (ordered[upper] - ordered[lower]) * fraction))
    return result


def _sorted_histogram(
    ordered: np.ndarray, bins: int, *, half_width: float = 0.5
) -> tuple[list[float], list[int]]:
    """Equal-width histogram of sorted values, counting by binary search (like np.histogram).

    A constant column gets the range value +/- ``half_width`` (numpy uses 0.5), so it still has
    ``bins`` bins, with every value in the middle one.
    """
    low, high = float(ordered[0]), float(ordered[-1])
    if low == high:
        low, high = low - half_width, high + half_width
    edges = np.linspace(low, high, bins + 1)
    positions = np.searchsorted(ordered, edges[:-1], side="left")
    boundaries = np.append(positions, ordered.size)
    counts = np.diff(boundaries)
    return [float(edge) for edge in edges], [int(count) for count in counts]


def _datetime_stats(column: pa.ChunkedArray, bins: int) -> dict[str, Any]:
    """Datetime/date stats on the underlying integers, reported as ISO-8601 strings."""
    data_type = column.type
    is_date = pa.types.is_date(data_type)
    if pa.types.is_date32(data_type):
        unit, tz = "D", None
        integers = column.cast(pa.int32())
    elif pa.types.is_date64(data_type):
        unit, tz = "ms", None
        integers = column.cast(pa.int64())
    else:
        unit, tz = data_type.unit, data_type.tz
        integers = column.cast(pa.int64())
    ordered = np.sort(_valid_values(integers).astype(np.int64, copy=False))
    if ordered.size == 0:
        return {"distinct": 0, "min": None, "max": None, "histogram": {"edges": [], "counts": []}}
    zone = _zone(tz)
    # A constant column's histogram spans one day (dates) or one second around the value.
    half_width = 0.5 if unit == "D" else 500_000 / _UNIT_TO_MICROSECONDS[unit]
    edges, counts = _sorted_histogram(ordered.astype(np.float64), bins, half_width=half_width)
    return {
        "distinct": _sorted_distinct(ordered),
        "min": _iso(int(ordered[0]), unit, zone, as_date=is_date),
        "max": _iso(int(ordered[-1]), unit, zone, as_date=is_date),
        "histogram": {
            "edges": [_iso(edge, unit, zone, as_date=False) for edge in edges],
            "counts": counts,
        },
    }


def _zone(tz: str | None) -> tzinfo | None:
    if tz is None:
        return None
    try:
        return ZoneInfo(tz)
    except (KeyError, ValueError):
        match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", tz)
        if match:
            sign = -1 if match.group(1) == "-" else 1
            offset = timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
            return timezone(sign * offset)
        return UTC


def _iso(value: float, unit: str, zone: tzinfo | None, *, as_date: bool) -> str:
    """Format an epoch offset in ``unit`` as ISO-8601 (timezone-aware columns keep their zone).

    Offsets may be fractional (histogram edges); they are rounded to the microsecond.
    """
    try:
        if unit == "D":
            moment = _EPOCH + timedelta(days=value)
        else:
            moment = _EPOCH + timedelta(microseconds=value * _UNIT_TO_MICROSECONDS[unit])
        if as_date:
            return moment.date().isoformat()
        if zone is not None:
            return moment.replace(tzinfo=UTC).astimezone(zone).isoformat()
        return moment.isoformat()
    except OverflowError:  # beyond Python's year 1..9999 range; numpy still formats it
        return str(np.datetime_as_string(np.array(round(value)).astype(f"datetime64[{unit}]")))


def _frequency_stats(column: pa.ChunkedArray, top: int, non_null: int) -> dict[str, Any]:
    """Distinct count and most frequent values for string, boolean and other columns.

    Ties are broken by first appearance in the file, which keeps results deterministic without
    sorting every distinct value.
    """
    try:
        counted = pc.value_counts(column)
    except (pa.ArrowException, NotImplementedError, TypeError):
        # Nested types (lists, structs) cannot be hashed; report what we can.
        return {"distinct": None, "top_values": [], "other_count": non_null}
    values = counted.field("values")
    counts = counted.field("counts").to_numpy(zero_copy_only=False)
    if values.null_count:
        valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
        values = values.filter(pa.array(valid))
        counts = counts[valid]
    chosen = _top_indices(counts, top)
    picked_values = values.take(pa.array(chosen, type=pa.int64())).to_pylist()
    top_list = [
        {"value": _label(value), "count": int(counts[index])}
        for value, index in zip(picked_values, chosen, strict=True)
    ]
    shown = int(counts[chosen].sum())
    return {"distinct": len(values), "top_values": top_list, "other_count": int(non_null - shown)}


def _top_indices(counts: np.ndarray, top: int) -> np.ndarray:
    """Indices of the ``top`` largest counts, largest first, ties in original order; O(n)."""
    if top == 0 or counts.size == 0:
        return np.empty(0, dtype=np.int64)
    if counts.size > top:
        threshold = np.partition(counts, counts.size - top)[counts.size - top]
        above = np.flatnonzero(counts > threshold)
        at_threshold = np.flatnonzero(counts == threshold)[: top - above.size]
        candidates = np.concatenate([above, at_threshold])
        candidates.sort()
    else:
        candidates = np.arange(counts.size)
    order = np.argsort(-counts[candidates], kind="stable")
    return candidates[order]


def _label(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _scalar(value: Any) -> int | float | None:
    """A numpy scalar as a plain JSON-safe Python number."""
    if isinstance(value, np.integer):
        return int(value)
    return _finite(float(value))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
