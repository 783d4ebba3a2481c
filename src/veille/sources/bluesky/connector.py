"""Bluesky connector: polling over XRPC and outbound records.

Cursor (JSON, what ``poll`` returns and takes back)::

    {"v": 1,
     "streams": {"mentions": {"seen_until": "2024-05-01T10:00:00.123000+00:00",
                              "recent": {"at://did:plc:x/app.bsky.feed.post/3k...": "2024-..."}},
                 "search:alpina": {"seen_until": "...", "recent": {...},
                                   "walk": {"cursor": "<api cursor>", "stop_at": "...", "top": "..."}}},
     "resume_at": "search:alpina"}             # only after a partial poll, as on Mastodon

Bluesky lists are newest first and page *backwards* with an opaque ``cursor``; there is no
"newer than" parameter. So each stream remembers ``seen_until``, the newest ``indexedAt`` it has
returned, and the URIs it returned in the last ``overlap`` (2 minutes) before it. A poll reads
from the newest item down and stops at the first item indexed before ``seen_until - overlap``;
URIs already in ``recent`` are skipped, so items indexed a little out of order are neither lost
nor returned twice (the overlap is scanned only as far as the page that reaches ``seen_until``
goes, so a busy stream does not re-read two minutes of pages on every poll). When more than one page is new, the walk down is spread over several polls
(``walk`` holds the API cursor, ``more=True``) and ``seen_until`` moves only when the walk has
reached the old position: a crash or restart mid-walk resumes the walk. A first poll without
cursor reads the newest page only.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from veille.sources.base import BadRecord, NormalizedPost, RawRecord
from veille.sources.bluesky.client import (
    DEFAULT_SERVICE,
    BlueskyClient,
    NotFound,
    XrpcError,
)
from veille.sources.bluesky.jetstream import (
    DEFAULT_JETSTREAM_URL,
    POST_COLLECTION,
    REWIND_US,
    Event,
    Malformed,
    PostMatcher,
    messages,
    open_subscription,
    parse_message,
    subscribe_url,
)
from veille.sources.bluesky.normalize import (
    POST_TYPE,
    normalize_post,
    parse_datetime,
    post_uri,
    post_view_of,
    sort_time,
    web_url,
)
from veille.sources.connector import (
    ActionResult,
    ConnectorError,
    NeedsReconnection,
    OutboundAction,
    PollResult,
    TransientError,
    Unsupported,
)

PAGE_SIZE = 50
CURSOR_VERSION = 1
OVERLAP = timedelta(minutes=2)
MAX_RECENT = 5_000
LIKE_TYPE = "app.bsky.feed.like"
REPOST_TYPE = "app.bsky.feed.repost"
POST_REASONS = ("mention", "reply", "quote")
# While streaming, entries Jetstream cannot judge (lists, searches with operators) are polled.
LIST_POLL_INTERVAL_S = 60.0
MAX_BAD_MESSAGES_PER_CONNECTION = 100
MAX_RECENT_STREAMED = 1_000
# The poll's overlap (2 minutes) plus the stream margin, with room to spare.
RECENT_WINDOW_US = 180_000_000
MAX_AUTHORS = 10_000
# A streamed post moves the REST position to this much before it (clocks of Jetstream and the
# AppView differ a little; the poll's own overlap adds two minutes more).
STREAM_MARGIN = timedelta(seconds=30)


@dataclasses.dataclass(frozen=True, slots=True)
class Follow:
    key: str
    kind: str  # notifications | search | list
    arg: str = ""
    reasons: tuple[str, ...] = ()

    @property
    def nsid(self) -> str:
        return {
            "notifications": "app.bsky.notification.listNotifications",
            "search": "app.bsky.feed.searchPosts",
            "list": "app.bsky.feed.getListFeed",
        }[self.kind]

    @property
    def items_field(self) -> str:
        return {"notifications": "notifications", "search": "posts", "list": "feed"}[self.kind]

    def params(self) -> dict[str, Any]:
        if self.kind == "notifications":
            return {"reasons": list(self.reasons)}
        if self.kind == "search":
            return {"q": self.arg, "sort": "latest"}
        return {"list": self.arg}


def parse_follow(entry: str) -> Follow:
    text = str(entry).strip()
    name, sep, arg = text.partition(":")
    name, arg = name.strip().lower(), arg.strip()
    if not sep:
        if name in ("mentions", "notifications"):
            return Follow(text, "notifications", reasons=POST_REASONS)
        if name == "replies":
            return Follow(text, "notifications", reasons=("reply",))
        if name == "quotes":
            return Follow(text, "notifications", reasons=("quote",))
        if text.startswith("#") and len(text) > 1:
            return Follow(text, "search", text)
    elif arg:
        if name == "search":
            return Follow(text, "search", arg)
        if name in ("hashtag", "tag"):
            return Follow(text, "search", "#" + arg.lstrip("#"))
        if name == "list" and arg.startswith("at://") and "/app.bsky.graph.list/" in arg:
            return Follow(text, "list", arg)
    raise ValueError(
        f"unknown Bluesky follow entry {entry!r}: use mentions, replies, quotes, search:<words>, "
        "hashtag:<tag> or list:at://<did>/app.bsky.graph.list/<rkey>"
    )


# ----------------------------------------------------------------- record keys

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID_EPOCH_US = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
_TID_SPAN_US = 365 * 24 * 3600 * 1_000_000


def record_key(collection: str, idempotency_key: str) -> str:
    """A record key derived from the idempotency key, so a retried write targets the same record.

    It has TID syntax (13 base32-sortable characters, the key type ``app.bsky.feed.*`` lexicons
    declare): 53 bits of "microseconds" (a point in 2023 picked by the hash, not the real time:
    nothing orders posts by their key) and 10 bits of "clock id", both from SHA-256.
    """
    digest = int.from_bytes(hashlib.sha256(f"{collection}\n{idempotency_key}".encode()).digest(), "big")
    micros = _TID_EPOCH_US + digest % _TID_SPAN_US
    clock_id = (digest >> 128) & 0x3FF
    value = (micros << 10) | clock_id
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


def split_at_uri(uri: str) -> tuple[str, str, str]:
    parts = uri[len("at://"):].split("/") if uri.startswith("at://") else []
    if len(parts) != 3 or not all(parts):
        raise ConnectorError(f"not a record at:// URI: {uri!r}")
    return parts[0], parts[1], parts[2]


# ----------------------------------------------------------------- rich text

_URL = re.compile(r"https?://[^\s<>\"']+")
_TAG = re.compile(r"(?<![\w#&])#([^\s#.,;:!?()\[\]{}<>\"'`]{1,64})")
_MENTION = re.compile(r"(?<![\w@])@([a-zA-Z0-9][a-zA-Z0-9-]*(?:\.[a-zA-Z0-9-]+)+)")


def _byte_span(text: str, start: int, end: int) -> dict[str, int]:
    byte_start = len(text[:start].encode("utf-8"))
    return {"byteStart": byte_start, "byteEnd": byte_start + len(text[start:end].encode("utf-8"))}


def build_facets(text: str, resolve_handle: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """Links, hashtags and @mentions as ``app.bsky.richtext.facet`` (UTF-8 byte offsets), so
    they are clickable. A mention whose handle does not resolve stays plain text."""
    facets: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []
    for match in _URL.finditer(text):
        url = match.group().rstrip(".,;:!?)]}")
        end = match.start() + len(url)
        taken.append((match.start(), end))
        facets.append({"index": _byte_span(text, match.start(), end),
                       "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}]})

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for match in _TAG.finditer(text):
        tag = match.group(1)
        if tag.isdigit() or not free(match.start(), match.end()):
            continue
        facets.append({"index": _byte_span(text, match.start(), match.end()),
                       "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}]})
    for match in _MENTION.finditer(text):
        if not free(match.start(), match.end()):
            continue
        did = resolve_handle(match.group(1))
        if did:
            facets.append({"index": _byte_span(text, match.start(), match.end()),
                           "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}]})
    facets.sort(key=lambda f: f["index"]["byteStart"])
    return facets


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class BlueskyConnector:
    platform: ClassVar[str] = "bluesky"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {
            "read.mentions",
            "read.replies",
            "read.search",
            "read.hashtag",
            "read.lists",
            "read.stream",
            "act.reply",
            "act.post",
            "act.like",
            "act.unlike",
            "act.repost",
            "act.unrepost",
            "act.delete",
        }
    )

    def __init__(
        self,
        settings: dict[str, Any],
        credentials: dict[str, Any],
        *,
        base_url: str | None = None,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = dict(settings)
        self.own_handle = str(settings.get("handle") or "").lstrip("@")
        self.own_did = str(settings.get("did") or "")
        follows = settings.get("follow") or ["mentions"]
        if isinstance(follows, str):
            follows = [follows]
        self.follows = [parse_follow(entry) for entry in follows]
        if len({f.key for f in self.follows}) != len(self.follows):
            raise ValueError("Bluesky follow entries must be unique")
        identifier = str(credentials.get("identifier") or self.own_handle)
        password = str(credentials.get("app_password") or credentials.get("password") or "")
        if not identifier or not password:
            raise NeedsReconnection("Bluesky source has no identifier or app password: connect the account")
        service = base_url or settings.get("service_url") or DEFAULT_SERVICE
        self.client = BlueskyClient(
            service, identifier, password, http=http, follow_pds=base_url is None and "service_url" not in settings
        )
        self.clock = clock
        self.sleep = sleep
        self.page_size = int(settings.get("page_size") or PAGE_SIZE)
        self.overlap = timedelta(seconds=float(settings.get("overlap_s") or OVERLAP.total_seconds()))
        self.jetstream_url = str(settings.get("jetstream_url") or DEFAULT_JETSTREAM_URL)
        # The cursor covering everything ``stream`` has yielded so far.
        self.cursor: dict[str, Any] = {"v": CURSOR_VERSION, "streams": {}}
        # did → author object (handle, display name, followers) for posts read from Jetstream,
        # which carries DIDs only.
        self._authors: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> BlueskyConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def normalize(self, payload: dict[str, Any]) -> NormalizedPost:
        return normalize_post(payload, self.own_handle, self.own_did)

    def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        """One page of every followed stream, oldest first; on a failure after other streams
        returned items, those items come back with ``resume_at`` and ``more=True`` (see the
        Mastodon connector: the error is raised by the next poll, nothing read is lost)."""
        streams: dict[str, Any] = {}
        resume_at = None
        if isinstance(cursor, dict) and isinstance(cursor.get("streams"), dict):
            for follow in self.follows:
                state = cursor["streams"].get(follow.key)
                if isinstance(state, dict):
                    streams[follow.key] = copy.deepcopy(state)
            resume_at = cursor.get("resume_at")
        order = list(self.follows)
        for index, follow in enumerate(order):
            if follow.key == resume_at:
                order = order[index:] + order[:index]
                break
        records: list[RawRecord] = []
        more = False
        for follow in order:
            try:
                found, state, has_more = self._poll_follow(follow, streams.get(follow.key) or {})
            except ConnectorError:
                if not records:
                    raise
                return PollResult(
                    records=records,
                    cursor={"v": CURSOR_VERSION, "streams": streams, "resume_at": follow.key},
                    more=True,
                )
            records.extend(found)
            streams[follow.key] = state
            more = more or has_more
        return PollResult(records=records, cursor={"v": CURSOR_VERSION, "streams": streams}, more=more)

    def _poll_follow(
        self, follow: Follow, state: dict[str, Any]
    ) -> tuple[list[RawRecord], dict[str, Any], bool]:
        seen_until = _parse(state.get("seen_until"))
        recent: dict[str, str] = dict(state.get("recent") or {})
        walk = state.get("walk") if isinstance(state.get("walk"), dict) else None
        first_sync = seen_until is None and walk is None
        if walk:
            api_cursor = walk.get("cursor")
            stop_at = _parse(walk.get("stop_at"))
            top = _parse(walk.get("top"))
        else:
            api_cursor, stop_at, top = None, seen_until, None
        floor = stop_at - self.overlap if stop_at else None

        params = {**follow.params(), "limit": self.page_size}
        if api_cursor:
            params["cursor"] = api_cursor
        if follow.kind == "search" and floor:
            params["since"] = _iso(floor)
        body = self.client.call("GET", follow.nsid, params=params, what=f"{follow.nsid} ({follow.key})")
        items = body.get(follow.items_field) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise TransientError(f"Bluesky {follow.nsid}: answer has no {follow.items_field!r} list")
        next_cursor = body.get("cursor") if isinstance(body.get("cursor"), str) else None

        new: list[Any] = []
        reached = False
        for item in items:
            when = sort_time(item)
            if when is not None and (top is None or when > top):
                top = when
            if floor is not None and when is not None and when < floor:
                reached = True
                break
            if follow.kind == "notifications" and isinstance(item, dict):
                reason = item.get("reason")
                if reason is not None and reason not in follow.reasons:
                    continue
            uri = post_uri(item)
            if uri and uri in recent:
                continue
            new.append(item)
            if uri and when is not None:
                recent[uri] = _iso(when)
        if first_sync or not items or not next_cursor:
            reached = True
        elif stop_at is not None and not reached:
            # The page went down into what was already seen: the rest of the overlap is not
            # worth more pages (late-indexed items are looked for within this page only).
            last = sort_time(items[-1])
            reached = last is not None and last <= stop_at

        records = [
            RawRecord(
                payload=item if isinstance(item, dict) else {"unexpected_item": item},
                external_id=post_uri(item),
                line=index + 1,
                location=follow.key,
            )
            for index, item in enumerate(reversed(new))
        ]
        if reached:
            newest = max((t for t in (seen_until, top) if t is not None), default=None)
            keep_from = newest - self.overlap if newest else None
            kept = {u: t for u, t in recent.items() if keep_from is None or (_parse(t) or keep_from) >= keep_from}
            if len(kept) > MAX_RECENT:
                kept = dict(sorted(kept.items(), key=lambda pair: pair[1])[-MAX_RECENT:])
            new_state: dict[str, Any] = {"seen_until": _iso(newest) if newest else None, "recent": kept}
            if newest is None:
                if first_sync and not items:
                    # The stream is empty: whatever appears from now on is new, however much.
                    new_state = {"seen_until": _iso(datetime(1970, 1, 1, tzinfo=UTC)), "recent": {}}
                else:
                    new_state = {"recent": kept}  # nothing dated: the next poll starts afresh
            # A walk over several polls took time: look at the top again at once.
            return records, new_state, walk is not None
        new_state = {
            "seen_until": state.get("seen_until"),
            "recent": recent,
            "walk": {
                "cursor": next_cursor,
                "stop_at": _iso(stop_at) if stop_at else None,
                "top": _iso(top) if top else None,
            },
        }
        return records, new_state, True

    # ---------------------------------------------------------------- streaming

    def stream(
        self,
        cursor: dict[str, Any] | None = None,
        *,
        stop: Any = None,
        on_state: Callable[[str, BaseException | None], None] | None = None,
    ) -> Iterator[RawRecord | BadRecord]:
        """Live records from Jetstream until ``stop.is_set()`` (or the generator is closed).

        (1) Catch up by REST with ``poll`` from the cursor until no page is left (this also
        covers what was posted while the source was polled, or before its first stream);
        (2) subscribe to Jetstream from the stored ``time_us`` minus ``REWIND_US`` (or from
        just before the catch-up started) so nothing posted during the catch-up is missed,
        match every new post locally against the followed entries and yield the matches,
        skipping URIs already yielded; (3) re-poll the entries Jetstream cannot judge (lists,
        searches with operators) every ``list_poll_interval_s``.

        A lost connection raises ``TransientError``: call ``stream(connector.cursor)`` again
        (after a back-off) and (1)-(2) resume without gap. After each record ``self.cursor``
        covers it and everything before it. Malformed messages are yielded as ``BadRecord``
        (kept with their reason in the dead-letter list) and the stream goes on.
        """
        self.cursor = self._load_stream_cursor(cursor)
        live = self.cursor["jetstream"]
        started_us = int(time.time() * 1_000_000)
        # (1) REST catch-up.
        while not (stop is not None and stop.is_set()):
            result = self.poll({"v": CURSOR_VERSION, "streams": self.cursor["streams"]})
            for record in result.records:
                self._remember_author(record.payload)
                if record.external_id:
                    if record.external_id in live["recent"]:
                        continue  # streamed before the restart, within the poll's overlap
                    self._remember_uri(record.external_id, started_us)
                yield record
            self.cursor["streams"] = copy.deepcopy(result.cursor["streams"])
            if not result.more:
                break
        if stop is not None and stop.is_set():
            return
        # (2) Jetstream from the cursor.
        own_did = self.own_did or self.client.did
        matcher = PostMatcher(((f.key, f.kind, f.arg, f.reasons) for f in self.follows), own_did, self.own_handle)
        from_us = (live.get("time_us") or started_us) - REWIND_US
        with open_subscription(subscribe_url(self.jetstream_url, cursor_us=from_us)) as ws:
            if on_state is not None:
                on_state("connected", None)
            interval = float(self.settings.get("list_poll_interval_s") or LIST_POLL_INTERVAL_S)
            last_poll = self.clock()
            bad = 0
            for message in messages(ws, stop):
                try:
                    event = parse_message(message)
                except Malformed as error:
                    bad += 1
                    # Kept (up to a bound per connection, so a broken relay cannot flood the
                    # dead-letter list); the stream itself goes on.
                    if bad <= MAX_BAD_MESSAGES_PER_CONNECTION:
                        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                        yield BadRecord(f"Jetstream message skipped: {error}", text[:10_000], location="jetstream")
                    continue
                if event.kind == "identity" and event.handle:
                    self._authors.setdefault(event.did, {"did": event.did})["handle"] = event.handle
                record = self._record_from_event(event, matcher)
                live["time_us"] = max(int(live.get("time_us") or 0), event.time_us)
                if record is not None:
                    yield record
                if matcher.unmatched and self.clock() - last_poll >= interval:
                    last_poll = self.clock()
                    yield from self._poll_unmatched(matcher.unmatched)

    def _load_stream_cursor(self, cursor: dict[str, Any] | None) -> dict[str, Any]:
        """The poll cursor (so polling and streaming hand over to each other) plus
        ``jetstream``: ``time_us`` reached and the URIs yielded within the rewind window."""
        streams: dict[str, Any] = {}
        live: dict[str, Any] = {}
        if isinstance(cursor, dict):
            if isinstance(cursor.get("streams"), dict):
                streams = {f.key: copy.deepcopy(cursor["streams"][f.key]) for f in self.follows
                           if isinstance(cursor["streams"].get(f.key), dict)}
            saved = cursor.get("jetstream")
            if isinstance(saved, dict) and isinstance(saved.get("time_us"), int):
                recent = saved.get("recent") if isinstance(saved.get("recent"), dict) else {}
                live = {"time_us": saved["time_us"],
                        "recent": {str(k): int(v) for k, v in recent.items() if isinstance(v, int)}}
        live.setdefault("recent", {})
        return {"v": CURSOR_VERSION, "streams": streams, "jetstream": live}

    def _remember_uri(self, uri: str, time_us: int) -> None:
        recent: dict[str, int] = self.cursor["jetstream"]["recent"]
        recent[uri] = time_us
        # Only what Jetstream's rewind or the REST catch-up's overlap can hand out again is
        # worth remembering.
        floor = max(recent.values()) - RECENT_WINDOW_US
        if len(recent) > MAX_RECENT_STREAMED or min(recent.values()) < floor:
            kept = sorted(((t, u) for u, t in recent.items() if t >= floor), reverse=True)[:MAX_RECENT_STREAMED]
            self.cursor["jetstream"]["recent"] = {u: t for t, u in kept}

    def _remember_author(self, payload: Any) -> None:
        try:
            author = post_view_of(payload).get("author")
        except Exception:  # noqa: BLE001 - a malformed item is normalize's business, not ours
            return
        if isinstance(author, dict) and author.get("did") and author.get("handle"):
            self._authors[str(author["did"])] = dict(author)
            if len(self._authors) > MAX_AUTHORS:
                self._authors.pop(next(iter(self._authors)))

    def _author(self, did: str) -> dict[str, Any]:
        """The author object normalize needs (handle, name, followers). Jetstream only gives
        the DID: use what was seen, else ask the AppView once; when that fails the DID stands
        in for the handle (profile links work with either)."""
        known = self._authors.get(did)
        if known and known.get("handle"):
            return known
        if did == (self.own_did or self.client.did) and self.own_handle:
            return {"did": did, "handle": self.own_handle}
        try:
            profile = self.client.call("GET", "app.bsky.actor.getProfile", params={"actor": did},
                                       what=f"profile {did}")
        except NeedsReconnection:
            raise
        except ConnectorError:
            profile = None
        author: dict[str, Any] = {"did": did, "handle": did}
        if isinstance(profile, dict) and isinstance(profile.get("handle"), str) and profile["handle"]:
            author = {k: profile[k] for k in ("did", "handle", "displayName", "followersCount") if k in profile}
            author["did"] = did
            self._remember_author({"author": author, "uri": ""})
        return author

    def _record_from_event(self, event: Event, matcher: PostMatcher) -> RawRecord | None:
        if event.kind != "commit" or event.operation != "create" or event.collection != POST_COLLECTION:
            return None  # edits and deletions of posts, likes, follows…: not new posts
        if event.record is None:
            return None
        key = matcher.match(event.did, event.record)
        if key is None:
            return None
        uri = event.uri
        if uri in self.cursor["jetstream"]["recent"]:
            return None  # replayed by the rewind, or already returned by the REST catch-up
        self._remember_uri(uri, event.time_us)
        self.cursor["jetstream"]["time_us"] = max(int(self.cursor["jetstream"].get("time_us") or 0), event.time_us)
        seen = datetime.fromtimestamp(event.time_us / 1_000_000, UTC)
        # The REST catch-up after a restart need not re-read what the stream already saw: move
        # the poll position of the locally matched entries up to (a margin before) this post.
        # Never past the post's own date: the AppView's clock is not Jetstream's.
        created = parse_datetime(event.record.get("createdAt"))
        moved = min(seen, created) - STREAM_MARGIN if created else seen - STREAM_MARGIN
        for entry_key, _, _ in matcher.entries:
            state = self.cursor["streams"].setdefault(entry_key, {})
            if not state.get("walk"):
                current = _parse(state.get("seen_until"))
                if current is None or moved > current:
                    state["seen_until"] = _iso(moved)
                    state.setdefault("recent", {})
        payload = {"uri": uri, "cid": event.cid, "author": self._author(event.did),
                   "record": event.record, "indexedAt": _iso(seen)}
        return RawRecord(payload=payload, external_id=uri, location=key)

    def _poll_unmatched(self, keys: list[str]) -> Iterator[RawRecord]:
        for follow in self.follows:
            if follow.key not in keys:
                continue
            more = True
            while more:
                found, state, more = self._poll_follow(follow, self.cursor["streams"].get(follow.key) or {})
                for record in found:
                    if record.external_id and record.external_id in self.cursor["jetstream"]["recent"]:
                        continue
                    self._remember_author(record.payload)
                    yield record
                self.cursor["streams"][follow.key] = state

    # ----------------------------------------------------------------- actions

    def _resolve_handle(self, handle: str) -> str | None:
        try:
            body = self.client.call(
                "GET", "com.atproto.identity.resolveHandle", params={"handle": handle},
                what=f"resolve @{handle}",
            )
        except (NotFound, XrpcError):
            return None
        did = body.get("did") if isinstance(body, dict) else None
        return did if isinstance(did, str) else None

    def _get_post(self, uri: str) -> dict[str, Any]:
        split_at_uri(uri)
        body = self.client.call("GET", "app.bsky.feed.getPosts", params={"uris": [uri]}, what=f"post {uri}")
        posts = body.get("posts") if isinstance(body, dict) else None
        if not isinstance(posts, list):
            raise TransientError("Bluesky app.bsky.feed.getPosts: answer has no posts list")
        for post in posts:
            if isinstance(post, dict) and post.get("uri") == uri and post.get("cid"):
                return post
        raise NotFound(f"Bluesky: post {uri} not found (deleted, or not visible to this account)")

    def _get_record(self, collection: str, rkey: str) -> dict[str, Any] | None:
        try:
            body = self.client.call(
                "GET",
                "com.atproto.repo.getRecord",
                params={"repo": self.client.did, "collection": collection, "rkey": rkey},
                what=f"record {collection}/{rkey}",
            )
        except NotFound:
            return None
        if isinstance(body, dict) and body.get("uri"):
            return body
        return None

    def _create_once(self, action: OutboundAction, collection: str, record: dict[str, Any]) -> ActionResult:
        """Create the record under a key derived from the idempotency key. A retry finds the
        record already there and returns it; a create that fails in a way that may have gone
        through (dropped connection, 5xx, a PDS answering a duplicate key with an error) is
        checked by reading the record back before the error is raised."""
        rkey = record_key(collection, action.idempotency_key)
        existing = self._get_record(collection, rkey)
        if existing is not None:
            return self._result(existing, rkey, already=True)
        try:
            created = self.client.call(
                "POST",
                "com.atproto.repo.createRecord",
                body={"repo": self.client.did, "collection": collection, "rkey": rkey, "record": record},
                what=f"{action.kind} (com.atproto.repo.createRecord)",
            )
        except (TransientError, XrpcError) as exc:
            try:
                existing = self._get_record(collection, rkey)
            except ConnectorError:
                existing = None
            if existing is None:
                raise exc from None
            return self._result(existing, rkey, already=True)
        if not isinstance(created, dict) or not created.get("uri"):
            raise TransientError("Bluesky createRecord: answer has no uri")
        return self._result(created, rkey, already=False)

    def _result(self, record: dict[str, Any], rkey: str, *, already: bool) -> ActionResult:
        uri = str(record["uri"])
        handle = self.own_handle or str(self.client.session.get("handle") or "")
        return ActionResult(
            external_id=uri,
            detail={"uri": uri, "cid": record.get("cid"), "rkey": rkey,
                    "url": web_url(uri, handle), "already_existed": already},
        )

    def _post_record(self, text: str, extra: dict[str, Any]) -> dict[str, Any]:
        if not text.strip():
            raise ConnectorError("Bluesky post: empty text")
        record: dict[str, Any] = {"$type": POST_TYPE, "text": text, "createdAt": _now_iso()}
        langs = extra.get("langs") or ([extra["language"]] if extra.get("language") else None)
        if langs:
            record["langs"] = list(langs)[:3]
        facets = build_facets(text, self._resolve_handle)
        if facets:
            record["facets"] = facets
        return record

    def act(self, action: OutboundAction) -> ActionResult:
        kind = action.kind.lower()
        kind = {"favourite": "like", "favorite": "like", "boost": "repost", "reblog": "repost"}.get(kind, kind)
        extra = action.extra or {}
        if kind == "post":
            return self._create_once(action, POST_TYPE, self._post_record(action.text, extra))
        if kind == "reply":
            if not action.target_external_id:
                raise ConnectorError("Bluesky reply: no target post URI")
            parent = self._get_post(action.target_external_id)
            parent_ref = {"uri": parent["uri"], "cid": parent["cid"]}
            root_ref = parent_ref
            parent_reply = (parent.get("record") or {}).get("reply")
            if isinstance(parent_reply, dict) and isinstance(parent_reply.get("root"), dict):
                root = parent_reply["root"]
                if root.get("uri") and root.get("cid"):
                    root_ref = {"uri": root["uri"], "cid": root["cid"]}
            record = self._post_record(action.text, extra)
            record["reply"] = {"root": root_ref, "parent": parent_ref}
            return self._create_once(action, POST_TYPE, record)
        if kind in ("like", "repost"):
            if not action.target_external_id:
                raise ConnectorError(f"Bluesky {kind}: no target post URI")
            post = self._get_post(action.target_external_id)
            collection = LIKE_TYPE if kind == "like" else REPOST_TYPE
            record = {"$type": collection, "subject": {"uri": post["uri"], "cid": post["cid"]},
                      "createdAt": _now_iso()}
            return self._create_once(action, collection, record)
        if kind in ("unlike", "unrepost"):
            if not action.target_external_id:
                raise ConnectorError(f"Bluesky {kind}: no target post URI")
            post = self._get_post(action.target_external_id)
            mine = ((post.get("viewer") or {}).get("like" if kind == "unlike" else "repost"))
            if mine:
                self._delete(str(mine))
            return ActionResult(external_id=action.target_external_id, detail={"removed": mine})
        if kind == "delete":
            if not action.target_external_id:
                raise ConnectorError("Bluesky delete: no target URI")
            did, _, _ = split_at_uri(action.target_external_id)
            if did != self.client.did:
                raise Unsupported("Bluesky only lets an account delete its own records")
            self._delete(action.target_external_id)
            return ActionResult(external_id=action.target_external_id, detail={"deleted": True})
        if kind == "dm":
            raise Unsupported("Bluesky direct messages (chat.bsky) are not supported by this connector")
        if kind in ("hide", "unhide"):
            raise Unsupported("Bluesky reply hiding (threadgate) is not supported by this connector")
        raise Unsupported(f"Bluesky connector does not support the action {action.kind!r}")

    def _delete(self, uri: str) -> None:
        did, collection, rkey = split_at_uri(uri)
        # deleteRecord succeeds whether or not the record still exists: safe to retry.
        self.client.call(
            "POST",
            "com.atproto.repo.deleteRecord",
            body={"repo": did, "collection": collection, "rkey": rkey},
            what=f"delete {uri}",
        )


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
