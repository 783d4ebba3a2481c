"""RSS / Atom connector: follows feeds, read only.

Cursor (JSON, what ``poll`` returns and takes back)::

    {"v": 1,
     "feeds": {"https://blog.example/feed.xml": {"etag": "\\"abc\\"",
                                                 "last_modified": "Wed, 01 May 2024 10:00:00 GMT",
                                                 "seen": ["tag:blog.example,2024:42", ...]}},
     "resume_at": "https://..."}               # only after a partial poll

Every poll fetches each feed once with ``If-None-Match`` / ``If-Modified-Since`` from the
cursor; ``304 Not Modified`` means nothing new and costs the publisher almost nothing. On
``200`` the entries whose id is not in ``seen`` are new; ``seen`` keeps the ids of the current
document and of the previous ones (up to ``MAX_SEEN`` per feed), so an entry that leaves the
feed and comes back is not returned twice. A first poll returns every entry of the feed.
"""

from __future__ import annotations

import copy
import io
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

import feedparser
import httpx

from veille.sources.base import NormalizedPost, RawRecord
from veille.sources.connector import (
    ActionResult,
    ConnectorError,
    OutboundAction,
    PollResult,
    TransientError,
    Unsupported,
)
from veille.sources.rss.client import FeedClient
from veille.sources.rss.normalize import entry_id, entry_payload, normalize_entry

CURSOR_VERSION = 1
MAX_SEEN = 1000


class RssConnector:
    platform: ClassVar[str] = "rss"
    capabilities: ClassVar[frozenset[str]] = frozenset({"read.feeds"})

    def __init__(
        self,
        settings: dict[str, Any],
        credentials: dict[str, Any] | None = None,
        *,
        base_url: str | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        feeds = settings.get("feeds") or []
        if isinstance(feeds, str):
            feeds = [feeds]
        self.base_url = (base_url or "").rstrip("/")
        self.feeds = [self._resolve(str(url).strip()) for url in feeds if str(url).strip()]
        if not self.feeds:
            raise ValueError("RSS settings need 'feeds': a list of feed URLs")
        for url in self.feeds:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"RSS feed URL must be http(s): {url!r}")
        if len(set(self.feeds)) != len(self.feeds):
            raise ValueError("RSS feed URLs must be unique")
        credentials = credentials or {}
        auth = None
        if credentials.get("username"):
            auth = (str(credentials["username"]), str(credentials.get("password") or ""))
        self.client = FeedClient(http=http, auth=auth)
        self.clock = clock
        self.sleep = sleep

    def _resolve(self, url: str) -> str:
        """``base_url`` (tests, or a feed host behind a proxy) prefixes relative feed paths."""
        if self.base_url and url.startswith("/"):
            return self.base_url + url
        return url

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RssConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def normalize(self, payload: dict[str, Any]) -> NormalizedPost:
        return normalize_entry(payload)

    def act(self, action: OutboundAction) -> ActionResult:
        raise Unsupported("RSS/Atom feeds are read only: nothing can be posted to a feed")

    def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        feeds_state: dict[str, Any] = {}
        resume_at = None
        if isinstance(cursor, dict) and isinstance(cursor.get("feeds"), dict):
            for url in self.feeds:
                if isinstance(cursor["feeds"].get(url), dict):
                    feeds_state[url] = copy.deepcopy(cursor["feeds"][url])
            resume_at = cursor.get("resume_at")
        order = list(self.feeds)
        if resume_at in order:
            index = order.index(resume_at)
            order = order[index:] + order[:index]
        records: list[RawRecord] = []
        for url in order:
            try:
                found, state = self._poll_feed(url, feeds_state.get(url) or {})
            except ConnectorError:
                if not records:
                    raise
                return PollResult(
                    records=records,
                    cursor={"v": CURSOR_VERSION, "feeds": feeds_state, "resume_at": url},
                    more=True,
                )
            records.extend(found)
            feeds_state[url] = state
        return PollResult(records=records, cursor={"v": CURSOR_VERSION, "feeds": feeds_state}, more=False)

    def _poll_feed(self, url: str, state: dict[str, Any]) -> tuple[list[RawRecord], dict[str, Any]]:
        fetched = self.client.fetch(url, etag=state.get("etag"), last_modified=state.get("last_modified"))
        if fetched.not_modified:
            return [], {**state, "etag": fetched.etag, "last_modified": fetched.last_modified}
        headers = {"content-type": fetched.content_type or "application/xml", "content-location": fetched.url}
        # A stream, never bytes or str: feedparser would open a body that looks like a local
        # file path or a URL (a hostile feed answering "/etc/passwd").
        parsed = feedparser.parse(io.BytesIO(fetched.content), response_headers=headers, sanitize_html=True)
        version = parsed.get("version") or ""
        if not parsed.entries and (parsed.get("bozo") or not version):
            reason = parsed.get("bozo_exception")
            raise TransientError(f"feed {url}: not a readable RSS/Atom document ({reason or 'no feed found'})")
        fetched_at = datetime.now(UTC)
        seen = [s for s in state.get("seen") or [] if isinstance(s, str)]
        seen_set = set(seen)
        current: list[str] = []
        records: list[RawRecord] = []
        # Feeds list newest first: hand entries out oldest first.
        entries = list(enumerate(parsed.entries, start=1))
        for position, entry in reversed(entries):
            eid = entry_id(entry, url)
            current.append(eid)
            if eid in seen_set:
                continue
            seen_set.add(eid)
            records.append(
                RawRecord(
                    payload=entry_payload(entry, parsed.feed, url, fetched_at),
                    external_id=eid,
                    line=position,
                    location=url,
                )
            )
        current_set = set(current)
        kept = list(reversed(current)) + [s for s in seen if s not in current_set]
        return records, {
            "etag": fetched.etag,
            "last_modified": fetched.last_modified,
            "seen": kept[:MAX_SEEN],
        }
