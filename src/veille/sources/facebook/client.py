"""A small wrapper over the Facebook Graph API: one ``request`` that authenticates with the Page
access token and maps Graph errors onto the connector errors.

httpx rather than the (unmaintained) facebook-sdk: the Graph API is plain JSON over HTTPS, and
httpx lets tests point the client at a local server.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import httpx

from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    RateLimited,
    TransientError,
    Unsupported,
)

DEFAULT_BASE_URL = "https://graph.facebook.com"
DEFAULT_VERSION = "v21.0"
DEFAULT_TIMEOUT_S = 30.0

# Throttling codes: 4 app, 17 user, 32 page, 613 custom; 80000-80014 business use case limits.
THROTTLE_CODES = {4, 17, 32, 613} | set(range(80000, 80015))
# Waits when Graph gives no estimate: the app/user/page windows roll over one hour; calls
# return gradually as usage drops, so a few minutes is usually enough to retry.
DEFAULT_WAIT_S = {613: 60.0}
FALLBACK_WAIT_S = 300.0


class NotFound(ConnectorError):
    """The object does not exist any more (or the token cannot see it)."""


class AlreadyDone(ConnectorError):
    """Graph refused because the action already happened (e.g. a private reply was sent)."""


def rate_limit_wait(headers: httpx.Headers, code: int | None) -> float:
    """Seconds to wait: Graph's own estimate from ``X-Business-Use-Case-Usage`` when given."""
    minutes = 0.0
    raw = headers.get("x-business-use-case-usage")
    if raw:
        try:
            usage = json.loads(raw)
        except ValueError:
            usage = {}
        if isinstance(usage, dict):
            for entries in usage.values():
                for entry in entries if isinstance(entries, list) else []:
                    if isinstance(entry, dict):
                        try:
                            minutes = max(
                                minutes, float(entry.get("estimated_time_to_regain_access") or 0)
                            )
                        except (TypeError, ValueError):
                            pass
    if minutes > 0:
        return minutes * 60.0
    try:
        return max(1.0, float(headers.get("retry-after", "")))
    except ValueError:
        return DEFAULT_WAIT_S.get(code or 0, FALLBACK_WAIT_S)


class GraphClient:
    """HTTP to the Graph API for one Page.

    Credentials: ``page_access_token`` (or ``access_token``); optionally ``app_secret`` to send
    ``appsecret_proof`` with every call (needed when the app requires it).
    """

    def __init__(
        self,
        credentials: dict[str, Any],
        *,
        base_url: str | None = None,
        http: httpx.Client | None = None,
        version: str = DEFAULT_VERSION,
    ) -> None:
        token = credentials.get("page_access_token") or credentials.get("access_token")
        if not token:
            raise ValueError("Facebook credentials need the page_access_token")
        self.token = str(token)
        self.app_secret = credentials.get("app_secret")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/") + "/" + version.strip("/")
        self.http = http if http is not None else httpx.Client(timeout=DEFAULT_TIMEOUT_S)
        # Graph's own clock (``Date`` of the last answer), to judge how fresh an item is.
        self.server_time: datetime | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> dict[str, Any]:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if self.app_secret:
            query["appsecret_proof"] = hmac.new(
                str(self.app_secret).encode(), self.token.encode(), hashlib.sha256
            ).hexdigest()
        where = f"Facebook {method} {path}"
        try:
            response = self.http.request(
                method,
                self.base_url + path,
                params=query or None,
                json=json_body,
                headers={"Authorization": f"Bearer {self.token}"},
            )
        except httpx.TimeoutException as exc:
            raise TransientError(f"{where}: timed out ({exc})") from exc
        except httpx.HTTPError as exc:
            raise TransientError(f"{where}: connection failed ({exc!r})") from exc
        self.server_time = datetime.now(UTC)
        if response.headers.get("date"):
            try:
                self.server_time = email.utils.parsedate_to_datetime(response.headers["date"])
            except (TypeError, ValueError):
                pass
        return self._parse(response, where)

    def _parse(self, response: httpx.Response, where: str) -> dict[str, Any]:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if 200 <= status < 300:
            if body is None and not response.content:
                return {}
            if not isinstance(body, dict):
                raise TransientError(f"{where}: malformed JSON in a {status} answer")
            if not isinstance(body.get("error"), dict):
                return body
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            if status >= 500 or 200 <= status < 300:
                raise TransientError(f"{where}: {status} without a Graph error body")
            if status == 401:
                raise NeedsReconnection(f"{where}: unauthorized; reconnect the Page")
            if status == 429:
                raise RateLimited(f"{where}: throttled", rate_limit_wait(response.headers, None))
            raise ConnectorError(f"{where}: rejected with {status}")
        code = error.get("code")
        code = int(code) if isinstance(code, int | str) and str(code).isdigit() else None
        subcode = error.get("error_subcode")
        message = str(error.get("message") or "")
        text = f"{where}: {message} (code {code}, subcode {subcode}, fbtrace {error.get('fbtrace_id')})"
        if code in (190, 102) or status == 401:
            raise NeedsReconnection(
                f"{text}; the Page token expired or was revoked: reconnect the Page"
            )
        if code in THROTTLE_CODES or status == 429:
            raise RateLimited(text, rate_limit_wait(response.headers, code))
        if code in (1, 2) or error.get("is_transient") or status >= 500:
            raise TransientError(text)
        if code == 10900:
            raise AlreadyDone(text)
        if code == 100 and str(subcode) == "33" or status == 404:
            raise NotFound(text)
        if code in (3, 10) or (code is not None and 200 <= code <= 299):
            raise Unsupported(f"{text}; the Page token lacks a permission for this")
        raise ConnectorError(text)
