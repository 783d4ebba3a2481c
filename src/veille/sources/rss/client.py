"""Fetching a feed with httpx: conditional GET (``If-None-Match`` / ``If-Modified-Since``),
redirects, a size cap, optional HTTP basic auth, and every failure mapped to a connector error.
Parsing is feedparser's job (``normalize`` / ``connector``); nothing here reads the XML."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx

from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    RateLimited,
    TransientError,
)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = "veille-feed-reader/1 (+conditional GET; RSS/Atom)"
ACCEPT = "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
MAX_FEED_BYTES = 10 * 1024 * 1024
DEFAULT_RETRY_AFTER_S = 300.0


@dataclasses.dataclass(slots=True)
class Fetched:
    not_modified: bool
    content: bytes = b""
    content_type: str = ""
    url: str = ""  # after redirects
    etag: str | None = None
    last_modified: str | None = None


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = datetime.now(UTC)
    date = response.headers.get("date")
    if date:
        try:
            now = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            pass
    return max((when - now).total_seconds(), 0.0)


class FeedClient:
    def __init__(self, *, http: httpx.Client | None = None, auth: tuple[str, str] | None = None) -> None:
        self._owns_http = http is None
        self.http = http or httpx.Client(timeout=DEFAULT_TIMEOUT, follow_redirects=True)
        self.auth = auth

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        what = f"feed {url}"
        try:
            with self.http.stream(
                "GET", url, headers=headers, auth=self.auth, follow_redirects=True
            ) as response:
                if response.status_code == 304:
                    return Fetched(
                        not_modified=True,
                        url=str(response.url),
                        etag=response.headers.get("etag") or etag,
                        last_modified=response.headers.get("last-modified") or last_modified,
                    )
                if response.status_code >= 400:
                    response.read()
                    self._raise(response, what)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_FEED_BYTES:
                        raise ConnectorError(f"{what}: larger than {MAX_FEED_BYTES // (1024 * 1024)} MB")
                    chunks.append(chunk)
                return Fetched(
                    not_modified=False,
                    content=b"".join(chunks),
                    content_type=response.headers.get("content-type", ""),
                    url=str(response.url),
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
        except httpx.TimeoutException as exc:
            raise TransientError(f"{what}: timed out ({exc.__class__.__name__})") from exc
        except httpx.TooManyRedirects as exc:
            raise ConnectorError(f"{what}: too many redirects") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"{what}: connection failed ({exc})") from exc
        except httpx.DecodingError as exc:
            raise TransientError(f"{what}: undecodable body ({exc})") from exc

    def _raise(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if status == 401 or (status == 403 and self.auth):
            raise NeedsReconnection(f"{what}: HTTP {status}, the feed's username/password was refused")
        retry_after = retry_after_seconds(response)
        if status == 429 or (status == 503 and retry_after is not None):
            raise RateLimited(f"{what}: HTTP {status}, slow down", retry_after or DEFAULT_RETRY_AFTER_S)
        if status >= 500 or status == 408:
            raise TransientError(f"{what}: server error HTTP {status}")
        raise ConnectorError(f"{what}: HTTP {status} {response.reason_phrase}")
