"""The contract between platform code (``sources``) and the durable pipeline (``ingest``).

Platform code fetches and parses, nothing else: it turns bytes from outside into
``RawRecord`` (a payload worth persisting) or ``BadRecord`` (something that could not even be
parsed, kept with its reason so nothing is lost), and later turns a stored payload into a
``NormalizedPost``. Both steps are pure functions of their input so a crash and a replay give
the same result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from typing import Any, BinaryIO, Protocol

# Longest post text we accept. Real platforms cap far below this (X 25k for long posts,
# Mastodon 500 by default); anything longer is hostile or broken input.
MAX_TEXT_CHARS = 50_000


class NormalizeError(ValueError):
    """A stored payload cannot become a post; the message says what and where."""


@dataclasses.dataclass(slots=True)
class RawRecord:
    """One item read from outside, as it came (a JSON-serialisable dict)."""

    payload: dict[str, Any]
    external_id: str | None = None
    # Where the item was found: 1-based line for line-oriented files, element index otherwise.
    line: int | None = None
    location: str = ""

    def __reduce__(self):
        # Pickled by position (cheap) when records cross to or from a preparing process.
        return (RawRecord, (self.payload, self.external_id, self.line, self.location))


@dataclasses.dataclass(slots=True)
class BadRecord:
    """Input that could not be parsed at all; stored as dead-letter with its reason."""

    reason: str
    raw_text: str
    line: int | None = None
    location: str = ""

    def __reduce__(self):
        return (BadRecord, (self.reason, self.raw_text, self.line, self.location))


@dataclasses.dataclass(slots=True)
class NormalizedPost:
    """A post in our own schema, whatever platform it came from."""

    external_id: str
    text: str
    created_at: datetime  # timezone-aware
    author_external_id: str
    author_handle: str
    author_name: str = ""
    author_followers: int | None = None
    in_reply_to_external_id: str | None = None
    # Written by the brand's own account (outbound) rather than by a customer (inbound).
    is_outbound: bool = False
    kind: str = "post"  # "post" | "reply" | "dm"
    url: str = ""
    lang_hint: str = ""  # the platform's own language tag, when it gives one


class FileFormat(Protocol):
    """A file format that ``veille import`` / ``veille replay`` can read."""

    name: str

    def read(self, stream: BinaryIO) -> Iterator[RawRecord | BadRecord]:
        """Yield every record of a binary stream (already gunzipped), never raising on bad data."""
        ...

    def normalize(self, payload: dict[str, Any]) -> NormalizedPost:
        """Turn one stored payload into a post, raising ``NormalizeError`` with a clear reason."""
        ...
