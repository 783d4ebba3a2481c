"""A local stand-in for the YouTube Data API v3 (comment threads, comments, moderation) and
Google's OAuth token endpoint, speaking the documented shapes: list responses with ``items`` and
``nextPageToken``, errors as ``{"error": {"code", "message", "errors": [{"message", "domain",
"reason"}], "status"}}``.

``fail_next`` injects one failure into the next matching request: ``"401"``, ``"quota"`` (403
quotaExceeded), ``"rate"`` (403 rateLimitExceeded), ``"500"``, ``"malformed"``, ``"drop"``
(process, then close the connection without answering).
"""

from __future__ import annotations

import collections
import email.utils
import json
import threading
import time
import urllib.parse
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeYouTube:
    def __init__(
        self, channel_id: str = "UCalpina000000000000000", channel_name: str = "@alpina"
    ) -> None:
        self.lock = threading.RLock()
        self.channel = {"id": channel_id, "name": channel_name}
        self.threads: dict[
            str, dict[str, Any]
        ] = {}  # thread id → {"video", "top", "replies": [ids]}
        self.comments: dict[str, dict[str, Any]] = {}
        self.moderation: dict[str, str] = {}
        self.access_tokens = {"ya29.first"}
        self.refresh_token = "1//refresh"
        self.refresh_fails = False
        self.token_counter = 0
        self.embedded_replies = 5  # how many replies commentThreads embeds
        self.failures: collections.deque[dict[str, Any]] = collections.deque()
        self.requests: list[dict[str, Any]] = []
        self.counter = 0
        self.now = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        self.date: int | None = None  # fixed epoch seconds for the Date header, when set
        self._server: ThreadingHTTPServer | None = None

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def _comment(
        self, comment_id: str, text: str, author: tuple[str, str], video: str, parent: str | None
    ) -> dict[str, Any]:
        self.now += timedelta(seconds=1)
        snippet: dict[str, Any] = {
            "channelId": self.channel["id"],
            "videoId": video,
            "textDisplay": text.replace("&", "&amp;").replace("\n", "<br>"),
            "textOriginal": text,
            "authorDisplayName": author[1],
            "authorProfileImageUrl": "https://yt3.ggpht.example/x.jpg",
            "authorChannelUrl": f"http://www.youtube.com/channel/{author[0]}",
            "authorChannelId": {"value": author[0]},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": 0,
            "publishedAt": _fmt(self.now),
            "updatedAt": _fmt(self.now),
        }
        if parent:
            snippet["parentId"] = parent
        return {
            "kind": "youtube#comment",
            "etag": f"e{comment_id}",
            "id": comment_id,
            "snippet": snippet,
        }

    def add_thread(
        self,
        text: str,
        *,
        author: tuple[str, str] = ("UCcarla", "@carla"),
        video: str = "vid00000001",
    ) -> str:
        with self.lock:
            thread_id = f"Ugx{self._next():08d}"
            self.comments[thread_id] = self._comment(thread_id, text, author, video, None)
            self.threads[thread_id] = {"video": video, "replies": [], "order": self.counter}
            return thread_id

    def add_reply(
        self, thread_id: str, text: str, *, author: tuple[str, str] = ("UCdimi", "@dimitri")
    ) -> str:
        with self.lock:
            reply_id = f"{thread_id}.r{self._next():04d}"
            video = self.threads[thread_id]["video"]
            self.comments[reply_id] = self._comment(reply_id, text, author, video, thread_id)
            self.threads[thread_id]["replies"].append(reply_id)
            return reply_id

    def add_raw_thread(self, raw: Any) -> None:
        with self.lock:
            self.threads[f"raw{self._next()}"] = {"raw": raw, "replies": [], "order": self.counter}

    def own_replies_to(self, thread_id: str) -> list[dict[str, Any]]:
        return [
            self.comments[r]
            for r in self.threads[thread_id]["replies"]
            if self.comments[r]["snippet"]["authorChannelId"]["value"] == self.channel["id"]
        ]

    def fail_next(
        self, kind: str, *, method: str | None = None, path: str | None = None, times: int = 1
    ) -> None:
        for _ in range(times):
            self.failures.append({"kind": kind, "method": method, "path": path})

    def expire_tokens(self) -> None:
        self.access_tokens.clear()

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

    def page(self, items: list[Any], query: dict[str, str], default: int = 20) -> dict[str, Any]:
        start = (
            int(query.get("pageToken") or "0") if (query.get("pageToken") or "0").isdigit() else -1
        )
        if start < 0:
            return {
                "__error__": (
                    400,
                    "invalidPageToken",
                    "The request specifies an invalid page token.",
                )
            }
        size = int(query.get("maxResults", default))
        chunk = items[start : start + size]
        body: dict[str, Any] = {
            "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
            "items": chunk,
        }
        if start + size < len(items):
            body["nextPageToken"] = str(start + size)
        return body

    def thread_resource(self, thread_id: str) -> Any:
        entry = self.threads[thread_id]
        if "raw" in entry:
            return entry["raw"]
        replies = [self.comments[r] for r in entry["replies"]]
        resource: dict[str, Any] = {
            "kind": "youtube#commentThread",
            "etag": f"t{thread_id}",
            "id": thread_id,
            "snippet": {
                "channelId": self.channel["id"],
                "videoId": entry["video"],
                "topLevelComment": self.comments[thread_id],
                "canReply": True,
                "totalReplyCount": len(replies),
                "isPublic": True,
            },
        }
        if replies:
            resource["replies"] = {"comments": replies[: self.embedded_replies]}
        return resource


def _error(code: int, reason: str, message: str, domain: str = "youtube.api") -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeYouTube
    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        when = self.fake.date if self.fake.date is not None else time.time()
        return email.utils.formatdate(when, usegmt=True)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _send(self, status: int, body: Any, *, raw: bytes | None = None) -> None:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
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
            if kind == "401":
                return self._send(
                    401,
                    _error(
                        401,
                        "authError",
                        "Request had invalid authentication credentials.",
                        domain="global",
                    ),
                )
            if kind == "quota":
                return self._send(
                    403,
                    _error(
                        403,
                        "quotaExceeded",
                        "The request cannot be completed because you have exceeded your quota.",
                        domain="youtube.quota",
                    ),
                )
            if kind == "rate":
                return self._send(
                    403,
                    _error(403, "rateLimitExceeded", "Rate limit exceeded", domain="usageLimits"),
                )
            if kind == "500":
                return self._send(
                    500, _error(500, "backendError", "Backend Error", domain="global")
                )
            if kind == "malformed":
                return self._send(200, None, raw=b'{"items": [{"id": "x", "snip')
            raise AssertionError(kind)
        if path == "/token":
            return self._token(raw_body)
        auth = self.headers.get("Authorization", "").removeprefix("Bearer ")
        if auth not in fake.access_tokens:
            return self._send(
                401,
                _error(
                    401,
                    "authError",
                    "Request had invalid authentication credentials.",
                    domain="global",
                ),
            )
        try:
            body = json.loads(raw_body) if raw_body else {}
        except ValueError:
            return self._send(400, _error(400, "parseError", "Parse Error", domain="global"))
        with fake.lock:
            status, answer = self._route(method, path, query, body)
        if failure and failure["kind"] == "drop":
            self.close_connection = True
            return
        self._send(status, answer)

    def _token(self, raw_body: bytes) -> None:
        fake = self.fake
        form = dict(urllib.parse.parse_qsl(raw_body.decode()))
        if (
            fake.refresh_fails
            or form.get("refresh_token") != fake.refresh_token
            or not form.get("client_secret")
        ):
            return self._send(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "Token has been expired or revoked.",
                },
            )
        with fake.lock:
            fake.token_counter += 1
            token = f"ya29.refreshed{fake.token_counter}"
            fake.access_tokens = {token}
        self._send(
            200,
            {
                "access_token": token,
                "expires_in": 3599,
                "token_type": "Bearer",
                "scope": "https://www.googleapis.com/auth/youtube.force-ssl",
            },
        )

    def _route(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        fake = self.fake
        if method == "GET" and path == "/youtube/v3/commentThreads":
            if query.get("allThreadsRelatedToChannelId") != fake.channel["id"]:
                return 404, _error(404, "channelNotFound", "The channel could not be found.")
            if query.get("order", "time") != "time":
                return 400, _error(400, "invalidParameter", "fake: only order=time is served")

            # Newest activity first: a thread that got a reply moves up.
            def activity(thread_id: str) -> int:
                entry = fake.threads[thread_id]
                return max([entry["order"]] + [int(r.rsplit("r", 1)[1]) for r in entry["replies"]])

            ordered = sorted(fake.threads, key=activity, reverse=True)
            page = fake.page(ordered, query)
            if "__error__" in page:
                status, reason, message = page["__error__"]
                return status, _error(status, reason, message)
            page["items"] = [fake.thread_resource(t) for t in page["items"]]
            page["kind"] = "youtube#commentThreadListResponse"
            return 200, page
        if method == "GET" and path == "/youtube/v3/comments":
            parent = query.get("parentId")
            if parent not in fake.threads:
                return 404, _error(404, "commentNotFound", "The comment could not be found.")
            page = fake.page([fake.comments[r] for r in fake.threads[parent]["replies"]], query)
            page["kind"] = "youtube#commentListResponse"
            return 200, page
        if method == "POST" and path == "/youtube/v3/comments":
            snippet = body.get("snippet") or {}
            parent = snippet.get("parentId")
            if parent not in fake.threads:
                return 404, _error(
                    404, "parentCommentNotFound", "The parent comment could not be found."
                )
            if not snippet.get("textOriginal"):
                return 400, _error(400, "commentTextRequired", "The comment text is required.")
            reply_id = fake.add_reply(
                parent, snippet["textOriginal"], author=(fake.channel["id"], fake.channel["name"])
            )
            return 200, fake.comments[reply_id]
        if method == "POST" and path == "/youtube/v3/comments/setModerationStatus":
            status = query.get("moderationStatus")
            if status not in ("heldForReview", "published", "rejected"):
                return 400, _error(400, "invalidModerationStatus", "invalid moderation status")
            if query.get("id") not in fake.comments:
                return 404, _error(404, "commentNotFound", "The comment could not be found.")
            fake.moderation[query["id"]] = status
            return 204, None
        return 404, _error(404, "notFound", "Not Found", domain="global")
