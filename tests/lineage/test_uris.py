"""External dataset URIs become OpenLineage (namespace, name) pairs, or a readable refusal."""

from __future__ import annotations

import re

import pytest

from lineage.uris import SUPPORTED_SCHEMES, UnsupportedURIError, dataset_identity


@pytest.mark.parametrize(
    ("uri", "namespace", "name"),
    [
        ("s3://bucket/a/b.parquet", "s3://bucket", "a/b.parquet"),
        ("  s3://bucket/a/b.parquet  ", "s3://bucket", "a/b.parquet"),
        ("S3://bucket/key.csv", "s3://bucket", "key.csv"),
        ("s3a://lake/raw/events/", "s3a://lake", "raw/events/"),
        ("gs://analytics/exports/2024.csv", "gs://analytics", "exports/2024.csv"),
        (
            "abfss://data@account.dfs.core.windows.net/x/y",
            "abfss://data@account.dfs.core.windows.net",
            "x/y",
        ),
        ("hdfs://namenode:8020/warehouse/sales", "hdfs://namenode:8020", "/warehouse/sales"),
        (
            "postgres://db.example:5432/sales/public.orders",
            "postgres://db.example:5432",
            "sales.public.orders",
        ),
        (
            "postgresql://reporter@db:5432/sales/public/orders",
            "postgresql://db:5432",
            "sales.public.orders",
        ),
        ("mysql://db:3306/shop/customers", "mysql://db:3306", "shop.customers"),
        ("kafka://broker:9092/payments", "kafka://broker:9092", "payments"),
        (
            "snowflake://org-account/analytics/public/events",
            "snowflake://org-account",
            "analytics.public.events",
        ),
        ("bigquery://my-project/dataset/table", "bigquery", "my-project.dataset.table"),
        ("file:///data/exports/x.csv", "file", "/data/exports/x.csv"),
    ],
)
def test_it_names_a_uri_as_openlineage_does(uri: str, namespace: str, name: str) -> None:
    assert dataset_identity(uri) == (namespace, name)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("ftp://x/y", "Unknown URI scheme 'ftp'"),
        ("http://example.com/data.csv", "Unknown URI scheme 'http'"),
        ("bucket/key.csv", "is not a URI"),
        ("", "is not a URI"),
        ("s3://", "needs a host or bucket"),
        ("s3:///key.csv", "needs a host or bucket"),
        ("s3://bucket", "names no object"),
        ("s3://bucket/", "names no object"),
        ("postgres://db:5432/", "names no object"),
        ("postgres://admin:hunter2@db:5432/sales/orders", "Remove the password"),
        ("file:///", "needs a path"),
        ("bigquery://project/dataset", "project.dataset.table"),
    ],
)
def test_it_refuses_a_uri_it_cannot_name(uri: str, message: str) -> None:
    with pytest.raises(UnsupportedURIError, match=re.escape(message)):
        dataset_identity(uri)


def test_the_refusal_of_an_unknown_scheme_lists_the_supported_ones() -> None:
    with pytest.raises(UnsupportedURIError) as excinfo:
        dataset_identity("ftp://x/y")

    for scheme in ("s3", "gs", "postgres", "bigquery", "file"):
        assert scheme in str(excinfo.value)
    assert f"Supported schemes: {', '.join(SUPPORTED_SCHEMES)}." in str(excinfo.value)


def test_a_password_never_reaches_the_message() -> None:
    with pytest.raises(UnsupportedURIError) as excinfo:
        dataset_identity("postgres://admin:hunter2@db:5432/sales/orders")

    assert "hunter2" not in str(excinfo.value)
