"""One batch through the pipeline: normalize ► dedupe ► enrich ► thread ► store ► publish.

CPU work (JSON, normalisation, models) happens before the write transaction so the database's
single writer (SQLite) is held only for the set-based writes. The whole batch's writes,
including the raw items' final status, commit together: a crash at any moment leaves each raw
item either pending (processed again later) or done with its post stored exactly once.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from veille.ingest import queue, sql, store
from veille.ingest.enrich import enrich
from veille.ingest.models import RawStatus
from veille.ingest.normalizers import Normalizer, normalizer_for
from veille.ingest.queue import ClaimedItem
from veille.ingest.search import index_words
from veille.ingest.store import AuthorRow, PostRow
from veille.sources.base import MAX_TEXT_CHARS, NormalizedPost, NormalizeError
from veille.sources.models import Source

log = logging.getLogger("veille.ingest")

# Fault injection for the crash tests: hold each write transaction open this long, after the
# posts are inserted and before the raw items are marked, so a test can kill a worker mid-batch.
_PAUSE_IN_BATCH_S = float(os.environ.get("VEILLE_FAULT_PAUSE_IN_BATCH_S", "0") or 0)


@dataclasses.dataclass
class BatchResult:
    stored: int = 0
    duplicates: int = 0
    dead: int = 0
    new_post_ids: list[int] = dataclasses.field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.dead += other.dead
        self.new_post_ids += other.new_post_ids


@dataclasses.dataclass(slots=True)
class SourceInfo:
    """What preparing a source's items needs to know (picklable: prepare may run in another process)."""

    id: int
    workspace_id: int
    platform: str
    account_handle: str
    settings: dict[str, Any]


@dataclasses.dataclass(slots=True)
class Incoming:
    """One raw item to prepare. ``key`` is its raw item id, or its position in an import chunk
    whose raw items are not stored yet (the importer maps positions to ids before writing)."""

    key: int
    source_id: int
    format: str
    payload: dict[str, Any] | str  # parsed, or JSON text as stored


@dataclasses.dataclass
class Prepared:
    """A batch after the CPU stages, ready for one write transaction."""

    rows: dict[int, list[PostRow]] = dataclasses.field(default_factory=dict)  # by workspace
    authors: dict[int, list[AuthorRow]] = dataclasses.field(default_factory=dict)
    in_batch_duplicates: list[int] = dataclasses.field(default_factory=list)  # keys
    dead: list[tuple[int, str]] = dataclasses.field(default_factory=list)  # (key, reason)

    def settled_statuses(self) -> dict[int, tuple[RawStatus, str]]:
        """Final status of the items that will not become posts, by key (chunk position)."""
        statuses = {key: (RawStatus.DEAD, reason) for key, reason in self.dead}
        statuses.update((key, (RawStatus.DUPLICATE, "")) for key in self.in_batch_duplicates)
        return statuses

    def remap(self, ids: Sequence[int]) -> None:
        """Replace chunk positions by the raw item ids the intake gave them."""
        for rows in self.rows.values():
            for row in rows:
                row.raw_item_id = ids[row.raw_item_id]
        self.in_batch_duplicates = [ids[key] for key in self.in_batch_duplicates]
        self.dead = [(ids[key], reason) for key, reason in self.dead]


_normalizers: dict[tuple[int, str], Normalizer] = {}


def _normalize(item: Incoming, source: SourceInfo) -> NormalizedPost:
    normalizer = _normalizers.get((source.id, item.format))
    if normalizer is None:
        normalizer = _normalizers[(source.id, item.format)] = normalizer_for(item.format, source.settings, source.account_handle)
    payload = item.payload
    if isinstance(payload, str):
        try:
            payload = json.loads(payload)
        except ValueError as error:
            raise NormalizeError(f"stored payload is not JSON: {error}") from None
    if not isinstance(payload, dict):
        raise NormalizeError("payload is not a JSON object")
    post = normalizer(payload)
    if not post.external_id:
        raise NormalizeError("missing external id")
    if len(post.text) > MAX_TEXT_CHARS:
        raise NormalizeError(f"text is {len(post.text)} characters, over the {MAX_TEXT_CHARS} limit")
    if "\x00" in post.text:
        raise NormalizeError("NUL byte in text")
    if post.created_at.tzinfo is None:
        raise NormalizeError("created_at has no time zone")
    # One spelling of each character: a decomposed "é" must match, index and search like "é".
    if not post.text.isascii():
        post.text = unicodedata.normalize("NFC", post.text)
    # A lone surrogate (broken emoji from a platform) cannot be stored: replace it, keep the post.
    for field in ("text", "author_handle", "author_name"):
        value = getattr(post, field)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            setattr(post, field, value.encode("utf-8", "replace").decode("utf-8"))
    return post


def prepare(items: Sequence[Incoming], sources: dict[int, SourceInfo], *, full_enrichment: bool) -> Prepared:
    """Normalize, dedupe within the batch and enrich: CPU only, no database."""
    prepared = Prepared()
    seen: set[tuple[int, str]] = set()
    as_db_time = sql.datetime_converter()
    for item in items:
        source = sources[item.source_id]
        try:
            post = _normalize(item, source)
        except (NormalizeError, ValueError, KeyError, TypeError, AttributeError) as error:
            reason = str(error) if isinstance(error, NormalizeError) else f"{type(error).__name__}: {error}"
            prepared.dead.append((item.key, reason))
            continue
        identity = (item.source_id, post.external_id)
        if identity in seen:
            prepared.in_batch_duplicates.append(item.key)
            continue
        seen.add(identity)
        platform = source.platform
        prepared.authors.setdefault(source.workspace_id, []).append(
            AuthorRow(platform, post.author_external_id, post.author_handle, post.author_name, post.author_followers)
        )
        prepared.rows.setdefault(source.workspace_id, []).append(
            PostRow(
                source_id=item.source_id, external_id=post.external_id,
                author_key=(platform, post.author_external_id), text=post.text, created_at=post.created_at,
                kind=post.kind, is_outbound=post.is_outbound, url=safe_url(post.url),
                in_reply_to_external_id=post.in_reply_to_external_id or None, raw_item_id=item.key,
                author_handle=post.author_handle, language=post.lang_hint[:8] if post.lang_hint else "",
                created_at_db=as_db_time(post.created_at),
            )
        )
    all_rows = [row for rows in prepared.rows.values() for row in rows]
    if all_rows:
        enrich(all_rows, full=full_enrichment)
        if sql.is_postgresql():
            for row in all_rows:
                row.words = index_words(row.text, row.sentiment, row.language)
    for workspace_id, rows in prepared.rows.items():
        for hook in PREPARE_HOOKS:
            hook(workspace_id, rows)
    return prepared


# Called with (workspace id, rows) at the end of ``prepare``: the CPU part of what an app derives
# from new posts (listening matches saved searches here), done before the write transaction and,
# for an import, in the preparing process next to the writing one. A hook may read the database
# but never writes; it leaves its results in ``row.annotations[app]`` for its store hook, which
# must still cope with rows that carry none (prepared before the app was ready).
PREPARE_HOOKS: list[Callable[[int, list[PostRow]], None]] = []


@dataclasses.dataclass(slots=True)
class StoredPost:
    """A post just stored, as handed to the apps that act on new posts."""

    id: int
    workspace_id: int
    author_id: int
    row: PostRow  # text, author handle and key (platform, id), language, sentiment, thread links…


# Called with (workspace id, posts just stored, now) inside the write transaction, so what an app
# derives from new posts (saved-search matches, rollups, care conversations) commits with them
# or not at all. Apps append their hook in ``AppConfig.ready``. A hook that raises fails the
# batch, which is then retried item by item (poison items go to dead-letter).
POST_STORE_HOOKS: list[Callable[[int, list[StoredPost], datetime], None]] = []


def write(prepared: Prepared, now: datetime | None = None, *, raw_settled: bool = False, savepoint: bool = True) -> BatchResult:
    """Store a prepared batch and settle its raw items, all in one transaction.

    ``raw_settled``: the raw items were inserted in this transaction already carrying their
    final status (``Prepared.settled_statuses``, others ``done``); only those that turn out to
    duplicate a stored post still need marking.
    ``savepoint=False``: called inside a transaction that fails as a whole with it. On SQLite a
    savepoint makes every page the batch changes be copied aside until it is released (~3% of
    an import's write time), which only a caller that recovers from the error needs.
    """
    now = now or timezone.now()
    result = BatchResult()
    with transaction.atomic(savepoint=savepoint):
        if not raw_settled:
            queue.mark_dead(prepared.dead, now)
            queue.mark(prepared.in_batch_duplicates, RawStatus.DUPLICATE, now)
        result.dead += len(prepared.dead)
        result.duplicates += len(prepared.in_batch_duplicates)
        for workspace_id, rows in prepared.rows.items():
            link_parents_from_database(rows)
            author_ids = store.upsert_authors(workspace_id, prepared.authors[workspace_id], now)
            new_ids = insert_threaded(workspace_id, rows, author_ids, now)
            store.index_posts([(new_ids[(row.source_id, row.external_id)], row.text, row.sentiment, row.language) for row in rows
                               if (row.source_id, row.external_id) in new_ids])
            adopt_waiting_replies(rows, new_ids)
            if new_ids and POST_STORE_HOOKS:
                stored = [StoredPost(new_ids[(row.source_id, row.external_id)], workspace_id, author_ids[row.author_key], row)
                          for row in rows if (row.source_id, row.external_id) in new_ids]
                for hook in POST_STORE_HOOKS:
                    hook(workspace_id, stored, now)
            if _PAUSE_IN_BATCH_S:
                time.sleep(_PAUSE_IN_BATCH_S)
            duplicate_ids = [row.raw_item_id for row in rows if (row.source_id, row.external_id) not in new_ids]
            if not raw_settled:
                queue.mark([row.raw_item_id for row in rows if (row.source_id, row.external_id) in new_ids], RawStatus.DONE, now)
            queue.mark(duplicate_ids, RawStatus.DUPLICATE, now)
            result.stored += len(rows) - len(duplicate_ids)
            result.duplicates += len(duplicate_ids)
            result.new_post_ids += list(new_ids.values())
            if new_ids:
                event = {"type": "posts", "max_id": max(new_ids.values()), "count": len(new_ids)}
                transaction.on_commit(lambda w=workspace_id, e=event: _publish(w, e))
    return result


def load_sources(source_ids: set[int], cache: dict[int, SourceInfo] | None = None) -> dict[int, SourceInfo]:
    cache = cache if cache is not None else {}
    missing = source_ids - cache.keys()
    if missing:
        for source in Source.objects.filter(pk__in=missing).only("id", "workspace_id", "platform", "account_handle", "settings"):
            cache[source.id] = SourceInfo(source.id, source.workspace_id, source.platform, source.account_handle, source.settings or {})
    return cache


class Pipeline:
    """Processes claimed batches (the worker path); keeps source lookups between batches."""

    def __init__(self, *, enrich_posts: bool | None = None, max_attempts: int | None = None) -> None:
        self.enrich_posts = settings.VEILLE_ENRICH if enrich_posts is None else enrich_posts
        self.max_attempts = max_attempts or settings.VEILLE_INGEST_MAX_ATTEMPTS
        self._sources: dict[int, SourceInfo] = {}

    def process(self, items: Sequence[ClaimedItem]) -> BatchResult:
        """Process one claimed batch. On an unexpected error, fall back to one item at a time
        so a single poison item goes to dead-letter and the others are stored."""
        try:
            sources = load_sources({item.source_id for item in items}, self._sources)
            incoming = [Incoming(item.id, item.source_id, item.format, item.payload) for item in items]
            return write(prepare(incoming, sources, full_enrichment=self.enrich_posts))
        except Exception as error:
            if len(items) == 1:
                item = items[0]
                reason = f"{type(error).__name__}: {error}"
                log.exception("raw item %s failed (attempt %s)", item.id, item.attempts)
                if item.attempts >= self.max_attempts:
                    with transaction.atomic():
                        queue.mark_dead([(item.id, f"failed {item.attempts} times; last error: {reason}")], timezone.now())
                    return BatchResult(dead=1)
                queue.release([item.id], reason)
                return BatchResult()
            log.warning("batch of %s failed (%s); retrying item by item", len(items), error)
            total = BatchResult()
            for item in items:
                total.add(self.process([item]))
            return total


def safe_url(url: str) -> str:
    """Keep only web links: a ``javascript:`` or ``data:`` URL from a payload is dropped."""
    url = (url or "").strip()
    return url if url.lower().startswith(("https://", "http://")) and len(url) <= 500 else ""


def _publish(workspace_id: int, event: dict) -> None:
    from veille.web.live import publish

    publish(workspace_id, event)


def link_parents_from_database(rows: list[PostRow]) -> None:
    """Set reply_to / thread_root of rows whose parent is already stored."""
    wanted: dict[int, set[str]] = defaultdict(set)
    for row in rows:
        if row.in_reply_to_external_id:
            wanted[row.source_id].add(row.in_reply_to_external_id)
    if not wanted:
        return
    found: dict[tuple[int, str], tuple[int, int | None]] = {}
    for source_id, external_ids in wanted.items():
        for part in store.chunks(sorted(external_ids), 900):
            returned = sql.execute(
                f"SELECT id, external_id, thread_root_id FROM ingest_post WHERE source_id = %s "
                f"AND external_id IN ({','.join(['%s'] * len(part))})",
                [source_id, *part],
            )
            for post_id, external_id, root_id in returned:
                found[(source_id, external_id)] = (post_id, root_id)
    for row in rows:
        if row.in_reply_to_external_id:
            parent = found.get((row.source_id, row.in_reply_to_external_id))
            if parent is not None:
                row.reply_to_id = parent[0]
                row.thread_root_id = parent[1] or parent[0]


def thread_levels(rows: list[PostRow]) -> list[list[PostRow]]:
    """Order a batch so every parent is inserted before its replies: level 0 holds rows whose
    parent is not waiting in this batch, level n+1 the replies to level n. Replies can then be
    inserted already linked, with no second pass of updates. Rows caught in a reply cycle
    (hostile data) come last, unlinked."""
    pending_children: dict[tuple[int, str], list[PostRow]] = defaultdict(list)
    keys = {(row.source_id, row.external_id) for row in rows}
    level: list[PostRow] = []
    for row in rows:
        parent_key = (row.source_id, row.in_reply_to_external_id) if row.in_reply_to_external_id else None
        if row.reply_to_id is None and parent_key in keys and parent_key != (row.source_id, row.external_id):
            pending_children[parent_key].append(row)
        else:
            level.append(row)
    levels: list[list[PostRow]] = []
    placed = 0
    while level:
        levels.append(level)
        placed += len(level)
        level = [child for row in level for child in pending_children.pop((row.source_id, row.external_id), ())]
    if placed < len(rows):
        levels.append([row for children in pending_children.values() for row in children])
    return levels


def insert_threaded(workspace_id: int, rows: list[PostRow], author_ids: dict[tuple[str, str], int], now: datetime) -> dict[tuple[int, str], int]:
    """Insert a batch level by level, linking each reply to its parent inserted just before."""
    new_ids: dict[tuple[int, str], int] = {}
    roots: dict[tuple[int, str], int] = {}
    for level in thread_levels(rows):
        for row in level:
            if row.reply_to_id is None and row.in_reply_to_external_id:
                parent_key = (row.source_id, row.in_reply_to_external_id)
                parent_id = new_ids.get(parent_key)
                if parent_id is not None:
                    row.reply_to_id = parent_id
                    row.thread_root_id = roots[parent_key]
        level_ids = store.insert_posts(workspace_id, level, author_ids, now)
        new_ids.update(level_ids)
        for row in level:
            key = (row.source_id, row.external_id)
            if key in level_ids:
                roots[key] = row.thread_root_id or level_ids[key]
    return new_ids


def adopt_waiting_replies(rows: list[PostRow], new_ids: dict[tuple[int, str], int]) -> None:
    """Link stored replies that arrived before their parent, now that the parent is here."""
    if not new_ids:
        return
    by_source: dict[int, list[str]] = defaultdict(list)
    for source_id, external_id in new_ids:
        by_source[source_id].append(external_id)
    batch_ids = set(new_ids.values())
    roots = {
        new_ids[(row.source_id, row.external_id)]: (row.thread_root_id or new_ids[(row.source_id, row.external_id)])
        for row in rows
        if (row.source_id, row.external_id) in new_ids
    }
    for source_id, external_ids in by_source.items():
        for part in store.chunks(external_ids, 900):
            orphans = sql.execute(
                "SELECT id, in_reply_to_external_id FROM ingest_post WHERE source_id = %s AND reply_to_id IS NULL "
                f"AND in_reply_to_external_id IN ({','.join(['%s'] * len(part))})",
                [source_id, *part],
            )
            for orphan_id, parent_external_id in orphans:
                if orphan_id in batch_ids:
                    continue  # its parent is in this batch but it was a reply cycle
                parent_id = new_ids[(source_id, parent_external_id)]
                root_id = roots[parent_id]
                if root_id == orphan_id:
                    continue  # reply cycle
                sql.execute("UPDATE ingest_post SET reply_to_id = %s, thread_root_id = %s WHERE id = %s", [parent_id, root_id, orphan_id])
                sql.execute("UPDATE ingest_post SET thread_root_id = %s WHERE thread_root_id = %s", [root_id, orphan_id])
