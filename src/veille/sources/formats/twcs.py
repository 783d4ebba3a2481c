"""Customer Support on Twitter (TWCS) CSV.

Header ``tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id``;
extra columns (``brand``, ``sources`` …) are kept in the payload, pandas index columns
(``Unnamed: 0``, ``index``, unnamed) are dropped. Columns are mapped by header name.

How a bad record is kept from spoiling the file: bytes are read one physical line at a time and
decoded per line, then fed to ``csv.reader`` (so quoted newlines and bare ``\\r`` keep their csv
semantics) through an iterator that remembers which lines the current record consumed. A record
whose lines hold invalid UTF-8 or a NUL is rejected on its own. A record that breaks the CSV
syntax or has the wrong number of columns is rejected with its lines up to the next line that
looks like the start of a record; those later lines are fed again, so an unclosed quote costs one
record, not the rest of the file.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, BinaryIO

from veille.sources.base import MAX_TEXT_CHARS, BadRecord, NormalizedPost, NormalizeError, RawRecord

from ._common import (
    MAX_LINE_BYTES,
    STREAM_ERRORS,
    UTC,
    overlong_reason,
    raw_text,
    short,
    stream_failure,
    type_name,
    unescape_twitter,
    utf8_problem,
)

STANDARD_COLUMNS = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)
REQUIRED_COLUMNS = ("tweet_id", "author_id", "inbound", "created_at", "text")
DATE_EXAMPLE = "Tue Oct 31 22:10:47 +0000 2017"

# A line that can begin a record: the first column (tweet_id, or a pandas index) is a number.
_RECORD_START = re.compile(r'"?\d+(?:\.0+)?"?,')
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_MONTHS2 = {m: f"{i:02d}" for m, i in _MONTHS.items()}
_fromiso = datetime.fromisoformat
_BOOLS = {"True": True, "False": False, "TRUE": True, "FALSE": False, "true": True, "false": False,
          "1": True, "0": False}


def is_index_column(name: str) -> bool:
    return not name or name.startswith("Unnamed:") or name == "index"


def clean_id(value: str) -> str:
    """``"3.0"`` → ``"3"`` (copies saved by pandas turned ids into floats); strips blanks."""
    value = value.strip()
    if value.endswith(".0"):
        head = value[:-2]
        if head.isdigit():
            return head
    return value


def parse_twitter_date(value: str) -> datetime:
    """``Tue Oct 31 22:10:47 +0000 2017`` → aware UTC datetime; ISO 8601 with offset accepted too."""
    s = value
    if len(s) != 30:
        s = s.strip()
    if len(s) == 30 and s[13] == ":" and s[16] == ":" and s[19] == " " and s[25] == " ":
        if s[20:25] == "+0000":  # fast path: rebuilt as ISO 8601, parsed in C
            try:
                return _fromiso(f"{s[26:30]}-{_MONTHS2.get(s[4:7], 'xx')}-{s[8:10]}T{s[11:19]}+00:00")
            except ValueError:
                pass
        try:
            dt = datetime(
                int(s[26:30]), _MONTHS[s[4:7]], int(s[8:10]),
                int(s[11:13]), int(s[14:16]), int(s[17:19]), tzinfo=UTC,
            )
            tz = s[20:25]
            if tz == "+0000":
                return dt
            sign = 1 if tz[0] == "+" else -1 if tz[0] == "-" else 0
            if sign and tz[1:].isdigit():
                return dt - sign * timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5]))
        except (KeyError, ValueError):
            pass
    # Copies re-saved by tools sometimes carry ISO dates ("2017-10-31 22:10:47+00:00").
    if s[:4].isdigit():
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            pass
        else:
            if dt.tzinfo is not None:
                return dt.astimezone(UTC)
    raise NormalizeError(f"bad date {short(value)} in created_at (expected like '{DATE_EXAMPLE}')")


class _Overlong(Exception):
    pass


class _StreamBroken(Exception):
    pass


class _LineFeed:
    """The iterator ``csv.reader`` pulls lines from; remembers the lines of the current record.

    Reads the stream itself (no generator in between: this runs once per line of the file).
    """

    __slots__ = ("_readline", "lineno", "pending", "current", "problem", "failure")

    def __init__(self, stream: BinaryIO) -> None:
        self._readline = stream.readline
        self.lineno = 0
        self.pending: deque[tuple[int, str, str | None]] = deque()
        self.current: list[tuple[int, str, str | None]] = []
        self.problem: str | None = None  # first encoding/NUL problem in the current record
        self.failure: tuple[int, str] | None = None

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self.pending:
            item = self.pending.popleft()
        else:
            try:
                raw = self._readline(MAX_LINE_BYTES)
                if not raw:
                    raise StopIteration  # ends the csv input
                self.lineno = n = self.lineno + 1
                if len(raw) >= MAX_LINE_BYTES and raw[-1:] != b"\n":
                    while raw and raw[-1:] != b"\n":  # skip the rest without keeping it
                        raw = self._readline(MAX_LINE_BYTES)
                    self.current.append((n, "", overlong_reason(MAX_LINE_BYTES)))
                    raise _Overlong
            except STREAM_ERRORS as exc:
                self.failure = (self.lineno + 1, stream_failure(self.lineno, exc))
                raise _StreamBroken from None
            problem = None
            if b"\x00" in raw:
                problem = f"NUL byte in line {n}"
                text = raw.decode("utf-8", "replace")
            else:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    problem, text = utf8_problem(raw)
                    problem = f"{problem} in line {n}"
            if n == 1 and text.startswith("\ufeff"):
                text = text[1:]
            item = (n, text, problem)
        if item[2] is not None and self.problem is None:
            self.problem = item[2]
        self.current.append(item)
        return item[1]

    def start_record(self) -> None:
        self.current = []
        self.problem = None


def _where(items: list[tuple[int, str, str | None]]) -> str:
    first, last = items[0][0], items[-1][0]
    return f"line {first}" if first == last else f"lines {first}-{last}"


def _csv_reason(message: str, swallowed: bool) -> str:
    """csv's terse messages, said for an operator."""
    if message.startswith("field larger than field limit"):
        return (f"a field is over {csv.field_size_limit()} characters (a text over the"
                f" {MAX_TEXT_CHARS} limit, or a quote that is never closed)")
    if message == "unexpected end of data":
        return "broken CSV: a quoted field is never closed before the end of the file"
    if message.startswith("',' expected after"):
        if swallowed:
            return "broken CSV: a quoted field is never closed (the next record starts inside it)"
        return "broken CSV: a quote inside a quoted field is not doubled (',' expected after '\"')"
    if message.startswith("new-line character seen in unquoted field"):
        return "broken CSV: line break (\\r) inside an unquoted field"
    return f"broken CSV: {message}"


_BARE_CR = re.compile(r"\r(?!\n)")
_CR_STANDIN = "\ue000"


def _parse_with_bare_cr(items: list[tuple[int, str, str | None]], ncols: int) -> list[str] | None:
    """Some re-saved TWCS copies have a bare ``\\r`` inside an unquoted text field. Parse the
    record again with those protected; accept the result only if it is exactly one full row."""
    text = "".join(item[1] for item in items)
    if _CR_STANDIN in text or not _BARE_CR.search(text):
        return None
    protected = _BARE_CR.sub(_CR_STANDIN, text)
    lines = [line + "\n" for line in protected.split("\n")]
    lines[-1] = lines[-1][:-1]
    try:
        rows = [row for row in csv.reader(lines, strict=True) if row]
    except csv.Error:
        return None
    if len(rows) != 1 or len(rows[0]) != ncols:
        return None
    return [field.replace(_CR_STANDIN, "\r") for field in rows[0]]


def _lines_text(items: list[tuple[int, str, str | None]]) -> str:
    return raw_text("".join(item[1] for item in items))


class TwcsFormat:
    """The TWCS CSV file format (``veille import --format twcs``)."""

    name = "twcs"

    def read(self, stream: BinaryIO) -> Iterator[RawRecord | BadRecord]:
        feed = _LineFeed(stream)
        reader = csv.reader(feed, strict=True)
        columns: list[str] | None = None
        ncols = 0
        id_index = 0
        drop_key = False
        row_number = 0
        start_record = feed.start_record
        while True:
            start_record()
            try:
                row = next(reader)
            except StopIteration:
                return
            except _StreamBroken:
                assert feed.failure is not None
                n, message = feed.failure
                yield BadRecord(message, "", line=n, location="end of input")
                return
            except _Overlong:
                item = feed.current[-1]
                yield BadRecord(item[2] or "", _lines_text(feed.current[:-1]),
                                line=feed.current[0][0], location=f"line {item[0]}")
                continue
            except csv.Error as exc:
                message = str(exc)
                rescued = None
                if columns is not None and message.startswith("new-line character seen"):
                    rescued = _parse_with_bare_cr(feed.current, ncols)
                if rescued is None:
                    bad = self._resync(feed)
                    yield BadRecord(_csv_reason(message, len(bad) < len(feed.current)),
                                    _lines_text(bad), line=bad[0][0], location=_where(bad))
                    continue
                row = rescued

            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            current = feed.current
            first_line = current[0][0]
            if feed.problem is not None:
                yield BadRecord(feed.problem, _lines_text(current), line=first_line,
                                location=_where(current))
                continue

            if columns is None:
                header = [c.strip() for c in row]
                missing = [c for c in REQUIRED_COLUMNS if c not in header]
                if missing and self._looks_headerless(row):
                    header = list(STANDARD_COLUMNS)
                    missing = []
                    columns = header
                elif missing:
                    yield BadRecord(
                        "not a TWCS header: missing column"
                        f"{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)}"
                        f" (expected {','.join(STANDARD_COLUMNS)})",
                        _lines_text(current), line=first_line, location="header",
                    )
                    return
                else:
                    columns = ["" if is_index_column(c) else c for c in header]
                    ncols = len(columns)
                    id_index = columns.index("tweet_id")
                    drop_key = "" in columns
                    continue
                ncols = len(columns)
                id_index = 0
                drop_key = False

            if len(row) != ncols:
                bad = self._resync(feed)
                yield BadRecord(
                    f"wrong number of columns: {len(row)} instead of {ncols}",
                    _lines_text(bad), line=first_line, location=_where(bad),
                )
                continue

            row_number += 1
            payload = dict(zip(columns, row, strict=False))
            if drop_key:
                del payload[""]
            ident = row[id_index]
            if not ident.isdigit():
                ident = clean_id(ident) or None
            yield RawRecord(payload, ident, line=first_line, location=f"row {row_number}")

    @staticmethod
    def _looks_headerless(row: list[str]) -> bool:
        return (
            len(row) == len(STANDARD_COLUMNS)
            and clean_id(row[0]).isdigit()
            and row[2].strip() in _BOOLS
        )

    @staticmethod
    def _resync(feed: _LineFeed) -> list[tuple[int, str, str | None]]:
        """Split the current record's lines at the next line that looks like a record start.

        The part before is the bad record; the rest is pushed back to be read again.
        """
        current = feed.current
        for k in range(1, len(current)):
            if _RECORD_START.match(current[k][1]):
                feed.pending.extendleft(reversed(current[k:]))
                return current[:k]
        return current

    def normalize(self, payload: dict[str, Any]) -> NormalizedPost:
        # Hot path: ~62k rows/s of the import budget go here, so checks take the fast branch
        # first (plain digits, exact "True"/"False") and fall back to the careful one.
        try:
            tweet_id = payload["tweet_id"]
            author_id = payload["author_id"]
            inbound = payload["inbound"]
            created_at = payload["created_at"]
            text = payload["text"]
        except KeyError as exc:
            raise NormalizeError(f"missing field '{exc.args[0]}'") from None
        if type(tweet_id) is not str or not tweet_id.isdigit():
            tweet_id = _checked_id(tweet_id, "tweet_id")
            if tweet_id is None:
                raise NormalizeError("empty field 'tweet_id'")
        if type(author_id) is not str or not author_id or author_id[-1] in "0 \t":
            author_id = _text_field(author_id, "author_id")
            author_id = clean_id(author_id)
        is_inbound = _BOOLS.get(inbound) if type(inbound) is str else None
        if is_inbound is None:
            is_inbound = _BOOLS.get(inbound.strip()) if type(inbound) is str else None
            if is_inbound is None:
                _text_field(inbound, "inbound")
                raise NormalizeError(f"bad value {short(inbound)} in inbound (expected True or False)")
        if type(created_at) is not str:
            _text_field(created_at, "created_at")
        when = parse_twitter_date(created_at)
        if type(text) is not str:
            _text_field(text, "text")
        if len(text) > MAX_TEXT_CHARS:
            raise NormalizeError(f"text is {len(text)} characters, over the {MAX_TEXT_CHARS} limit")
        if not text.strip():
            raise NormalizeError("empty field 'text'")
        if "&" in text:
            text = unescape_twitter(text)
        parent = payload.get("in_response_to_tweet_id") or None
        if parent is not None and (type(parent) is not str or not parent.isdigit()):
            parent = _checked_id(parent, "in_response_to_tweet_id")
        return NormalizedPost(
            external_id=tweet_id,
            text=text,
            created_at=when,
            author_external_id=author_id,
            author_handle=author_id,
            in_reply_to_external_id=parent,
            is_outbound=not is_inbound,
            kind="reply" if parent else "post",
        )


def _text_field(value: Any, field: str) -> str:
    if type(value) is str and value.strip():
        return value
    if value is None or value == "" or (type(value) is str and not value.strip()):
        raise NormalizeError(f"empty field '{field}'")
    raise NormalizeError(f"field '{field}' is a {type_name(value)}, expected a string")


def _checked_id(value: Any, field: str) -> str | None:
    """A tweet id in the slow path: ``"3.0"`` and padded ids accepted, anything else refused."""
    if value is None:
        return None
    if type(value) is int and not isinstance(value, bool):
        value = str(value)
    if type(value) is not str:
        raise NormalizeError(f"field '{field}' is a {type_name(value)}, expected a number")
    cleaned = clean_id(value)
    if not cleaned:
        return None
    if not cleaned.isdigit() or not cleaned.isascii():
        raise NormalizeError(f"bad {field} {short(value)} (expected a number)")
    return cleaned


__all__ = ["TwcsFormat", "parse_twitter_date", "clean_id", "STANDARD_COLUMNS", "MAX_LINE_BYTES"]
