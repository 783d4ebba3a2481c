"""A small Mastodon instance on loopback, speaking the documented REST and streaming API.

Implements what the connector uses, the way docs.joinmastodon.org describes it: bearer-token
auth (401 ``{"error": ...}``), ``max_id`` / ``since_id`` / ``min_id`` / ``limit`` pagination
with a ``Link`` header (``rel="next"`` → older, ``rel="prev"`` → newer), ``types[]`` on
notifications, conversations paginated by their last status, ``/api/v2/search`` (no Link
header), ``Idempotency-Key`` on ``POST /api/v1/statuses``, ``X-RateLimit-*`` headers with an
ISO 8601 reset, and server-sent events on ``/api/v1/streaming/*`` (``event:``/``data:`` lines,
``:thump`` heartbeats).

Failure knobs: ``fail_next(kind, path=..., method=...)`` with kind ``401``, ``403``, ``429``,
``500``, ``malformed`` (a 200 whose body is not JSON), ``drop`` (close without answering) or
``drop_after`` (process the request, then close without answering).
"""

from __future__ import annotations

import dataclasses
import json
import queue
import re
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TOKEN = "test-token"


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclasses.dataclass
class Failure:
    kind: str
    path: str | None = None  # prefix of the request path it applies to
    method: str | None = None
    reset_in_s: int = 30
    retry_after: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.path is None or path.startswith(self.path)) and (
            self.method is None or self.method == method
        )


class FakeMastodon:
    def __init__(self, own_username: str = "brand", domain: str = "mastodon.example") -> None:
        self.domain = domain
        self.lock = threading.RLock()
        self._ids = 110_000_000_000_000_000
        self.accounts: dict[str, dict[str, Any]] = {}
        self.statuses: dict[int, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []  # raw objects, possibly malformed
        self.conversations: dict[str, dict[str, Any]] = {}
        self.lists: dict[str, list[int]] = {}
        self.favourites: set[int] = set()
        self.reblogs: dict[int, int] = {}  # original id → reblog id
        self.idempotency: dict[str, int] = {}
        self.failures: list[Failure] = []
        self.requests: list[tuple[str, str, dict[str, list[str]], dict[str, str]]] = []
        self.stream_subscribers: list[tuple[str, queue.Queue[Any]]] = []
        self.me = self.add_account(own_username, display_name="Brand", followers=1200, local=True)
        self.server: ThreadingHTTPServer | None = None
        self.base_url = ""

    # ---------------------------------------------------------------- data

    def next_id(self) -> int:
        with self.lock:
            self._ids += 1 + (self._ids % 7)
            return self._ids

    def add_account(
        self, username: str, *, display_name: str = "", followers: int = 3, local: bool = False,
        remote_domain: str = "remote.example",
    ) -> dict[str, Any]:
        acct = username if local else f"{username}@{remote_domain}"
        account = {
            "id": str(len(self.accounts) + 1),
            "username": username,
            "acct": acct,
            "display_name": display_name,
            "followers_count": followers,
            "url": f"https://{self.domain if local else remote_domain}/@{username}",
        }
        self.accounts[account["id"]] = account
        return account

    def add_status(
        self,
        content: str,
        *,
        account: dict[str, Any] | None = None,
        tags: tuple[str, ...] = (),
        visibility: str = "public",
        in_reply_to_id: str | None = None,
        mention_me: bool = False,
        lists: tuple[str, ...] = (),
        language: str | None = "en",
        created_at: datetime | None = None,
    ) -> dict[str, Any]:
        account = account or self.add_account(f"user{len(self.accounts)}")
        with self.lock:
            sid = self.next_id()
            status = {
                "id": str(sid),
                "created_at": iso(created_at or datetime.now(UTC)),
                "in_reply_to_id": in_reply_to_id,
                "visibility": visibility,
                "language": language,
                "uri": f"https://{self.domain}/users/{account['username']}/statuses/{sid}",
                "url": f"https://{self.domain}/@{account['acct']}/{sid}",
                "content": content,
                "spoiler_text": "",
                "account": account,
                "reblog": None,
                "mentions": [{"id": self.me["id"], "acct": self.me["acct"]}] if mention_me else [],
                "tags": [{"name": t.lower()} for t in tags],
            }
            self.statuses[sid] = status
            for list_id in lists:
                self.lists.setdefault(list_id, []).append(sid)
            for tag in tags:
                self.publish(f"hashtag:{tag.lower()}", "update", status)
            for list_id in lists:
                self.publish(f"list:{list_id}", "update", status)
            if mention_me and account["id"] != self.me["id"]:
                notification = {
                    "id": str(self.next_id()),
                    "type": "mention",
                    "created_at": status["created_at"],
                    "account": account,
                    "status": status,
                }
                self.notifications.append(notification)
                self.publish("user:notification", "notification", notification)
            if visibility == "direct":
                conv_id = str(in_reply_to_id and self._conversation_of(in_reply_to_id) or sid)
                conversation = {
                    "id": conv_id,
                    "unread": True,
                    "accounts": [account],
                    "last_status": status,
                }
                self.conversations[conv_id] = conversation
                self.publish("direct", "conversation", conversation)
            return status

    def _conversation_of(self, status_id: str) -> str | None:
        for conv_id, conv in self.conversations.items():
            if conv["last_status"]["id"] == status_id:
                return conv_id
        return None

    def add_notification(self, notification: dict[str, Any]) -> None:
        """A raw (possibly malformed) notification, for the malformed-item tests."""
        with self.lock:
            self.notifications.append(notification)

    def add_favourite_notification(self, status: dict[str, Any]) -> None:
        with self.lock:
            self.notifications.append(
                {"id": str(self.next_id()), "type": "favourite", "created_at": status["created_at"],
                 "account": status["account"], "status": status}
            )

    def own_statuses(self) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.statuses.values() if s["account"]["id"] == self.me["id"]]

    # ---------------------------------------------------------------- knobs

    def fail_next(self, kind: str, path: str | None = None, method: str | None = None, **kw: Any) -> None:
        with self.lock:
            self.failures.append(Failure(kind, path, method, **kw))

    def take_failure(self, method: str, path: str) -> Failure | None:
        with self.lock:
            for index, failure in enumerate(self.failures):
                if failure.matches(method, path):
                    return self.failures.pop(index)
        return None

    def publish(self, stream: str, event: str, payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        with self.lock:
            for name, q in self.stream_subscribers:
                if name == stream:
                    q.put((event, data))

    def drop_streams(self) -> None:
        with self.lock:
            for _, q in self.stream_subscribers:
                q.put(None)

    def wait_subscribers(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.stream_subscribers) >= count:
                    return
            time.sleep(0.01)
        raise AssertionError(f"expected {count} stream subscribers, have {len(self.stream_subscribers)}")

    def request_count(self, method: str, path_prefix: str) -> int:
        with self.lock:
            return sum(1 for m, p, _, _ in self.requests if m == method and p.startswith(path_prefix))

    # ---------------------------------------------------------------- server

    def start(self) -> str:
        fake = self

        class Handler(_Handler):
            server_state = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True, name="fake-mastodon").start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        self.drop_streams()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _paginate(
    items: list[tuple[int, Any]], query: dict[str, list[str]], *, default: int = 20, maximum: int = 40
) -> list[tuple[int, Any]]:
    """``items`` as (pagination id, object); returns the page newest first, like Mastodon."""

    def arg(name: str) -> int | None:
        value = query.get(name, [None])[0]
        return int(value) if value not in (None, "") else None

    max_id, since_id, min_id = arg("max_id"), arg("since_id"), arg("min_id")
    limit = min(max(arg("limit") or default, 1), maximum)
    chosen = [
        (pid, obj)
        for pid, obj in items
        if (max_id is None or pid < max_id)
        and (since_id is None or pid > since_id)
        and (min_id is None or pid > min_id)
    ]
    chosen.sort(key=lambda pair: pair[0], reverse=True)
    if min_id is not None:
        # min_id: the results immediately newer than min_id (still sorted newest first).
        return list(reversed(sorted(chosen, key=lambda pair: pair[0])[:limit]))
    return chosen[:limit]


class _Handler(BaseHTTPRequestHandler):
    server_state: FakeMastodon
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet tests
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + delayed ACK cost 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- plumbing

    def _send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(body).encode()
        self._send_raw(status, raw, "application/json; charset=utf-8", headers)

    def _send_raw(self, status: int, raw: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        reset = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
        self.send_header("X-RateLimit-Limit", "300")
        self.send_header("X-RateLimit-Remaining", "299")
        self.send_header("X-RateLimit-Reset", reset.isoformat().replace("+00:00", ".000Z"))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype:
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
        return {k: v[0] for k, v in parse_qs(raw.decode()).items()}

    def _handle(self, method: str) -> None:
        fake = self.server_state
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        with fake.lock:
            fake.requests.append((method, path, query, dict(self.headers)))
        body = self._body() if method in ("POST", "PUT", "PATCH") else {}
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send_json(401, {"error": "The access token is invalid"})
            return
        failure = fake.take_failure(method, path)
        if failure is not None and failure.kind != "drop_after":
            self._fail(failure)
            return
        try:
            status, payload, headers = self._route(method, path, query, body)
        except _Stream as stream:
            self._serve_stream(stream.name)
            return
        if failure is not None:  # drop_after: the work is done, the answer is lost
            self._drop()
            return
        if isinstance(payload, bytes):
            self._send_raw(status, payload, "text/plain", headers)
        else:
            self._send_json(status, payload, headers)

    def _fail(self, failure: Failure) -> None:
        if failure.kind == "drop":
            self._drop()
        elif failure.kind in ("401", "403"):
            message = "The access token was revoked" if failure.kind == "401" else (
                "This action is outside the authorized scopes"
            )
            self._send_json(int(failure.kind), {"error": message})
        elif failure.kind == "429":
            reset = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=failure.reset_in_s)
            headers = {
                "X-RateLimit-Reset": reset.isoformat().replace("+00:00", ".000Z"),
            }
            if failure.retry_after is not None:
                headers["Retry-After"] = failure.retry_after
            self.send_response(429)
            body = json.dumps({"error": "Too many requests"}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-RateLimit-Limit", "300")
            self.send_header("X-RateLimit-Remaining", "0")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        elif failure.kind == "500":
            self._send_json(500, {"error": "We're sorry, but something went wrong on our end."})
        elif failure.kind == "malformed":
            self._send_raw(200, b'[{"id": "1", "content": "truncated', "application/json")
        else:
            raise AssertionError(f"unknown failure kind {failure.kind}")

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    # -- routes

    def _link(self, path: str, query: dict[str, list[str]], page: list[tuple[int, Any]]) -> dict[str, str]:
        if not page:
            return {}
        keep = {k: v for k, v in query.items() if k not in ("max_id", "min_id", "since_id")}
        base = f"{self.server_state.base_url}{path}"
        older = urlencode([*((k, x) for k, vs in keep.items() for x in vs), ("max_id", page[-1][0])])
        newer = urlencode([*((k, x) for k, vs in keep.items() for x in vs), ("min_id", page[0][0])])
        return {"Link": f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'}

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]
    ) -> tuple[int, Any, dict[str, str]]:
        fake = self.server_state
        not_found = (404, {"error": "Record not found"}, {})
        with fake.lock:
            if method == "GET" and path == "/api/v1/accounts/verify_credentials":
                return 200, fake.me, {}
            if m := re.fullmatch(r"/api/v1/accounts/(\w+)", path):
                account = fake.accounts.get(m.group(1))
                return (200, account, {}) if account else not_found
            if method == "GET" and path == "/api/v1/notifications":
                types = query.get("types[]")
                items = []
                for n in fake.notifications:
                    try:
                        pid = int(n["id"])
                    except (KeyError, TypeError, ValueError):
                        continue
                    if types and n.get("type") not in types:
                        continue
                    items.append((pid, n))
                page = _paginate(items, query, default=40, maximum=80)
                return 200, [obj for _, obj in page], self._link(path, query, page)
            if m := re.fullmatch(r"/api/v1/timelines/tag/([^/]+)", path):
                tag = m.group(1).lower()
                items = [(int(s["id"]), s) for s in fake.statuses.values()
                         if any(t["name"] == tag for t in s["tags"]) and s["visibility"] == "public"]
                page = _paginate(items, query)
                return 200, [obj for _, obj in page], self._link(path, query, page)
            if m := re.fullmatch(r"/api/v1/timelines/list/([^/]+)", path):
                if m.group(1) not in fake.lists:
                    return not_found
                items = [(sid, fake.statuses[sid]) for sid in fake.lists[m.group(1)]]
                page = _paginate(items, query)
                return 200, [obj for _, obj in page], self._link(path, query, page)
            if method == "GET" and path == "/api/v1/conversations":
                items = [(int(c["last_status"]["id"]), c) for c in fake.conversations.values()]
                page = _paginate(items, query)
                return 200, [obj for _, obj in page], self._link(path, query, page)
            if method == "GET" and path == "/api/v2/search":
                q = (query.get("q") or [""])[0].lower()
                words = q.split()
                items = [
                    (int(s["id"]), s)
                    for s in fake.statuses.values()
                    if words and all(w in s["content"].lower() for w in words) and s["visibility"] == "public"
                ]
                offset = int((query.get("offset") or ["0"])[0])
                page = _paginate(items, query)[offset:]
                return 200, {"accounts": [], "statuses": [obj for _, obj in page], "hashtags": []}, {}
            if path.startswith("/api/v1/streaming/"):
                stream = {
                    "/api/v1/streaming/user/notification": "user:notification",
                    "/api/v1/streaming/direct": "direct",
                }.get(path)
                if path == "/api/v1/streaming/hashtag":
                    stream = f"hashtag:{(query.get('tag') or [''])[0].lower()}"
                if path == "/api/v1/streaming/list":
                    stream = f"list:{(query.get('list') or [''])[0]}"
                if stream is None:
                    return not_found
                raise _Stream(stream)
            if method == "POST" and path == "/api/v1/statuses":
                return self._create_status(body)
            if m := re.fullmatch(r"/api/v1/statuses/(\d+)", path):
                status = fake.statuses.get(int(m.group(1)))
                if status is None:
                    return not_found
                if method == "GET":
                    return 200, status, {}
                if method == "DELETE":
                    if status["account"]["id"] != fake.me["id"]:
                        return not_found
                    del fake.statuses[int(m.group(1))]
                    return 200, status, {}
            if m := re.fullmatch(r"/api/v1/statuses/(\d+)/(favourite|unfavourite|reblog|unreblog)", path):
                sid = int(m.group(1))
                status = fake.statuses.get(sid)
                if status is None or method != "POST":
                    return not_found
                verb = m.group(2)
                if verb == "favourite":
                    fake.favourites.add(sid)
                elif verb == "unfavourite":
                    fake.favourites.discard(sid)
                elif verb == "reblog":
                    if sid not in fake.reblogs:
                        rid = fake.next_id()
                        fake.reblogs[sid] = rid
                        fake.statuses[rid] = {**status, "id": str(rid), "account": fake.me,
                                              "content": "", "reblog": status, "tags": []}
                    return 200, fake.statuses[fake.reblogs[sid]], {}
                elif verb == "unreblog":
                    rid = fake.reblogs.pop(sid, None)
                    if rid:
                        fake.statuses.pop(rid, None)
                return 200, status, {}
        return not_found

    def _create_status(self, body: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        fake = self.server_state
        key = self.headers.get("Idempotency-Key")
        if key and key in fake.idempotency:
            return 200, fake.statuses[fake.idempotency[key]], {}
        text = str(body.get("status") or "")
        if not text.strip():
            return 422, {"error": "Validation failed: Text can't be blank"}, {}
        reply_to = body.get("in_reply_to_id")
        if reply_to and int(reply_to) not in fake.statuses:
            return 404, {"error": "Record not found"}, {}
        from html import escape

        status = fake.add_status(
            f"<p>{escape(text)}</p>",
            account=fake.me,
            visibility=str(body.get("visibility") or "public"),
            in_reply_to_id=str(reply_to) if reply_to else None,
            language=body.get("language") or "en",
        )
        if key:
            fake.idempotency[key] = int(status["id"])
        return 200, status, {}

    def _serve_stream(self, name: str) -> None:
        fake = self.server_state
        q: queue.Queue[Any] = queue.Queue()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self.wfile.flush()
        with fake.lock:
            fake.stream_subscribers.append((name, q))
        try:
            last_beat = time.monotonic()
            while True:
                try:
                    item = q.get(timeout=0.05)
                except queue.Empty:
                    item = ()
                if item is None:
                    break
                if item:
                    event, data = item
                    self.wfile.write(f"event: {event}\ndata: {data}\n\n".encode())
                    self.wfile.flush()
                if time.monotonic() - last_beat > 0.5:
                    self.wfile.write(b":thump\n")
                    self.wfile.flush()
                    last_beat = time.monotonic()
        except OSError:
            pass
        finally:
            with fake.lock:
                fake.stream_subscribers = [(n, x) for n, x in fake.stream_subscribers if x is not q]
            self._drop()


class _Stream(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
