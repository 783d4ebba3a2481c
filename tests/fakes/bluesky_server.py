"""A small Bluesky PDS + AppView on loopback, speaking XRPC as docs.bsky.app describes it.

``/xrpc/<nsid>``: GET for queries, POST (JSON) for procedures; errors are
``{"error": "<Name>", "message": "..."}`` (an expired access token is HTTP 400
``ExpiredToken``); lists are newest first and page backwards with an opaque ``cursor``; every
answer carries ``ratelimit-limit`` / ``ratelimit-remaining`` / ``ratelimit-reset`` (epoch
seconds) / ``ratelimit-policy``. A ``createRecord`` on a key that already exists is answered
500 ``InternalServerError``, as the reference PDS does today.

Failure knobs: ``fail_next(kind, nsid=..., method=...)`` with kind ``401``, ``403``, ``429``,
``500``, ``not_found`` (a stale read), ``malformed``, ``drop`` or ``drop_after`` (``skip=n`` lets n matching requests
through first); ``expire_tokens()`` (next calls get 400
ExpiredToken), ``revoke_sessions()`` (access and refresh tokens unknown).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BRAND_DID = "did:plc:brand000000000000000000"
BRAND_HANDLE = "brand.test"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
_RKEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclasses.dataclass
class Failure:
    kind: str
    nsid: str | None = None
    method: str | None = None
    reset_in_s: int = 30
    skip: int = 0  # let this many matching requests through first

    def matches(self, method: str, nsid: str) -> bool:
        return (self.nsid is None or self.nsid == nsid) and (self.method is None or self.method == method)


class FakeBluesky:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        self.clock = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        self.accounts: dict[str, dict[str, Any]] = {}
        self.brand = self.add_account(BRAND_HANDLE, did=BRAND_DID, display_name="Brand", followers=900)
        self.app_passwords = {BRAND_DID: APP_PASSWORD}
        self.access_tokens: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.posts: dict[str, dict[str, Any]] = {}
        self.records: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.lists: dict[str, list[str]] = {}
        self.failures: list[Failure] = []
        self.requests: list[tuple[str, str, dict[str, list[str]], dict[str, Any]]] = []
        self.session_creations = 0
        # Called with (did, collection, rkey, record) for every record written: a fake Jetstream
        # (tests/fakes/jetstream_server.py) mirrors the repository writes as its firehose.
        self.record_listeners: list[Any] = []
        self.server: ThreadingHTTPServer | None = None
        self.base_url = ""

    # ---------------------------------------------------------------- data

    def tick(self) -> datetime:
        with self.lock:
            self.clock += timedelta(milliseconds=1500)
            return self.clock

    def add_account(self, handle: str, *, did: str | None = None, display_name: str = "",
                    followers: int | None = None) -> dict[str, Any]:
        did = did or "did:plc:" + hashlib.sha256(handle.encode()).hexdigest()[:24]
        account = {"did": did, "handle": handle, "displayName": display_name}
        if followers is not None:
            account["followersCount"] = followers
        self.accounts[did] = account
        return account

    def _cid(self, value: Any) -> str:
        return "bafyrei" + hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:40]

    def _tid(self) -> str:
        alphabet = "234567abcdefghijklmnopqrstuvwxyz"
        value = (int(time.time() * 1_000_000) << 10) | (next(self._seq) & 0x3FF)
        return "".join(alphabet[(value >> (5 * i)) & 31] for i in range(12, -1, -1))

    def put_record(self, did: str, collection: str, rkey: str, value: dict[str, Any],
                   indexed_at: datetime | None = None) -> dict[str, Any]:
        with self.lock:
            uri = f"at://{did}/{collection}/{rkey}"
            stored = {"uri": uri, "cid": self._cid(value), "value": value}
            self.records[(did, collection, rkey)] = stored
            if collection == "app.bsky.feed.post":
                when = indexed_at or self.tick()
                author = self.accounts[did]
                self.posts[uri] = {
                    "uri": uri, "cid": stored["cid"],
                    "author": {k: author[k] for k in ("did", "handle", "displayName") if k in author},
                    "record": value, "indexedAt": iso(when), "replyCount": 0, "likeCount": 0,
                    "viewer": {},
                }
                self._notify(self.posts[uri], value)
            elif collection in ("app.bsky.feed.like", "app.bsky.feed.repost"):
                target = self.posts.get(value["subject"]["uri"])
                if target is not None:
                    target["viewer"]["like" if collection.endswith("like") else "repost"] = uri
            for listener in self.record_listeners:
                listener(did, collection, rkey, value)
            return stored

    def _notify(self, post: dict[str, Any], record: dict[str, Any]) -> None:
        if post["author"]["did"] == BRAND_DID:
            return
        reason = None
        reply = record.get("reply")
        if reply and reply["parent"]["uri"].startswith(f"at://{BRAND_DID}/"):
            reason = "reply"
        elif f"@{BRAND_HANDLE}" in record.get("text", ""):
            reason = "mention"
        if reason:
            self.notifications.append({
                "uri": post["uri"], "cid": post["cid"], "author": post["author"],
                "reason": reason, "record": record, "isRead": False, "indexedAt": post["indexedAt"],
            })

    def add_post(self, text: str, *, author: dict[str, Any] | None = None, reply_to: str | None = None,
                 lists: tuple[str, ...] = (), langs: tuple[str, ...] = ("en",),
                 indexed_at: datetime | None = None) -> dict[str, Any]:
        author = author or self.add_account(f"user{len(self.accounts)}.test", display_name="Someone")
        record: dict[str, Any] = {"$type": "app.bsky.feed.post", "text": text,
                                  "createdAt": iso(indexed_at or self.clock), "langs": list(langs)}
        if reply_to:
            parent = self.posts[reply_to]
            root = (parent["record"].get("reply") or {}).get("root") or {"uri": parent["uri"], "cid": parent["cid"]}
            record["reply"] = {"root": root, "parent": {"uri": parent["uri"], "cid": parent["cid"]}}
        stored = self.put_record(author["did"], "app.bsky.feed.post", self._tid(), record, indexed_at)
        for list_uri in lists:
            self.lists.setdefault(list_uri, []).append(stored["uri"])
        return self.posts[stored["uri"]]

    def add_notification(self, notification: dict[str, Any]) -> None:
        with self.lock:
            self.notifications.append(notification)

    def brand_records(self, collection: str = "app.bsky.feed.post") -> list[dict[str, Any]]:
        with self.lock:
            return [r for (did, coll, _), r in self.records.items() if did == BRAND_DID and coll == collection]

    # ---------------------------------------------------------------- knobs

    def fail_next(self, kind: str, nsid: str | None = None, method: str | None = None, **kw: Any) -> None:
        with self.lock:
            self.failures.append(Failure(kind, nsid, method, **kw))

    def take_failure(self, method: str, nsid: str) -> Failure | None:
        with self.lock:
            for index, failure in enumerate(self.failures):
                if failure.matches(method, nsid):
                    if failure.skip:
                        failure.skip -= 1
                        continue
                    return self.failures.pop(index)
        return None

    def expire_tokens(self) -> None:
        with self.lock:
            for session in self.access_tokens.values():
                session["expired"] = True

    def revoke_sessions(self) -> None:
        with self.lock:
            self.access_tokens.clear()
            self.refresh_tokens.clear()

    def calls(self, nsid: str) -> int:
        with self.lock:
            return sum(1 for _, n, _, _ in self.requests if n == nsid)

    # ---------------------------------------------------------------- server

    def start(self) -> str:
        fake = self

        class Handler(_Handler):
            state = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self.base_url

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class XrpcError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def _page(items: list[dict[str, Any]], key, query: dict[str, list[str]]) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first; ``cursor`` is ``<indexedAt>::<uri>`` of the last item served (stable)."""
    limit = int((query.get("limit") or ["50"])[0])
    if not 1 <= limit <= 100:
        raise XrpcError(400, "InvalidRequest", "limit must be between 1 and 100")
    ordered = sorted(items, key=key, reverse=True)
    cursor = (query.get("cursor") or [None])[0]
    if cursor:
        when, _, uri = cursor.partition("::")
        ordered = [i for i in ordered if key(i) < (when, uri)]
    page = ordered[:limit]
    next_cursor = "::".join(key(page[-1])) if len(ordered) > limit else None
    return page, next_cursor


class _Handler(BaseHTTPRequestHandler):
    state: FakeBluesky
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def _send(self, status: int, body: bytes, extra: dict[str, str] | None = None, remaining: int = 2999) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ratelimit-limit", "3000")
        self.send_header("ratelimit-remaining", str(remaining))
        self.send_header("ratelimit-reset", str(int(time.time()) + 300))
        self.send_header("ratelimit-policy", "3000;w=300")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, error: str, message: str, **kw: Any) -> None:
        self._send(status, json.dumps({"error": error, "message": message}).encode(), **kw)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self, method: str) -> None:
        fake = self.state
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        nsid = parts.path.removeprefix("/xrpc/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            self._error(400, "InvalidRequest", "body is not JSON")
            return
        with fake.lock:
            fake.requests.append((method, nsid, query, body))
        failure = fake.take_failure(method, nsid)
        if failure is not None and failure.kind != "drop_after":
            self._fail(failure)
            return
        try:
            result = self._route(method, nsid, query, body)
        except XrpcError as exc:
            if failure is not None:
                self._drop()
            else:
                self._error(exc.status, exc.error, exc.message)
            return
        if failure is not None:
            self._drop()
            return
        self._send(200, json.dumps(result).encode())

    def _fail(self, failure: Failure) -> None:
        if failure.kind == "drop":
            self._drop()
        elif failure.kind == "401":
            self._error(401, "AuthenticationRequired", "Authentication Required")
        elif failure.kind == "403":
            self._error(403, "Forbidden", "This app password cannot do that")
        elif failure.kind == "429":
            headers = {"ratelimit-reset": str(int(time.time()) + failure.reset_in_s)}
            self.send_response(429)
            body = json.dumps({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}).encode()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("ratelimit-limit", "3000")
            self.send_header("ratelimit-remaining", "0")
            self.send_header("ratelimit-policy", "3000;w=300")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        elif failure.kind == "500":
            self._error(500, "InternalServerError", "Internal Server Error")
        elif failure.kind == "not_found":  # a stale read, as when two attempts race
            self._error(400, "RecordNotFound", "Could not locate record")
        elif failure.kind == "malformed":
            self._send(200, b'{"notifications": [{"uri": "at://x')
        else:
            raise AssertionError(failure.kind)

    def _auth(self) -> str:
        fake = self.state
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
        session = fake.access_tokens.get(header[7:])
        if session is None:
            raise XrpcError(401, "InvalidToken", "Token could not be verified")
        if session["expired"]:
            raise XrpcError(400, "ExpiredToken", "Token has expired")
        return session["did"]

    def _new_session(self, did: str) -> dict[str, Any]:
        fake = self.state
        access, refresh = f"acc-{next(fake._seq)}", f"ref-{next(fake._seq)}"
        fake.access_tokens[access] = {"did": did, "expired": False}
        fake.refresh_tokens[refresh] = did
        account = fake.accounts[did]
        return {"accessJwt": access, "refreshJwt": refresh, "handle": account["handle"], "did": did,
                "didDoc": {"id": did, "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                                                   "serviceEndpoint": fake.base_url}]}}

    def _route(self, method: str, nsid: str, query: dict[str, list[str]], body: dict[str, Any]) -> Any:
        fake = self.state
        with fake.lock:
            if nsid == "com.atproto.server.createSession" and method == "POST":
                ident = str(body.get("identifier") or "").lower()
                did = next((d for d, a in fake.accounts.items() if ident in (d, a["handle"])), None)
                if did is None or fake.app_passwords.get(did) != body.get("password"):
                    raise XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
                fake.session_creations += 1
                return self._new_session(did)
            if nsid == "com.atproto.server.refreshSession" and method == "POST":
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                did = fake.refresh_tokens.pop(token, None)
                if did is None:
                    raise XrpcError(400, "ExpiredToken", "Token has been revoked")
                return self._new_session(did)

            did = self._auth()
            if nsid == "app.bsky.notification.listNotifications" and method == "GET":
                reasons = query.get("reasons")
                items = [n for n in fake.notifications if not reasons or n.get("reason") in reasons]
                page, cursor = _page(items, lambda n: (str(n.get("indexedAt", "")), str(n.get("uri", ""))), query)
                out: dict[str, Any] = {"notifications": page}
                if cursor:
                    out["cursor"] = cursor
                return out
            if nsid == "app.bsky.feed.searchPosts" and method == "GET":
                q = (query.get("q") or [""])[0].lower()
                if not q:
                    raise XrpcError(400, "InvalidRequest", 'Error: Params must have the property "q"')
                since = (query.get("since") or [None])[0]
                words = q.split()
                items = [p for p in fake.posts.values()
                         if all(w in p["record"]["text"].lower() for w in words)
                         and (since is None or parse_iso(p["indexedAt"]) >= parse_iso(since))]
                page, cursor = _page(items, lambda p: (p["indexedAt"], p["uri"]), query)
                out = {"posts": page, "hitsTotal": len(items)}
                if cursor:
                    out["cursor"] = cursor
                return out
            if nsid == "app.bsky.feed.getListFeed" and method == "GET":
                list_uri = (query.get("list") or [""])[0]
                if list_uri not in fake.lists:
                    raise XrpcError(400, "UnknownList", "List not found")
                items = [{"post": fake.posts[u]} for u in fake.lists[list_uri] if u in fake.posts]
                page, cursor = _page(items, lambda f: (f["post"]["indexedAt"], f["post"]["uri"]), query)
                out = {"feed": page}
                if cursor:
                    out["cursor"] = cursor
                return out
            if nsid == "app.bsky.feed.getPosts" and method == "GET":
                uris = query.get("uris") or []
                if len(uris) > 25:
                    raise XrpcError(400, "InvalidRequest", "uris must not have more than 25 elements")
                return {"posts": [fake.posts[u] for u in uris if u in fake.posts]}
            if nsid == "app.bsky.actor.getProfile" and method == "GET":
                actor = (query.get("actor") or [""])[0]
                account = next((a for d, a in fake.accounts.items() if actor in (d, a["handle"])), None)
                if account is None:
                    raise XrpcError(400, "InvalidRequest", "Profile not found")
                return dict(account)
            if nsid == "com.atproto.identity.resolveHandle" and method == "GET":
                handle = (query.get("handle") or [""])[0].lower()
                for account in fake.accounts.values():
                    if account["handle"] == handle:
                        return {"did": account["did"]}
                raise XrpcError(400, "InvalidRequest", "Unable to resolve handle")
            if nsid == "com.atproto.repo.getRecord" and method == "GET":
                key = tuple((query.get(k) or [""])[0] for k in ("repo", "collection", "rkey"))
                record = fake.records.get(key)  # type: ignore[arg-type]
                if record is None:
                    raise XrpcError(400, "RecordNotFound", f"Could not locate record: at://{'/'.join(key)}")
                return record
            if nsid == "com.atproto.repo.createRecord" and method == "POST":
                repo, collection = body.get("repo"), body.get("collection")
                if repo != did:
                    raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
                record = body.get("record")
                if not isinstance(record, dict) or record.get("$type", collection) != collection:
                    raise XrpcError(400, "InvalidRequest", "Invalid $type")
                if collection == "app.bsky.feed.post" and not isinstance(record.get("text"), str):
                    raise XrpcError(400, "InvalidRequest", "Invalid app.bsky.feed.post record: Record/text must be a string")
                rkey = body.get("rkey") or fake._tid()
                if not _RKEY.match(rkey) or rkey in (".", ".."):
                    raise XrpcError(400, "InvalidRequest", "Invalid record key")
                if (did, collection, rkey) in fake.records:
                    raise XrpcError(500, "InternalServerError", "Internal Server Error")
                stored = fake.put_record(did, collection, rkey, record)
                return {"uri": stored["uri"], "cid": stored["cid"],
                        "commit": {"cid": "bafyreicommit", "rev": fake._tid()}}
            if nsid == "com.atproto.repo.deleteRecord" and method == "POST":
                if body.get("repo") != did:
                    raise XrpcError(401, "AuthenticationRequired", "Authentication Required")
                key = (did, str(body.get("collection")), str(body.get("rkey")))
                stored = fake.records.pop(key, None)
                if stored is not None:
                    fake.posts.pop(stored["uri"], None)
                    for post in fake.posts.values():
                        for name in ("like", "repost"):
                            if post["viewer"].get(name) == stored["uri"]:
                                del post["viewer"][name]
                return {}
        raise XrpcError(501, "MethodNotImplemented", f"Method Not Implemented: {nsid}")
