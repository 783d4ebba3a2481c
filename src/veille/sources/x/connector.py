"""``XConnector``: reads mentions, recent search, list timelines and DMs; replies, posts, DMs,
likes, reposts, hides replies and deletes its own posts — as far as the access tier allows.

Cursor (JSON)::

    {"v": 1, "turn": 3,
     "streams": {"mentions": {"since_id": "17…", "run": null},
                 "list:123": {"since_id": "17…",
                              "run": {"since_id": "16…", "next_token": "…", "newest_id": "17…",
                                      "pages": 2}}}}

Each ``poll`` makes exactly one request: one page of one stream, streams taken in turn. A stream
is read newest first; a *run* pages down from the newest post to the ``since_id`` of the previous
run, and only when the run is over does ``since_id`` move up to the run's newest id. A restart
mid-run resumes from ``next_token`` with the same lower bound, so nothing is skipped and nothing
is returned twice (a page re-read after a crash between "persist records" and "store cursor" is
deduplicated downstream).
"""

from __future__ import annotations

import collections
import re
import time
from collections.abc import Callable
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
from veille.sources.x.client import AlreadyDone, DuplicateContent, NotFound, XClient
from veille.sources.x.normalize import normalize_payload, unescape_text

TIERS = ("free", "basic", "pro")

_ACT_FREE = {"act.post", "act.reply", "act.delete", "act.like", "act.repost"}
_READ_BASIC = {"read.mentions", "read.search", "read.lists"}
_DM = {"read.dm", "act.dm"}
# What each tier allows (X's published tiers; the free tier reads nothing and can post only
# ~17 times a day, direct messages need Pro or DM access granted to the app).
TIER_CAPABILITIES: dict[str, frozenset[str]] = {
    "free": frozenset(_ACT_FREE),
    "basic": frozenset(_ACT_FREE | _READ_BASIC | {"act.hide", "act.unhide"}),
    "pro": frozenset(_ACT_FREE | _READ_BASIC | {"act.hide", "act.unhide"} | _DM),
}
# OAuth 2.0 scopes each capability needs (checked only when the granted scopes are known).
CAPABILITY_SCOPES: dict[str, set[str]] = {
    "read.mentions": {"tweet.read", "users.read"},
    "read.search": {"tweet.read", "users.read"},
    "read.lists": {"tweet.read", "users.read", "list.read"},
    "read.dm": {"dm.read", "tweet.read", "users.read"},
    "act.post": {"tweet.write", "tweet.read", "users.read"},
    "act.reply": {"tweet.write", "tweet.read", "users.read"},
    "act.delete": {"tweet.write", "tweet.read", "users.read"},
    "act.like": {"like.write", "tweet.read", "users.read"},
    "act.repost": {"tweet.write", "tweet.read", "users.read"},
    "act.dm": {"dm.write", "dm.read", "tweet.read", "users.read"},
    "act.hide": {"tweet.moderate.write", "tweet.read", "users.read"},
    "act.unhide": {"tweet.moderate.write", "tweet.read", "users.read"},
}

TWEET_FIELDS = (
    "id,text,author_id,created_at,conversation_id,in_reply_to_user_id,referenced_tweets,"
    "lang,note_tweet,public_metrics,entities"
)
USER_FIELDS = "id,name,username,public_metrics"
DM_FIELDS = "id,text,event_type,created_at,dm_conversation_id,sender_id,participant_ids,referenced_tweets,attachments"

# (minimum, maximum) ``max_results`` per endpoint, as documented.
_PAGE_LIMITS = {"mentions": (5, 100), "search": (10, 100), "list": (1, 100), "dm": (1, 100)}
_URL_RE = re.compile(r"https?://\S+")
_LEADING_MENTIONS_RE = re.compile(r"^(?:@\w+\s+)+")


def _match_text(text: str) -> str:
    """Text as compared by lookup-before-retry: X shortens links and prefixes reply mentions."""
    text = unescape_text(text)
    text = _URL_RE.sub("<url>", text)
    text = _LEADING_MENTIONS_RE.sub("", text.strip())
    return " ".join(text.split())


def _as_int_id(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def parse_follow(entry: str) -> tuple[str, str]:
    """``"mentions"``, ``"search:<query>"``, ``"list:<id>"``, ``"dm"`` → (kind, argument)."""
    if entry in ("mentions", "dm"):
        return entry, ""
    kind, sep, arg = entry.partition(":")
    if sep and kind == "search" and arg.strip():
        return "search", arg.strip()
    if sep and kind == "list" and arg.strip().isdigit():
        return "list", arg.strip()
    raise ValueError(
        f"X follow entry {entry!r} is not one of 'mentions', 'search:<query>', 'list:<id>', 'dm'"
    )


class XConnector:
    platform: ClassVar[str] = "x"
    capabilities: ClassVar[frozenset[str]] = frozenset().union(*TIER_CAPABILITIES.values())

    _STREAM_CAPABILITY = {
        "mentions": "read.mentions",
        "search": "read.search",
        "list": "read.lists",
        "dm": "read.dm",
    }
    _ACTIONS = ("reply", "post", "dm", "like", "repost", "hide", "unhide", "delete")
    # Actions that create something; a retry looks for it before sending again.
    _CREATING = ("reply", "post", "dm")

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
        self.user_id = str(settings.get("user_id") or "")
        if not self.user_id.isdigit():
            raise ValueError("X settings need the numeric user_id of the account")
        self.handle = str(settings.get("handle") or "").lstrip("@")
        self.tier = str(settings.get("tier") or "free").lower()
        if self.tier not in TIERS:
            raise ValueError(f"X tier {self.tier!r} is not one of {', '.join(TIERS)}")
        self.follow = [str(f) for f in settings.get("follow") or []]
        self._streams = [parse_follow(f) for f in self.follow]
        self.page_size = int(settings.get("page_size", 100))
        backfill = settings.get("backfill_pages")
        self.backfill_pages = int(backfill) if backfill else None
        self.lookup_settle_s = float(settings.get("lookup_settle_s", 2.0))
        self.client = XClient(
            credentials, base_url=base_url, http=http, on_credentials=on_credentials
        )
        self.clock = clock
        self.sleep = sleep
        # Outbound attempts whose outcome is unknown (sent, then the answer was lost).
        self._in_flight: dict[str, dict[str, Any]] = {}
        self._done: collections.OrderedDict[str, ActionResult] = collections.OrderedDict()

    @property
    def credentials(self) -> dict[str, Any]:
        """Current credentials: X rotates the refresh token, persist these after a refresh."""
        return dict(self.client.credentials)

    def available_capabilities(self) -> frozenset[str]:
        caps = set(TIER_CAPABILITIES[self.tier])
        if self.tier == "basic" and self.settings.get("dm_access"):
            caps |= _DM
        scopes = self.client.scopes
        if scopes is not None:
            caps = {c for c in caps if CAPABILITY_SCOPES.get(c, set()) <= scopes}
        return frozenset(caps)

    def _can_read_own_posts(self) -> bool:
        return self.tier in ("basic", "pro")

    # -- reading ---------------------------------------------------------------------------

    def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        if not self._streams:
            return PollResult(records=[], cursor=dict(cursor or {}), more=False)
        caps = self.available_capabilities()
        refused = [
            entry
            for entry, (kind, _) in zip(self.follow, self._streams, strict=True)
            if self._STREAM_CAPABILITY[kind] not in caps
        ]
        if refused:
            raise Unsupported(
                f"X {self.tier} tier (or the granted scopes) cannot read {', '.join(refused)}; "
                "remove it from follow or upgrade the access"
            )
        state = _copy_cursor(cursor)
        turn = int(state.get("turn", 0)) % len(self._streams)
        entry = self.follow[turn]
        kind, arg = self._streams[turn]
        stream = state["streams"].setdefault(entry, {"since_id": None, "run": None})
        run = stream.get("run") or {
            "since_id": stream.get("since_id"),
            "next_token": None,
            "newest_id": None,
            "pages": 0,
        }
        since = _as_int_id(run.get("since_id"))
        body = self._fetch_page(kind, arg, run)
        records, newest, reached_since = self._records(body, kind, entry, since)
        if newest is not None and (run["newest_id"] is None or newest > int(run["newest_id"])):
            run["newest_id"] = str(newest)
        run["pages"] = int(run.get("pages", 0)) + 1
        meta = body.get("meta") if isinstance(body.get("meta"), dict) else {}
        token = meta.get("next_token")
        capped = (
            since is None
            and self.backfill_pages is not None
            and run["pages"] >= self.backfill_pages
        )
        if token and not reached_since and not capped:
            run["next_token"] = token
            stream["run"] = run
            return PollResult(records=records, cursor=state, more=True)
        # Run over: the lower bound moves up to the newest post this run saw.
        if run["newest_id"] is not None:
            stream["since_id"] = str(max(int(run["newest_id"]), since or 0))
        stream["run"] = None
        state["turn"] = turn + 1
        more = (turn + 1) < len(self._streams)
        if more is False:
            state["turn"] = 0
        return PollResult(records=records, cursor=state, more=more)

    def _fetch_page(self, kind: str, arg: str, run: dict[str, Any]) -> dict[str, Any]:
        low, high = _PAGE_LIMITS[kind]
        size = max(low, min(high, self.page_size))
        token = run.get("next_token")
        since = run.get("since_id")
        user_expansion = {"expansions": "author_id", "user.fields": USER_FIELDS}
        if kind == "mentions":
            params = {
                "max_results": size,
                "tweet.fields": TWEET_FIELDS,
                **user_expansion,
                "since_id": since,
                "pagination_token": token,
            }
            return self.client.request("GET", f"/2/users/{self.user_id}/mentions", params=params)
        if kind == "search":
            params = {
                "query": arg,
                "max_results": size,
                "tweet.fields": TWEET_FIELDS,
                **user_expansion,
                "since_id": since,
                "next_token": token,
            }
            try:
                return self.client.request("GET", "/2/tweets/search/recent", params=params)
            except ConnectorError as exc:
                # Recent search refuses a since_id older than its 7-day window (source paused
                # for a week): read the window from the top; duplicates are removed downstream.
                if type(exc) is not ConnectorError or "since_id" not in str(exc) or not since:
                    raise
                params["since_id"] = None
                run["since_id"] = None
                return self.client.request("GET", "/2/tweets/search/recent", params=params)
        if kind == "list":
            params = {
                "max_results": size,
                "tweet.fields": TWEET_FIELDS,
                **user_expansion,
                "pagination_token": token,
            }
            return self.client.request("GET", f"/2/lists/{arg}/tweets", params=params)
        params = {
            "max_results": size,
            "event_types": "MessageCreate",
            "dm_event.fields": DM_FIELDS,
            "expansions": "sender_id",
            "user.fields": USER_FIELDS,
            "pagination_token": token,
        }
        return self.client.request("GET", "/2/dm_events", params=params)

    def _records(
        self, body: dict[str, Any], kind: str, entry: str, since: int | None
    ) -> tuple[list[RawRecord], int | None, bool]:
        """Records of one page, the newest valid id in it, and whether ``since`` was reached."""
        if "data" not in body and "meta" not in body and body.get("errors"):
            # e.g. an unknown or private list: a 200 whose only content is an ``errors`` array
            raise NotFound(f"X {entry}: {str(body['errors'])[:300]}")
        data = body.get("data") or []
        if not isinstance(data, list):
            raise TransientError(f"X {entry}: 'data' is not a list")
        includes = body.get("includes") if isinstance(body.get("includes"), dict) else {}
        users = {
            str(u.get("id")): u
            for u in includes.get("users") or []
            if isinstance(u, dict) and u.get("id") is not None
        }
        is_dm = kind == "dm"
        meta = {"stream": entry, "account_id": self.user_id, "dm": is_dm}
        records: list[RawRecord] = []
        newest: int | None = None
        reached = False
        for index, item in enumerate(data):
            item_id = _as_int_id(item.get("id")) if isinstance(item, dict) else None
            if item_id is not None and since is not None and item_id <= since:
                reached = True  # list and DM timelines have no since_id: stop at the old ones
                continue
            payload: dict[str, Any] = {"data": item, "veille": meta}
            if isinstance(item, dict):
                author = users.get(str(item.get("sender_id" if is_dm else "author_id")))
                payload["includes"] = {"users": [author] if author else []}
            if item_id is not None:
                newest = item_id if newest is None else max(newest, item_id)
            records.append(
                RawRecord(
                    payload=payload,
                    external_id=str(item_id) if item_id is not None else None,
                    line=index + 1,
                    location=f"x:{entry}",
                )
            )
        return records, newest, reached

    def normalize(self, payload: dict[str, Any]) -> NormalizedPost:
        return normalize_payload(payload)

    # -- acting ----------------------------------------------------------------------------

    def act(self, action: OutboundAction) -> ActionResult:
        kind = action.kind
        if kind not in self._ACTIONS:
            raise Unsupported(f"X has no {kind!r} action (it has: {', '.join(self._ACTIONS)})")
        if f"act.{kind}" not in self.available_capabilities():
            raise Unsupported(
                f"the X {self.tier} tier (or the granted scopes) does not allow {kind!r}"
            )
        key = action.idempotency_key
        if key in self._done:
            return self._done[key]
        retry = key in self._in_flight or int(action.extra.get("attempt", 1) or 1) > 1
        if retry and kind in self._CREATING and self._can_read_own_posts():
            self._settle(key)
            found = self._lookup(action)
            if found is not None:
                return self._finish(key, ActionResult(found, {"recovered": True}))
        had_lost_attempt = key in self._in_flight
        self._in_flight.setdefault(key, {"kind": kind, "started": self.clock()})
        target = action.target_external_id
        try:
            result = getattr(self, f"_send_{kind}")(action)
        except TransientError:
            raise  # the platform may have done it: the retry looks before it sends again
        except DuplicateContent as exc:
            if not retry:
                self._in_flight.pop(key, None)
                raise ConnectorError(str(exc)) from exc
            # Our lost first attempt went through: X refuses the same text twice.
            result = ActionResult(None, {"recovered": True, "duplicate": True})
        except AlreadyDone:
            result = ActionResult(target, {"already": True})
        except NotFound:
            if not (retry and kind == "delete"):
                if not had_lost_attempt:
                    self._in_flight.pop(key, None)
                raise
            result = ActionResult(target, {"already": True})
        except ConnectorError:
            # Refused for sure this time; but if an earlier attempt was lost, keep its record
            # so the next retry still looks before sending.
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
        """Give X a moment to show a post that was accepted just before the answer was lost."""
        attempt = self._in_flight.get(key)
        if attempt is None:
            return
        waited = self.clock() - attempt["started"]
        if waited < self.lookup_settle_s:
            self.sleep(self.lookup_settle_s - waited)

    def _need(self, value: str | None, what: str, kind: str) -> str:
        if not value:
            raise ConnectorError(f"X {kind} needs {what}")
        return str(value)

    def _created_id(self, body: dict[str, Any], field: str, what: str) -> str:
        data = body.get("data")
        if not isinstance(data, dict) or not data.get(field):
            # Accepted (2xx) but unreadable: treat like a lost answer, the retry looks it up.
            raise TransientError(f"X {what}: answer without {field}")
        return str(data[field])

    def _send_reply(self, action: OutboundAction) -> ActionResult:
        target = self._need(action.target_external_id, "target_external_id", "reply")
        body = self.client.request(
            "POST",
            "/2/tweets",
            json={"text": action.text, "reply": {"in_reply_to_tweet_id": target}},
        )
        return ActionResult(self._created_id(body, "id", "reply"))

    def _send_post(self, action: OutboundAction) -> ActionResult:
        body = self.client.request("POST", "/2/tweets", json={"text": action.text})
        return ActionResult(self._created_id(body, "id", "post"))

    def _send_dm(self, action: OutboundAction) -> ActionResult:
        recipient = self._need(action.recipient_external_id, "recipient_external_id", "dm")
        body = self.client.request(
            "POST", f"/2/dm_conversations/with/{recipient}/messages", json={"text": action.text}
        )
        event_id = self._created_id(body, "dm_event_id", "dm")
        return ActionResult(
            event_id, {"dm_conversation_id": body["data"].get("dm_conversation_id")}
        )

    def _send_like(self, action: OutboundAction) -> ActionResult:
        target = self._need(action.target_external_id, "target_external_id", "like")
        self.client.request("POST", f"/2/users/{self.user_id}/likes", json={"tweet_id": target})
        return ActionResult(target)

    def _send_repost(self, action: OutboundAction) -> ActionResult:
        target = self._need(action.target_external_id, "target_external_id", "repost")
        self.client.request("POST", f"/2/users/{self.user_id}/retweets", json={"tweet_id": target})
        return ActionResult(target)

    def _send_hide(self, action: OutboundAction, hidden: bool = True) -> ActionResult:
        target = self._need(action.target_external_id, "target_external_id", action.kind)
        self.client.request("PUT", f"/2/tweets/{target}/hidden", json={"hidden": hidden})
        return ActionResult(target, {"hidden": hidden})

    def _send_unhide(self, action: OutboundAction) -> ActionResult:
        return self._send_hide(action, hidden=False)

    def _send_delete(self, action: OutboundAction) -> ActionResult:
        target = self._need(action.target_external_id, "target_external_id", "delete")
        self.client.request("DELETE", f"/2/tweets/{target}")
        return ActionResult(target, {"deleted": True})

    # -- lookup before retry ---------------------------------------------------------------

    def _lookup(self, action: OutboundAction) -> str | None:
        """The id of what a lost earlier attempt created, if X shows it; None otherwise."""
        wanted = _match_text(action.text)
        if action.kind == "dm":
            recipient = self._need(action.recipient_external_id, "recipient_external_id", "dm")
            body = self.client.request(
                "GET",
                f"/2/dm_conversations/with/{recipient}/dm_events",
                params={
                    "max_results": 50,
                    "event_types": "MessageCreate",
                    "dm_event.fields": "id,text,sender_id,created_at,event_type",
                },
            )
            for event in body.get("data") or []:
                if (
                    isinstance(event, dict)
                    and str(event.get("sender_id")) == self.user_id
                    and _match_text(str(event.get("text", ""))) == wanted
                ):
                    return str(event.get("id"))
            return None
        body = self.client.request(
            "GET",
            f"/2/users/{self.user_id}/tweets",
            params={
                "max_results": 100,
                "exclude": "retweets",
                "tweet.fields": "id,text,created_at,referenced_tweets,note_tweet",
            },
        )
        target = action.target_external_id if action.kind == "reply" else None
        for tweet in body.get("data") or []:
            if not isinstance(tweet, dict):
                continue
            replied_to = None
            for ref in tweet.get("referenced_tweets") or []:
                if isinstance(ref, dict) and ref.get("type") == "replied_to":
                    replied_to = str(ref.get("id"))
            text = tweet.get("text", "")
            note = tweet.get("note_tweet")
            if isinstance(note, dict) and note.get("text"):
                text = note["text"]
            if replied_to == (str(target) if target else None) and _match_text(str(text)) == wanted:
                return str(tweet.get("id"))
        return None


def _copy_cursor(cursor: dict[str, Any] | None) -> dict[str, Any]:
    state: dict[str, Any] = {"v": 1, "turn": 0, "streams": {}}
    if cursor:
        state["turn"] = int(cursor.get("turn", 0) or 0)
        for name, stream in (cursor.get("streams") or {}).items():
            if isinstance(stream, dict):
                run = stream.get("run")
                state["streams"][name] = {
                    "since_id": stream.get("since_id"),
                    "run": dict(run) if isinstance(run, dict) else None,
                }
    return state
