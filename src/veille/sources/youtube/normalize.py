"""Stored YouTube payload → ``NormalizedPost``.

Payloads are ``{"type": "comment", "data": <comment resource>, "context": {"channel_id": …,
"video_id": …, "thread_id": …}}``.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from veille.sources.base import MAX_TEXT_CHARS, NormalizedPost, NormalizeError

_TAG_RE = re.compile(r"<[^>]+>")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def _from_html(text: str) -> str:
    text = text.replace("<br>", "\n").replace("<br/>", "\n").replace("<br />", "\n")
    return html.unescape(_TAG_RE.sub("", text))


def normalize_payload(payload: dict[str, Any]) -> NormalizedPost:
    if not isinstance(payload, dict) or payload.get("type") != "comment":
        raise NormalizeError("YouTube payload: not a comment")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise NormalizeError("YouTube comment: 'data' is not an object")
    context = payload.get("context") if isinstance(payload.get("context"), dict) else {}
    external_id = data.get("id")
    if not isinstance(external_id, str) or not external_id:
        raise NormalizeError("YouTube comment: missing id")
    where = f"YouTube comment {external_id}"
    snippet = data.get("snippet")
    if not isinstance(snippet, dict):
        raise NormalizeError(f"{where}: no snippet")
    text = snippet.get("textOriginal")
    if not isinstance(text, str):
        display = snippet.get("textDisplay")
        if not isinstance(display, str):
            raise NormalizeError(f"{where}: no text")
        text = _from_html(display)  # textDisplay is HTML; textOriginal is what was typed
    if len(text) > MAX_TEXT_CHARS:
        raise NormalizeError(f"{where}: text is {len(text)} characters (max {MAX_TEXT_CHARS})")
    created = parse_time(snippet.get("publishedAt"))
    if created is None:
        raise NormalizeError(
            f"{where}: missing or unreadable publishedAt {snippet.get('publishedAt')!r}"
        )
    author = snippet.get("authorChannelId")
    author_id = author.get("value") if isinstance(author, dict) else None
    if not isinstance(author_id, str) or not author_id:
        raise NormalizeError(f"{where}: no authorChannelId")
    name = (
        snippet.get("authorDisplayName")
        if isinstance(snippet.get("authorDisplayName"), str)
        else ""
    )
    parent = snippet.get("parentId") if isinstance(snippet.get("parentId"), str) else None
    video = snippet.get("videoId") or context.get("video_id") or ""
    url = f"https://www.youtube.com/watch?v={video}&lc={external_id}" if video else ""
    return NormalizedPost(
        external_id=external_id,
        text=text,
        created_at=created,
        author_external_id=author_id,
        author_handle=name,  # "@handle" for channels that have one
        author_name=name.lstrip("@"),
        in_reply_to_external_id=parent,
        is_outbound=author_id == str(context.get("channel_id") or ""),
        kind="reply" if parent else "post",
        url=url,
    )
