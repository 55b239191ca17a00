"""Reading and profiling uploaded tables: every refusal has a readable reason, numbers are right."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lineage.profiling import (
    QUANTILES,
    DataFileError,
    detect_format,
    profile_table,
    read_table,
    table_schema,
)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def column(profile: dict, name: str) -> dict:
    return next(item for item in profile["columns"] if item["name"] == name)


# --- detect_format -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("data.csv", "csv"),
        ("DATA.CSV", "csv"),
        ("dir/data.parquet", "parquet"),
        ("data.PQ", "parquet"),
    ],
)
def test_it_detects_the_format_from_the_extension(filename: str, expected: str) -> None:
    assert detect_format(filename) == expected


def test_it_refuses_an_unsupported_extension_naming_it() -> None:
    with pytest.raises(DataFileError) as excinfo:
        detect_format("report.xlsx")
    assert str(excinfo.value) == ("Unsupported file type '.xlsx': upload a .csv or .parquet file.")


def test_it_refuses_a_file_name_without_extension() -> None:
    with pytest.raises(DataFileError, match="no extension"):
        detect_format("README")


# --- read_table refusals -------------------------------------------------------------------


def test_it_refuses_a_zero_byte_file(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.csv", b"")
    with pytest.raises(DataFileError, match=r"^The file is empty\.$"):
        read_table(path, "csv")


def test_it_refuses_a_whitespace_only_file(tmp_path: Path) -> None:
    path = write(tmp_path, "blank.csv", "  \n\n\t \r\n")
    with pytest.raises(DataFileError, match=r"^The file is empty\.$"):
        read_table(path, "csv")


def test_it_refuses_an_empty_parquet_upload(tmp_path: Path) -> None:
    path = write(tmp_path, "empty.parquet", b"")
    with pytest.raises(DataFileError, match=r"^The file is empty\.$"):
        read_table(path, "parquet")


def test_it_refuses_a_header_only_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "header.csv", "a,b,c\n")
    with pytest.raises(DataFileError, match=r"^The file has a header but no data rows\.$"):
        read_table(path, "csv")


def test_it_refuses_a_csv_row_with_too_many_fields_naming_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.csv", "a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n")
    with pytest.raises(DataFileError) as excinfo:
        read_table(path, "csv")
    message = str(excinfo.value)
    assert "Line 3" in message
    assert "4 fields" in message
    assert "header has 3" in message


def test_it_refuses_a_csv_row_with_too_few_fields_deep_in_a_large_file(tmp_path: Path) -> None:
    rows = "1,2\n" * 300_000
    path = write(tmp_path, "short.csv", "a,b\n" + rows + "3\n" + "1,2\n" * 10)
    with pytest.raises(DataFileError) as excinfo:
        read_table(path, "csv")
    assert "Line 300002 has 1 fields but the header has 2" in str(excinfo.value)


def test_it_refuses_latin1_text_asking_for_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.csv", "city,n\ncaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(DataFileError) as excinfo:
        read_table(path, "csv")
    assert str(excinfo.value).startswith("The file is not UTF-8 text")
    assert "UTF-8" in str(excinfo.value).split("text", 1)[1]


def test_it_refuses_a_latin1_header(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.csv", "caf\xe9,n\nx,1\n".encode("latin-1"))
    with pytest.raises(DataFileError, match=r"^The file is not UTF-8 text"):
        read_table(path, "csv")


def test_it_refuses_utf16_text(tmp_path: Path) -> None:
    path = write(tmp_path, "utf16.csv", "a,b\n1,2\n".encode("utf-16"))
    with pytest.raises(DataFileError, match=r"^The file is not UTF-8 text"):
        read_table(path, "csv")


def test_it_accepts_utf8_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = write(tmp_path, "bom.csv", "a,b\n1,caf\xe9\n".encode("utf-8-sig"))
    table = read_table(path, "csv")
    assert table.column_names == ["a", "b"]
    assert table.column("b").to_pylist() == ["caf\xe9"]


def test_it_refuses_duplicate_column_names(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.csv", "a,b,a\n1,2,3\n")
    with pytest.raises(DataFileError, match=r"duplicate column names \('a'\)"):
        read_table(path, "csv")


def test_it_refuses_an_empty_column_name(tmp_path: Path) -> None:
    path = write(tmp_path, "noname.csv", "a,,c\n1,2,3\n")
    with pytest.raises(DataFileError, match=r"empty column name \(column 2\)"):
        read_table(path, "csv")


def test_it_refuses_a_parquet_extension_that_is_not_parquet(tmp_path: Path) -> None:
    path = write(tmp_path, "fake.parquet", "a,b\n1,2\n")
    with pytest.raises(DataFileError, match=r"^The file is not a valid Parquet file\.$"):
        read_table(path, "parquet")


def test_it_refuses_a_truncated_parquet_file(tmp_path: Path) -> None:
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"a": list(range(100))}), good)
    path = write(tmp_path, "cut.parquet", good.read_bytes()[:-20])
    with pytest.raises(DataFileError, match=r"^The file is not a valid Parquet file\.$"):
        read_table(path, "parquet")


def test_it_refuses_a_parquet_file_with_zero_rows(tmp_path: Path) -> None:
    path = tmp_path / "none.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), path)
    with pytest.raises(DataFileError, match=r"^The file has a header but no data rows\.$"):
        read_table(path, "parquet")


def test_it_refuses_a_parquet_file_uploaded_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    pq.write_table(pa.table({"a": [1, 2]}), path)
    with pytest.raises(DataFileError, match="is a Parquet file, not CSV"):
        read_table(path, "csv")


def test_it_refuses_an_excel_workbook_uploaded_as_csv(tmp_path: Path) -> None:
    path = write(tmp_path, "book.csv", b"PK\x03\x04" + bytes(200))
    with pytest.raises(DataFileError, match="Excel workbook"):
        read_table(path, "csv")


def test_it_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="could not be found"):
        read_table(tmp_path / "nope.csv", "csv")


def test_it_never_lets_a_pyarrow_error_escape_for_garbage(tmp_path: Path) -> None:
    path = write(tmp_path, "garbage.csv", bytes(range(1, 256)) * 50)
    with pytest.raises(DataFileError):
        read_table(path, "csv")


# --- read_table successes ------------------------------------------------------------------


def test_it_reads_a_binary_file_object_from_its_current_position(tmp_path: Path) -> None:
    handle = io.BytesIO(b"a,b\n1,x\n2,y\n")
    table = read_table(handle, "csv")
    assert table.num_rows == 2
    assert table.column_names == ["a", "b"]


def test_it_reports_a_malformed_row_from_a_file_object_too() -> None:
    with pytest.raises(DataFileError, match="Line 3 has 3 fields"):
        read_table(io.BytesIO(b"a,b\n1,2\n3,4,5\n"), "csv")


def test_it_treats_empty_strings_in_text_columns_as_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "gaps.csv", "name,n\nx,1\n,2\nNA,3\n")
    table = read_table(path, "csv")
    assert table.column("name").null_count == 2


def test_it_roundtrips_a_parquet_file(tmp_path: Path) -> None:
    original = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int32()),
            "score": [0.5, None, 1.5],
            "label": pa.array(["a", "b", "a"]).dictionary_encode(),
            "ok": [True, False, None],
        }
    )
    path = tmp_path / "data.parquet"
    pq.write_table(original, path)
    table = read_table(path, "parquet")
    assert table.num_rows == 3
    assert table.column("score").to_pylist() == [0.5, None, 1.5]
    assert table_schema(table) == [
        {"name": "id", "type": "integer"},
        {"name": "score", "type": "float"},
        {"name": "label", "type": "string"},
        {"name": "ok", "type": "boolean"},
    ]
    profile = profile_table(table)
    assert column(profile, "label")["top_values"] == [
        {"value": "a", "count": 2},
        {"value": "b", "count": 1},
    ]


# --- table_schema --------------------------------------------------------------------------


def test_it_maps_csv_columns_to_portable_types(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "types.csv",
        "i,f,b,s,ts,d,t\n"
        "1,1.5,true,x,2024-01-01 10:00:00,2024-01-01,12:00:00\n"
        "2,,false,y,2024-01-02 11:30:00,2024-01-02,13:00:00\n",
    )
    assert table_schema(read_table(path, "csv")) == [
        {"name": "i", "type": "integer"},
        {"name": "f", "type": "float"},
        {"name": "b", "type": "boolean"},
        {"name": "s", "type": "string"},
        {"name": "ts", "type": "datetime"},
        {"name": "d", "type": "date"},
        {"name": "t", "type": "other"},
    ]


# --- profile_table -------------------------------------------------------------------------


def test_it_profiles_a_numeric_column_with_known_answers() -> None:
    profile = profile_table(pa.table({"x": [1, 2, 3, 4, None]}), histogram_bins=3)
    assert profile["row_count"] == 5
    assert profile["column_count"] == 1
    x = column(profile, "x")
    assert x["type"] == "integer"
    assert x["kind"] == "numeric"
    assert x["count"] == 4
    assert x["nulls"] == 1
    assert x["null_fraction"] == pytest.approx(0.2)
    assert x["distinct"] == 4
    assert x["min"] == 1
    assert x["max"] == 4
    assert x["mean"] == pytest.approx(2.5)
    assert x["std"] == pytest.approx(1.2909944)  # sample standard deviation (ddof=1)
    assert x["quantiles"]["0.5"] == pytest.approx(2.5)
    assert x["quantiles"]["0.25"] == pytest.approx(1.75)
    assert set(x["quantiles"]) == {str(q) for q in QUANTILES}
    assert x["zeros"] == 0
    assert x["negatives"] == 0
    assert x["histogram"]["edges"] == pytest.approx([1.0, 2.0, 3.0, 4.0])
    assert x["histogram"]["counts"] == [1, 1, 2]
    assert sum(x["histogram"]["counts"]) == 4


def test_it_counts_zeros_negatives_and_treats_nan_as_missing() -> None:
    values = pa.array([-2.0, 0.0, 0.0, 5.0, float("nan"), None, float("inf")])
    x = column(profile_table(pa.table({"x": values})), "x")
    assert x["nulls"] == 2
    assert x["count"] == 5
    assert x["infinite"] == 1
    assert x["zeros"] == 2
    assert x["negatives"] == 1
    assert x["min"] == -2.0
    assert x["max"] == 5.0
    assert sum(x["histogram"]["counts"]) == 4


def test_it_orders_categorical_top_values_by_frequency_then_first_appearance() -> None:
    values = ["b", "a", "c", "a", "c", "a", None, "d", "e"]
    x = column(profile_table(pa.table({"x": values}), top_values=3), "x")
    assert x["kind"] == "categorical"
    assert x["count"] == 8
    assert x["nulls"] == 1
    assert x["distinct"] == 5
    assert x["top_values"] == [
        {"value": "a", "count": 3},
        {"value": "c", "count": 2},
        {"value": "b", "count": 1},
    ]
    assert x["other_count"] == 2


def test_it_profiles_a_boolean_column() -> None:
    x = column(profile_table(pa.table({"x": [True, False, True, None]})), "x")
    assert x["kind"] == "boolean"
    assert x["distinct"] == 2
    assert x["top_values"] == [{"value": "true", "count": 2}, {"value": "false", "count": 1}]
    assert x["other_count"] == 0


@pytest.mark.parametrize(
    "array",
    [
        pa.nulls(4),
        pa.array([None, None, None, None], pa.float64()),
        pa.array([None, None, None, None], pa.string()),
        pa.array([None, None, None, None], pa.timestamp("us")),
    ],
    ids=["null-type", "float", "string", "datetime"],
)
def test_it_profiles_an_all_null_column_without_crashing(array: pa.Array) -> None:
    x = column(profile_table(pa.table({"x": array})), "x")
    assert x["count"] == 0
    assert x["nulls"] == 4
    assert x["null_fraction"] == 1.0
    assert x["distinct"] == 0
    if "histogram" in x:
        assert x["histogram"] == {"edges": [], "counts": []}
    if "top_values" in x:
        assert x["top_values"] == []


def test_it_gives_a_constant_numeric_column_a_sensible_histogram() -> None:
    x = column(profile_table(pa.table({"x": [7, 7, 7]}), histogram_bins=5), "x")
    assert x["min"] == x["max"] == 7
    assert x["std"] == 0.0
    assert x["distinct"] == 1
    edges = x["histogram"]["edges"]
    assert len(edges) == 6
    assert edges[0] < 7 < edges[-1]
    assert x["histogram"]["counts"] == [0, 0, 3, 0, 0]


def test_it_profiles_datetimes_as_iso_strings() -> None:
    stamps = [datetime(2024, 1, 1), datetime(2024, 1, 3), None, datetime(2024, 1, 5)]
    x = column(profile_table(pa.table({"x": stamps}), histogram_bins=4), "x")
    assert x["type"] == "datetime"
    assert x["kind"] == "datetime"
    assert x["count"] == 3
    assert x["min"] == "2024-01-01T00:00:00"
    assert x["max"] == "2024-01-05T00:00:00"
    assert x["histogram"]["edges"] == [
        "2024-01-01T00:00:00",
        "2024-01-02T00:00:00",
        "2024-01-03T00:00:00",
        "2024-01-04T00:00:00",
        "2024-01-05T00:00:00",
    ]
    assert x["histogram"]["counts"] == [1, 0, 1, 1]


def test_it_keeps_the_timezone_of_aware_datetimes() -> None:
    stamps = pa.array([datetime(2024, 6, 1, 12, tzinfo=UTC)], pa.timestamp("s", tz="UTC"))
    x = column(profile_table(pa.table({"x": stamps})), "x")
    assert x["min"] == "2024-06-01T12:00:00+00:00"


def test_it_profiles_dates_and_constant_dates() -> None:
    days = [date(2024, 2, 29), date(2024, 2, 29)]
    x = column(profile_table(pa.table({"x": days}), histogram_bins=2), "x")
    assert x["type"] == "date"
    assert x["min"] == x["max"] == "2024-02-29"
    assert x["histogram"]["edges"] == [
        "2024-02-28T12:00:00",
        "2024-02-29T00:00:00",
        "2024-02-29T12:00:00",
    ]
    assert x["histogram"]["counts"] == [0, 2]


def test_it_returns_strict_json_with_plain_python_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "mixed.csv",
        "n,f,s,b,d\n1,1.5,x,true,2024-01-01\n2,,y,false,\n,inf,,,2024-03-01\n",
    )
    profile = profile_table(read_table(path, "csv"))
    encoded = json.dumps(profile, allow_nan=False)
    assert json.loads(encoded) == profile


def test_it_reports_progress_after_each_column_up_to_one() -> None:
    seen: list[float] = []
    profile_table(pa.table({"a": [1], "b": ["x"], "c": [True], "d": [1.0]}), progress=seen.append)
    assert seen == [0.25, 0.5, 0.75, 1.0]
