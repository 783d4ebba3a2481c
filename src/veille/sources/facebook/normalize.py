"""Stored Facebook payload → ``NormalizedPost``.

Payloads are ``{"type": "post"|"comment"|"message", "data": <Graph object>, "context":
{"page_id": …, "post_id": … | "conversation_id": …}}``; the context makes "outbound" (written
by the Page) and the parent of a top-level comment decidable from the payload alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from veille.sources.base import MAX_TEXT_CHARS, NormalizedPost, NormalizeError


def parse_graph_time(value: Any) -> datetime | None:
    """Graph times look like ``2025-03-01T10:20:30+0000``; None when absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z",):
        try:
            return datetime.strptime(value, fmt).astimezone(UTC)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def normalize_payload(payload: dict[str, Any]) -> NormalizedPost:
    if not isinstance(payload, dict):
        raise NormalizeError("Facebook payload: not a JSON object")
    kind = payload.get("type")
    data = payload.get("data")
    context = payload.get("context") if isinstance(payload.get("context"), dict) else {}
    if kind not in ("post", "comment", "message"):
        raise NormalizeError(f"Facebook payload: unknown type {kind!r}")
    if not isinstance(data, dict):
        raise NormalizeError(f"Facebook {kind}: 'data' is not an object")
    external_id = data.get("id")
    if not isinstance(external_id, str) or not external_id:
        raise NormalizeError(f"Facebook {kind}: missing id")
    where = f"Facebook {kind} {external_id}"
    text = data.get("message", "")
    if text is None:
        text = ""  # a photo or sticker alone: still something to look at
    if not isinstance(text, str):
        raise NormalizeError(f"{where}: message is not a string")
    if len(text) > MAX_TEXT_CHARS:
        raise NormalizeError(f"{where}: message is {len(text)} characters (max {MAX_TEXT_CHARS})")
    created = parse_graph_time(data.get("created_time"))
    if created is None:
        raise NormalizeError(
            f"{where}: missing or unreadable created_time {data.get('created_time')!r}"
        )
    author = data.get("from")
    if not isinstance(author, dict) or not author.get("id"):
        raise NormalizeError(f"{where}: no 'from' (the token cannot see who wrote it)")
    author_id = str(author["id"])
    name = author.get("name") if isinstance(author.get("name"), str) else ""
    page_id = str(context.get("page_id") or "")

    in_reply_to = None
    post_kind = "post"
    if kind == "comment":
        post_kind = "reply"
        parent = data.get("parent")
        if isinstance(parent, dict) and parent.get("id"):
            in_reply_to = str(parent["id"])
        else:
            in_reply_to = str(context.get("post_id") or "") or None
    elif kind == "message":
        post_kind = "dm"
    url = data.get("permalink_url") if isinstance(data.get("permalink_url"), str) else ""
    return NormalizedPost(
        external_id=external_id,
        text=text,
        created_at=created,
        author_external_id=author_id,
        author_handle=name,  # Graph exposes no username for people, the display name is it
        author_name=name,
        in_reply_to_external_id=in_reply_to,
        is_outbound=bool(page_id) and author_id == page_id,
        kind=post_kind,
        url=url,
    )
