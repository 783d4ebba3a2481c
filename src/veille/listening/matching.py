"""Live matching at ingest: new posts × the workspace's saved searches → match rows + rollups.

Runs as a ``POST_STORE_HOOKS`` hook inside the pipeline's write transaction, so matches and
rollups commit with the posts or not at all. Per batch: one small read of the workspace's
active searches (compiled queries are cached by (id, query) text, so an edited search takes
effect at the next batch in every process), then CPU matching through the inverted index, then
set-based inserts and ``ON CONFLICT … DO UPDATE`` upserts of aggregated counts.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from django.db import connection

from veille.ingest import sql
from veille.ingest.pipeline import StoredPost
from veille.listening.models import ALL_POSTS
from veille.listening.query import (
    HASHTAG_RE,
    Compiled,
    Doc,
    Matcher,
    QuerySyntaxError,
    compile_query,
    fold,
)

log = logging.getLogger("veille.listening")

_compiled: dict[tuple[int, str], Compiled | None] = {}


def compiled_query(search_id: int, query: str) -> Compiled | None:
    key = (search_id, query)
    if key not in _compiled:
        if len(_compiled) > 20_000:
            _compiled.clear()
        try:
            _compiled[key] = compile_query(query)
        except QuerySyntaxError:
            log.warning("saved search %s has an invalid query; skipped", search_id)
            _compiled[key] = None
    return _compiled[key]


def matcher_for(workspace_id: int) -> Matcher:
    rows = sql.execute(
        "SELECT id, query FROM listening_savedsearch WHERE workspace_id = %s AND is_active = %s", [workspace_id, True]
    )
    searches = [(search_id, compiled) for search_id, query in rows
                if (compiled := compiled_query(search_id, query)) is not None]
    return Matcher(searches)


def list_memberships(workspace_id: int, names: set[str]) -> dict[str, frozenset[str]]:
    """handle → names of the workspace's public author lists it belongs to (only ``names``)."""
    if not names:
        return {}
    rows = sql.execute(
        "SELECT m.handle, l.name FROM listening_authorlistmember m JOIN listening_authorlist l ON l.id = m.author_list_id "
        "WHERE l.workspace_id = %s AND l.is_private = %s",
        [workspace_id, False],
    )
    found: dict[str, set[str]] = defaultdict(set)
    for handle, name in rows:
        lowered = name.lower()
        if lowered in names:
            found[handle].add(lowered)
    return {handle: frozenset(lists) for handle, lists in found.items()}


def doc_for(post: StoredPost, memberships: dict[str, frozenset[str]]) -> Doc:
    row = post.row
    handle = (row.author_handle or "").lstrip("@").lower()
    return Doc(row.text, language=row.language, sentiment=row.sentiment, platform=row.author_key[0], handle=handle,
               lists=memberships.get(handle, frozenset()))


def hashtags(text: str) -> set[str]:
    return {tag[:100] for tag in HASHTAG_RE.findall(fold(text))}


def on_posts_stored(workspace_id: int, posts: list[StoredPost], now: datetime) -> None:
    """The ingest hook."""
    matcher = matcher_for(workspace_id)
    memberships = list_memberships(workspace_id, matcher.lists)
    matches: list[tuple[StoredPost, list[int]]] = []
    if len(matcher):
        for post in posts:
            found = matcher.match(doc_for(post, memberships))
            if found:
                matches.append((post, found))
    write_matches(workspace_id, posts, matches)


def write_matches(workspace_id: int, posts: Sequence[StoredPost], matches: Sequence[tuple[StoredPost, list[int]]]) -> None:
    sqlite = sql.is_sqlite()
    # Per post, once: its buckets as the database stores them, and its hashtags.
    buckets: dict[int, tuple] = {}
    for post in posts:
        row = post.row
        created = row.created_at.astimezone(UTC)
        if sqlite:  # Django's SQLite text form, cut instead of recomputed
            text_form = created.replace(tzinfo=None).isoformat(" ")
            created_db, hour, minute, day = text_form, text_form[:13] + ":00:00", text_form[:16] + ":00", text_form[:10]
        else:
            created_db, hour = created, created.replace(minute=0, second=0, microsecond=0)
            minute, day = created.replace(second=0, microsecond=0), created.date()
        buckets[post.id] = (
            created_db, hour, minute, day, row.sentiment or "", (row.language or "")[:8],
            row.sentiment == "negative", row.sentiment == "positive",
            hashtags(row.text) if "#" in row.text else (),
        )
    # Every (search, post) pair counted once per rollup, with C-speed Counter updates.
    pairs = [(ALL_POSTS, post.id, post.author_id) for post in posts]
    pairs += [(search_id, post.id, post.author_id) for post, search_ids in matches for search_id in search_ids]
    hours = Counter([(s, b[1], b[4], b[5]) for s, p, _a in pairs for b in (buckets[p],)])
    minute_keys = [(s, buckets[p][2]) for s, p, _a in pairs]
    minutes = Counter(minute_keys)
    negative = Counter([key for key, (_s, p, _a) in zip(minute_keys, pairs, strict=True) if buckets[p][6]])
    positive = Counter([key for key, (_s, p, _a) in zip(minute_keys, pairs, strict=True) if buckets[p][7]])
    authors = Counter([(s, buckets[p][3], a) for s, p, a in pairs])
    tags = Counter([(s, b[3], tag) for s, p, _a in pairs for b in (buckets[p],) if b[8] for tag in b[8]])
    match_rows = [(s, p, b[0], a, b[4], b[5]) for s, p, a in pairs[len(posts):] for b in (buckets[p],)]

    _insert("listening_searchmatch", ("search_id", "post_id", "created_at", "author_id", "sentiment", "language"), match_rows,
            "ON CONFLICT (search_id, post_id) DO NOTHING")
    _upsert("listening_hourrollup", ("workspace_id", "search_id", "hour", "sentiment", "language"), ("count",),
            [(workspace_id, *key, n) for key, n in hours.items()])
    _upsert("listening_minuterollup", ("workspace_id", "search_id", "minute"), ("count", "negative", "positive"),
            [(workspace_id, *key, n, negative.get(key, 0), positive.get(key, 0)) for key, n in minutes.items()])
    _upsert("listening_authorrollup", ("workspace_id", "search_id", "day", "author_id"), ("count",),
            [(workspace_id, *key, n) for key, n in authors.items()])
    _upsert("listening_tagrollup", ("workspace_id", "search_id", "day", "tag"), ("count",),
            [(workspace_id, *key, n) for key, n in tags.items()])


# PostgreSQL types of every column written here: rows go as one array per column through
# ``unnest`` (one short statement, planned once, whatever the number of rows).
PG_TYPES = {
    "workspace_id": "bigint", "search_id": "bigint", "post_id": "bigint", "author_id": "bigint",
    "created_at": "timestamptz", "hour": "timestamptz", "minute": "timestamptz", "day": "date",
    "sentiment": "text", "language": "text", "tag": "text", "count": "integer", "negative": "integer", "positive": "integer",
}
SQLITE_CHUNK_VALUES = 3000


def _insert(table: str, columns: Sequence[str], rows: Sequence[tuple], suffix: str = "") -> None:
    if not rows:
        return
    names = ", ".join(columns)
    if connection.vendor == "postgresql":
        arrays = [list(column) for column in zip(*rows, strict=True)]
        casts = ", ".join(f"%s::{PG_TYPES[c]}[]" for c in columns)
        sql.execute(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({casts}) {suffix}", arrays)
        return
    placeholder = "(" + ",".join(["%s"] * len(columns)) + ")"
    size = max(1, SQLITE_CHUNK_VALUES // len(columns))
    for start in range(0, len(rows), size):
        part = rows[start:start + size]
        params: list[Any] = list(chain.from_iterable(part))
        sql.execute(f"INSERT INTO {table} ({names}) VALUES {','.join([placeholder] * len(part))} {suffix}", params)


def _upsert(table: str, key: Sequence[str], counters: Sequence[str], rows: Sequence[tuple]) -> None:
    if connection.vendor == "postgresql":
        # Sorted so concurrent workers lock rollup rows in the same order (no deadlock). SQLite
        # has one writer at a time.
        rows = sorted(rows)
    update = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counters)
    _insert(table, (*key, *counters), rows, f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {update}")
