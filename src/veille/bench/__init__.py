"""Benchmarks: each prints its figures with a baseline measured in the same run."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlparse, urlunparse


def fresh_postgres(url: str) -> tuple[str, Callable[[], None]]:
    """Create an empty database on the server of ``url``; return its URL and a function dropping it."""
    import psycopg

    parsed = urlparse(url)
    name = f"veille_bench_{uuid.uuid4().hex[:10]}"
    admin_url = urlunparse(parsed._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunparse(parsed._replace(path=f"/{name}")), drop


@contextlib.contextmanager
def fresh_database(database_url: str | None) -> Iterator[None]:
    """Django set up on a new, migrated database (PostgreSQL next to ``database_url``, else a
    temporary SQLite file), removed afterwards."""
    cleanup: Callable[[], None] | None = None
    tmp = None
    # The database is new, the installation is not: files derived from installed packages (the
    # language model's tables, built by the first process that needs them) stay where they are.
    os.environ.setdefault("VEILLE_CACHE_DIR", os.path.join(os.environ.get("VEILLE_VAR_DIR", os.path.join(os.getcwd(), "var")), "cache"))
    if database_url:
        url, cleanup = fresh_postgres(database_url)
        os.environ["VEILLE_DATABASE_URL"] = url
    else:
        tmp = tempfile.TemporaryDirectory(prefix="veille-bench-")
        os.environ.pop("VEILLE_DATABASE_URL", None)
        os.environ["VEILLE_VAR_DIR"] = tmp.name
    try:
        from veille.cli import migrate, setup_django

        setup_django()
        migrate()
        yield
    finally:
        if cleanup:
            cleanup()
        if tmp:
            tmp.cleanup()
