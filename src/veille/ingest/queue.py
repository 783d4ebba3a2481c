"""The database as the queue: raw items are claimed in batches under a lease.

PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets any number of workers claim disjoint batches.
SQLite: one writer at a time (``BEGIN IMMEDIATE``), so a claim is naturally exclusive.
A lease that expires (its worker died) makes the rows claimable again; every claim counts an
attempt, and rows that keep failing go to dead-letter instead of looping forever.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.db import connection, transaction
from django.utils import timezone

from veille.ingest import sql
from veille.ingest.models import RawStatus
from veille.ingest.store import chunks
from veille.sources.base import BadRecord, RawRecord


@dataclasses.dataclass(slots=True)
class ClaimedItem:
    id: int
    source_id: int
    format: str
    payload: str
    line: int | None
    location: str
    attempts: int


def storable_text(text: str) -> str:
    """Text any database column accepts: PostgreSQL refuses NUL characters, and no driver can
    encode a lone surrogate. Used for rejected input, which is kept to be looked at."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def payload_json(payload: Any) -> str:
    """A payload as JSON text; non-ASCII kept readable unless it cannot be stored as UTF-8.

    orjson writes a tweet-sized payload ten times faster than ``json``; it refuses what is not
    plain JSON (lone surrogates, integers over 64 bits), which ``json`` then writes with escapes.
    """
    try:
        return orjson.dumps(payload).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(payload)  # lone surrogates become \ud800-style escapes


DONE_WITHOUT_ERROR = (RawStatus.DONE, "")

RAW_COLUMN_NAMES = ("source_id", "format", "external_id", "payload", "line", "location", "status", "error", "received_at",
                    "processed_at", "attempts", "lease_owner", "lease_until")
RAW_COLUMNS = ", ".join(RAW_COLUMN_NAMES)
RAW_PG_TYPES = {"source_id": "bigint", "format": "text", "external_id": "text", "payload": "text", "line": "integer",
                "location": "text", "status": "text", "error": "text", "received_at": "timestamptz",
                "processed_at": "timestamptz", "attempts": "integer", "lease_owner": "text", "lease_until": "timestamptz"}


@dataclasses.dataclass(slots=True)
class RawRows:
    """Raw items as column tuples ready to insert (built where the records are read, which may
    be a preparing process: plain tuples cross a process boundary cheaply)."""

    good: list[tuple[Any, ...]]  # in record order; their ids come back in this order
    dead: list[tuple[Any, ...]]  # records that could not even be read

    def as_pending(self) -> RawRows:
        """The same items waiting for a worker (after settled processing failed)."""
        # Columns by position, as RAW_COLUMNS lists them: status, error, processed_at, attempts.
        return RawRows([(*row[:6], RawStatus.PENDING.value, "", row[8], None, 0, "", None) for row in self.good], self.dead)


def raw_rows(
    source_id: int,
    format_name: str,
    records: Iterable[RawRecord | BadRecord],
    now: datetime | None = None,
    *,
    payloads: Sequence[str] | None = None,
    settled: dict[int, tuple[RawStatus, str]] | None = None,
) -> RawRows:
    """The rows ``intake`` stores for ``records``; bad records become dead letters with their reason.

    ``payloads`` are the good records' payloads already serialised to JSON, in order. With
    ``settled`` the good records are stored already processed: ``done``, unless their position
    among the good records maps to another (status, reason). An importer stores them so inside
    the transaction that writes their posts: each row is written once, not pending then updated.
    """
    stamp = sql.db_datetime(now or timezone.now())
    good: list[tuple[Any, ...]] = []
    dead: list[tuple[Any, ...]] = []
    for record in records:
        if isinstance(record, BadRecord):
            dead.append((source_id, format_name, None, storable_text(record.raw_text), record.line,
                         storable_text(record.location[:200]), RawStatus.DEAD.value, storable_text(record.reason[:2000]),
                         stamp, stamp, 0, "", None))
            continue
        position = len(good)
        payload = payloads[position] if payloads is not None else payload_json(record.payload)
        if settled is None:
            good.append((source_id, format_name, record.external_id, payload, record.line, record.location[:200],
                         RawStatus.PENDING.value, "", stamp, None, 0, "", None))
        else:
            status, reason = settled.get(position, DONE_WITHOUT_ERROR)
            good.append((source_id, format_name, record.external_id, payload, record.line, record.location[:200],
                         status.value, storable_text(reason[:2000]), stamp, stamp, 1, "", None))
    return RawRows(good, dead)


def insert_raw(rows: RawRows, *, savepoint: bool = True) -> list[int]:
    """Store raw rows, all or none; return the good rows' ids in order. ``savepoint=False``:
    inside a transaction that fails as a whole with them (see ``pipeline.write``)."""
    with transaction.atomic(savepoint=savepoint):
        # Multi-row INSERT … RETURNING keeps the ids in insertion order on SQLite and PostgreSQL.
        ids = [row[0] for row in sql.insert_rows("ingest_rawitem", RAW_COLUMN_NAMES, RAW_PG_TYPES, rows.good, "RETURNING id")]
        if rows.dead:
            sql.executemany(f"INSERT INTO ingest_rawitem ({RAW_COLUMNS}) VALUES ({','.join(['%s'] * 13)})", rows.dead)
    return ids


def intake(
    source_id: int,
    format_name: str,
    records: Iterable[RawRecord | BadRecord],
    now: datetime | None = None,
    *,
    payloads: Sequence[str] | None = None,
) -> list[int]:
    """Persist records as pending raw items (bad ones straight to dead-letter with their reason).

    Returns the ids of the good records' raw items, in order. Every call writes all of
    ``records`` or none of them.
    """
    return insert_raw(raw_rows(source_id, format_name, records, now, payloads=payloads))


def claim(worker_id: str, limit: int, lease_s: float, source_id: int | None = None) -> list[ClaimedItem]:
    """Lease up to ``limit`` pending raw items to ``worker_id`` (oldest first)."""
    now = timezone.now()
    until = now + timedelta(seconds=lease_s)
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    source_filter = " AND source_id = %s" if source_id is not None else ""
    params: list[Any] = [worker_id, until, now] + ([source_id] if source_id is not None else []) + [limit]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ingest_rawitem SET lease_owner = %s, lease_until = %s, attempts = attempts + 1 "
            "WHERE id IN (SELECT id FROM ingest_rawitem WHERE status = 'pending' "
            "AND (lease_until IS NULL OR lease_until < %s)" + source_filter + " ORDER BY id LIMIT %s" + lock + ") "
            "RETURNING id, source_id, format, payload, line, location, attempts",
            params,
        )
        rows = cursor.fetchall()
    items = [ClaimedItem(*row) for row in rows]
    items.sort(key=lambda item: item.id)
    return items


def renew(worker_id: str, ids: Sequence[int], lease_s: float) -> None:
    until = timezone.now() + timedelta(seconds=lease_s)
    with transaction.atomic(), connection.cursor() as cursor:
        for part in chunks(list(ids), 900):
            cursor.execute(
                f"UPDATE ingest_rawitem SET lease_until = %s WHERE lease_owner = %s AND id IN ({','.join(['%s'] * len(part))})",
                [until, worker_id, *part],
            )


def mark(ids: Sequence[int], status: RawStatus, now: datetime) -> None:
    """Set the final status of items processed without error (inside the caller's transaction)."""
    stamp = sql.db_datetime(now)
    for part in chunks(list(ids), 900):
        sql.execute(
            f"UPDATE ingest_rawitem SET status = %s, processed_at = %s, lease_owner = '', lease_until = NULL "
            f"WHERE id IN ({','.join(['%s'] * len(part))})",
            [status.value, stamp, *part],
        )


def mark_dead(errors: Sequence[tuple[int, str]], now: datetime) -> None:
    if not errors:
        return
    stamp = sql.db_datetime(now)
    sql.executemany(
        "UPDATE ingest_rawitem SET status = 'dead', error = %s, processed_at = %s, lease_owner = '', "
        "lease_until = NULL WHERE id = %s",
        [(storable_text(reason[:2000]), stamp, item_id) for item_id, reason in errors],
    )


def release(ids: Sequence[int], error: str) -> None:
    """Give items back to the queue at once (after a failure), keeping the last error."""
    with transaction.atomic(), connection.cursor() as cursor:
        for part in chunks(list(ids), 900):
            cursor.execute(
                f"UPDATE ingest_rawitem SET lease_owner = '', lease_until = NULL, error = %s "
                f"WHERE status = 'pending' AND id IN ({','.join(['%s'] * len(part))})",
                [storable_text(error[:2000]), *part],
            )


def pending_count(source_id: int | None = None) -> int:
    with connection.cursor() as cursor:
        if source_id is None:
            cursor.execute("SELECT COUNT(*) FROM ingest_rawitem WHERE status = 'pending'")
        else:
            cursor.execute("SELECT COUNT(*) FROM ingest_rawitem WHERE status = 'pending' AND source_id = %s", [source_id])
        return cursor.fetchone()[0]
