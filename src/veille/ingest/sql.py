"""Direct driver access for the ingest hot paths.

Django's SQLite cursor rewrites every ``%s`` to ``?`` with a regular expression on each call,
which costs more than the insert itself for multi-row statements with thousands of
placeholders. Here the rewrite is done once per distinct statement and the statement runs on
the driver's connection — the same connection, so inside the same transaction. PostgreSQL's
driver takes ``%s`` natively and goes through Django's cursor unchanged; there, many rows go in
as one binary array per column through ``unnest`` (``insert_rows``): Django's client-side
binding would otherwise re-parse a statement with thousands of placeholders, or quote every
array element in Python, on each call — more than the insert itself costs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain
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


# Parameters per multi-row INSERT on SQLite: well under its 32,766 bound variables.
SQLITE_VALUES_PER_STATEMENT = 8400
PG_ROWS_PER_STATEMENT = 5000


def insert_rows(table: str, columns: Sequence[str], pg_types: Mapping[str, str], rows: Sequence[Sequence[Any]],
                suffix: str = "") -> list[tuple]:
    """INSERT many rows; ``suffix`` may hold ``ON CONFLICT …`` and ``RETURNING …`` (rows come
    back in insertion order). ``pg_types`` gives each column's PostgreSQL type for ``unnest``."""
    if not rows:
        return []
    names = ", ".join(columns)
    returned: list[tuple] = []
    if not is_sqlite():
        import psycopg

        # %b: each array goes in PostgreSQL's binary format, built in C, with server-side binding
        # on the same connection (Django's own cursor binds client-side, quoting every element).
        casts = ", ".join(f"%b::{pg_types[column]}[]" for column in columns)
        aliases = ", ".join(f"c{index}" for index in range(len(columns)))
        statement = (f"INSERT INTO {table} ({names}) SELECT {aliases} FROM unnest({casts}) WITH ORDINALITY "
                     f"AS u({aliases}, position) ORDER BY position {suffix}")
        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            for start in range(0, len(rows), PG_ROWS_PER_STATEMENT):
                part = rows[start:start + PG_ROWS_PER_STATEMENT]
                cursor.execute(statement, [list(column) for column in zip(*part, strict=True)])
                if cursor.description:
                    returned += cursor.fetchall()
        return returned
    placeholder = "(" + ",".join(["%s"] * len(columns)) + ")"
    start = 0
    for count in statement_sizes(len(rows), max(1, SQLITE_VALUES_PER_STATEMENT // len(columns))):
        part = rows[start:start + count]
        start += count
        returned += execute(f"INSERT INTO {table} ({names}) VALUES {','.join([placeholder] * count)} {suffix}",
                            list(chain.from_iterable(part)))
    return returned


def statement_sizes(total: int, largest: int) -> list[int]:
    """Rows per statement for ``total`` rows: full statements of ``largest``, then the rest as
    powers of two (binary digits of the remainder).

    SQLite compiles a statement each time its text is new, and compiling a multi-row INSERT costs
    several times more than running it (~4 µs a row against ~1). Batches of arbitrary sizes
    (a chunk's thread levels) would each compile a new text; with this ladder a table needs a dozen
    distinct texts at most, all kept in the driver's statement cache.
    """
    sizes = [largest] * (total // largest)
    rest = total % largest
    bit = 1 << rest.bit_length()
    while rest:
        bit >>= 1
        if rest & bit:
            sizes.append(bit)
            rest -= bit
    return sizes
