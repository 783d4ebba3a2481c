"""Bluesky payload → ``NormalizedPost``; a pure function of the stored payload and the source's
own handle / DID.

A stored payload is what the API returned for one item: a notification
(``app.bsky.notification.listNotifications``: ``uri``, ``author``, ``record``, ``indexedAt``,
``reason``), a post view (``searchPosts``, ``getPosts``: the same fields without ``reason``) or a
feed item (``getListFeed``: ``{"post": <post view>, "reply": ..., "reason": ...}``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from veille.sources.base import MAX_TEXT_CHARS, NormalizedPost, NormalizeError

POST_TYPE = "app.bsky.feed.post"
# A createdAt this far past indexedAt is a clock error or a lie: use when the service saw it.
MAX_CLOCK_SKEW = timedelta(minutes=5)


def parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def post_view_of(payload: Any) -> dict[str, Any]:
    """The post a stored payload is about (a feed item's ``post``, else the payload itself)."""
    if not isinstance(payload, dict):
        raise NormalizeError(f"payload is {type(payload).__name__}, expected an object")
    post = payload.get("post") if isinstance(payload.get("post"), dict) else payload
    return post


def post_uri(payload: Any) -> str | None:
    """External id (the post's at:// URI) of a stored payload, without raising."""
    try:
        uri = post_view_of(payload).get("uri")
    except NormalizeError:
        return None
    return uri if isinstance(uri, str) and uri.startswith("at://") else None


def sort_time(payload: Any) -> datetime | None:
    """When the service indexed the item (a repost in a feed: when it was reposted)."""
    if not isinstance(payload, dict):
        return None
    reason = payload.get("reason")
    if isinstance(reason, dict) and reason.get("indexedAt"):
        return parse_datetime(reason.get("indexedAt"))
    try:
        return parse_datetime(post_view_of(payload).get("indexedAt"))
    except NormalizeError:
        return None


def web_url(uri: str, handle: str) -> str:
    """``at://did/app.bsky.feed.post/rkey`` → ``https://bsky.app/profile/<handle>/post/<rkey>``."""
    parts = uri[len("at://"):].split("/")
    if len(parts) != 3 or parts[1] != POST_TYPE:
        return ""
    return f"https://bsky.app/profile/{handle or parts[0]}/post/{parts[2]}"


def is_own(author: dict[str, Any], own_handle: str, own_did: str) -> bool:
    did = str(author.get("did") or "")
    handle = str(author.get("handle") or "").lower().lstrip("@")
    return bool((own_did and did == own_did) or (own_handle and handle == own_handle.lower().lstrip("@")))


def normalize_post(payload: dict[str, Any], own_handle: str = "", own_did: str = "") -> NormalizedPost:
    post = post_view_of(payload)
    uri = post.get("uri")
    if not isinstance(uri, str) or not uri.startswith("at://"):
        raise NormalizeError(f"item has no at:// uri (got {uri!r})")
    where = f"post {uri}"
    record = post.get("record")
    if not isinstance(record, dict):
        raise NormalizeError(f"{where}: no record")
    record_type = record.get("$type", POST_TYPE)
    if record_type != POST_TYPE:
        raise NormalizeError(f"{where}: record is a {record_type}, not a post")
    author = post.get("author")
    if not isinstance(author, dict) or not author.get("did") or not author.get("handle"):
        raise NormalizeError(f"{where}: missing author did/handle")
    text = record.get("text", "")
    if not isinstance(text, str):
        raise NormalizeError(f"{where}: text is {type(text).__name__}, expected a string")
    if len(text) > MAX_TEXT_CHARS:
        raise NormalizeError(f"{where}: text is {len(text)} characters (max {MAX_TEXT_CHARS})")

    indexed_at = parse_datetime(post.get("indexedAt"))
    created_at = parse_datetime(record.get("createdAt"))
    if created_at is None or (indexed_at is not None and created_at > indexed_at + MAX_CLOCK_SKEW):
        created_at = indexed_at
    if created_at is None:
        raise NormalizeError(f"{where}: neither createdAt nor indexedAt is a date")

    in_reply_to = None
    reply = record.get("reply")
    if isinstance(reply, dict) and isinstance(reply.get("parent"), dict):
        parent_uri = reply["parent"].get("uri")
        in_reply_to = parent_uri if isinstance(parent_uri, str) and parent_uri else None
    langs = record.get("langs")
    lang = langs[0] if isinstance(langs, list) and langs and isinstance(langs[0], str) else ""
    followers = author.get("followersCount")
    handle = str(author["handle"])
    return NormalizedPost(
        external_id=uri,
        text=text,
        created_at=created_at,
        author_external_id=str(author["did"]),
        author_handle=handle,
        author_name=str(author.get("displayName") or ""),
        author_followers=followers if isinstance(followers, int) and followers >= 0 else None,
        in_reply_to_external_id=in_reply_to,
        is_outbound=is_own(author, own_handle, own_did),
        kind="reply" if in_reply_to else "post",
        url=web_url(uri, handle),
        lang_hint=lang,
    )
