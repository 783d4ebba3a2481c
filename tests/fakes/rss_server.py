"""A small feed host on loopback: RSS 2.0 and Atom documents served with ``ETag`` and
``Last-Modified``, answering conditional GETs (``If-None-Match`` / ``If-Modified-Since``) with
``304 Not Modified`` as RFC 9110 describes, optional HTTP basic auth, redirects.

Failure knobs: ``fail_next(kind, path=...)`` with kind ``401``, ``429`` (``Retry-After``),
``503`` (with ``Retry-After``), ``500``, ``404``, ``malformed`` (a truncated XML body), ``html``
(a web page instead of a feed), ``body`` (any bytes, given as ``body=``) or ``drop``.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape


def rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def rss_document(title: str, items: list[dict[str, Any]], *, language: str = "en-us") -> bytes:
    """RSS 2.0; each item: guid, title, link, description (HTML), pubDate (datetime), author."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>',
        f"<title>{escape(title)}</title><link>https://blog.example/</link>",
        f"<description>{escape(title)} news</description><language>{language}</language>",
    ]
    for item in items:
        parts.append("<item>")
        if "guid" in item:
            parts.append(f'<guid isPermaLink="false">{escape(item["guid"])}</guid>')
        if "title" in item:
            parts.append(f"<title>{escape(item['title'])}</title>")
        if "link" in item:
            parts.append(f"<link>{escape(item['link'])}</link>")
        if "description" in item:
            parts.append(f"<description>{escape(item['description'])}</description>")
        if "pubDate" in item:
            parts.append(f"<pubDate>{rfc822(item['pubDate'])}</pubDate>")
        if "author" in item:
            parts.append(f"<dc:creator>{escape(item['author'])}</dc:creator>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


def atom_document(title: str, entries: list[dict[str, Any]]) -> bytes:
    """Atom 1.0; each entry: id, title, link, summary or content (HTML), updated, published, author."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="de">',
        f"<title>{escape(title)}</title><id>urn:example:feed</id>",
        '<link href="https://news.example/"/>',
        f"<updated>{datetime(2024, 5, 1, tzinfo=UTC).isoformat()}</updated>",
    ]
    for entry in entries:
        parts.append("<entry>")
        parts.append(f"<id>{escape(entry['id'])}</id><title>{escape(entry.get('title', ''))}</title>")
        if "link" in entry:
            parts.append(f'<link rel="alternate" href="{escape(entry["link"])}"/>')
        if "summary" in entry:
            parts.append(f'<summary type="html">{escape(entry["summary"])}</summary>')
        if "content" in entry:
            parts.append(f'<content type="html">{escape(entry["content"])}</content>')
        if "updated" in entry:
            parts.append(f"<updated>{entry['updated'].isoformat()}</updated>")
        if "published" in entry:
            parts.append(f"<published>{entry['published'].isoformat()}</published>")
        if "author" in entry:
            parts.append(f"<author><name>{escape(entry['author'])}</name></author>")
        parts.append("</entry>")
    parts.append("</feed>")
    return "\n".join(parts).encode("utf-8")


@dataclasses.dataclass
class Feed:
    body: bytes
    content_type: str
    etag: str
    last_modified: datetime
    send_etag: bool = True
    send_last_modified: bool = True


@dataclasses.dataclass
class Failure:
    kind: str
    path: str | None = None
    body: bytes = b""
    retry_after: str = "120"


class FakeFeedHost:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.feeds: dict[str, Feed] = {}
        self.redirects: dict[str, str] = {}
        self.auth: dict[str, tuple[str, str]] = {}
        self.failures: list[Failure] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.clock = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
        self.server: ThreadingHTTPServer | None = None
        self.base_url = ""

    def set_feed(self, path: str, body: bytes, *, content_type: str = "application/rss+xml; charset=utf-8",
                 send_etag: bool = True, send_last_modified: bool = True) -> None:
        with self.lock:
            self.clock += timedelta(minutes=1)
            self.feeds[path] = Feed(body, content_type, '"' + hashlib.sha1(body).hexdigest()[:16] + '"',  # noqa: S324
                                    self.clock, send_etag, send_last_modified)

    def require_auth(self, path: str, username: str, password: str) -> None:
        self.auth[path] = (username, password)

    def fail_next(self, kind: str, path: str | None = None, **kw: Any) -> None:
        with self.lock:
            self.failures.append(Failure(kind, path, **kw))

    def requests_to(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [headers for p, headers in self.requests if p == path]

    def url(self, path: str) -> str:
        return self.base_url + path

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


class _Handler(BaseHTTPRequestHandler):
    state: FakeFeedHost
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "text/plain; charset=utf-8") -> None:
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        fake = self.state
        path = urlsplit(self.path).path
        with fake.lock:
            fake.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
            failure = next((f for f in fake.failures if f.path in (None, path)), None)
            if failure is not None:
                fake.failures.remove(failure)
            feed = fake.feeds.get(path)
            redirect = fake.redirects.get(path)
            auth = fake.auth.get(path)
        if failure is not None:
            self._fail(failure)
            return
        if redirect:
            self._send(301, headers={"Location": redirect})
            return
        if auth:
            expected = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._send(401, b"authentication required", {"WWW-Authenticate": 'Basic realm="feeds"'})
                return
        if feed is None:
            self._send(404, b"no such feed")
            return
        validators: dict[str, str] = {}
        if feed.send_etag:
            validators["ETag"] = feed.etag
        if feed.send_last_modified:
            validators["Last-Modified"] = rfc822(feed.last_modified)
        if self._not_modified(feed):
            self._send(304, headers=validators)
            return
        self._send(200, feed.body, validators, feed.content_type)

    def _not_modified(self, feed: Feed) -> bool:
        # RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since only when it is absent.
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = [t.strip() for t in if_none_match.split(",")]
            return feed.send_etag and (feed.etag in tags or "*" in tags)
        since = self.headers.get("If-Modified-Since")
        if since and feed.send_last_modified:
            try:
                return feed.last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    def _fail(self, failure: Failure) -> None:
        if failure.kind == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        elif failure.kind == "401":
            self._send(401, b"authentication required", {"WWW-Authenticate": 'Basic realm="feeds"'})
        elif failure.kind in ("429", "503"):
            self._send(int(failure.kind), b"slow down", {"Retry-After": failure.retry_after})
        elif failure.kind in ("500", "404"):
            self._send(int(failure.kind), b"error")
        elif failure.kind == "malformed":
            self._send(200, b'<?xml version="1.0"?><rss version="2.0"><channel><title>Bro', {},
                       "application/rss+xml")
        elif failure.kind == "html":
            self._send(200, b"<html><body><h1>Welcome</h1></body></html>", {}, "text/html")
        elif failure.kind == "body":
            self._send(200, failure.body, {}, "application/rss+xml")
        else:
            raise AssertionError(failure.kind)
