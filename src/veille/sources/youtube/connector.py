"""``YoutubeConnector``: comment threads on the channel's videos (top-level comments and replies);
replies, and moderation (hold for review, reject, publish again).

Cursor (JSON)::

    {"v": 1, "since": "<newest publishedAt returned>", "ids": [<ids at that second>],
     "threads": {"<thread id>": <totalReplyCount last seen>, …},
     "round": {"page_token": …, "pages": 2, "listing_done": false,
               "replies": [["<thread id>", "<pageToken>|null", "<video id>",
                            [<ids embedded in the listing>]], …],
               "high": …, "high_ids": […]} | null}

A *round* reads ``commentThreads?allThreadsRelatedToChannelId=…&order=time`` newest first, one
page per ``poll``, and returns every top-level comment and embedded reply published after the
high-water mark. When a thread has more replies than the few embedded ones and its
``totalReplyCount`` changed since last seen, its replies are read with ``comments?parentId=``. The
round ends at the first page with nothing new, or after ``scan_pages`` pages; only then does the
high-water mark move up, so a restart mid-round (from ``page_token``) skips nothing.
"""

from __future__ import annotations

import collections
import copy
import time
from collections.abc import Callable
from datetime import UTC, datetime
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
from veille.sources.youtube.client import NotFound, YouTubeClient
from veille.sources.youtube.normalize import normalize_payload, parse_time

API = "/youtube/v3"
MAX_THREADS_REMEMBERED = 2000
MODERATION = {"hide": "heldForReview", "reject": "rejected", "unhide": "published"}
ALIASES = {"hold": "hide", "approve": "unhide", "publish": "unhide"}
READ_SCOPES = {"youtube.force-ssl", "youtube", "youtube.readonly"}


def _fmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class YoutubeConnector:
    platform: ClassVar[str] = "youtube"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"read.comments", "act.reply", "act.hide", "act.unhide", "act.reject"}
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
        on_credentials: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.settings = dict(settings)
        self.channel_id = str(settings.get("channel_id") or "")
        if not self.channel_id:
            raise ValueError("YouTube settings need the channel_id")
        self.follow = [str(f) for f in settings.get("follow") or []]
        for entry in self.follow:
            if entry != "comments":
                raise ValueError(f"YouTube follow entry {entry!r} is not 'comments'")
        self.page_size = max(1, min(100, int(settings.get("page_size", 100))))
        self.scan_pages = max(1, int(settings.get("scan_pages", 5)))
        self.lookup_settle_s = float(settings.get("lookup_settle_s", 2.0))
        self.client = YouTubeClient(
            credentials, base_url=base_url, http=http, on_credentials=on_credentials
        )
        self.clock = clock
        self.sleep = sleep
        self._in_flight: dict[str, dict[str, Any]] = {}
        self._done: collections.OrderedDict[str, ActionResult] = collections.OrderedDict()

    @property
    def credentials(self) -> dict[str, Any]:
        return dict(self.client.credentials)

    def available_capabilities(self) -> frozenset[str]:
        scopes = self.client.scopes
        if scopes is None or "youtube.force-ssl" in scopes:
            return self.capabilities
        return frozenset({"read.comments"}) if scopes & READ_SCOPES else frozenset()

    def normalize(self, payload: dict[str, Any]) -> NormalizedPost:
        return normalize_payload(payload)

    # -- reading ---------------------------------------------------------------------------

    def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        if not self.follow:
            return PollResult(records=[], cursor=dict(cursor or {}), more=False)
        if "read.comments" not in self.available_capabilities():
            raise Unsupported("the YouTube token was granted no scope that can read comments")
        state: dict[str, Any] = copy.deepcopy(cursor) if cursor else {}
        state.setdefault("v", 1)
        state.setdefault("since", None)
        state.setdefault("ids", [])
        state.setdefault("threads", {})
        rnd = state.get("round")
        if rnd is None:
            rnd = state["round"] = {
                "page_token": None,
                "pages": 0,
                "listing_done": False,
                "replies": [],
                "high": None,
                "high_ids": [],
            }
        if not rnd["listing_done"]:
            records = self._threads_page(state, rnd)
        elif rnd["replies"]:
            records = self._replies_page(state, rnd)
        else:
            records = []
        if rnd["listing_done"] and not rnd["replies"]:
            self._end_round(state, rnd)
            return PollResult(records=records, cursor=state, more=False)
        return PollResult(records=records, cursor=state, more=True)

    def _is_new(self, state: dict[str, Any], moment: datetime | None, item_id: str) -> bool:
        since = parse_time(state["since"])
        if moment is None or since is None:
            return True
        return moment > since or (moment == since and item_id not in state["ids"])

    def _record(self, item: Any, context: dict[str, Any], index: int, where: str) -> RawRecord:
        item_id = item.get("id") if isinstance(item, dict) else None
        return RawRecord(
            payload={
                "type": "comment",
                "data": item,
                "context": {"channel_id": self.channel_id, **context},
            },
            external_id=item_id if isinstance(item_id, str) and item_id else None,
            line=index + 1,
            location=where,
        )

    def _take(
        self,
        state: dict[str, Any],
        rnd: dict[str, Any],
        comment: Any,
        context: dict[str, Any],
        index: int,
        where: str,
        records: list[RawRecord],
    ) -> bool:
        """Append ``comment`` when it is new (or unreadable); True when it was new."""
        if not isinstance(comment, dict) or not isinstance(comment.get("id"), str):
            records.append(self._record(comment, context, index, where))
            return True
        snippet = comment.get("snippet") if isinstance(comment.get("snippet"), dict) else {}
        moment = parse_time(snippet.get("publishedAt"))
        if not self._is_new(state, moment, comment["id"]):
            return False
        records.append(self._record(comment, context, index, where))
        if moment is not None:
            high = parse_time(rnd["high"])
            if high is None or moment > high:
                rnd["high"], rnd["high_ids"] = _fmt(moment), [comment["id"]]
            elif moment == high and comment["id"] not in rnd["high_ids"]:
                rnd["high_ids"].append(comment["id"])
        return True

    def _threads_page(self, state: dict[str, Any], rnd: dict[str, Any]) -> list[RawRecord]:
        body = self.client.request(
            "GET",
            f"{API}/commentThreads",
            params={
                "part": "snippet,replies",
                "allThreadsRelatedToChannelId": self.channel_id,
                "maxResults": self.page_size,
                "order": "time",
                "textFormat": "plainText",
                "pageToken": rnd["page_token"],
            },
        )
        items = body.get("items", [])
        if not isinstance(items, list):
            raise TransientError("YouTube commentThreads: 'items' is not a list")
        records: list[RawRecord] = []
        anything_new = False
        threads = state["threads"]
        for index, thread in enumerate(items):
            snippet = thread.get("snippet") if isinstance(thread, dict) else None
            top = snippet.get("topLevelComment") if isinstance(snippet, dict) else None
            if not isinstance(top, dict):
                # kept for the dead-letter queue, but it does not make the round read further
                records.append(self._record(thread, {}, index, "youtube:threads"))
                continue
            thread_id = str(thread.get("id") or top.get("id") or "")
            context = {"video_id": snippet.get("videoId"), "thread_id": thread_id}
            if self._take(state, rnd, top, context, index, "youtube:threads", records):
                anything_new = True
            replies = thread.get("replies") if isinstance(thread.get("replies"), dict) else {}
            embedded = replies.get("comments") if isinstance(replies.get("comments"), list) else []
            for reply in embedded:
                if self._take(state, rnd, reply, context, index, "youtube:threads", records):
                    anything_new = True
            total = snippet.get("totalReplyCount")
            if isinstance(total, int) and total > 0 and thread_id:
                if total != threads.get(thread_id):
                    anything_new = True
                    if total > len(embedded):
                        seen = [r.get("id") for r in embedded if isinstance(r, dict)]
                        rnd["replies"].append([thread_id, None, snippet.get("videoId"), seen])
                threads.pop(thread_id, None)
                threads[thread_id] = total  # re-inserted: the newest stay when trimming
        while len(threads) > MAX_THREADS_REMEMBERED:
            threads.pop(next(iter(threads)))
        rnd["pages"] += 1
        token = body.get("nextPageToken")
        if token and anything_new and rnd["pages"] < self.scan_pages:
            rnd["page_token"] = token
        else:
            rnd["listing_done"] = True
            rnd["page_token"] = None
        return records

    def _replies_page(self, state: dict[str, Any], rnd: dict[str, Any]) -> list[RawRecord]:
        thread_id, token, video_id, embedded = rnd["replies"][0]
        try:
            body = self.client.request(
                "GET",
                f"{API}/comments",
                params={
                    "part": "snippet",
                    "parentId": thread_id,
                    "maxResults": 100,
                    "textFormat": "plainText",
                    "pageToken": token,
                },
            )
        except NotFound:
            rnd["replies"].pop(0)
            return []
        items = body.get("items", [])
        if not isinstance(items, list):
            raise TransientError("YouTube comments: 'items' is not a list")
        records: list[RawRecord] = []
        context = {"video_id": video_id, "thread_id": thread_id}
        for index, reply in enumerate(items):
            if isinstance(reply, dict) and reply.get("id") in embedded:
                continue  # already returned from the thread listing this round
            self._take(state, rnd, reply, context, index, f"youtube:replies:{thread_id}", records)
        if body.get("nextPageToken"):
            rnd["replies"][0] = [thread_id, body["nextPageToken"], video_id, embedded]
        else:
            rnd["replies"].pop(0)
        return records

    def _end_round(self, state: dict[str, Any], rnd: dict[str, Any]) -> None:
        new, old = parse_time(rnd["high"]), parse_time(state["since"])
        if new is not None and (old is None or new > old):
            state["since"], state["ids"] = _fmt(new), list(rnd["high_ids"])
        elif new is not None and new == old:
            state["ids"] = sorted(set(state["ids"]) | set(rnd["high_ids"]))
        state["round"] = None

    # -- acting ----------------------------------------------------------------------------

    def act(self, action: OutboundAction) -> ActionResult:
        kind = ALIASES.get(action.kind, action.kind)
        if f"act.{kind}" not in self.capabilities:
            raise Unsupported(
                f"YouTube has no {action.kind!r} action (it has: reply, hide/hold, unhide/approve, reject)"
            )
        if f"act.{kind}" not in self.available_capabilities():
            raise Unsupported(
                f"the YouTube token lacks the youtube.force-ssl scope needed for {kind!r}"
            )
        if not action.target_external_id:
            raise ConnectorError(f"YouTube {kind} needs target_external_id")
        key = action.idempotency_key
        if key in self._done:
            return self._done[key]
        if kind != "reply":  # moderation is idempotent: setting the same status twice is harmless
            return self._finish(key, self._moderate(action, MODERATION[kind]))
        retry = key in self._in_flight or int(action.extra.get("attempt", 1) or 1) > 1
        if retry:
            self._settle(key)
            found = self._lookup(action)
            if found is not None:
                return self._finish(key, ActionResult(found, {"recovered": True}))
        had_lost_attempt = key in self._in_flight
        self._in_flight.setdefault(key, {"kind": kind, "started": self.clock()})
        try:
            body = self.client.request(
                "POST",
                f"{API}/comments",
                params={"part": "snippet"},
                json_body={
                    "snippet": {"parentId": action.target_external_id, "textOriginal": action.text}
                },
            )
        except TransientError:
            raise
        except ConnectorError:
            if not had_lost_attempt:
                self._in_flight.pop(key, None)
            raise
        if not body.get("id"):
            raise TransientError("YouTube reply: answer without id")
        return self._finish(key, ActionResult(str(body["id"])))

    def _moderate(self, action: OutboundAction, status: str) -> ActionResult:
        params = {"id": action.target_external_id, "moderationStatus": status}
        if status == "rejected" and action.extra.get("ban_author"):
            params["banAuthor"] = "true"
        self.client.request("POST", f"{API}/comments/setModerationStatus", params=params)
        return ActionResult(action.target_external_id, {"moderationStatus": status})

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

    def _lookup(self, action: OutboundAction) -> str | None:
        """A reply by our channel to the same parent with the same text, if YouTube shows one."""
        wanted = " ".join(action.text.split())
        token = None
        for _ in range(5):
            body = self.client.request(
                "GET",
                f"{API}/comments",
                params={
                    "part": "snippet",
                    "parentId": action.target_external_id,
                    "maxResults": 100,
                    "textFormat": "plainText",
                    "pageToken": token,
                },
            )
            for item in body.get("items") or []:
                snippet = item.get("snippet") if isinstance(item, dict) else None
                if not isinstance(snippet, dict):
                    continue
                author = snippet.get("authorChannelId")
                if (
                    isinstance(author, dict)
                    and author.get("value") == self.channel_id
                    and " ".join(str(snippet.get("textOriginal", "")).split()) == wanted
                ):
                    return str(item.get("id"))
            token = body.get("nextPageToken")
            if not token:
                break
        return None
