"""Mastodon connector: polling (the baseline), streaming, and outbound actions.

Cursor (JSON, what ``poll`` returns and takes back)::

    {"v": 1,
     "streams": {"notifications": {"min_id": "1093"},
                 "hashtag:alpina": {"min_id": "1101"},
                 "search:alpina telecom": {"min_id": "1100", "walk_max_id": "1042", "top": "1120"},
                 "direct": {"min_id": "1099"}},
     "resume_at": "hashtag:alpina"}          # only after a partial poll, see ``poll``

``min_id`` is the newest id already returned for that stream (a notification id for
``notifications``, a status id otherwise: conversations paginate by their last status). Each poll
asks every stream for the items *immediately newer* than ``min_id`` (Mastodon's ``min_id``
parameter), one page per stream, oldest first, so a page cut by a crash or a restart is asked
again and nothing is skipped. A first poll without cursor reads only the newest page of each
stream (no backfill of older history).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import queue
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from veille.sources.base import NormalizedPost, RawRecord
from veille.sources.connector import (
    ActionResult,
    ConnectorError,
    NeedsReconnection,
    OutboundAction,
    PollResult,
    RateLimited,
    TransientError,
    Unsupported,
)
from veille.sources.mastodon.client import MastodonClient, NotFound, Page
from veille.sources.mastodon.normalize import (
    is_own_account,
    normalize_status,
    split_acct,
    status_id,
)
from veille.sources.mastodon.streaming import Message, Subscription

PAGE_SIZE = 40  # Mastodon's maximum for timelines, notifications, conversations and search
CURSOR_VERSION = 1
# How often ``stream`` re-polls the follow entries that have no streaming endpoint (search).
SEARCH_POLL_INTERVAL_S = 60.0
MAX_RECONNECT_DELAY_S = 60.0


def id_key(value: str) -> tuple[int, str]:
    """Order Mastodon ids (decimal strings of any length) without trusting them to be ints."""
    value = str(value)
    return (len(value), value) if value.isdigit() else (0, value)


def newest(*ids: str | None) -> str | None:
    present = [i for i in ids if i]
    return max(present, key=id_key) if present else None


@dataclasses.dataclass(frozen=True, slots=True)
class Follow:
    """One entry of ``settings["follow"]``, resolved to the endpoint that serves it."""

    key: str  # the entry as written, also its key in the cursor
    kind: str  # notifications | hashtag | search | list | direct
    arg: str = ""

    @property
    def path(self) -> str:
        return {
            "notifications": "/api/v1/notifications",
            "hashtag": f"/api/v1/timelines/tag/{quote(self.arg, safe='')}",
            "list": f"/api/v1/timelines/list/{quote(self.arg, safe='')}",
            "direct": "/api/v1/conversations",
            "search": "/api/v2/search",
        }[self.kind]

    def params(self) -> dict[str, Any]:
        if self.kind == "notifications":
            return {"types[]": ["mention"]}
        if self.kind == "search":
            return {"q": self.arg, "type": "statuses", "resolve": "false"}
        return {}

    @property
    def streaming(self) -> tuple[str, dict[str, str]] | None:
        """Streaming endpoint for this entry; keyword search has none (it is polled)."""
        return {
            "notifications": ("/api/v1/streaming/user/notification", {}),
            "hashtag": ("/api/v1/streaming/hashtag", {"tag": self.arg}),
            "list": ("/api/v1/streaming/list", {"list": self.arg}),
            "direct": ("/api/v1/streaming/direct", {}),
        }.get(self.kind)


def parse_follow(entry: str) -> Follow:
    text = str(entry).strip()
    name, sep, arg = text.partition(":")
    name = name.strip().lower()
    arg = arg.strip()
    if not sep:
        if name in ("notifications", "mentions"):
            return Follow(text, "notifications")
        if name in ("direct", "dm", "dms", "conversations"):
            return Follow(text, "direct")
        if name.startswith("#") and len(name) > 1:
            return Follow(text, "hashtag", text[1:])
    elif arg:
        if name in ("hashtag", "tag"):
            return Follow(text, "hashtag", arg.lstrip("#"))
        if name == "search":
            return Follow(text, "search", arg)
        if name == "list":
            return Follow(text, "list", arg)
    raise ValueError(
        f"unknown Mastodon follow entry {entry!r}: use notifications, direct, hashtag:<tag>, "
        "search:<words> or list:<id>"
    )


def _pagination_id(follow: Follow, item: Any) -> str | None:
    """The id Mastodon paginates this stream by (conversations: their last status's id)."""
    if not isinstance(item, dict):
        return None
    if follow.kind == "direct":
        last = item.get("last_status")
        value = last.get("id") if isinstance(last, dict) else None
    else:
        value = item.get("id")
    return str(value) if isinstance(value, (str, int)) and str(value) else None


class MastodonConnector:
    platform: ClassVar[str] = "mastodon"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {
            "read.mentions",
            "read.hashtag",
            "read.search",
            "read.lists",
            "read.dm",
            "read.stream",
            "act.reply",
            "act.dm",
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
        self.own_acct = str(settings.get("account") or "")
        _, domain = split_acct(self.own_acct)
        base_url = base_url or settings.get("instance_url") or (f"https://{domain}" if domain else "")
        if not base_url:
            raise ValueError("Mastodon settings need 'account' as @user@instance.example")
        follows = settings.get("follow") or ["notifications"]
        if isinstance(follows, str):
            follows = [follows]
        self.follows = [parse_follow(entry) for entry in follows]
        if len({f.key for f in self.follows}) != len(self.follows):
            raise ValueError("Mastodon follow entries must be unique")
        token = credentials.get("access_token")
        if not token:
            raise NeedsReconnection("Mastodon source has no access token: connect the account")
        self.client = MastodonClient(base_url, str(token), http=http)
        self.clock = clock
        self.sleep = sleep
        self.page_size = int(settings.get("page_size") or PAGE_SIZE)
        self._me: dict[str, Any] | None = None
        # The cursor covering everything ``stream`` has yielded so far.
        self.cursor: dict[str, Any] = {"v": CURSOR_VERSION, "streams": {}}

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> MastodonConnector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading

    def normalize(self, payload: dict[str, Any]) -> NormalizedPost:
        return normalize_status(payload, self.own_acct)

    def _load_cursor(self, cursor: dict[str, Any] | None) -> dict[str, Any]:
        streams: dict[str, Any] = {}
        if isinstance(cursor, dict) and isinstance(cursor.get("streams"), dict):
            for follow in self.follows:
                state = cursor["streams"].get(follow.key)
                if isinstance(state, dict):
                    streams[follow.key] = copy.deepcopy(state)
        resume_at = cursor.get("resume_at") if isinstance(cursor, dict) else None
        return {"v": CURSOR_VERSION, "streams": streams, "resume_at": resume_at}

    def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        """One page of every followed stream, oldest first.

        If one stream fails after others returned items, those items are returned with a
        cursor advanced for them only and ``resume_at`` naming the failed stream, and
        ``more=True``: the next poll starts with that stream and raises its error then. So an
        error never throws away items already read, and still reaches the caller.
        """
        state = self._load_cursor(cursor)
        streams: dict[str, Any] = state["streams"]
        order = list(self.follows)
        resume_at = state.get("resume_at")
        for index, follow in enumerate(order):
            if follow.key == resume_at:
                order = order[index:] + order[:index]
                break
        records: list[RawRecord] = []
        more = False
        for follow in order:
            try:
                found, new_state, has_more = self._poll_follow(follow, streams.get(follow.key))
            except ConnectorError:
                if not records:
                    raise
                cursor_out = {"v": CURSOR_VERSION, "streams": streams, "resume_at": follow.key}
                return PollResult(records=records, cursor=cursor_out, more=True)
            records.extend(found)
            streams[follow.key] = new_state
            more = more or has_more
        return PollResult(records=records, cursor={"v": CURSOR_VERSION, "streams": streams}, more=more)

    def _records(self, follow: Follow, items: list[Any]) -> list[RawRecord]:
        """API items (newest first) → records oldest first. Non-object items are kept, wrapped,
        so normalize rejects them with a reason instead of poll dropping them."""
        records = []
        for index, item in enumerate(reversed(items)):
            if follow.kind == "notifications" and isinstance(item, dict):
                if item.get("type") not in (None, "mention"):
                    continue  # favourites, follows, boosts...: not posts
            payload = item if isinstance(item, dict) else {"unexpected_item": item}
            records.append(
                RawRecord(
                    payload=payload,
                    external_id=status_id(payload),
                    line=index + 1,
                    location=follow.key,
                )
            )
        return records

    def _poll_follow(
        self, follow: Follow, state: dict[str, Any] | None
    ) -> tuple[list[RawRecord], dict[str, Any], bool]:
        state = state or {}
        if follow.kind == "search":
            return self._poll_search(follow, state)
        min_id = state.get("min_id")
        params = {**follow.params(), "limit": self.page_size}
        if min_id:
            params["min_id"] = min_id
        page = self.client.get_page(follow.path, params, what=f"{follow.kind} ({follow.key})")
        items = page.items
        ids = [pid for pid in (_pagination_id(follow, item) for item in items) if pid]
        if min_id:
            # Never hand back what an earlier poll returned, even if the server ignores min_id.
            items = [
                item
                for item in items
                if (pid := _pagination_id(follow, item)) is None or id_key(pid) > id_key(min_id)
            ]
        top = newest(page.prev_min_id, *ids)
        if min_id and top and id_key(top) < id_key(min_id):
            top = min_id
        # An empty first page: everything that appears later is new, so start from the beginning.
        new_min = top or min_id or "0"
        more = bool(min_id) and len(page.items) >= self.page_size
        return self._records(follow, items), {"min_id": new_min}, more

    def _poll_search(
        self, follow: Follow, state: dict[str, Any]
    ) -> tuple[list[RawRecord], dict[str, Any], bool]:
        """Search has no ``Link`` header. Within the window newer than ``min_id`` we page down
        with ``max_id`` (stable while new matches arrive), remembering the newest id seen in
        ``top``; when a short page ends the window, ``min_id`` moves to ``top``."""
        min_id = state.get("min_id")
        walk_max_id = state.get("walk_max_id")
        top = state.get("top")
        params = {**follow.params(), "limit": self.page_size}
        if min_id:
            params["min_id"] = min_id
        if walk_max_id:
            params["max_id"] = walk_max_id
        page: Page = self.client.get_page(follow.path, params, what=f"search ({follow.key})")

        def in_window(item: Any) -> bool:
            pid = _pagination_id(follow, item)
            if pid is None:
                return True
            if min_id and id_key(pid) <= id_key(min_id):
                return False
            return not (walk_max_id and id_key(pid) >= id_key(walk_max_id))

        items = [item for item in page.items if in_window(item)]
        ids = [pid for pid in (_pagination_id(follow, item) for item in items) if pid]
        records = self._records(follow, _newest_first(follow, items))
        if not min_id:
            return records, {"min_id": newest(*ids) or "0"}, False
        if len(page.items) >= self.page_size and ids:
            walk = min(ids, key=id_key)
            return records, {"min_id": min_id, "walk_max_id": walk, "top": newest(top, *ids)}, True
        # The window is closed. If it took several pages, the server may have answered with the
        # oldest matches first (as timelines do for min_id): look again above ``top`` at once.
        return records, {"min_id": newest(min_id, top, *ids)}, bool(top)

    # ---------------------------------------------------------------- streaming

    def stream(
        self,
        cursor: dict[str, Any] | None = None,
        *,
        stop: Any = None,
        on_state: Callable[[str, BaseException | None], None] | None = None,
    ) -> Iterator[RawRecord]:
        """Live records, forever (until ``stop.is_set()`` or the generator is closed).

        Order of work, repeated after every disconnection: (1) open one streaming
        subscription per followed stream that has one and wait until each is connected,
        buffering what arrives; (2) catch up by REST from the cursor with ``poll`` until no
        page is left, so whatever was posted while disconnected is read; (3) hand out
        streamed events, skipping ids the catch-up already returned, and re-poll ``search``
        entries (which have no stream) every ``search_poll_interval_s``. A dropped stream,
        a missed heartbeat or a 5xx closes all subscriptions, waits (1 s doubling to 60 s,
        through the injected ``sleep``) and starts again at (1).

        After each record, ``self.cursor`` covers it and everything before: persist the
        record, then the cursor. ``NeedsReconnection``, ``RateLimited`` and refusals are
        raised to the caller; call ``stream(connector.cursor)`` again to resume.

        ``on_state("connected", None)`` is called once caught up and listening, and
        ``on_state("reconnecting", error)`` before each wait to reconnect, so the caller can
        show the source's health (the errors themselves are handled here).
        """
        self.cursor = self._load_cursor(cursor)
        self.cursor.pop("resume_at", None)
        interval = float(self.settings.get("search_poll_interval_s") or SEARCH_POLL_INTERVAL_S)
        failures = 0
        while not (stop is not None and stop.is_set()):
            inbox: queue.Queue[Message] = queue.Queue()
            subscriptions = [
                Subscription(self.client, follow.key, path, params, inbox)
                for follow in self.follows
                if (endpoint := follow.streaming) is not None
                for path, params in [endpoint]
            ]
            try:
                for sub in subscriptions:
                    sub.start()
                backlog = self._wait_connected(subscriptions, inbox, stop)
                if backlog is None:
                    return
                # Catch up by REST: everything newer than the cursor, page after page.
                while True:
                    result = self.poll(self.cursor)
                    for record in result.records:
                        self._advance_from_record(record)
                        yield record
                    self.cursor = {"v": CURSOR_VERSION, "streams": result.cursor["streams"]}
                    if not result.more:
                        break
                failures = 0
                if on_state is not None:
                    on_state("connected", None)
                last_search = self.clock()
                pending = list(backlog)
                while not (stop is not None and stop.is_set()):
                    if pending:
                        message = pending.pop(0)
                    else:
                        try:
                            message = inbox.get(timeout=0.2)
                        except queue.Empty:
                            message = None
                    if message is not None:
                        if message.kind == "ended":
                            raise message.error or TransientError("Mastodon stream ended")
                        if message.kind == "event":
                            record = self._record_from_event(message)
                            if record is not None:
                                yield record
                    if self.clock() - last_search >= interval:
                        last_search = self.clock()
                        yield from self._poll_unstreamed()
            except (NeedsReconnection, RateLimited):
                raise
            except TransientError as error:
                failures += 1
                delay = min(MAX_RECONNECT_DELAY_S, 2.0 ** (failures - 1))
                for sub in subscriptions:
                    sub.stop()
                if on_state is not None:
                    on_state("reconnecting", error)
                self.sleep(delay)
                continue
            finally:
                for sub in subscriptions:
                    sub.stop()
        return

    def _wait_connected(
        self, subscriptions: list[Subscription], inbox: queue.Queue[Message], stop: Any
    ) -> list[Message] | None:
        waiting = {sub.key for sub in subscriptions}
        backlog: list[Message] = []
        while waiting:
            if stop is not None and stop.is_set():
                return None
            try:
                message = inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            if message.kind == "connected":
                waiting.discard(message.key)
            elif message.kind == "ended":
                raise message.error or TransientError("Mastodon stream ended")
            else:
                backlog.append(message)
        return backlog

    def _poll_unstreamed(self) -> Iterator[RawRecord]:
        for follow in self.follows:
            if follow.streaming is not None:
                continue
            more = True
            while more:
                found, new_state, more = self._poll_follow(
                    follow, self.cursor["streams"].get(follow.key)
                )
                yield from found
                self.cursor["streams"][follow.key] = new_state

    def _advance_from_record(self, record: RawRecord) -> None:
        follow = next((f for f in self.follows if f.key == record.location), None)
        if follow is None or follow.kind == "search":
            return
        pid = _pagination_id(follow, record.payload)
        state = self.cursor["streams"].setdefault(follow.key, {})
        if pid:
            state["min_id"] = newest(state.get("min_id"), pid)

    def _record_from_event(self, message: Message) -> RawRecord | None:
        follow = next((f for f in self.follows if f.key == message.key), None)
        event = message.event
        if follow is None or event is None:
            return None
        wanted = {"notifications": "notification", "direct": "conversation"}.get(follow.kind, "update")
        if event.event != wanted:
            return None  # delete, status.update, filters_changed...: not new posts
        try:
            payload = json.loads(event.data)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            # Keep it: normalize rejects it with a reason and the pipeline dead-letters it.
            return RawRecord(
                payload={"unparsed_event": event.event, "data": event.data[:10_000]},
                location=follow.key,
            )
        if follow.kind == "notifications" and payload.get("type") not in (None, "mention"):
            return None
        pid = _pagination_id(follow, payload)
        state = self.cursor["streams"].setdefault(follow.key, {})
        current = state.get("min_id")
        if pid and current and id_key(pid) <= id_key(current):
            return None  # already returned by the REST catch-up
        if pid:
            state["min_id"] = newest(current, pid)
        return RawRecord(payload=payload, external_id=status_id(payload), location=follow.key)

    # ----------------------------------------------------------------- actions

    def _own_account(self) -> dict[str, Any]:
        if self._me is None:
            me = self.client.call("GET", "/api/v1/accounts/verify_credentials", what="verify credentials")
            if not isinstance(me, dict) or not me.get("id"):
                raise TransientError("Mastodon verify_credentials: unexpected answer")
            self._me = me
        return self._me

    def _get_status(self, status_id_: str) -> dict[str, Any]:
        status = self.client.call(
            "GET", f"/api/v1/statuses/{quote(status_id_, safe='')}", what=f"status {status_id_}"
        )
        if not isinstance(status, dict):
            raise TransientError(f"Mastodon status {status_id_}: unexpected answer")
        return status

    def _post_status(self, action: OutboundAction, body: dict[str, Any]) -> ActionResult:
        if not body.get("status", "").strip():
            raise ConnectorError(f"Mastodon {action.kind}: empty text")
        status = self.client.call(
            "POST",
            "/api/v1/statuses",
            json_body=body,
            headers={"Idempotency-Key": action.idempotency_key},
            what=f"{action.kind} (POST /api/v1/statuses)",
        )
        if not isinstance(status, dict) or not status.get("id"):
            raise TransientError("Mastodon POST /api/v1/statuses: answer has no status id")
        return ActionResult(
            external_id=str(status["id"]),
            detail={"uri": status.get("uri"), "url": status.get("url"), "visibility": status.get("visibility")},
        )

    @staticmethod
    def _with_mention(text: str, acct: str) -> str:
        """Prefix ``@acct`` unless the text already mentions that account."""
        if not acct:
            return text
        pattern = rf"(?<![\w@])@{re.escape(acct)}(?![\w@.-])"
        if re.search(pattern, text, flags=re.IGNORECASE):
            return text
        return f"@{acct} {text}"

    def act(self, action: OutboundAction) -> ActionResult:
        kind = action.kind.lower()
        kind = {"favourite": "like", "favorite": "like", "boost": "repost", "reblog": "repost"}.get(kind, kind)
        kind = {"unfavourite": "unlike", "unboost": "unrepost", "unreblog": "unrepost"}.get(kind, kind)
        extra = action.extra or {}
        if kind in ("reply", "dm", "post"):
            body: dict[str, Any] = {"status": action.text}
            for name in ("spoiler_text", "language", "sensitive"):
                if name in extra:
                    body[name] = extra[name]
            if kind == "post":
                body["visibility"] = extra.get("visibility", "public")
                return self._post_status(action, body)
            if kind == "reply":
                if not action.target_external_id:
                    raise ConnectorError("Mastodon reply: no target status id")
                target = self._get_status(action.target_external_id)
                account = target.get("account") or {}
                acct = str(account.get("acct") or "")
                if extra.get("mention", True) and not is_own_account(acct, self.own_acct):
                    body["status"] = self._with_mention(action.text, acct)
                body["in_reply_to_id"] = str(target.get("id") or action.target_external_id)
                visibility = target.get("visibility")
                # Answer in the same circle: a reply to a DM stays a DM, to followers-only stays so.
                body["visibility"] = extra.get("visibility") or (
                    visibility if visibility in ("direct", "private", "unlisted") else "public"
                )
                return self._post_status(action, body)
            # dm: a status with visibility "direct" that mentions the recipient.
            recipient = (action.recipient_external_id or "").strip()
            if not recipient:
                raise ConnectorError("Mastodon DM: no recipient")
            if recipient.isdigit():
                account = self.client.call(
                    "GET", f"/api/v1/accounts/{recipient}", what=f"account {recipient}"
                )
                recipient = str((account or {}).get("acct") or "") if isinstance(account, dict) else ""
                if not recipient:
                    raise ConnectorError(f"Mastodon DM: account {action.recipient_external_id} not found")
            body["status"] = self._with_mention(action.text, recipient.lstrip("@"))
            body["visibility"] = "direct"
            if action.target_external_id:
                body["in_reply_to_id"] = action.target_external_id
            return self._post_status(action, body)
        if kind in ("like", "unlike", "repost", "unrepost"):
            if not action.target_external_id:
                raise ConnectorError(f"Mastodon {kind}: no target status id")
            verb = {"like": "favourite", "unlike": "unfavourite", "repost": "reblog", "unrepost": "unreblog"}[kind]
            # Mastodon makes these idempotent itself: a second favourite/reblog returns the first.
            status = self.client.call(
                "POST",
                f"/api/v1/statuses/{quote(action.target_external_id, safe='')}/{verb}",
                what=f"{verb} {action.target_external_id}",
            )
            status = status if isinstance(status, dict) else {}
            created = status.get("id") if kind == "repost" else action.target_external_id
            return ActionResult(
                external_id=str(created) if created else action.target_external_id,
                detail={"uri": status.get("uri"), "url": status.get("url")},
            )
        if kind == "delete":
            if not action.target_external_id:
                raise ConnectorError("Mastodon delete: no target status id")
            try:
                target = self._get_status(action.target_external_id)
            except NotFound:
                # Gone already: a retry after the delete went through.
                return ActionResult(external_id=action.target_external_id, detail={"already_deleted": True})
            me = self._own_account()
            if str((target.get("account") or {}).get("id")) != str(me.get("id")):
                raise Unsupported("Mastodon only lets an account delete its own posts")
            try:
                self.client.call(
                    "DELETE",
                    f"/api/v1/statuses/{quote(action.target_external_id, safe='')}",
                    what=f"delete {action.target_external_id}",
                )
            except NotFound:
                pass  # deleted by a concurrent attempt of the same action
            return ActionResult(external_id=action.target_external_id, detail={"deleted": True})
        if kind in ("hide", "unhide"):
            raise Unsupported("Mastodon has no way to hide replies to your posts")
        raise Unsupported(f"Mastodon connector does not support the action {action.kind!r}")


def _newest_first(follow: Follow, items: list[Any]) -> list[Any]:
    """Search results come in relevance or id order; records are handed out oldest first."""
    def key(item: Any) -> tuple[int, str]:
        pid = _pagination_id(follow, item)
        return id_key(pid) if pid else (-1, "")

    return sorted(items, key=key, reverse=True)
