"""Stored X payload → ``NormalizedPost``.

The connector stores each item in the shape X itself uses for a single object:
``{"data": <tweet or DM event>, "includes": {"users": [<author>]}, "veille": {...}}`` where
``veille`` says which stream it came from, whether it is a DM, and the source's own account id
(so "outbound" is decided from the payload alone and a replay gives the same answer).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from veille.sources.base import MAX_TEXT_CHARS, NormalizedPost, NormalizeError

# X escapes exactly these three characters in v2 ``text``; nothing else is HTML-encoded.
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))


def unescape_text(text: str) -> str:
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text


def parse_time(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise NormalizeError(f"{where}: missing created_at")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise NormalizeError(f"{where}: created_at {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise NormalizeError(f"{where}: created_at {value!r} has no time zone")
    return parsed.astimezone(UTC)


def _id(value: Any, field: str, where: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.isdigit():
        raise NormalizeError(f"{where}: {field} {value!r} is not an X id")
    return value


def _author(payload: dict[str, Any], author_id: str) -> dict[str, Any]:
    includes = payload.get("includes")
    users = includes.get("users") if isinstance(includes, dict) else None
    for user in users or []:
        if isinstance(user, dict) and str(user.get("id")) == author_id:
            return user
    return {}


def normalize_payload(payload: dict[str, Any]) -> NormalizedPost:
    if not isinstance(payload, dict):
        raise NormalizeError("X payload: not a JSON object")
    data = payload.get("data")
    if not isinstance(data, dict):
        raise NormalizeError("X payload: 'data' is not an object")
    meta = payload.get("veille") if isinstance(payload.get("veille"), dict) else {}
    is_dm = bool(meta.get("dm")) or "event_type" in data
    external_id = _id(data.get("id"), "id", "X payload")
    where = f"X {'DM event' if is_dm else 'post'} {external_id}"

    if is_dm and data.get("event_type", "MessageCreate") != "MessageCreate":
        raise NormalizeError(f"{where}: event_type {data.get('event_type')!r} is not a message")

    text: Any = data.get("text")
    note = data.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str) and note["text"]:
        text = note["text"]  # long posts: ``text`` is truncated, the note has the whole text
    if not isinstance(text, str):
        raise NormalizeError(f"{where}: text missing or not a string")
    if len(text) > MAX_TEXT_CHARS:
        raise NormalizeError(f"{where}: text is {len(text)} characters (max {MAX_TEXT_CHARS})")
    text = unescape_text(text)

    created_at = parse_time(data.get("created_at"), where)
    author_id = _id(data.get("sender_id" if is_dm else "author_id"), "author", where)
    user = _author(payload, author_id)
    username = user.get("username") if isinstance(user.get("username"), str) else ""
    name = user.get("name") if isinstance(user.get("name"), str) else ""
    followers = None
    metrics = user.get("public_metrics")
    if isinstance(metrics, dict) and isinstance(metrics.get("followers_count"), int):
        followers = metrics["followers_count"]

    account_id = str(meta.get("account_id") or "")
    in_reply_to = None
    kind = "dm" if is_dm else "post"
    if not is_dm:
        for ref in data.get("referenced_tweets") or []:
            if isinstance(ref, dict) and ref.get("type") == "replied_to" and ref.get("id"):
                in_reply_to = str(ref["id"])
                kind = "reply"
                break
    if is_dm:
        conversation = data.get("dm_conversation_id")
        url = f"https://x.com/messages/{conversation}" if conversation else ""
    elif username:
        url = f"https://x.com/{username}/status/{external_id}"
    else:
        url = f"https://x.com/i/web/status/{external_id}"

    return NormalizedPost(
        external_id=external_id,
        text=text,
        created_at=created_at,
        author_external_id=author_id,
        author_handle=username,
        author_name=name,
        author_followers=followers,
        in_reply_to_external_id=in_reply_to,
        is_outbound=bool(account_id) and author_id == account_id,
        kind=kind,
        url=url,
        lang_hint=data["lang"]
        if isinstance(data.get("lang"), str) and data["lang"] != "und"
        else "",
    )
