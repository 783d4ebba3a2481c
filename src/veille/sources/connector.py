"""The contract every live platform connector (``sources/<platform>/``) implements.

A connector is constructed from a source's settings, its decrypted credentials and the base URL
of the platform API (overridable so tests talk to a local server that speaks the documented
API). The ingest side persists whatever ``poll`` returns *before* it stores the new cursor, so a
crash between the two re-reads a page (deduplicated downstream) and never skips one.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Protocol

from veille.sources.base import NormalizedPost, RawRecord


class ConnectorError(Exception):
    """Base of the errors a connector raises; the ingest side decides what to do with each."""


class NeedsReconnection(ConnectorError):
    """The token expired or was revoked (HTTP 401/403 on auth): the source must be reconnected."""


class RateLimited(ConnectorError):
    """The platform said slow down (HTTP 429 or quota headers)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TransientError(ConnectorError):
    """A 5xx, a timeout, a dropped connection or a malformed body: retry later with back-off."""


class Unsupported(ConnectorError):
    """The platform, or this source's access tier, does not allow the action (shown as unavailable)."""


@dataclasses.dataclass(slots=True)
class PollResult:
    records: list[RawRecord]
    cursor: dict[str, Any]  # JSON-serialisable; passed back to the next poll
    # True when the platform has more pages right now: poll again without waiting.
    more: bool = False


@dataclasses.dataclass(slots=True)
class OutboundAction:
    """One write to a platform. ``idempotency_key`` is stable across retries of the same action."""

    kind: str  # "reply" | "dm" | "post" | "like" | "repost" | "hide" | "unhide" | "delete" | ...
    idempotency_key: str
    text: str = ""
    target_external_id: str | None = None  # the post replied to / liked / hidden
    recipient_external_id: str | None = None  # for DMs
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True)
class ActionResult:
    external_id: str | None  # the platform's id of what was created, when something was
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


class Connector(Protocol):
    platform: ClassVar[str]
    # What this platform can do, e.g. {"read.mentions", "read.search", "act.reply", "act.like"}.
    capabilities: ClassVar[frozenset[str]]

    def poll(self, cursor: dict[str, Any] | None) -> PollResult: ...

    def act(self, action: OutboundAction) -> ActionResult: ...

    def normalize(self, payload: dict[str, Any]) -> NormalizedPost: ...
