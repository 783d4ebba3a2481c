"""Mastodon payload → ``NormalizedPost``; a pure function of the stored payload and the
source's own account, so a replay gives the same post.

A stored payload is what the API returned for one item: a Status, a Notification (its
``status`` is the post) or a Conversation (its ``last_status`` is the post). A boost is
normalized as the boosted status.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from veille.sources.base import MAX_TEXT_CHARS, NormalizedPost, NormalizeError

# HTML much larger than the longest text we accept is hostile; refuse before parsing it.
MAX_HTML_CHARS = MAX_TEXT_CHARS * 4

_BLOCK_TAGS = frozenset(
    "address article aside blockquote dd div dl dt figcaption figure footer h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol pre section table tbody thead tfoot tr ul".split()
)
_PARAGRAPH_TAGS = frozenset({"p"})
_SKIPPED_TAGS = frozenset({"script", "style", "template", "noscript", "iframe", "object", "svg"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._pre_depth = 0

    def _newlines(self, count: int) -> None:
        self.parts.append("\n" * count)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _PARAGRAPH_TAGS:
            self._newlines(2)
        elif tag in _BLOCK_TAGS:
            self._newlines(1)
            if tag == "pre":
                self._pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS or tag in _PARAGRAPH_TAGS:
            self._newlines(1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _PARAGRAPH_TAGS:
            self._newlines(2)
        elif tag in _BLOCK_TAGS:
            self._newlines(1)
            if tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if not self._pre_depth:
            data = re.sub(r"[ \t\r\n\f\v]+", " ", data)
        self.parts.append(data)


def html_to_text(html: str) -> str:
    """Plain text of an HTML fragment: tags dropped (script/style content too), entities
    unescaped, ``<br>`` and paragraphs kept as line breaks. Never returns markup that was
    markup; text the author typed as ``&lt;b&gt;`` comes back as the characters ``<b>``."""
    if not html:
        return ""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts).replace("\xa0", " ")
    lines = [line.strip(" ") for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n ")


def parse_datetime(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise NormalizeError(f"{where}: missing or non-string date {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise NormalizeError(f"{where}: unparseable date {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def split_acct(acct: str) -> tuple[str, str]:
    """``@brand@mastodon.social`` / ``brand@mastodon.social`` / ``brand`` → (username, domain)."""
    acct = acct.strip().lstrip("@")
    username, _, domain = acct.partition("@")
    return username.lower(), domain.lower()


def is_own_account(acct: str, own_acct: str) -> bool:
    """Whether an account (``acct`` as the brand's own instance reports it) is the brand's.
    Local accounts have no domain in ``acct``; statuses are always read from the brand's own
    instance, so a local ``brand`` is the same account as ``brand@<instance>``."""
    if not acct or not own_acct:
        return False
    user, domain = split_acct(acct)
    own_user, own_domain = split_acct(own_acct)
    return user == own_user and (not domain or not own_domain or domain == own_domain)


def status_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The status a stored payload is about (notification → status, conversation → last)."""
    if not isinstance(payload, dict):
        raise NormalizeError(f"payload is {type(payload).__name__}, expected an object")
    if "last_status" in payload and "accounts" in payload:
        status = payload.get("last_status")
        where = "conversation"
    elif "type" in payload and "account" in payload and "content" not in payload:
        status = payload.get("status")
        where = f"notification of type {payload.get('type')!r}"
    else:
        status = payload
        where = "status"
    if not isinstance(status, dict):
        raise NormalizeError(f"{where} {payload.get('id')!r} carries no status")
    reblog = status.get("reblog")
    if isinstance(reblog, dict):
        status = reblog
    return status


def status_id(payload: dict[str, Any]) -> str | None:
    """External id of a stored payload (the status id), without raising."""
    try:
        value = status_of(payload).get("id")
    except NormalizeError:
        return None
    return str(value) if isinstance(value, (str, int)) and str(value) else None


def normalize_status(payload: dict[str, Any], own_acct: str = "") -> NormalizedPost:
    status = status_of(payload)
    sid = status.get("id")
    if not isinstance(sid, (str, int)) or not str(sid):
        raise NormalizeError("status has no id")
    sid = str(sid)
    where = f"status {sid}"
    account = status.get("account")
    if not isinstance(account, dict) or not account.get("id") or not account.get("acct"):
        raise NormalizeError(f"{where}: missing account id/acct")
    content = status.get("content")
    if content is None:
        content = ""
    if not isinstance(content, str):
        raise NormalizeError(f"{where}: content is {type(content).__name__}, expected a string")
    if len(content) > MAX_HTML_CHARS:
        raise NormalizeError(f"{where}: content is {len(content)} characters of HTML")
    text = html_to_text(content)
    spoiler = status.get("spoiler_text")
    if isinstance(spoiler, str) and spoiler.strip():
        text = f"{html_to_text(spoiler)}\n\n{text}".strip()
    if len(text) > MAX_TEXT_CHARS:
        raise NormalizeError(f"{where}: text is {len(text)} characters (max {MAX_TEXT_CHARS})")
    created_at = parse_datetime(status.get("created_at"), where)

    in_reply_to = status.get("in_reply_to_id")
    in_reply_to = str(in_reply_to) if in_reply_to not in (None, "") else None
    if status.get("visibility") == "direct":
        kind = "dm"
    elif in_reply_to:
        kind = "reply"
    else:
        kind = "post"
    followers = account.get("followers_count")
    acct = str(account["acct"])
    return NormalizedPost(
        external_id=sid,
        text=text,
        created_at=created_at,
        author_external_id=str(account["id"]),
        author_handle=acct,
        author_name=str(account.get("display_name") or ""),
        author_followers=followers if isinstance(followers, int) and followers >= 0 else None,
        in_reply_to_external_id=in_reply_to,
        is_outbound=is_own_account(acct, own_acct),
        kind=kind,
        url=str(status.get("url") or status.get("uri") or ""),
        lang_hint=str(status.get("language") or ""),
    )
