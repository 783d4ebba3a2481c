"""Small wrapper over the Mastodon REST API, on httpx.

It does three things and nothing else: send authenticated requests to one instance, turn every
failure into one of the connector errors (``NeedsReconnection``, ``RateLimited``,
``TransientError``, or a plain ``ConnectorError`` for a request the instance refuses for good),
and expose the pagination ``Link`` header as ids.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    RateLimited,
    TransientError,
)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = "veille-connector/1 (mastodon)"
# When a 429 carries neither Retry-After nor X-RateLimit-Reset: Mastodon windows are 5 minutes.
DEFAULT_RETRY_AFTER_S = 60.0

_LINK_PART = re.compile(r'<([^>]*)>\s*((?:;\s*[^;,]+)*)')


def parse_link_header(value: str | None) -> dict[str, str]:
    """``<url>; rel="next", <url>; rel="prev"`` → ``{"next": url, "prev": url}``."""
    links: dict[str, str] = {}
    if not value:
        return links
    for match in _LINK_PART.finditer(value):
        url, params = match.group(1), match.group(2)
        rel = re.search(r'rel\s*=\s*"?([^";]+)"?', params)
        if rel:
            for name in rel.group(1).split():
                links[name.lower()] = url
    return links


def query_param(url: str | None, name: str) -> str | None:
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def error_message(response: httpx.Response) -> str:
    """The ``{"error": "..."}`` text Mastodon sends with 4xx/5xx, or a short excerpt of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
        if isinstance(body.get("error_description"), str):
            message += f" ({body['error_description']})"
        return message
    return response.text[:200].strip() or response.reason_phrase


class NotFound(ConnectorError):
    """HTTP 404/410: the status, account or list does not exist (or is not visible)."""


def _server_now(response: httpx.Response) -> datetime:
    """The server's clock (``Date`` header) so a reset time is read without clock skew."""
    date = response.headers.get("date")
    if date:
        try:
            return parsedate_to_datetime(date)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)


def _parse_iso(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def retry_after_seconds(response: httpx.Response) -> float:
    """Seconds to wait after a 429: ``Retry-After`` (seconds or HTTP date) first, then
    Mastodon's ``X-RateLimit-Reset`` (ISO 8601), measured against the server's ``Date``."""
    now = _server_now(response)
    retry_after = response.headers.get("retry-after")
    if retry_after:
        value = retry_after.strip()
        if value.replace(".", "", 1).isdigit():
            return max(float(value), 0.0)
        try:
            return max((parsedate_to_datetime(value) - now).total_seconds(), 0.0)
        except (TypeError, ValueError):
            pass
    reset = response.headers.get("x-ratelimit-reset")
    if reset:
        when = _parse_iso(reset)
        if when is not None:
            return max((when - now).total_seconds(), 0.0)
    return DEFAULT_RETRY_AFTER_S


def raise_for_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    message = error_message(response)
    if status in (401, 403):
        # 401: token revoked or expired; 403: scope missing, account disabled or suspended.
        raise NeedsReconnection(f"Mastodon refused {what} (HTTP {status}): {message}")
    if status == 429:
        raise RateLimited(
            f"Mastodon rate limit reached on {what}: {message}", retry_after_seconds(response)
        )
    if status in (404, 410):
        raise NotFound(f"Mastodon: not found on {what} (HTTP {status}): {message}")
    if status >= 500 or status == 408:
        raise TransientError(f"Mastodon server error on {what} (HTTP {status}): {message}")
    raise ConnectorError(f"Mastodon refused {what} (HTTP {status}): {message}")


@dataclass(slots=True)
class Page:
    """One page of a paginated list, with the ids the ``Link`` header points to."""

    items: list[Any]
    next_max_id: str | None = None  # older items: ask with max_id=...
    prev_min_id: str | None = None  # newer items: ask with min_id=...
    headers: dict[str, str] = field(default_factory=dict)


class MastodonClient:
    def __init__(
        self,
        base_url: str,
        access_token: str,
        *,
        http: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self._owns_http = http is None
        self.http = http or httpx.Client(timeout=DEFAULT_TIMEOUT, follow_redirects=False)

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.access_token}", "User-Agent": USER_AGENT}
        if extra:
            headers.update(extra)
        return headers

    def url(self, path: str) -> str:
        return self.base_url + path

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        what: str = "",
    ) -> httpx.Response:
        what = what or f"{method} {path}"
        try:
            response = self.http.request(
                method, self.url(path), params=params, json=json_body, headers=self.headers(headers)
            )
        except httpx.TimeoutException as exc:
            raise TransientError(f"Mastodon {what}: timed out ({exc.__class__.__name__})") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"Mastodon {what}: connection failed ({exc})") from exc
        raise_for_status(response, what)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request whose answer is JSON; a body that is not JSON is a transient failure."""
        response = self.request(method, path, **kwargs)
        return decode_json(response, kwargs.get("what") or f"{method} {path}")

    def get_page(self, path: str, params: dict[str, Any], *, what: str) -> Page:
        response = self.request("GET", path, params=params, what=what)
        items = decode_json(response, what)
        if isinstance(items, dict) and path.startswith("/api/v2/search"):
            items = items.get("statuses")
        if not isinstance(items, list):
            raise TransientError(f"Mastodon {what}: expected a JSON list, got {type(items).__name__}")
        links = parse_link_header(response.headers.get("link"))
        return Page(
            items=items,
            next_max_id=query_param(links.get("next"), "max_id"),
            prev_min_id=query_param(links.get("prev"), "min_id")
            or query_param(links.get("prev"), "since_id"),
            headers=dict(response.headers),
        )


def decode_json(response: httpx.Response, what: str) -> Any:
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise TransientError(f"Mastodon {what}: malformed JSON body ({exc})") from exc
