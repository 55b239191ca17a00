"""Shared set-up for the benchmarks: a throwaway database, migrated, outside var/."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent


def use_scratch_database(name: str) -> str:
    """Point Django at a fresh database named after the benchmark and migrate it.

    With DATABASE_URL set to PostgreSQL, a database `<name>` is (re)created on that server;
    otherwise a SQLite file in a temporary folder is used. Returns a label for the report.
    """
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mlops_portal.settings")
    os.environ.setdefault("DEBUG", "true")
    os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix=f"{name}-")
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        parts = urlsplit(url)
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
        label = f"PostgreSQL ({parts.hostname}:{parts.port or 5432})"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{os.environ['VAR_DIR']}/bench.sqlite3"
        label = "SQLite"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return label
