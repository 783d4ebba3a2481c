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
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from veille.ingest import sql
from veille.ingest.pipeline import StoredPost
from veille.ingest.store import PostRow
from veille.listening.models import ALERTING, ALL_POSTS, SavedSearch
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


def doc_for(row: PostRow, memberships: dict[str, frozenset[str]]) -> Doc:
    handle = (row.author_handle or "").lstrip("@").lower()
    return Doc(row.text, language=row.language, sentiment=row.sentiment, platform=row.author_key[0], handle=handle,
               lists=memberships.get(handle, frozenset()))


def hashtags(text: str) -> set[str]:
    return {tag[:100] for tag in HASHTAG_RE.findall(fold(text))}


def annotate(workspace_id: int, rows: list[PostRow]) -> None:
    """The prepare hook: which saved searches each row matches, and the rollup buckets it counts in.

    CPU only (after one read of the searches), so it runs before the write transaction and, for
    an import, in the preparing process; the store hook then only writes.
    """
    matcher = matcher_for(workspace_id)
    memberships = list_memberships(workspace_id, matcher.lists)
    sqlite = sql.is_sqlite()
    match = matcher.match if len(matcher) else None
    for row in rows:
        found = match(doc_for(row, memberships)) if match is not None else []
        if row.annotations is None:
            row.annotations = {}
        row.annotations["listening"] = (found, buckets_of(row, sqlite))


def buckets_of(row: PostRow, sqlite: bool) -> tuple:
    """The rollup buckets a post counts in, as the database stores them: the hour rollup's key
    (hour, sentiment, language), minute, day, negative?, positive?, hashtags."""
    created = row.created_at.astimezone(UTC)
    if sqlite:  # Django's SQLite text form, cut instead of recomputed
        text_form = created.replace(tzinfo=None).isoformat(" ")
        hour, minute, day = text_form[:13] + ":00:00", text_form[:16] + ":00", text_form[:10]
    else:
        hour = created.replace(minute=0, second=0, microsecond=0)
        minute, day = created.replace(second=0, microsecond=0), created.date()
    return (
        (hour, row.sentiment or "", (row.language or "")[:8]), minute, day,
        row.sentiment == "negative", row.sentiment == "positive",
        hashtags(row.text) if "#" in row.text else (),
    )


def on_posts_stored(workspace_id: int, posts: list[StoredPost], now: datetime) -> None:
    """The store hook: match rows and rollups, in the pipeline's write transaction."""
    unprepared = [post.row for post in posts if not (post.row.annotations and "listening" in post.row.annotations)]
    if unprepared:
        annotate(workspace_id, unprepared)
    write_matches(workspace_id, posts)


def alerting_searches(workspace_id: int) -> set[int]:
    """The workspace's active searches with spike or dip alerts on: the only ones whose minute
    counts are kept (alerts read them; event mode counts its window's matches)."""
    return set(SavedSearch.objects.filter(ALERTING, workspace_id=workspace_id, is_active=True).values_list("id", flat=True))


def write_matches(workspace_id: int, posts: Sequence[StoredPost]) -> None:
    """Match rows and rollup increments of annotated posts."""
    # One pass over the posts. Every post counts for the whole workspace (ALL_POSTS) under its
    # bucket keys as prepared; each (search, post) pair adds one key per rollup. Keys are counted
    # with C-speed Counters.
    workspace_hours: list[tuple] = []
    workspace_authors: list[tuple] = []
    workspace_tags: list[tuple] = []
    hour_keys: list[tuple] = []
    author_keys: list[tuple] = []
    tag_keys: list[tuple] = []
    match_rows: list[tuple] = []
    for post in posts:
        found, bucket = post.row.annotations["listening"]  # type: ignore[index]
        hour_key, _minute, day, _negative, _positive, tags = bucket
        author_id = post.author_id
        workspace_hours.append(hour_key)
        workspace_authors.append((day, author_id))
        if tags:
            workspace_tags += [(day, tag) for tag in tags]
        if found:
            for search in found:
                hour_keys.append((search, *hour_key))
                author_keys.append((search, day, author_id))
                match_rows.append((search, post.id))
                if tags:
                    tag_keys += [(search, day, tag) for tag in tags]
    hours = [(workspace_id, ALL_POSTS, *key, n) for key, n in Counter(workspace_hours).items()]
    hours += [(workspace_id, *key, n) for key, n in Counter(hour_keys).items()]
    authors = [(workspace_id, ALL_POSTS, *key, n) for key, n in Counter(workspace_authors).items()]
    authors += [(workspace_id, *key, n) for key, n in Counter(author_keys).items()]
    tags_counted = [(workspace_id, ALL_POSTS, *key, n) for key, n in Counter(workspace_tags).items()]
    tags_counted += [(workspace_id, *key, n) for key, n in Counter(tag_keys).items()]

    match_rows.sort()
    _insert("listening_searchmatch", ("search_id", "post_id"), match_rows,
            "ON CONFLICT (search_id, post_id) DO NOTHING")
    _upsert("listening_hourrollup", ("workspace_id", "search_id", "hour", "sentiment", "language"), ("count",), hours)
    # Read after this transaction has written the hour rollup: switching alerts on locks that
    # table while it fills the lookback from matches (``actions.start_minute_counts``), so a
    # batch is either counted by that fill or sees the switch here, never neither nor both.
    if match_rows and (alerting := alerting_searches(workspace_id)):
        _upsert("listening_minuterollup", ("workspace_id", "search_id", "minute"), ("count", "negative", "positive"),
                [(workspace_id, *key, *counts) for key, counts in minute_counts(posts, alerting).items()])
    _upsert("listening_authorrollup", ("workspace_id", "search_id", "day", "author_id"), ("count",), authors)
    _upsert("listening_tagrollup", ("workspace_id", "search_id", "day", "tag"), ("count",), tags_counted)


def minute_counts(posts: Sequence[StoredPost], alerting: set[int]) -> dict[tuple, list[int]]:
    """(search, minute) → [posts, negative, positive] for the searches in ``alerting``."""
    counts: dict[tuple, list[int]] = {}
    for post in posts:
        found, bucket = post.row.annotations["listening"]  # type: ignore[index]
        for search in found:
            if search in alerting:
                key = (search, bucket[1])
                entry = counts.get(key)
                if entry is None:
                    entry = counts[key] = [0, 0, 0]
                entry[0] += 1
                entry[1] += bucket[3]
                entry[2] += bucket[4]
    return counts


# PostgreSQL types of every column written here: rows go as one array per column through
# ``unnest`` (one short statement, planned once, whatever the number of rows).
PG_TYPES = {
    "workspace_id": "bigint", "search_id": "bigint", "post_id": "bigint", "author_id": "bigint",
    "created_at": "timestamptz", "hour": "timestamptz", "minute": "timestamptz", "day": "date",
    "sentiment": "text", "language": "text", "tag": "text", "count": "integer", "negative": "integer", "positive": "integer",
}


def _insert(table: str, columns: Sequence[str], rows: Sequence[tuple], suffix: str = "") -> None:
    sql.insert_rows(table, columns, PG_TYPES, rows, suffix)


def _upsert(table: str, key: Sequence[str], counters: Sequence[str], rows: Sequence[tuple]) -> None:
    # Sorted: on PostgreSQL concurrent workers then lock rollup rows in the same order (no
    # deadlock); on SQLite each search's rows go into its part of the tree one after another.
    rows = sorted(rows)
    update = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counters)
    _insert(table, (*key, *counters), rows, f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {update}")


def incident_matcher(query: str) -> Callable[..., bool]:
    """The care desk's incident matcher in the listening query language (registered as
    "listening" in ``care.matching``): an incident declared from an alert groups the posts its
    saved search would match. Raises ``QuerySyntaxError`` for a malformed query. Author lists
    (``list:``) are not known there, so a ``list:`` condition never holds."""
    compiled = compile_query(query)

    def match(text: str, *, language: str = "", sentiment: str = "", handle: str = "", platform: str = "") -> bool:
        return compiled.matches(Doc(text or "", language=language, sentiment=sentiment, platform=platform,
                                    handle=(handle or "").lstrip("@").lower()))

    return match
