"""Set-based writes of authors, posts and the search index.

The pipeline and the benchmark's baseline both write through these functions, so the
benchmark's ratio measures the pipeline's own overhead (intake, leases, normalisation,
enrichment, threading), not a difference in how rows are inserted.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from veille.ingest import sql
from veille.ingest.search import index_words, search_meta

# Rows per multi-row INSERT: well under SQLite's 32,766 bound variables with ~20 columns.
CHUNK = 400


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclasses.dataclass(slots=True)
class AuthorRow:
    platform: str
    external_id: str
    handle: str
    name: str
    followers: int | None

    def __reduce__(self):
        # Pickled by position: far cheaper than the generic slots protocol when an importer's
        # preparing process hands over tens of thousands of rows.
        return (AuthorRow, _author_fields(self))


@dataclasses.dataclass(slots=True)
class PostRow:
    source_id: int
    external_id: str
    author_key: tuple[str, str]  # (platform, external id) → resolved to author_id by upsert_authors
    text: str
    created_at: datetime
    kind: str
    is_outbound: bool
    url: str
    in_reply_to_external_id: str | None
    raw_item_id: int | None = None
    author_handle: str = ""
    reply_to_id: int | None = None
    thread_root_id: int | None = None
    language: str = ""
    language_score: float | None = None
    sentiment: str = ""
    sentiment_score: float | None = None
    complaint: float | None = None
    abuse: float | None = None
    model_version: str = ""
    # ``created_at`` as the database takes it, computed where the row is prepared (maybe
    # another process) so the writing process does not convert it.
    created_at_db: Any = None
    # What apps computed for this row while it was prepared (``pipeline.PREPARE_HOOKS``), by app.
    annotations: dict[str, Any] | None = None
    # Its words for PostgreSQL's index (``search.index_words``), computed where it is prepared.
    words: str | None = None

    def __reduce__(self):
        return (PostRow, _post_fields(self))


_author_fields = operator.attrgetter(*(field.name for field in dataclasses.fields(AuthorRow)))
_post_fields = operator.attrgetter(*(field.name for field in dataclasses.fields(PostRow)))


def upsert_authors(workspace_id: int, authors: Iterable[AuthorRow], now: datetime) -> dict[tuple[str, str], int]:
    """Insert new identities and refresh handle/name/followers of known ones; return their ids."""
    latest: dict[tuple[str, str], AuthorRow] = {}
    for author in authors:
        latest[(author.platform, author.external_id)] = author  # one row per identity per statement
    stamp = sql.db_datetime(now)
    returned = sql.insert_rows(
        "ingest_author", AUTHOR_COLUMNS, PG_TYPES,
        [(workspace_id, row.platform, row.external_id, row.handle[:200], row.name[:200], row.followers, stamp)
         for row in latest.values()],
        "ON CONFLICT (workspace_id, platform, external_id) DO UPDATE SET "
        "handle = excluded.handle, name = excluded.name, "
        "followers = COALESCE(excluded.followers, ingest_author.followers) "
        "RETURNING id, platform, external_id",
    )
    return {(platform, external_id): author_id for author_id, platform, external_id in returned}


AUTHOR_COLUMNS = ("workspace_id", "platform", "external_id", "handle", "name", "followers", "first_seen_at")
# PostgreSQL types of the columns written here, for ``sql.insert_rows``.
PG_TYPES = {
    "workspace_id": "bigint", "source_id": "bigint", "author_id": "bigint", "reply_to_id": "bigint",
    "thread_root_id": "bigint", "raw_item_id": "bigint", "platform": "text", "external_id": "text", "handle": "text",
    "name": "text", "followers": "integer", "first_seen_at": "timestamptz", "text": "text", "created_at": "timestamptz",
    "received_at": "timestamptz", "kind": "text", "is_outbound": "boolean", "url": "text",
    "in_reply_to_external_id": "text", "language": "text", "language_score": "double precision", "sentiment": "text",
    "sentiment_score": "double precision", "complaint": "double precision", "abuse": "double precision",
    "model_version": "text", "words": "tsvector",
}


POST_COLUMNS = (
    "workspace_id", "source_id", "external_id", "author_id", "text", "created_at", "received_at", "kind", "is_outbound",
    "url", "in_reply_to_external_id", "reply_to_id", "thread_root_id", "raw_item_id", "language", "language_score",
    "sentiment", "sentiment_score", "complaint", "abuse", "model_version",
)


def insert_posts(
    workspace_id: int, posts: Sequence[PostRow], author_ids: dict[tuple[str, str], int], now: datetime
) -> dict[tuple[int, str], int]:
    """Insert posts, skipping any (source, external id) already stored; return ids of new ones.

    ``ON CONFLICT DO NOTHING`` makes the dedupe atomic: two workers racing on the same post
    cannot both store it, and the loser simply does not see it among the returned rows.
    """
    stamp = sql.db_datetime(now)
    as_db_time = sql.datetime_converter()
    # PostgreSQL's search index is the posts' own ``words`` column, written with them.
    postgres = sql.is_postgresql()
    columns = (*POST_COLUMNS, "words") if postgres else POST_COLUMNS
    index_columns = ([(post.words or index_words(post.text, post.sentiment, post.language),) for post in posts]
                     if postgres else [()] * len(posts))
    rows = [
        (workspace_id, post.source_id, post.external_id, author_ids[post.author_key], post.text,
         post.created_at_db or as_db_time(post.created_at), stamp, post.kind, post.is_outbound, post.url[:500],
         post.in_reply_to_external_id, post.reply_to_id, post.thread_root_id, post.raw_item_id, post.language,
         post.language_score, post.sentiment, post.sentiment_score, post.complaint, post.abuse, post.model_version,
         *index)
        for post, index in zip(posts, index_columns, strict=True)
    ]
    returned = sql.insert_rows("ingest_post", columns, PG_TYPES, rows,
                               "ON CONFLICT (source_id, external_id) DO NOTHING RETURNING id, source_id, external_id")
    return {(source_id, external_id): post_id for post_id, source_id, external_id in returned}


def index_posts(rows: Sequence[tuple[int, str, str | None, str | None]]) -> None:
    """Add (post id, text, sentiment, language) to the full-text index. On PostgreSQL the index
    is the posts' own ``words`` column, written with them; SQLite's FTS5 table is written here."""
    if connection.vendor == "postgresql" or not rows:
        return
    # In id order: FTS5 writes out its pending terms as a new segment whenever a rowid is lower
    # than the last one written, and a batch inserted thread level by level has its ids out of
    # file order (four to five times the cost per post, and a fragmented index to merge later).
    sql.executemany("INSERT INTO ingest_post_fts (rowid, text, meta) VALUES (%s, %s, %s)",
                    [(post_id, text, search_meta(sentiment, language))
                     for post_id, text, sentiment, language in sorted(rows)])  # ids are unique


def store_posts(workspace_id: int, authors: Iterable[AuthorRow], posts: Sequence[PostRow], now: datetime) -> dict[tuple[int, str], int]:
    """Authors, posts and index in one go: what the baseline measures."""
    author_ids = upsert_authors(workspace_id, authors, now)
    new_ids = insert_posts(workspace_id, posts, author_ids, now)
    index_posts([(new_ids[(post.source_id, post.external_id)], post.text, post.sentiment, post.language)
                 for post in posts if (post.source_id, post.external_id) in new_ids])
    return new_ids
