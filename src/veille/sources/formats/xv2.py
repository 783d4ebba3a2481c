"""X (Twitter) API v2 JSON, as returned by the recent-search and mentions endpoints.

A file is either one JSON document ``{"data": [...], "includes": {"users": [...]}, "meta": {...}}``
(pretty-printed or not; several documents one after another, or a JSON array of documents, are
accepted too), or one such document per line as saved while paging. Each tweet of ``data``
becomes one record; its author from ``includes.users`` is copied into the payload under
``"author"`` so that ``normalize`` needs nothing else.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, BinaryIO

from veille.sources.base import BadRecord, NormalizedPost, NormalizeError, RawRecord

from ._common import (
    JSON_DECODER,
    ReadFailure,
    check_text,
    iter_lines,
    json_reason,
    optional_str,
    overlong_reason,
    parse_iso,
    raw_text,
    require_str,
    type_name,
    unescape_twitter,
    unstorable_reason,
)
from .ndjson import parse_json_lines

# A single (non-paged) document is parsed whole; past this it is refused rather than loaded.
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024
# Tags X uses for "no language" (undetermined, media only, hashtags only, …).
NOT_LANGUAGES = frozenset({"und", "qme", "qht", "qam", "qct", "qst", "zxx", "art"})
PAGE_WHAT = 'an object with "data" (an X API v2 response)'


class Xv2Format:
    """X API v2 response pages (``veille import --format xv2``)."""

    name = "xv2"

    def __init__(self, own_handle: str | None = None) -> None:
        # Posts by this account are the brand's own (outbound).
        self.own_handle = own_handle.lstrip("@").lower() if own_handle else None

    # ---- read ---------------------------------------------------------------------------------

    def read(self, stream: BinaryIO) -> Iterator[RawRecord | BadRecord]:
        lines = iter_lines(stream)
        first = next((item for item in lines
                      if item[1] is None or type(item[1]) is ReadFailure or item[1].strip()), None)
        if first is None:
            return  # empty file: no pages
        n, raw = first
        if type(raw) is bytes and not _is_whole_line_document(raw):
            yield from self._read_document(n, raw, lines)
            return
        page = 0
        for item in parse_json_lines(itertools.chain([(n, raw)], lines), PAGE_WHAT):
            page += 1
            if type(item) is BadRecord:
                item.location = f"page {page}"
                yield item
                continue
            line, value = item
            yield from self._page(value, page, line)

    def _read_document(self, first: int, raw: bytes, lines: Iterator) -> Iterator[RawRecord | BadRecord]:
        chunks = [raw]
        size = len(raw)
        for n, more in lines:
            if more is None:
                yield BadRecord(overlong_reason(), "", line=n, location="document")
                return
            if type(more) is ReadFailure:
                yield BadRecord(more.message, raw_text(b"".join(chunks)), line=n,
                                location="end of input")
                return
            size += len(more)
            if size > MAX_DOCUMENT_BYTES:
                yield BadRecord(
                    f"JSON document is over {MAX_DOCUMENT_BYTES} bytes: save pages one per line",
                    raw_text(b"".join(chunks)), line=first, location="document")
                return
            chunks.append(more)
        data = b"".join(chunks)
        del chunks
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = first + data.count(b"\n", 0, exc.start)
            col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1)
            yield BadRecord(
                f"invalid UTF-8 at byte {col + 1} (0x{data[exc.start]:02X}) in line {line}",
                raw_text(data), line=line, location="document")
            return
        if text.startswith("\ufeff"):
            text = text[1:]
        pos, end, page = 0, len(text), 0
        while True:
            while pos < end and text[pos] in " \t\r\n":
                pos += 1
            if pos >= end:
                return
            line = first + text.count("\n", 0, pos)
            try:
                value, stop = JSON_DECODER.raw_decode(text, pos)
            except ValueError as exc:
                reason = json_reason(exc)
                if hasattr(exc, "lineno"):
                    reason = (f"invalid JSON: {exc.msg} at line {first - 1 + exc.lineno}"
                              f" column {exc.colno}")
                yield BadRecord(reason, raw_text(text[pos:]), line=line,
                                location=f"page {page + 1}")
                return
            unstorable = unstorable_reason(text[pos:stop], value)
            pages = value if type(value) is list else [value]
            for value in pages:
                page += 1
                if unstorable:
                    yield BadRecord(unstorable, raw_text(text[pos:stop]), line=line,
                                    location=f"page {page}")
                    continue
                yield from self._page(value, page, line)
            pos = stop

    def _page(self, page: Any, number: int, line: int) -> Iterator[RawRecord | BadRecord]:
        where = f"page {number}"
        if type(page) is not dict:
            yield BadRecord(f"page is a JSON {type_name(page)}, expected {PAGE_WHAT}",
                            raw_text(_dump(page)), line=line, location=where)
            return
        data = page.get("data")
        if data is None:
            errors = page.get("errors")
            if errors:
                first = errors[0] if type(errors) is list and errors else errors
                detail = first.get("detail") or first.get("title") if type(first) is dict else first
                yield BadRecord(f"page has no \"data\", only errors: {str(detail)[:300]}",
                                raw_text(_dump(page)), line=line, location=where)
            return  # an empty result page ({"meta": {"result_count": 0}})
        if type(data) is dict:
            data = [data]  # single-tweet lookup
        elif type(data) is not list:
            yield BadRecord(f"\"data\" is a JSON {type_name(data)}, expected an array of tweets",
                            raw_text(_dump(page)), line=line, location=where)
            return
        users: dict[str, Any] = {}
        includes = page.get("includes")
        if type(includes) is dict and type(includes.get("users")) is list:
            for user in includes["users"]:
                if type(user) is dict and user.get("id") is not None:
                    users[str(user["id"])] = user
        for i, tweet in enumerate(data):
            loc = f"{where} data[{i}]"
            if type(tweet) is not dict:
                yield BadRecord(f"data[{i}] is a JSON {type_name(tweet)}, expected a tweet object",
                                raw_text(_dump(tweet)), line=line, location=loc)
                continue
            payload = dict(tweet)
            author = users.get(str(tweet.get("author_id")))
            if author is not None:
                payload["author"] = author
            ident = tweet.get("id")
            ident = str(ident) if type(ident) in (str, int) and str(ident).strip() else None
            yield RawRecord(payload, ident, line=line, location=loc)

    # ---- normalize ----------------------------------------------------------------------------

    def normalize(self, payload: dict[str, Any]) -> NormalizedPost:
        ident = require_str(payload, "id")
        note = payload.get("note_tweet")
        text = note.get("text") if type(note) is dict else None
        if not text:
            if "text" not in payload:
                raise NormalizeError("missing field 'text'")
            text = payload["text"]
            field = "text"
        else:
            field = "note_tweet.text"
        text = check_text(text, field)
        if "created_at" not in payload:
            raise NormalizeError("missing field 'created_at' (request tweet.fields=created_at)")
        created_at = parse_iso(payload["created_at"], "created_at")
        if "author_id" not in payload:
            raise NormalizeError("missing field 'author_id' (request tweet.fields=author_id)")
        author_id = require_str(payload, "author_id")
        author = payload.get("author")
        if author is not None and type(author) is not dict:
            raise NormalizeError(f"field 'author' is a {type_name(author)}, expected an object")
        author = author or {}
        handle = optional_str(author, "username", "author.") or author_id
        followers = None
        metrics = author.get("public_metrics")
        if type(metrics) is dict:
            count = metrics.get("followers_count")
            if type(count) is int and count >= 0:
                followers = count
        parent = None
        refs = payload.get("referenced_tweets")
        if refs is not None:
            if type(refs) is not list:
                raise NormalizeError(
                    f"field 'referenced_tweets' is a {type_name(refs)}, expected an array")
            for ref in refs:
                if type(ref) is dict and ref.get("type") == "replied_to":
                    parent = require_str(ref, "id", "referenced_tweets[].")
                    break
        lang = optional_str(payload, "lang")
        if lang in NOT_LANGUAGES:
            lang = ""
        username = author.get("username")
        return NormalizedPost(
            external_id=ident,
            text=unescape_twitter(text),
            created_at=created_at,
            author_external_id=author_id,
            author_handle=handle,
            author_name=optional_str(author, "name", "author."),
            author_followers=followers,
            in_reply_to_external_id=parent,
            is_outbound=bool(
                self.own_handle and type(username) is str and username.lower() == self.own_handle
            ),
            kind="reply" if parent else "post",
            url=(f"https://x.com/{username}/status/{ident}" if type(username) is str and username
                 else f"https://x.com/i/web/status/{ident}"),
            lang_hint=lang,
        )


def _is_whole_line_document(raw: bytes) -> bool:
    """A first line that opens and closes a JSON value is a page of its own (one page per line)."""
    s = raw.strip()
    if s.startswith(b"\xef\xbb\xbf"):
        s = s[3:].lstrip()
    return s[:1] == b"{" and s[-1:] == b"}"


def _dump(value: Any) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False)[:20_000]
    except (TypeError, ValueError):
        return repr(value)[:20_000]
