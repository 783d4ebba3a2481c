"""Helpers shared by the file formats: line reading with limits, reasons, dates, field checks."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, BinaryIO

from veille.sources.base import MAX_TEXT_CHARS, NormalizeError

# How much of an offending input a BadRecord keeps (enough to show and to reprocess by hand).
RAW_TEXT_LIMIT = 10_000
# Longest physical line read into memory. Anything longer is hostile or broken input; the rest of
# such a line is skipped without being held in memory, so any file reads in bounded memory.
MAX_LINE_BYTES = 8 * 1024 * 1024

# Errors a (possibly gzipped) stream raises when the file itself is truncated or corrupt.
STREAM_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, zlib.error)


def raw_text(data: bytes | str) -> str:
    """The offending input as text for a BadRecord: decoded with replacement, truncated."""
    if isinstance(data, bytes):
        data = data[: RAW_TEXT_LIMIT * 4].decode("utf-8", "replace")
    elif _SURROGATE.search(data):
        data = data.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return data[:RAW_TEXT_LIMIT]


_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8_problem(raw: bytes) -> tuple[str | None, str]:
    """Decode one line strictly; return (reason or None, text).

    On invalid UTF-8 the text is decoded with ``surrogateescape`` so that its structure (quotes,
    commas) is intact and the record it belongs to can still be delimited.
    """
    try:
        return None, raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = raw[exc.start]
        return (  # bytes counted from 1, like columns in an editor
            f"invalid UTF-8 at byte {exc.start + 1} (0x{bad:02X})",
            raw.decode("utf-8", "surrogateescape"),
        )


class ReadFailure:
    """Marker yielded by ``iter_lines`` when the stream itself breaks (truncated gzip, I/O error)."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def iter_lines(
    stream: BinaryIO, limit: int | None = None
) -> Iterator[tuple[int, bytes | None | ReadFailure]]:
    """Yield ``(line_number, bytes)`` for every ``\\n``-terminated physical line.

    An overlong line is yielded as ``(n, None)`` after its remainder has been skipped; a stream
    that fails mid-way yields ``(n, ReadFailure)`` and stops.
    """
    limit = limit or MAX_LINE_BYTES
    readline = stream.readline
    n = 0
    while True:
        try:
            raw = readline(limit)
        except STREAM_ERRORS as exc:
            yield n + 1, ReadFailure(stream_failure(n, exc))
            return
        if not raw:
            return
        n += 1
        if len(raw) >= limit and not raw.endswith(b"\n"):
            try:
                while True:
                    rest = readline(limit)
                    if not rest or rest.endswith(b"\n"):
                        break
            except STREAM_ERRORS as exc:
                yield n, ReadFailure(stream_failure(n - 1, exc))
                return
            yield n, None
            continue
        yield n, raw


def stream_failure(lines_read: int, exc: BaseException) -> str:
    return (
        f"the file could not be read past line {lines_read}: "
        f"{exc or type(exc).__name__} (truncated or corrupt file?)"
    )


def overlong_reason(limit: int | None = None) -> str:
    return f"line is over {limit or MAX_LINE_BYTES} bytes, skipped"


# ---- JSON -------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# NaN/Infinity are accepted by Python's json but not by JSON columns in the database.
JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def json_reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    return f"invalid JSON: {exc}"


def json_line_reason(exc: ValueError) -> str:
    """Like ``json_reason`` for a one-line document (the line number is the record's)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} at column {exc.colno}"
    return f"invalid JSON: {exc}"


def unstorable_reason(text: str, value: Any) -> str | None:
    """Escapes that decode to text a database cannot store: NUL and lone surrogates."""
    if "\\u" not in text or not _SUSPECT_ESCAPE.search(text):
        return None
    for s in _strings(value):
        if "\x00" in s:
            return "NUL character (\\u0000) in a JSON string"
        if _SURROGATE.search(s):
            return "unpaired surrogate escape (\\ud800-\\udfff) in a JSON string: not valid Unicode"
    return None


def _strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is str:
            yield item
        elif type(item) is dict:
            stack.extend(item.keys())
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)


def type_name(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


# ---- fields -----------------------------------------------------------------------------------


def require_str(payload: dict[str, Any], key: str, where: str = "") -> str:
    """A present, non-empty string (numbers are accepted and turned into their digits)."""
    try:
        value = payload[key]
    except KeyError:
        raise NormalizeError(f"missing field '{where}{key}'") from None
    if isinstance(value, str):
        if value.strip():
            return value
        raise NormalizeError(f"empty field '{where}{key}'")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is None:
        raise NormalizeError(f"empty field '{where}{key}'")
    raise NormalizeError(f"field '{where}{key}' is a {type_name(value)}, expected a string")


def optional_str(payload: dict[str, Any], key: str, where: str = "") -> str:
    value = payload.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise NormalizeError(f"field '{where}{key}' is a {type_name(value)}, expected a string")


def check_text(text: Any, field: str = "text") -> str:
    if not isinstance(text, str):
        raise NormalizeError(f"field '{field}' is a {type_name(text)}, expected a string")
    if len(text) > MAX_TEXT_CHARS:
        raise NormalizeError(f"{field} is {len(text)} characters, over the {MAX_TEXT_CHARS} limit")
    if not text.strip():
        raise NormalizeError(f"empty field '{field}'")
    return text


def unescape_twitter(text: str) -> str:
    """Twitter's APIs (v1.1, hence TWCS, and v2) escape exactly ``&``, ``<`` and ``>`` in text."""
    if "&" in text:
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text


ISO_EXAMPLE = "2024-05-01T09:30:00+02:00"


def parse_iso(value: Any, field: str = "created_at") -> datetime:
    """ISO 8601 with an offset (``Z`` allowed), returned in UTC."""
    if not isinstance(value, str):
        if value is None:
            raise NormalizeError(f"empty field '{field}'")
        raise NormalizeError(f"field '{field}' is a {type_name(value)}, expected an ISO 8601 date string")
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        raise NormalizeError(
            f"bad date {short(value)} in {field} (expected ISO 8601 like '{ISO_EXAMPLE}')"
        ) from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise NormalizeError(
            f"date {short(value)} in {field} has no UTC offset (expected like '{ISO_EXAMPLE}')"
        )
    return dt.astimezone(UTC)


def short(value: Any, limit: int = 60) -> str:
    """A value quoted for a reason, cut so a hostile value cannot make reasons huge."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return repr(text)
