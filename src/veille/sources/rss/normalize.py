"""RSS / Atom: a feedparser entry → a JSON payload (at fetch time), and a stored payload →
``NormalizedPost`` (pure, at any later time).

Stored payload::

    {"feed": {"url": "<the URL the source follows>", "title": ..., "link": ..., "language": ...},
     "entry": {"id": ..., "title": ..., "link": ..., "summary": "<html>", "content": ["<html>"],
               "author": ..., "published": "<ISO 8601 UTC or null>", "updated": ...,
               "published_raw": "<the date as written>", "tags": [...]},
     "fetched_at": "<ISO 8601 UTC>"}

An entry without a usable date is dated by ``fetched_at``, the moment veille first read it.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

from veille.sources.base import MAX_TEXT_CHARS, NormalizedPost, NormalizeError

# One HTML-to-text for the platforms that send HTML (Mastodon statuses, feed summaries).
from veille.sources.mastodon.normalize import html_to_text


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _struct_to_iso(value: Any) -> str | None:
    if isinstance(value, time.struct_time):
        try:
            return datetime(*value[:6], tzinfo=UTC).isoformat()
        except (TypeError, ValueError):
            return None
    return None


def entry_id(entry: Any, feed_url: str) -> str:
    """The entry's own id (Atom ``id`` / RSS ``guid``), else its link, else a hash of what it
    says, so the same entry gets the same id on every fetch."""
    for key in ("id", "link"):
        value = _text(entry.get(key))
        if value:
            return value[:1000]
    basis = "\n".join([feed_url, _text(entry.get("title")), _text(entry.get("summary")), _text(entry.get("published"))])
    return "sha1:" + hashlib.sha1(basis.encode("utf-8")).hexdigest()  # noqa: S324 - an id, not security


def entry_payload(entry: Any, feed: Any, feed_url: str, fetched_at: datetime) -> dict[str, Any]:
    """A JSON-serialisable copy of what feedparser read for one entry."""
    content = [
        part.get("value") for part in (entry.get("content") or [])
        if isinstance(part, dict) and isinstance(part.get("value"), str)
    ]
    author = _text(entry.get("author"))
    if not author and isinstance(entry.get("author_detail"), dict):
        author = _text(entry["author_detail"].get("name"))
    return {
        "feed": {
            "url": feed_url,
            "title": _text(feed.get("title")),
            "link": _text(feed.get("link")),
            "language": _text(feed.get("language")),
        },
        "entry": {
            "id": entry_id(entry, feed_url),
            "title": _text(entry.get("title")),
            "link": _text(entry.get("link")),
            "summary": entry.get("summary") if isinstance(entry.get("summary"), str) else "",
            "content": content,
            "author": author,
            "published": _struct_to_iso(entry.get("published_parsed")),
            # dict.get: feedparser's own get() maps a missing "updated" to "published" (and warns).
            "updated": _struct_to_iso(dict.get(entry, "updated_parsed")),
            "published_raw": _text(entry.get("published") or dict.get(entry, "updated")),
            "tags": [t.get("term") for t in (entry.get("tags") or []) if isinstance(t, dict) and t.get("term")],
        },
        "fetched_at": fetched_at.astimezone(UTC).isoformat(),
    }


def _date(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def normalize_entry(payload: dict[str, Any]) -> NormalizedPost:
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), dict):
        raise NormalizeError("payload has no feed entry")
    entry = payload["entry"]
    feed = payload.get("feed") if isinstance(payload.get("feed"), dict) else {}
    eid = _text(entry.get("id"))
    if not eid:
        raise NormalizeError("feed entry has no id")
    where = f"feed entry {eid[:200]}"
    title = html_to_text(_text(entry.get("title")))
    body_html = entry.get("summary") if isinstance(entry.get("summary"), str) else ""
    if not body_html.strip():
        parts = entry.get("content") if isinstance(entry.get("content"), list) else []
        body_html = next((p for p in parts if isinstance(p, str) and p.strip()), "")
    body = html_to_text(body_html[: MAX_TEXT_CHARS * 4])
    if body == title:
        body = ""
    text = "\n\n".join(part for part in (title, body) if part)
    if not text:
        raise NormalizeError(f"{where}: neither title nor summary")
    if len(text) > MAX_TEXT_CHARS:
        # A summary can be a whole article; a post keeps its beginning.
        text = text[: MAX_TEXT_CHARS - 1].rstrip() + "…"
    created_at = _date(entry.get("published")) or _date(entry.get("updated")) or _date(payload.get("fetched_at"))
    if created_at is None:
        raise NormalizeError(f"{where}: no date and no fetch time")
    feed_url = _text(feed.get("url"))
    author = _text(entry.get("author"))
    feed_title = _text(feed.get("title")) or feed_url
    return NormalizedPost(
        external_id=eid,
        text=text,
        created_at=created_at,
        author_external_id=f"{feed_url}#{author}" if author else feed_url,
        author_handle=author or feed_title,
        author_name=author or feed_title,
        kind="post",
        url=_text(entry.get("link")),
        lang_hint=_text(feed.get("language")).split("-")[0].lower(),
    )
