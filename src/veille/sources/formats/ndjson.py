"""veille's own normalized post schema, one JSON object per line (see docs/formats.md).

``{"id", "text", "created_at", "author": {"id", "handle", "name", "followers"}, "in_reply_to",
"outbound", "kind", "url", "lang"}``. The demo generator emits exactly this; so can any script
that converts another platform's export.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

from veille.sources.base import BadRecord, NormalizedPost, NormalizeError, RawRecord

from ._common import (
    JSON_DECODER,
    ReadFailure,
    check_text,
    iter_lines,
    json_line_reason,
    optional_str,
    overlong_reason,
    parse_iso,
    raw_text,
    require_str,
    type_name,
    unstorable_reason,
    utf8_problem,
)

KINDS = ("post", "reply", "dm")


def read_json_lines(stream: BinaryIO, what: str = "a JSON object") -> Iterator[tuple[int, Any] | BadRecord]:
    """Each non-blank line parsed as JSON: ``(line_number, value)``, or a ``BadRecord``."""
    return parse_json_lines(iter_lines(stream), what)


def parse_json_lines(
    lines: Iterable[tuple[int, bytes | None | ReadFailure]], what: str = "a JSON object"
) -> Iterator[tuple[int, Any] | BadRecord]:
    decode = JSON_DECODER.decode
    for n, raw in lines:
        if raw is None:
            yield BadRecord(overlong_reason(), "", line=n, location=f"line {n}")
            continue
        if type(raw) is ReadFailure:
            yield BadRecord(raw.message, "", line=n, location="end of input")
            return
        if not raw.strip():
            continue
        if b"\x00" in raw:
            yield BadRecord(f"NUL byte in line {n}", raw_text(raw), line=n, location=f"line {n}")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            reason, _ = utf8_problem(raw)
            yield BadRecord(f"{reason} in line {n}", raw_text(raw), line=n, location=f"line {n}")
            continue
        if n == 1 and text.startswith("\ufeff"):
            text = text[1:]
        try:
            value = decode(text)
        except ValueError as exc:
            yield BadRecord(json_line_reason(exc), raw_text(text), line=n, location=f"line {n}")
            continue
        if type(value) is not dict:
            yield BadRecord(f"line is a JSON {type_name(value)}, expected {what}",
                            raw_text(text), line=n, location=f"line {n}")
            continue
        reason = unstorable_reason(text, value)
        if reason is not None:
            yield BadRecord(reason, raw_text(text), line=n, location=f"line {n}")
            continue
        yield n, value


class NdjsonFormat:
    """Normalized posts as JSON lines (``veille import --format ndjson``)."""

    name = "ndjson"

    def read(self, stream: BinaryIO) -> Iterator[RawRecord | BadRecord]:
        for item in read_json_lines(stream):
            if type(item) is BadRecord:
                yield item
                continue
            n, obj = item
            ident = obj.get("id")
            if type(ident) is int:
                ident = str(ident)
            elif type(ident) is not str or not ident.strip():
                ident = None
            yield RawRecord(obj, ident, line=n, location=f"line {n}")

    def normalize(self, payload: dict[str, Any]) -> NormalizedPost:
        ident = require_str(payload, "id")
        text = check_text(payload.get("text"), "text") if "text" in payload else _missing("text")
        if "created_at" not in payload:
            _missing("created_at")
        created_at = parse_iso(payload["created_at"], "created_at")
        author = payload.get("author")
        if author is None:
            _missing("author")
        if type(author) is not dict:
            raise NormalizeError(f"field 'author' is a {type_name(author)}, expected an object")
        author_id = require_str(author, "id", "author.")
        handle = require_str(author, "handle", "author.").lstrip("@")
        name = optional_str(author, "name", "author.")
        followers = author.get("followers")
        if followers is not None and (type(followers) is not int or followers < 0):
            raise NormalizeError(
                f"bad value {followers!r} in author.followers (expected a whole number ≥ 0 or null)"
            )
        parent = payload.get("in_reply_to")
        if parent is not None:
            if type(parent) is int:
                parent = str(parent)
            elif type(parent) is not str:
                raise NormalizeError(
                    f"field 'in_reply_to' is a {type_name(parent)}, expected an id string or null"
                )
            parent = parent or None
        outbound = payload.get("outbound", False)
        if outbound is None:
            outbound = False
        if type(outbound) is not bool:
            raise NormalizeError(f"bad value {outbound!r} in outbound (expected true or false)")
        kind = payload.get("kind") or ("reply" if parent else "post")
        if kind not in KINDS:
            raise NormalizeError(f"bad value {kind!r} in kind (expected one of {', '.join(KINDS)})")
        return NormalizedPost(
            external_id=ident,
            text=text,
            created_at=created_at,
            author_external_id=author_id,
            author_handle=handle,
            author_name=name,
            author_followers=followers,
            in_reply_to_external_id=parent,
            is_outbound=outbound,
            kind=kind,
            url=optional_str(payload, "url"),
            lang_hint=optional_str(payload, "lang"),
        )


def _missing(field: str) -> Any:
    raise NormalizeError(f"missing field '{field}'")
