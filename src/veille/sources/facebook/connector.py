"""``FacebookConnector``: a Page's feed posts, their comments and replies, and its Messenger
conversations; replies to comments, private replies, Messenger answers, hide/unhide and delete.

Cursor (JSON)::

    {"v": 1, "turn": 0,
     "comments": {"posts": {"<post id>": {"since": "<newest comment time>", "ids": [<ids at
                                          that time>], "updated": "<post updated_time>"}},
                  "queue": [["<post id>", "<updated_time>"], …],
                  "scan": {"post": …, "updated": …, "after": "<paging cursor>", "high": …,
                           "high_ids": […]} | null},
     "conversations": {"since": …, "ids": […],
                       "round": {"since": …, "ids": […], "convs_after": …, "convs_done": bool,
                                 "queue": […], "scan": {"conv": …, "after": …} | null,
                                 "high": …, "high_ids": […]} | null}}

Each ``poll`` makes at most one request. Comments: the newest ``watch_posts`` posts of the Page
feed are read; a post that is new or whose ``updated_time`` moved (Graph bumps it when someone
comments) is queued, and its comments are read newest first (``filter=stream`` includes replies,
``order=reverse_chronological``) down to that post's own high-water mark, which moves only when
the post's scan is over. Comments that share the high-water second are told apart by id. A
restart mid-scan resumes from the stored paging cursor.
"""

from __future__ import annotations

import collections
import copy
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from veille.sources.base import NormalizedPost, RawRecord
from veille.sources.connector import (
    ActionResult,
    ConnectorError,
    OutboundAction,
    PollResult,
    TransientError,
    Unsupported,
)
from veille.sources.facebook.client import DEFAULT_VERSION, AlreadyDone, GraphClient, NotFound
from veille.sources.facebook.normalize import normalize_payload, parse_graph_time

POST_FIELDS = "id,message,from{id,name},created_time,updated_time,permalink_url"
COMMENT_FIELDS = "id,message,from{id,name},created_time,parent{id},permalink_url"
MESSAGE_FIELDS = "id,message,from,to,created_time"

# Page permissions each capability needs (checked only when the granted ones are known).
CAPABILITY_PERMISSIONS: dict[str, set[str]] = {
    "read.comments": {"pages_read_engagement", "pages_read_user_content"},
    "read.conversations": {"pages_messaging"},
    "act.reply": {"pages_manage_engagement"},
    "act.private_reply": {"pages_messaging"},
    "act.dm": {"pages_messaging"},
    "act.hide": {"pages_manage_engagement"},
    "act.unhide": {"pages_manage_engagement"},
    "act.delete": {"pages_manage_engagement"},
}


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _newer(a: Any, b: Any) -> bool:
    """True when Graph time ``a`` is after ``b`` (or either cannot be read: look again)."""
    ta, tb = parse_graph_time(a), parse_graph_time(b)
    return ta is None or tb is None or ta > tb


def _items(body: dict[str, Any], what: str) -> list[Any]:
    data = body.get("data", [])
    if not isinstance(data, list):
        raise TransientError(f"Facebook {what}: 'data' is not a list")
    return data


def _after(body: dict[str, Any]) -> str | None:
    """The cursor of the next page, only when Graph says there is one (``paging.next``)."""
    paging = body.get("paging")
    if not isinstance(paging, dict) or not paging.get("next"):
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    return str(after) if after else None


class _Window:
    """Newest-first reading down to a high-water mark (time + ids at that exact second)."""

    def __init__(self, since: Any, ids: list[str]) -> None:
        self.since = parse_graph_time(since)
        self.since_ids = set(ids or [])

    def keep(self, moment: datetime | None, item_id: str) -> bool | None:
        """True: new; False: already seen, go on; None: older than the mark, stop reading."""
        if moment is None or self.since is None:
            return True
        if moment < self.since:
            return None
        return not (moment == self.since and item_id in self.since_ids)


def _raise_mark(holder: dict[str, Any], moment: datetime | None, item_id: str) -> None:
    if moment is None:
        return
    high = parse_graph_time(holder.get("high"))
    if high is None or moment > high:
        holder["high"], holder["high_ids"] = _fmt(moment), [item_id]
    elif moment == high and item_id not in holder["high_ids"]:
        holder["high_ids"].append(item_id)


def _merge_mark(target: dict[str, Any], high: Any, high_ids: list[str]) -> None:
    """Move ``target``'s ``since``/``ids`` up to a finished scan's newest time."""
    new, old = parse_graph_time(high), parse_graph_time(target.get("since"))
    if new is None:
        return
    if old is None or new > old:
        target["since"], target["ids"] = _fmt(new), list(high_ids)
    elif new == old:
        target["ids"] = sorted(set(target.get("ids") or []) | set(high_ids))


class FacebookConnector:
    platform: ClassVar[str] = "facebook"
    capabilities: ClassVar[frozenset[str]] = frozenset(CAPABILITY_PERMISSIONS)

    _STREAMS = ("comments", "conversations")
    _ACTIONS = ("reply", "private_reply", "dm", "hide", "unhide", "delete")
    _CREATING = ("reply", "private_reply", "dm")

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
        self.page_id = str(settings.get("page_id") or "")
        if not self.page_id:
            raise ValueError("Facebook settings need the page_id")
        self.follow = [str(f) for f in settings.get("follow") or []]
        for entry in self.follow:
            if entry not in self._STREAMS:
                raise ValueError(
                    f"Facebook follow entry {entry!r} is not 'comments' or 'conversations'"
                )
        self.watch_posts = max(1, min(100, int(settings.get("watch_posts", 25))))
        self.page_size = max(1, min(100, int(settings.get("page_size", 100))))
        self.backfill_days = float(settings.get("backfill_days", 7))
        self.lookup_settle_s = float(settings.get("lookup_settle_s", 2.0))
        self.recheck_s = float(settings.get("recheck_s", 5.0))
        self.permissions = credentials.get("permissions")
        self.client = GraphClient(
            credentials,
            base_url=base_url,
            http=http,
            version=str(settings.get("graph_version") or DEFAULT_VERSION),
        )
        self.clock = clock
        self.sleep = sleep
        self._in_flight: dict[str, dict[str, Any]] = {}
        self._done: collections.OrderedDict[str, ActionResult] = collections.OrderedDict()

    def available_capabilities(self) -> frozenset[str]:
        if not self.permissions:
            return self.capabilities
        granted = set(self.permissions)
        return frozenset(c for c, need in CAPABILITY_PERMISSIONS.items() if need <= granted)

    def normalize(self, payload: dict[str, Any]) -> NormalizedPost:
        return normalize_payload(payload)

    # -- reading ---------------------------------------------------------------------------

    def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        if not self.follow:
            return PollResult(records=[], cursor=dict(cursor or {}), more=False)
        caps = self.available_capabilities()
        refused = [f for f in self.follow if f"read.{f}" not in caps]
        if refused:
            raise Unsupported(f"the Page token lacks the permissions to read {', '.join(refused)}")
        state: dict[str, Any] = copy.deepcopy(cursor) if cursor else {}
        state.setdefault("v", 1)
        turn = int(state.get("turn", 0) or 0) % len(self.follow)
        stream = self.follow[turn]
        if stream == "comments":
            st = state.setdefault("comments", {})
            st.setdefault("posts", {})
            st.setdefault("queue", [])
            st.setdefault("scan", None)
            records, done = self._step_comments(st)
        else:
            st = state.setdefault("conversations", {})
            st.setdefault("since", None)
            st.setdefault("ids", [])
            st.setdefault("round", None)
            records, done = self._step_conversations(st)
        if not done:
            state["turn"] = turn
            return PollResult(records=records, cursor=state, more=True)
        more = turn + 1 < len(self.follow)
        state["turn"] = turn + 1 if more else 0
        return PollResult(records=records, cursor=state, more=more)

    def _record(
        self, kind: str, item: Any, context: dict[str, Any], index: int, where: str
    ) -> RawRecord:
        item_id = item.get("id") if isinstance(item, dict) else None
        return RawRecord(
            payload={"type": kind, "data": item, "context": {"page_id": self.page_id, **context}},
            external_id=str(item_id) if isinstance(item_id, str) and item_id else None,
            line=index + 1,
            location=where,
        )

    def _step_comments(self, st: dict[str, Any]) -> tuple[list[RawRecord], bool]:
        if st["scan"] is None and st["queue"]:
            post_id, updated = st["queue"].pop(0)
            st["scan"] = {
                "post": post_id,
                "updated": updated,
                "after": None,
                "high": None,
                "high_ids": [],
            }
        if st["scan"] is not None:
            return self._comments_page(st)
        body = self.client.request(
            "GET",
            f"/{self.page_id}/feed",
            params={"fields": POST_FIELDS, "limit": self.watch_posts},
        )
        records: list[RawRecord] = []
        posts: dict[str, Any] = {}
        queue: list[list[Any]] = []
        for index, item in enumerate(_items(body, "feed")):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                records.append(self._record("post", item, {}, index, "facebook:feed"))
                continue
            post_id = item["id"]
            known = st["posts"].get(post_id)
            if known is None:
                records.append(
                    self._record("post", item, {"post_id": post_id}, index, "facebook:feed")
                )
            posts[post_id] = known or {"since": None, "ids": [], "updated": None}
            updated = item.get("updated_time") or item.get("created_time")
            if (
                known is None
                or known.get("updated") is None
                or known.get("recheck")
                or _newer(updated, known.get("updated"))
            ):
                queue.append([post_id, updated])
        # Only the watched window is remembered: posts fall out of it, never back in.
        st["posts"] = posts
        st["queue"] = queue
        return records, not queue

    def _comments_page(self, st: dict[str, Any]) -> tuple[list[RawRecord], bool]:
        scan = st["scan"]
        post_id = scan["post"]
        entry = st["posts"].setdefault(post_id, {"since": None, "ids": [], "updated": None})
        window = _Window(entry.get("since"), entry.get("ids") or [])
        params = {
            "filter": "stream",
            "order": "reverse_chronological",
            "fields": COMMENT_FIELDS,
            "limit": self.page_size,
            "after": scan.get("after"),
        }
        try:
            body = self.client.request("GET", f"/{post_id}/comments", params=params)
        except NotFound:
            st["posts"].pop(post_id, None)  # the post was deleted meanwhile
            st["scan"] = None
            return [], not st["queue"]
        records: list[RawRecord] = []
        stop = False
        where = f"facebook:comments:{post_id}"
        for index, item in enumerate(_items(body, "comments")):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                records.append(self._record("comment", item, {"post_id": post_id}, index, where))
                continue
            moment = parse_graph_time(item.get("created_time"))
            keep = window.keep(moment, item["id"])
            if keep is None:
                stop = True
                break
            if keep:
                records.append(self._record("comment", item, {"post_id": post_id}, index, where))
                _raise_mark(scan, moment, item["id"])
        after = _after(body)
        if after and not stop:
            scan["after"] = after
            return records, False
        _merge_mark(entry, scan.get("high"), scan.get("high_ids") or [])
        entry["updated"] = scan.get("updated")
        # A comment written in the very second of our newest one, after we read it, would not
        # move ``updated_time``: when that second is this fresh, look once more next round.
        newest = parse_graph_time(entry.get("since"))
        now = self.client.server_time
        if (
            newest is not None
            and now is not None
            and now - newest <= timedelta(seconds=self.recheck_s)
        ):
            entry["recheck"] = True
        else:
            entry.pop("recheck", None)
        st["scan"] = None
        return records, not st["queue"]

    def _step_conversations(self, st: dict[str, Any]) -> tuple[list[RawRecord], bool]:
        rnd = st["round"]
        if rnd is None:
            since = st["since"]
            if since is None:  # first sync: the recent past only, not the Page's whole history
                since = _fmt(datetime.now(UTC) - timedelta(days=self.backfill_days))
            rnd = st["round"] = {
                "since": since,
                "ids": list(st["ids"]),
                "convs_after": None,
                "convs_done": False,
                "queue": [],
                "scan": None,
                "high": None,
                "high_ids": [],
            }
        if not rnd["convs_done"]:
            body = self.client.request(
                "GET",
                f"/{self.page_id}/conversations",
                params={
                    "platform": "messenger",
                    "fields": "id,updated_time",
                    "limit": 25,
                    "after": rnd["convs_after"],
                },
            )
            floor = parse_graph_time(rnd["since"])
            stop = False
            for conv in _items(body, "conversations"):
                if not isinstance(conv, dict) or not conv.get("id"):
                    continue  # nothing to store: a conversation is only a container
                updated = parse_graph_time(conv.get("updated_time"))
                if updated is not None and floor is not None and updated < floor:
                    stop = True  # sorted by updated_time: the rest has nothing new
                    break
                rnd["queue"].append(str(conv["id"]))
            after = _after(body)
            if after and not stop:
                rnd["convs_after"] = after
                return [], False
            rnd["convs_done"] = True
            if rnd["queue"]:
                return [], False
        if rnd["scan"] is None and rnd["queue"]:
            rnd["scan"] = {"conv": rnd["queue"].pop(0), "after": None}
        if rnd["scan"] is None:
            _merge_mark(st, rnd["high"], rnd["high_ids"])
            if st["since"] is None:
                st["since"] = rnd["since"]
            st["round"] = None
            return [], True
        return self._messages_page(st, rnd)

    def _messages_page(
        self, st: dict[str, Any], rnd: dict[str, Any]
    ) -> tuple[list[RawRecord], bool]:
        scan = rnd["scan"]
        conv = scan["conv"]
        window = _Window(rnd["since"], rnd["ids"])
        body = self.client.request(
            "GET",
            f"/{conv}/messages",
            params={"fields": MESSAGE_FIELDS, "limit": self.page_size, "after": scan["after"]},
        )
        records: list[RawRecord] = []
        stop = False
        where = f"facebook:conversation:{conv}"
        for index, item in enumerate(_items(body, "messages")):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                records.append(
                    self._record("message", item, {"conversation_id": conv}, index, where)
                )
                continue
            moment = parse_graph_time(item.get("created_time"))
            keep = window.keep(moment, item["id"])
            if keep is None:
                stop = True
                break
            if keep:
                records.append(
                    self._record("message", item, {"conversation_id": conv}, index, where)
                )
                _raise_mark(rnd, moment, item["id"])
        after = _after(body)
        if after and not stop:
            scan["after"] = after
            return records, False
        rnd["scan"] = None
        if rnd["queue"]:
            return records, False
        _merge_mark(st, rnd["high"], rnd["high_ids"])
        if st["since"] is None:
            st["since"] = rnd["since"]
        st["round"] = None
        return records, True

    # -- acting ----------------------------------------------------------------------------

    def act(self, action: OutboundAction) -> ActionResult:
        kind = action.kind
        if kind == "dm" and not action.recipient_external_id and action.target_external_id:
            kind = "private_reply"  # a DM answering a comment is Messenger's "private reply"
        if kind not in self._ACTIONS:
            raise Unsupported(
                f"Facebook has no {kind!r} action (it has: {', '.join(self._ACTIONS)})"
            )
        if f"act.{kind}" not in self.available_capabilities():
            raise Unsupported(f"the Page token lacks the permission for {kind!r}")
        key = action.idempotency_key
        if key in self._done:
            return self._done[key]
        retry = key in self._in_flight or int(action.extra.get("attempt", 1) or 1) > 1
        if retry and kind in self._CREATING:
            self._settle(key)
            found = self._lookup(kind, action)
            if found is not None:
                return self._finish(key, found)
        had_lost_attempt = key in self._in_flight
        self._in_flight.setdefault(key, {"kind": kind, "started": self.clock()})
        try:
            result = getattr(self, f"_send_{kind}")(action)
        except TransientError:
            raise
        except AlreadyDone:
            result = ActionResult(None, {"recovered": True, "already": True})
        except NotFound:
            if not (retry and kind == "delete"):
                if not had_lost_attempt:
                    self._in_flight.pop(key, None)
                raise
            result = ActionResult(action.target_external_id, {"already": True})
        except ConnectorError:
            if not had_lost_attempt:
                self._in_flight.pop(key, None)
            raise
        return self._finish(key, result)

    def _finish(self, key: str, result: ActionResult) -> ActionResult:
        self._in_flight.pop(key, None)
        self._done[key] = result
        while len(self._done) > 1000:
            self._done.popitem(last=False)
        return result

    def _settle(self, key: str) -> None:
        attempt = self._in_flight.get(key)
        if attempt is not None:
            waited = self.clock() - attempt["started"]
            if waited < self.lookup_settle_s:
                self.sleep(self.lookup_settle_s - waited)

    @staticmethod
    def _target(action: OutboundAction) -> str:
        if not action.target_external_id:
            raise ConnectorError(f"Facebook {action.kind} needs target_external_id")
        return str(action.target_external_id)

    @staticmethod
    def _created(body: dict[str, Any], field: str, what: str) -> str:
        value = body.get(field)
        if not value:
            raise TransientError(f"Facebook {what}: answer without {field}")
        return str(value)

    def _send_reply(self, action: OutboundAction) -> ActionResult:
        body = self.client.request(
            "POST", f"/{self._target(action)}/comments", json_body={"message": action.text}
        )
        return ActionResult(self._created(body, "id", "reply"))

    def _send_private_reply(self, action: OutboundAction) -> ActionResult:
        body = self.client.request(
            "POST",
            f"/{self.page_id}/messages",
            json_body={
                "recipient": {"comment_id": self._target(action)},
                "message": {"text": action.text},
            },
        )
        return ActionResult(
            self._created(body, "message_id", "private reply"),
            {"recipient_id": body.get("recipient_id")},
        )

    def _send_dm(self, action: OutboundAction) -> ActionResult:
        payload: dict[str, Any] = {
            "recipient": {"id": action.recipient_external_id},
            "messaging_type": "RESPONSE",
            "message": {"text": action.text},
        }
        if action.extra.get("tag"):  # e.g. HUMAN_AGENT: answer up to 7 days after the customer
            payload["messaging_type"] = "MESSAGE_TAG"
            payload["tag"] = action.extra["tag"]
        body = self.client.request("POST", f"/{self.page_id}/messages", json_body=payload)
        return ActionResult(
            self._created(body, "message_id", "message"), {"recipient_id": body.get("recipient_id")}
        )

    def _send_hide(self, action: OutboundAction, hidden: bool = True) -> ActionResult:
        target = self._target(action)
        self.client.request("POST", f"/{target}", json_body={"is_hidden": hidden})
        return ActionResult(target, {"hidden": hidden})

    def _send_unhide(self, action: OutboundAction) -> ActionResult:
        return self._send_hide(action, hidden=False)

    def _send_delete(self, action: OutboundAction) -> ActionResult:
        target = self._target(action)
        self.client.request("DELETE", f"/{target}")
        return ActionResult(target, {"deleted": True})

    # -- lookup before retry ---------------------------------------------------------------

    def _same_text(self, item: Any, text: str) -> bool:
        return (
            isinstance(item, dict)
            and isinstance(item.get("from"), dict)
            and str(item["from"].get("id")) == self.page_id
            and " ".join(str(item.get("message") or "").split()) == " ".join(text.split())
        )

    def _lookup(self, kind: str, action: OutboundAction) -> ActionResult | None:
        if kind == "reply":
            body = self.client.request(
                "GET",
                f"/{self._target(action)}/comments",
                params={
                    "order": "reverse_chronological",
                    "fields": "id,message,from{id}",
                    "limit": 100,
                },
            )
            for item in _items(body, "comments"):
                if self._same_text(item, action.text):
                    return ActionResult(str(item["id"]), {"recovered": True})
            return None
        if kind == "private_reply":
            # Messenger allows one private reply per comment and then says so on the comment.
            body = self.client.request(
                "GET", f"/{self._target(action)}", params={"fields": "can_reply_privately"}
            )
            if body.get("can_reply_privately") is False:
                return ActionResult(None, {"recovered": True})
            return None
        body = self.client.request(
            "GET",
            f"/{self.page_id}/conversations",
            params={
                "platform": "messenger",
                "user_id": action.recipient_external_id,
                "fields": "id",
            },
        )
        for conv in _items(body, "conversations")[:1]:
            if not isinstance(conv, dict) or not conv.get("id"):
                break
            messages = self.client.request(
                "GET", f"/{conv['id']}/messages", params={"fields": "id,message,from", "limit": 20}
            )
            for item in _items(messages, "messages"):
                if self._same_text(item, action.text):
                    return ActionResult(str(item["id"]), {"recovered": True})
        return None
