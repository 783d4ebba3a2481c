"""Bluesky's live transport: a Jetstream subscription (WebSocket, JSON messages).

Jetstream (github.com/bluesky-social/jetstream) re-publishes the network's firehose as JSON:
``GET /subscribe?wantedCollections=app.bsky.feed.post&wantedDids=…&cursor=<time_us>`` and then
one message per event::

    {"did": "did:plc:…", "time_us": 1725911162329308, "kind": "commit",
     "commit": {"rev": "…", "operation": "create", "collection": "app.bsky.feed.post",
                "rkey": "3l3qo2vutsw2b", "record": {"$type": "app.bsky.feed.post", …}, "cid": "…"}}

``kind`` is ``commit``, ``identity`` (a handle change) or ``account``. ``time_us`` (the
service's own clock, microseconds) is the cursor: reconnecting with ``cursor=T`` replays from
``T`` on. Jetstream has no keyword or mention filter, so what a source follows is matched here,
on every post of the network (``PostMatcher``). Only transport and matching live here; the
connector (``connector.py``) turns matches into records and keeps the cursor.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from veille.sources.connector import ConnectorError, RateLimited, TransientError

DEFAULT_JETSTREAM_URL = "wss://jetstream2.us-east.bsky.network/subscribe"
POST_COLLECTION = "app.bsky.feed.post"
# Jetstream instances have their own clocks; its documentation advises resuming a few seconds
# before the last cursor (the duplicates this replays are skipped by URI).
REWIND_US = 5_000_000
# A quiet subscription still wakes up this often to notice that it was asked to stop.
RECV_TIMEOUT_S = 0.5
# Posts are at most a few kilobytes; a bigger message is broken or hostile.
MAX_MESSAGE_BYTES = 1 << 20


class Malformed(ValueError):
    """A message that does not follow Jetstream's schema; the text says what is wrong."""


@dataclasses.dataclass(slots=True)
class Event:
    did: str
    time_us: int
    kind: str  # commit | identity | account | anything newer (skipped, cursor still advances)
    operation: str = ""
    collection: str = ""
    rkey: str = ""
    record: dict[str, Any] | None = None
    cid: str = ""
    handle: str = ""  # identity events

    @property
    def uri(self) -> str:
        return f"at://{self.did}/{self.collection}/{self.rkey}"


def parse_message(text: str | bytes) -> Event:
    """One Jetstream message → ``Event``; raises ``Malformed`` with the reason."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise Malformed(f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Malformed(f"a JSON {type(data).__name__}, expected an object")
    did, time_us, kind = data.get("did"), data.get("time_us"), data.get("kind")
    if not isinstance(did, str) or not did.startswith("did:"):
        raise Malformed(f"no 'did' (got {did!r})")
    if not isinstance(time_us, int) or isinstance(time_us, bool) or time_us <= 0:
        raise Malformed(f"no integer 'time_us' (got {time_us!r})")
    if not isinstance(kind, str):
        raise Malformed(f"no 'kind' (got {kind!r})")
    event = Event(did=did, time_us=time_us, kind=kind)
    if kind == "commit":
        commit = data.get("commit")
        if not isinstance(commit, dict):
            raise Malformed("commit event without a 'commit' object")
        event.operation = str(commit.get("operation") or "")
        event.collection = str(commit.get("collection") or "")
        event.rkey = str(commit.get("rkey") or "")
        if event.operation not in ("create", "update", "delete") or not event.collection or not event.rkey:
            raise Malformed("commit without operation, collection or rkey")
        record = commit.get("record")
        if event.operation != "delete":
            if not isinstance(record, dict):
                raise Malformed(f"{event.operation} of {event.uri} without a 'record' object")
            event.record = record
            event.cid = str(commit.get("cid") or "")
    elif kind == "identity":
        identity = data.get("identity")
        if isinstance(identity, dict) and isinstance(identity.get("handle"), str):
            event.handle = identity["handle"]
    return event


def subscribe_url(base_url: str, *, collections: Iterable[str] = (POST_COLLECTION,),
                  dids: Iterable[str] = (), cursor_us: int | None = None) -> str:
    """``base_url`` (``wss://host/subscribe``, possibly with its own query) plus our filters."""
    parts = urlsplit(base_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("wantedCollections", "wantedDids", "cursor")]
    query += [("wantedCollections", c) for c in collections]
    query += [("wantedDids", d) for d in dids]
    if cursor_us is not None:
        query.append(("cursor", str(max(cursor_us, 0))))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/subscribe", urlencode(query), ""))


def open_subscription(url: str, *, open_timeout: float = 10.0) -> ClientConnection:
    """Connect; failures become connector errors (429 → rate limited, others → transient)."""
    try:
        # No proxy lookup (loopback tests, and the firehose should not go through a proxy by
        # surprise); pings every 20 s detect a dead connection the server never closed.
        return connect(url, open_timeout=open_timeout, max_size=MAX_MESSAGE_BYTES, proxy=None,
                       user_agent_header="veille-connector/1 (bluesky jetstream)")
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status == 429:
            retry = exc.response.headers.get("Retry-After", "")
            raise RateLimited("Jetstream: too many connections (HTTP 429)",
                              float(retry) if retry.isdigit() else 60.0) from exc
        if status >= 500:
            raise TransientError(f"Jetstream: server error (HTTP {status})") from exc
        raise ConnectorError(f"Jetstream refused the subscription (HTTP {status}): check jetstream_url") from exc
    except InvalidURI as exc:
        raise ConnectorError(f"Jetstream URL is not a WebSocket URL: {url}") from exc
    except (InvalidHandshake, OSError, TimeoutError) as exc:
        raise TransientError(f"Jetstream: cannot connect ({exc})") from exc


def messages(ws: ClientConnection, stop: Any) -> Iterator[str | bytes]:
    """Messages until ``stop`` is set (then returns); a lost connection raises TransientError."""
    while not (stop is not None and stop.is_set()):
        try:
            yield ws.recv(timeout=RECV_TIMEOUT_S)
        except TimeoutError:
            continue
        except ConnectionClosed as exc:
            raise TransientError(f"Jetstream connection lost ({exc})") from exc


# ----------------------------------------------------------------- matching


def _word(term: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){re.escape(term)}(?![\w])", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, slots=True)
class SearchTerms:
    """``searchPosts``' query syntax, as far as it can be judged on one record: every word or
    "quoted phrase" present (case-insensitive, whole words), ``#tag`` as a hashtag, ``lang:xx``.
    Other operators (``from:``, ``since:``, ``domain:``…) need the AppView: ``parse`` returns
    None and the connector keeps polling that entry instead."""

    words: tuple[re.Pattern[str], ...]
    tags: tuple[str, ...]
    langs: tuple[str, ...]

    @classmethod
    def parse(cls, query: str) -> SearchTerms | None:
        try:
            tokens = shlex.split(query)
        except ValueError:
            tokens = query.split()
        words: list[re.Pattern[str]] = []
        tags: list[str] = []
        langs: list[str] = []
        for token in tokens:
            if token.startswith("#") and len(token) > 1:
                tags.append(token[1:].lower())
            elif token.lower().startswith("lang:"):
                langs.append(token[5:].lower())
            elif re.match(r"^[a-z]+:", token, re.IGNORECASE) and not token.lower().startswith(("http:", "https:")):
                return None
            elif token:
                words.append(_word(token))
        if not (words or tags):
            return None
        return cls(tuple(words), tuple(tags), tuple(langs))

    def matches(self, text: str, tags: set[str], langs: set[str]) -> bool:
        if self.langs and not langs & set(self.langs):
            return False
        return all(tag in tags or _word("#" + tag).search(text) for tag in self.tags) and all(
            pattern.search(text) for pattern in self.words)


def _facet_values(record: dict[str, Any], kind: str, field: str) -> set[str]:
    values: set[str] = set()
    facets = record.get("facets")
    for facet in facets if isinstance(facets, list) else []:
        features = facet.get("features") if isinstance(facet, dict) else None
        for feature in features if isinstance(features, list) else []:
            if isinstance(feature, dict) and feature.get("$type") == f"app.bsky.richtext.facet#{kind}":
                value = feature.get(field)
                if isinstance(value, str):
                    values.add(value)
    return values


def _quoted_uri(record: dict[str, Any]) -> str:
    embed = record.get("embed")
    if not isinstance(embed, dict):
        return ""
    inner = embed.get("record")
    if isinstance(inner, dict) and isinstance(inner.get("record"), dict):
        inner = inner["record"]  # app.bsky.embed.recordWithMedia
    uri = inner.get("uri") if isinstance(inner, dict) else None
    return uri if isinstance(uri, str) else ""


class PostMatcher:
    """Which followed entry, if any, a new post matches: the local stand-in for the
    notifications (mention / reply / quote) and search endpoints that ``poll`` uses.

    ``follows`` are ``(key, kind, arg, reasons)`` as the connector parses them; entries that
    cannot be judged locally (lists, searches with operators) are in ``unmatched`` and are
    polled by the connector while it streams.
    """

    def __init__(self, follows: Iterable[tuple[str, str, str, tuple[str, ...]]], own_did: str, own_handle: str) -> None:
        self.own_did = own_did
        self.own_prefix = f"at://{own_did}/" if own_did else "\0"
        self.mention = _word("@" + own_handle) if own_handle else None
        self.entries: list[tuple[str, str, Any]] = []
        self.unmatched: list[str] = []
        for key, kind, arg, reasons in follows:
            if kind == "notifications":
                self.entries.append((key, "notifications", frozenset(reasons)))
            elif kind == "search" and (terms := SearchTerms.parse(arg)) is not None:
                self.entries.append((key, "search", terms))
            else:
                self.unmatched.append(key)

    def _reasons(self, did: str, record: dict[str, Any], text: str) -> set[str]:
        if did == self.own_did:
            return set()  # notifications never include the account's own posts
        reasons: set[str] = set()
        if self.own_did in _facet_values(record, "mention", "did") or (self.mention and self.mention.search(text)):
            reasons.add("mention")
        reply = record.get("reply")
        if isinstance(reply, dict):
            for end in ("parent", "root"):
                ref = reply.get(end)
                if isinstance(ref, dict) and str(ref.get("uri") or "").startswith(self.own_prefix):
                    reasons.add("reply")
        if _quoted_uri(record).startswith(self.own_prefix):
            reasons.add("quote")
        return reasons

    def match(self, did: str, record: dict[str, Any]) -> str | None:
        text = record.get("text") if isinstance(record.get("text"), str) else ""
        reasons: set[str] | None = None
        tags: set[str] | None = None
        langs: set[str] = set()
        for key, kind, arg in self.entries:
            if kind == "notifications":
                if reasons is None:
                    reasons = self._reasons(did, record, text)
                if reasons & arg:
                    return key
            else:
                if tags is None:
                    raw_tags = record.get("tags")
                    tags = {t.lower() for t in _facet_values(record, "tag", "tag")} | {
                        t.lower() for t in (raw_tags if isinstance(raw_tags, list) else []) if isinstance(t, str)}
                    raw_langs = record.get("langs")
                    langs = {str(lang).lower().split("-")[0] for lang in (raw_langs if isinstance(raw_langs, list) else [])}
                if arg.matches(text, tags, langs):
                    return key
        return None
