"""Direct driver access for the ingest hot paths.

Django's SQLite cursor rewrites every ``%s`` to ``?`` with a regular expression on each call,
which costs more than the insert itself for multi-row statements with thousands of
placeholders. Here the rewrite is done once per distinct statement and the statement runs on
the driver's connection — the same connection, so inside the same transaction. PostgreSQL's
driver takes ``%s`` natively and goes through Django's cursor unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.db import connection


@functools.lru_cache(maxsize=512)
def _qmark(sql: str) -> str:
    return sql.replace("%s", "?")


def is_sqlite() -> bool:
    return connection.vendor == "sqlite"


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


def execute(sql: str, params: Sequence[Any] = ()) -> list[tuple]:
    """Run one statement and return its rows (empty for statements without a result)."""
    if is_sqlite():
        connection.ensure_connection()
        return connection.connection.execute(_qmark(sql), params).fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def executemany(sql: str, rows: Iterable[Sequence[Any]]) -> None:
    if is_sqlite():
        connection.ensure_connection()
        connection.connection.executemany(_qmark(sql), rows)
        return
    with connection.cursor() as cursor:
        cursor.executemany(sql, list(rows))


def db_datetime(value: datetime) -> datetime | str:
    """A timestamp as the database column expects it (SQLite: Django's naive-UTC text)."""
    return _sqlite_datetime(value) if is_sqlite() else value


def datetime_converter() -> Callable[[datetime], datetime | str]:
    """``db_datetime`` for this connection, chosen once for a loop over many rows."""
    return _sqlite_datetime if is_sqlite() else _unchanged


def _sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is not None and value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ")


def _unchanged(value: datetime) -> datetime:
    return value
