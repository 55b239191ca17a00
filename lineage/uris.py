"""External dataset URIs, named as OpenLineage names datasets: a namespace and a name.

`s3://bucket/key/part.parquet` → (`s3://bucket`, `key/part.parquet`);
`postgres://db.example:5432/sales/public.orders` → (`postgres://db.example:5432`,
`sales.public.orders`). The same naming lets lineage events reported by pipelines
land on the datasets registered here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

# Object stores and file systems: the namespace is scheme + authority, the name the path.
_PATH_SCHEMES = {"s3", "s3a", "gs", "gcs", "abfs", "abfss", "wasbs", "hdfs", "dbfs"}
# Databases and streams: the name is the path's segments joined with dots.
_TABLE_SCHEMES = {
    "postgres",
    "postgresql",
    "mysql",
    "sqlserver",
    "redshift",
    "snowflake",
    "trino",
    "kafka",
    "oracle",
    "db2",
}
SUPPORTED_SCHEMES = sorted(_PATH_SCHEMES | _TABLE_SCHEMES | {"file", "bigquery"})


class UnsupportedURIError(ValueError):
    """A URI the portal cannot name; the message says why."""


def dataset_identity(uri: str) -> tuple[str, str]:
    """Split an external URI into an OpenLineage (namespace, name) pair."""
    uri = uri.strip()
    if "://" not in uri:
        raise UnsupportedURIError(
            f"'{uri}' is not a URI: expected scheme://location, for example s3://bucket/key."
        )
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if parts.password:
        raise UnsupportedURIError("Remove the password from the URI: it would be stored in clear.")
    if scheme not in SUPPORTED_SCHEMES:
        raise UnsupportedURIError(
            f"Unknown URI scheme '{scheme}'. Supported schemes: {', '.join(SUPPORTED_SCHEMES)}."
        )
    path = parts.path
    if scheme == "file":
        if not path or path == "/":
            raise UnsupportedURIError("A file URI needs a path, for example file:///data/x.csv.")
        return "file", path
    if scheme == "bigquery":
        name = (parts.netloc + path).strip("/").replace("/", ".")
        if name.count(".") < 2:
            raise UnsupportedURIError("A BigQuery URI names project.dataset.table.")
        return "bigquery", name
    if not parts.netloc:
        raise UnsupportedURIError(f"A {scheme} URI needs a host or bucket after '{scheme}://'.")
    namespace = (
        f"{scheme}://{parts.netloc.split('@')[-1] if scheme in _TABLE_SCHEMES else parts.netloc}"
    )
    if scheme in _PATH_SCHEMES:
        name = path.lstrip("/") if scheme != "hdfs" else path
    else:
        name = ".".join(segment for segment in path.split("/") if segment)
    if not name.strip("/"):
        raise UnsupportedURIError(f"The URI '{uri}' names no object or table after the location.")
    return namespace, name
