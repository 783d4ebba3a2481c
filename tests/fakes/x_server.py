"""A local stand-in for the X API v2, speaking the documented shapes.

Endpoints: mentions, recent search, list posts, DM events (all and per conversation), a user's own
posts, create post / reply, send DM, like, repost, hide reply, delete post, and the OAuth 2.0
token endpoint. Errors use X's problem JSON (``title``, ``detail``, ``type``, ``status``) and
429s carry ``x-rate-limit-*`` headers. ``fail_next`` injects one failure into the next matching
request: ``"401"``, ``"429"``, ``"500"``, ``"malformed"``, ``"drop"`` (process the request, then
close the connection without answering), ``"403-enrollment"``.
"""

from __future__ import annotations

import collections
import email.utils
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PROBLEM = "https://api.twitter.com/2/problems/"


class FakeX:
    def __init__(self, me_id: str = "1000", me_username: str = "alpina") -> None:
        self.lock = threading.RLock()
        self.me_id = me_id
        self.users: dict[str, dict[str, Any]] = {}
        self.tweets: dict[str, dict[str, Any]] = {}  # id → tweet (public fields + "_" internals)
        self.dm_events: dict[str, dict[str, Any]] = {}
        self.lists: dict[str, list[str]] = collections.defaultdict(list)
        self.likes: set[str] = set()
        self.retweets: set[str] = set()
        self.access_tokens = {"at-1"}
        self.refresh_tokens = {"rt-1"}
        self.refresh_fails = False
        self.token_counter = 1
        self.failures: collections.deque[dict[str, Any]] = collections.deque()
        self.requests: list[dict[str, Any]] = []
        self.next_id = 1_700_000_000_000_000_000
        self.now: int | None = None  # fixed epoch seconds for the Date header, when set
        self.add_user(me_id, me_username, "Alpina", 5000)
        self._server: ThreadingHTTPServer | None = None

    # -- data --------------------------------------------------------------------------------

    def _new_id(self) -> str:
        with self.lock:
            self.next_id += 1000
            return str(self.next_id)

    def clock(self) -> int:
        return self.now if self.now is not None else int(time.time())

    def add_user(self, user_id: str, username: str, name: str = "", followers: int = 10) -> None:
        self.users[user_id] = {
            "id": user_id,
            "username": username,
            "name": name or username.title(),
            "public_metrics": {
                "followers_count": followers,
                "following_count": 1,
                "tweet_count": 1,
                "listed_count": 0,
            },
        }

    def add_tweet(
        self,
        author_id: str,
        text: str,
        *,
        reply_to: str | None = None,
        mentions_me: bool = False,
        lists: tuple[str, ...] = (),
        retweet: bool = False,
        **extra: Any,
    ) -> str:
        tweet_id = self._new_id()
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "author_id": author_id,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "conversation_id": tweet_id,
            "edit_history_tweet_ids": [tweet_id],
            "lang": "en",
            "_mentions_me": mentions_me,
        }
        if reply_to:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
            parent = self.tweets.get(reply_to)
            if parent:
                tweet["in_reply_to_user_id"] = parent["author_id"]
                tweet["conversation_id"] = parent["conversation_id"]
        if retweet:
            tweet["referenced_tweets"] = [{"type": "retweeted", "id": "1"}]
        tweet.update(extra)
        with self.lock:
            self.tweets[tweet_id] = tweet
            for list_id in lists:
                self.lists[list_id].append(tweet_id)
        return tweet_id

    def add_raw_tweet(self, raw: Any, *, mentions_me: bool = True) -> None:
        """A malformed item, served as is inside an otherwise good page."""
        with self.lock:
            key = f"raw-{self._new_id()}"
            self.tweets[key] = {"_raw": raw, "_mentions_me": mentions_me, "_sort": int(key[4:])}

    def add_dm(self, sender_id: str, text: str, *, with_user: str | None = None) -> str:
        event_id = self._new_id()
        other = with_user or sender_id
        pair = sorted([self.me_id, other])
        self.dm_events[event_id] = {
            "id": event_id,
            "event_type": "MessageCreate",
            "text": text,
            "sender_id": sender_id,
            "dm_conversation_id": f"{pair[0]}-{pair[1]}",
            "participant_ids": pair,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        }
        return event_id

    def own_replies_to(self, target: str) -> list[dict[str, Any]]:
        return [
            t
            for t in self.tweets.values()
            if t.get("author_id") == self.me_id
            and any(r.get("id") == target for r in t.get("referenced_tweets", []))
        ]

    def fail_next(
        self,
        kind: str,
        *,
        method: str | None = None,
        path: str | None = None,
        reset_in: int = 120,
        times: int = 1,
    ) -> None:
        for _ in range(times):
            self.failures.append(
                {"kind": kind, "method": method, "path": path, "reset_in": reset_in}
            )

    def expire_tokens(self) -> None:
        self.access_tokens.clear()

    # -- server ------------------------------------------------------------------------------

    def start(self) -> str:
        fake = self

        class Handler(_Handler):
            pass

        Handler.fake = fake
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- request handling ----------------------------------------------------------------------

    def take_failure(self, method: str, path: str) -> dict[str, Any] | None:
        with self.lock:
            for failure in list(self.failures):
                if failure["method"] and failure["method"] != method:
                    continue
                if failure["path"] and failure["path"] not in path:
                    continue
                self.failures.remove(failure)
                return failure
        return None

    @staticmethod
    def public(tweet: dict[str, Any]) -> Any:
        if "_raw" in tweet:
            return tweet["_raw"]
        return {k: v for k, v in tweet.items() if not k.startswith("_")}

    def page(
        self,
        items: list[dict[str, Any]],
        query: dict[str, str],
        *,
        token_param: str,
        since_ok: bool,
        default_size: int = 10,
        user_field: str = "author_id",
    ) -> dict[str, Any]:
        def sort_key(t: dict[str, Any]) -> int:
            return int(t["_sort"]) if "_sort" in t else int(t["id"])

        items = sorted(items, key=sort_key, reverse=True)
        if since_ok and query.get("since_id"):
            items = [t for t in items if sort_key(t) > int(query["since_id"])]
        token = query.get(token_param) or query.get("pagination_token")
        if token:
            bound = int(token.removeprefix("p_"))
            items = [t for t in items if sort_key(t) < bound]
        size = int(query.get("max_results", default_size))
        chunk, rest = items[:size], items[size:]
        body: dict[str, Any] = {"meta": {"result_count": len(chunk)}}
        if chunk:
            body["data"] = [self.public(t) for t in chunk]
            ids = [t["id"] for t in chunk if "id" in t]
            if ids:
                body["meta"]["newest_id"] = max(ids, key=int)
                body["meta"]["oldest_id"] = min(ids, key=int)
            authors = {t.get(user_field) for t in chunk if isinstance(t.get(user_field), str)}
            users = [self.users[a] for a in sorted(authors) if a in self.users]
            if users and "expansions" in query:
                body["includes"] = {"users": users}
        if rest:
            body["meta"]["next_token"] = f"p_{sort_key(chunk[-1])}"
        return body


def _problem(status: int, title: str, detail: str, kind: str = "about:blank") -> dict[str, Any]:
    return {"title": title, "detail": detail, "type": kind, "status": status}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeX
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(self.fake.clock(), usegmt=True)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _send(
        self,
        status: int,
        body: Any,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        merged = {
            "x-rate-limit-limit": "180",
            "x-rate-limit-remaining": "179",
            "x-rate-limit-reset": str(self.fake.clock() + 900),
            **(headers or {}),
        }
        for name, value in merged.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        fake = self.fake
        parts = urllib.parse.urlsplit(self.path)
        path = parts.path
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        with fake.lock:
            fake.requests.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "body": raw_body.decode("utf-8", "replace"),
                    "auth": self.headers.get("Authorization", ""),
                }
            )
        failure = fake.take_failure(method, path)
        if failure and failure["kind"] != "drop":
            kind = failure["kind"]
            if kind == "401":
                return self._send(401, _problem(401, "Unauthorized", "Unauthorized"))
            if kind == "429":
                reset = fake.clock() + failure["reset_in"]
                return self._send(
                    429,
                    _problem(429, "Too Many Requests", "Too Many Requests"),
                    headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
                )
            if kind == "500":
                return self._send(500, _problem(500, "Internal Server Error", "Something broke"))
            if kind == "malformed":
                return self._send(200, None, raw=b'{"data": [{"id": "1", "te')
            if kind == "403-enrollment":
                return self._send(
                    403,
                    {
                        "client_id": "123",
                        "title": "Client Forbidden",
                        "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.",
                        "reason": "client-not-enrolled",
                        "registration_url": "https://developer.x.com/",
                        "required_enrollment": "Appropriate Level of API Access",
                        "type": PROBLEM + "client-forbidden",
                    },
                )
            raise AssertionError(f"unknown failure {kind}")
        if path == "/2/oauth2/token":
            return self._token(raw_body)
        auth = self.headers.get("Authorization", "")
        if not (auth.startswith("OAuth ") or auth.removeprefix("Bearer ") in fake.access_tokens):
            return self._send(401, _problem(401, "Unauthorized", "Unauthorized"))
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError:
            return self._send(
                400,
                {
                    "errors": [{"message": "Invalid JSON"}],
                    "title": "Invalid Request",
                    "detail": "One or more parameters to your request was invalid.",
                    "type": PROBLEM + "invalid-request",
                },
            )
        with fake.lock:
            status, answer = self._route(method, path, query, body)
        if failure and failure["kind"] == "drop":
            self.close_connection = True
            return  # the work is done, the answer is lost
        self._send(status, answer)

    def _token(self, raw_body: bytes) -> None:
        fake = self.fake
        form = dict(urllib.parse.parse_qsl(raw_body.decode()))
        if (
            fake.refresh_fails
            or form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") not in fake.refresh_tokens
        ):
            return self._send(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "Value passed for the token was invalid.",
                },
            )
        with fake.lock:
            fake.refresh_tokens.discard(form["refresh_token"])
            fake.token_counter += 1
            access, refresh = f"at-{fake.token_counter}", f"rt-{fake.token_counter}"
            fake.access_tokens = {access}
            fake.refresh_tokens.add(refresh)
        self._send(
            200,
            {
                "token_type": "bearer",
                "expires_in": 7200,
                "access_token": access,
                "scope": "tweet.read tweet.write users.read dm.read dm.write like.write offline.access tweet.moderate.write list.read",
                "refresh_token": refresh,
            },
        )

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        fake = self.fake
        seg = path.strip("/").split("/")
        not_found = (404, _problem(404, "Not Found", f"{path} not found"))
        if method == "GET":
            if len(seg) == 4 and seg[:2] == ["2", "users"] and seg[3] == "mentions":
                items = [t for t in fake.tweets.values() if t.get("_mentions_me")]
                return 200, fake.page(items, query, token_param="pagination_token", since_ok=True)
            if len(seg) == 4 and seg[:2] == ["2", "users"] and seg[3] == "tweets":
                items = [t for t in fake.tweets.values() if t.get("author_id") == seg[2]]
                return 200, fake.page(items, query, token_param="pagination_token", since_ok=True)
            if seg == ["2", "tweets", "search", "recent"]:
                terms = [
                    w.lower()
                    for w in query.get("query", "").split()
                    if not w.startswith("-") and ":" not in w
                ]
                no_rt = "-is:retweet" in query.get("query", "")
                items = [
                    t
                    for t in fake.tweets.values()
                    if "_raw" not in t
                    and all(w in t["text"].lower() for w in terms)
                    and not (
                        no_rt
                        and any(r["type"] == "retweeted" for r in t.get("referenced_tweets", []))
                    )
                ]
                return 200, fake.page(items, query, token_param="next_token", since_ok=True)
            if len(seg) == 4 and seg[:2] == ["2", "lists"] and seg[3] == "tweets":
                if seg[2] not in fake.lists:
                    return 200, {
                        "errors": [
                            {
                                "value": seg[2],
                                "detail": f"Could not find list with id: [{seg[2]}].",
                                "title": "Not Found Error",
                                "resource_type": "list",
                                "parameter": "id",
                                "resource_id": seg[2],
                                "type": PROBLEM + "resource-not-found",
                            }
                        ]
                    }
                items = [fake.tweets[i] for i in fake.lists[seg[2]]]
                return 200, fake.page(items, query, token_param="pagination_token", since_ok=False)
            if seg == ["2", "dm_events"]:
                return 200, fake.page(
                    list(fake.dm_events.values()),
                    query,
                    token_param="pagination_token",
                    since_ok=False,
                    default_size=100,
                    user_field="sender_id",
                )
            if len(seg) == 5 and seg[:2] == ["2", "dm_conversations"] and seg[4] == "dm_events":
                items = [e for e in fake.dm_events.values() if seg[3] in e["participant_ids"]]
                return 200, fake.page(
                    items,
                    query,
                    token_param="pagination_token",
                    since_ok=False,
                    default_size=100,
                    user_field="sender_id",
                )
            return not_found
        if method == "POST" and seg == ["2", "tweets"]:
            text = body.get("text")
            if not isinstance(text, str) or not text:
                return 400, _problem(400, "Invalid Request", "text is required")
            for t in fake.tweets.values():
                if t.get("author_id") == fake.me_id and t.get("_sent_text") == text:
                    return 403, _problem(
                        403,
                        "Forbidden",
                        "You are not allowed to create a Tweet with duplicate content.",
                    )
            reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
            stored = text
            if reply_to:
                parent = fake.tweets.get(reply_to)
                if parent is None:
                    return 400, _problem(400, "Invalid Request", "reply target does not exist")
                # X shows the text of a reply with the replied-to handle in front of it.
                stored = f"@{fake.users[parent['author_id']]['username']} {text}"
            tweet_id = fake.add_tweet(fake.me_id, stored, reply_to=reply_to, _sent_text=text)
            return 201, {
                "data": {"id": tweet_id, "text": stored, "edit_history_tweet_ids": [tweet_id]}
            }
        if (
            method == "POST"
            and len(seg) == 5
            and seg[:2] == ["2", "dm_conversations"]
            and seg[4] == "messages"
        ):
            event_id = fake.add_dm(fake.me_id, body.get("text", ""), with_user=seg[3])
            return 201, {
                "data": {
                    "dm_conversation_id": fake.dm_events[event_id]["dm_conversation_id"],
                    "dm_event_id": event_id,
                }
            }
        if method == "POST" and len(seg) == 4 and seg[:2] == ["2", "users"] and seg[3] == "likes":
            fake.likes.add(body["tweet_id"])
            return 200, {"data": {"liked": True}}
        if (
            method == "POST"
            and len(seg) == 4
            and seg[:2] == ["2", "users"]
            and seg[3] == "retweets"
        ):
            if body["tweet_id"] in fake.retweets:
                return 403, _problem(
                    403, "Forbidden", "You cannot retweet a Tweet that you have already retweeted."
                )
            fake.retweets.add(body["tweet_id"])
            return 200, {"data": {"retweeted": True}}
        if method == "PUT" and len(seg) == 4 and seg[:2] == ["2", "tweets"] and seg[3] == "hidden":
            tweet = fake.tweets.get(seg[2])
            if tweet is None:
                return not_found
            tweet["_hidden"] = bool(body.get("hidden"))
            return 200, {"data": {"hidden": tweet["_hidden"]}}
        if method == "DELETE" and len(seg) == 3 and seg[:2] == ["2", "tweets"]:
            if fake.tweets.pop(seg[2], None) is None:
                return not_found
            return 200, {"data": {"deleted": True}}
        return not_found
