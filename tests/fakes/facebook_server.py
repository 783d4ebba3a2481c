"""A local stand-in for the Facebook Graph API (Pages: feed, comments, Messenger), speaking the
documented shapes: ``{"data": [...], "paging": {"cursors": {"before", "after"}, "next"}}`` lists,
``{"error": {"message", "type", "code", "error_subcode", "fbtrace_id"}}`` errors, and the
``X-App-Usage`` / ``X-Business-Use-Case-Usage`` headers on throttling.

``fail_next`` injects one failure into the next matching request: ``"190"`` (expired token),
``"throttle-32"`` (page limit with a usage estimate), ``"throttle-4"`` (app limit, no estimate),
``"500"``, ``"transient-2"``, ``"malformed"``, ``"drop"`` (process, then close without answering).
"""

from __future__ import annotations

import base64
import collections
import json
import threading
import urllib.parse
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EPOCH = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


class FakeGraph:
    def __init__(self, page_id: str = "500", page_name: str = "Alpina") -> None:
        self.lock = threading.RLock()
        self.page = {"id": page_id, "name": page_name}
        self.posts: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self.conversations: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.private_replied: set[str] = set()
        self.tokens = {"page-token"}
        self.failures: collections.deque[dict[str, Any]] = collections.deque()
        self.requests: list[dict[str, Any]] = []
        self.counter = 0
        self.now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        self._server: ThreadingHTTPServer | None = None

    # -- data --------------------------------------------------------------------------------

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def tick(self, seconds: int = 1) -> str:
        self.now += timedelta(seconds=seconds)
        return _fmt(self.now)

    def add_post(self, text: str, *, author: dict[str, str] | None = None) -> str:
        with self.lock:
            post_id = f"{self.page['id']}_{9000 + self._next()}"
            when = self.tick()
            self.posts[post_id] = {
                "id": post_id,
                "message": text,
                "from": author or dict(self.page),
                "created_time": when,
                "updated_time": when,
                "permalink_url": f"https://www.facebook.com/{post_id}",
            }
            return post_id

    def add_comment(
        self,
        post_id: str,
        text: str,
        *,
        author: dict[str, str] | None = None,
        parent: str | None = None,
        same_second: bool = False,
        raw: Any = None,
    ) -> str:
        with self.lock:
            comment_id = f"{post_id.split('_')[1]}_{7000 + self._next()}"
            when = _fmt(self.now) if same_second else self.tick()
            comment: dict[str, Any] = {
                "id": comment_id,
                "message": text,
                "from": author or {"id": "2001", "name": "Carla R"},
                "created_time": when,
                "permalink_url": f"https://www.facebook.com/{post_id}?comment_id={comment_id}",
                "_post": post_id,
                "_hidden": False,
            }
            if parent:
                comment["parent"] = {"id": parent}
            if raw is not None:
                comment["_raw"] = raw
            self.comments[comment_id] = comment
            self.posts[post_id]["updated_time"] = when
            return comment_id

    def add_message(self, user: dict[str, str], text: str, *, from_page: bool = False) -> str:
        with self.lock:
            conv = next((c for c in self.conversations.values() if c["_user"] == user["id"]), None)
            if conv is None:
                conv_id = f"t_{100 + self._next()}"
                conv = self.conversations[conv_id] = {
                    "id": conv_id,
                    "_user": user["id"],
                    "_user_obj": user,
                    "updated_time": None,
                }
            when = self.tick()
            message_id = f"m_{self._next()}"
            sender = dict(self.page) if from_page else dict(user)
            recipient = dict(user) if from_page else dict(self.page)
            self.messages[message_id] = {
                "id": message_id,
                "message": text,
                "created_time": when,
                "from": sender,
                "to": {"data": [recipient]},
                "_conv": conv["id"],
            }
            conv["updated_time"] = when
            return message_id

    def page_comments_on(self, object_id: str) -> list[dict[str, Any]]:
        return [
            c
            for c in self.comments.values()
            if c["from"]["id"] == self.page["id"]
            and (
                c.get("parent", {}).get("id") == object_id
                or (c["_post"] == object_id and "parent" not in c)
            )
        ]

    def fail_next(
        self, kind: str, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        for _ in range(times):
            self.failures.append({"kind": kind, "method": method, "path": path})

    # -- server ------------------------------------------------------------------------------

    def start(self) -> str:
        class Handler(_Handler):
            pass

        Handler.fake = self
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

    # -- lists -------------------------------------------------------------------------------

    @staticmethod
    def public(item: dict[str, Any]) -> Any:
        if "_raw" in item:
            return item["_raw"]
        return {k: v for k, v in item.items() if not k.startswith("_")}

    def paged(
        self,
        items: list[dict[str, Any]],
        query: dict[str, str],
        *,
        time_key: str,
        path: str,
        default_limit: int = 25,
    ) -> dict[str, Any]:
        def sort_key(item: dict[str, Any]) -> tuple[str, int]:
            return (item[time_key], int(item["id"].rsplit("_", 1)[-1]))

        items = sorted(items, key=sort_key, reverse=True)
        if query.get("after"):
            stamp, _, num = base64.urlsafe_b64decode(query["after"]).decode().rpartition("|")
            bound = (stamp, int(num))
            items = [i for i in items if sort_key(i) < bound]
        limit = int(query.get("limit", default_limit))
        chunk, rest = items[:limit], items[limit:]
        body: dict[str, Any] = {"data": [self.public(i) for i in chunk]}
        if chunk:

            def token(item: dict[str, Any]) -> str:
                key = sort_key(item)
                return base64.urlsafe_b64encode(f"{key[0]}|{key[1]}".encode()).decode()

            body["paging"] = {"cursors": {"before": token(chunk[0]), "after": token(chunk[-1])}}
            if rest:
                next_query = dict(query, after=token(chunk[-1]))
                body["paging"]["next"] = f"{self.url}{path}?{urllib.parse.urlencode(next_query)}"
        return body


def _error(
    code: int,
    message: str,
    kind: str = "OAuthException",
    subcode: int | None = None,
    transient: bool = False,
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": "AbCdEf123",
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    if transient:
        error["is_transient"] = True
    return {"error": error}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGraph
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

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
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        merged = {
            "X-App-Usage": json.dumps({"call_count": 3, "total_cputime": 1, "total_time": 2}),
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
                }
            )
        failure = fake.take_failure(method, path)
        if failure and failure["kind"] != "drop":
            kind = failure["kind"]
            if kind == "190":
                return self._send(
                    400,
                    _error(190, "Error validating access token: Session has expired.", subcode=463),
                )
            if kind == "throttle-32":
                usage = {
                    fake.page["id"]: [
                        {
                            "type": "pages",
                            "call_count": 100,
                            "total_cputime": 20,
                            "total_time": 30,
                            "estimated_time_to_regain_access": 7,
                        }
                    ]
                }
                return self._send(
                    400,
                    _error(32, "Page request limit reached", subcode=2018218),
                    headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
                )
            if kind == "throttle-4":
                return self._send(
                    400,
                    _error(4, "Application request limit reached"),
                    headers={
                        "X-App-Usage": json.dumps(
                            {"call_count": 100, "total_cputime": 40, "total_time": 60}
                        )
                    },
                )
            if kind == "500":
                return self._send(
                    500, _error(1, "An unknown error occurred", kind="FacebookApiException")
                )
            if kind == "transient-2":
                return self._send(400, _error(2, "Service temporarily unavailable", transient=True))
            if kind == "malformed":
                return self._send(200, None, raw=b'{"data": [{"id": "1_2", "mess')
            raise AssertionError(kind)
        version, _, rest = path.lstrip("/").partition("/")
        if not version.startswith("v"):
            return self._send(400, _error(2500, "Unknown path components", kind="OAuthException"))
        auth = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if (auth or query.get("access_token")) not in fake.tokens:
            return self._send(
                400, _error(190, "Invalid OAuth access token - Cannot parse access token")
            )
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError:
            return self._send(400, _error(100, "Invalid parameter", kind="OAuthException"))
        with fake.lock:
            status, answer = self._route(method, "/" + rest, query, body)
        if failure and failure["kind"] == "drop":
            self.close_connection = True
            return
        self._send(status, answer)

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        fake = self.fake
        seg = path.strip("/").split("/")
        page_id = fake.page["id"]
        missing = (
            400,
            _error(
                100,
                "Unsupported get request. Object with ID does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation",
                kind="GraphMethodException",
                subcode=33,
            ),
        )
        full_path = self.path.split("?")[0]
        if method == "GET":
            if seg == [page_id, "feed"]:
                return 200, fake.paged(
                    list(fake.posts.values()), query, time_key="created_time", path=full_path
                )
            if len(seg) == 2 and seg[1] == "comments":
                obj = seg[0]
                if obj in fake.posts:
                    items = [c for c in fake.comments.values() if c["_post"] == obj]
                    if query.get("filter", "toplevel") == "toplevel":
                        items = [c for c in items if "parent" not in c]
                elif obj in fake.comments:
                    items = [
                        c for c in fake.comments.values() if c.get("parent", {}).get("id") == obj
                    ]
                else:
                    return missing
                if query.get("order") != "reverse_chronological":
                    # Graph's default is chronological; the fake only serves what the connector asks.
                    return 400, _error(100, "fake: only order=reverse_chronological is served")
                return 200, fake.paged(items, query, time_key="created_time", path=full_path)
            if seg == [page_id, "conversations"]:
                if query.get("platform") != "messenger":
                    return 400, _error(100, "(#100) platform must be messenger or instagram")
                convs = [
                    c
                    for c in fake.conversations.values()
                    if not query.get("user_id") or c["_user"] == query["user_id"]
                ]
                return 200, fake.paged(convs, query, time_key="updated_time", path=full_path)
            if len(seg) == 2 and seg[1] == "messages" and seg[0] in fake.conversations:
                items = [m for m in fake.messages.values() if m["_conv"] == seg[0]]
                return 200, fake.paged(items, query, time_key="created_time", path=full_path)
            if len(seg) == 1 and seg[0] in fake.comments:
                comment = fake.comments[seg[0]]
                return 200, {
                    "id": seg[0],
                    "can_reply_privately": seg[0] not in fake.private_replied
                    and comment["from"]["id"] != page_id,
                }
            return missing
        if method == "POST" and len(seg) == 2 and seg[1] == "comments":
            obj = seg[0]
            if obj in fake.posts:
                post, parent = obj, None
            elif obj in fake.comments:
                post, parent = fake.comments[obj]["_post"], obj
            else:
                return missing
            if not body.get("message"):
                return 400, _error(100, "(#100) Missing message or attachment")
            comment_id = fake.add_comment(
                post, body["message"], author=dict(fake.page), parent=parent
            )
            return 200, {"id": comment_id}
        if method == "POST" and seg == [page_id, "messages"]:
            recipient = body.get("recipient") or {}
            text = (body.get("message") or {}).get("text", "")
            if "comment_id" in recipient:
                comment = fake.comments.get(recipient["comment_id"])
                if comment is None:
                    return missing
                if recipient["comment_id"] in fake.private_replied:
                    return 400, _error(10900, "Activity already replied to", kind="OAuthException")
                fake.private_replied.add(recipient["comment_id"])
                message_id = fake.add_message(comment["from"], text, from_page=True)
                return 200, {"recipient_id": comment["from"]["id"], "message_id": message_id}
            user = next(
                (
                    c["_user_obj"]
                    for c in fake.conversations.values()
                    if c["_user"] == recipient.get("id")
                ),
                None,
            )
            if user is None:
                return 400, _error(100, "(#100) No matching user found", subcode=2018001)
            message_id = fake.add_message(user, text, from_page=True)
            return 200, {"recipient_id": user["id"], "message_id": message_id}
        if method == "POST" and len(seg) == 1 and seg[0] in fake.comments:
            fake.comments[seg[0]]["_hidden"] = bool(body.get("is_hidden"))
            return 200, {"success": True}
        if method == "DELETE" and len(seg) == 1:
            if fake.comments.pop(seg[0], None) is None:
                return missing
            return 200, {"success": True}
        return missing
