"""A small wrapper over the YouTube Data API v3: one ``request`` that authenticates with the OAuth
access token, refreshes it once through Google's token endpoint when a 401 says it expired, and
maps errors (``{"error": {"code", "message", "errors": [{"reason"}]}}``) onto the connector errors.

httpx rather than google-api-python-client: the latter pulls in a large dependency tree and
discovery documents, while the four calls used here are plain JSON over HTTPS.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx

from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    RateLimited,
    TransientError,
    Unsupported,
)

DEFAULT_BASE_URL = "https://www.googleapis.com"
DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRY_AFTER_S = 60.0

QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded", "RATE_LIMIT_EXCEEDED"}
SCOPE_REASONS = {"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "authError"}


class NotFound(ConnectorError):
    """The comment, video or channel does not exist (any more)."""


def seconds_until_quota_reset(now: datetime) -> float:
    """YouTube's daily quota resets at midnight Pacific Time."""
    try:
        from zoneinfo import ZoneInfo

        pacific: Any = ZoneInfo("America/Los_Angeles")
    except Exception:  # no time zone database: Pacific Standard Time is close enough
        pacific = timezone(timedelta(hours=-8))
    local = now.astimezone(pacific)
    midnight = datetime(local.year, local.month, local.day, tzinfo=pacific) + timedelta(days=1)
    # Subtract in UTC: aware datetimes sharing a tzinfo would ignore a DST change in between.
    return max(1.0, (midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds())


def _server_now(headers: httpx.Headers) -> datetime:
    date = headers.get("date")
    if date:
        try:
            return email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            pass
    return datetime.now(UTC)


def _retry_after(headers: httpx.Headers) -> float:
    try:
        return max(1.0, float(headers.get("retry-after", "")))
    except ValueError:
        return DEFAULT_RETRY_AFTER_S


class YouTubeClient:
    """HTTP to the YouTube Data API for one channel.

    Credentials: ``access_token``, ``refresh_token``, ``client_id``, ``client_secret``;
    optionally ``scope`` (as granted) and ``token_url`` (Google's token endpoint by default).
    """

    def __init__(
        self,
        credentials: dict[str, Any],
        *,
        base_url: str | None = None,
        http: httpx.Client | None = None,
        on_credentials: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        if not credentials.get("access_token") and not credentials.get("refresh_token"):
            raise ValueError("YouTube credentials need an OAuth access_token or refresh_token")
        self.credentials = dict(credentials)
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.token_url = str(
            self.credentials.get("token_url")
            or (self.base_url + "/token" if base_url else DEFAULT_TOKEN_URL)
        )
        self.http = http if http is not None else httpx.Client(timeout=DEFAULT_TIMEOUT_S)
        self.on_credentials = on_credentials

    @property
    def scopes(self) -> frozenset[str] | None:
        scope = self.credentials.get("scope")
        if not scope:
            return None
        items = scope.split() if isinstance(scope, str) else list(scope)
        return frozenset(s.rsplit("/", 1)[-1] for s in items)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> dict[str, Any]:
        refreshed = False
        if not self.credentials.get("access_token"):
            self.refresh()
            refreshed = True
        while True:
            response = self._send(method, path, params, json_body)
            if (
                response.status_code == 401
                and not refreshed
                and self.credentials.get("refresh_token")
            ):
                self.refresh()
                refreshed = True
                continue
            return self._parse(response, f"YouTube {method} {path}")

    def _send(self, method: str, path: str, params: Any, json_body: Any) -> httpx.Response:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            return self.http.request(
                method,
                self.base_url + path,
                params=query or None,
                json=json_body,
                headers={"Authorization": f"Bearer {self.credentials.get('access_token', '')}"},
            )
        except httpx.TimeoutException as exc:
            raise TransientError(f"YouTube {method} {path}: timed out ({exc})") from exc
        except httpx.HTTPError as exc:
            raise TransientError(f"YouTube {method} {path}: connection failed ({exc!r})") from exc

    def _parse(self, response: httpx.Response, where: str) -> dict[str, Any]:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return {}
            try:
                body = response.json()
            except ValueError as exc:
                raise TransientError(f"{where}: malformed JSON in a {status} answer") from exc
            if not isinstance(body, dict):
                raise TransientError(f"{where}: expected a JSON object")
            return body
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        message, reasons = "", set()
        if isinstance(error, dict):
            message = str(error.get("message") or "")
            for item in error.get("errors") or []:
                if isinstance(item, dict) and item.get("reason"):
                    reasons.add(str(item["reason"]))
            if error.get("status"):
                reasons.add(str(error["status"]))
        text = f"{where}: {status} {message} ({', '.join(sorted(reasons)) or 'no reason'})"
        if status == 401:
            raise NeedsReconnection(f"{text}; reconnect the YouTube channel")
        if reasons & QUOTA_REASONS:
            wait = seconds_until_quota_reset(_server_now(response.headers))
            raise RateLimited(f"{text}; the daily quota resets at midnight Pacific Time", wait)
        if status == 429 or reasons & RATE_REASONS:
            raise RateLimited(text, _retry_after(response.headers))
        if status >= 500 or reasons & {"backendError", "internalError"}:
            raise TransientError(text)
        if reasons & SCOPE_REASONS:
            raise NeedsReconnection(f"{text}; reconnect granting the youtube.force-ssl scope")
        if status == 404:
            raise NotFound(text)
        if status == 403:
            raise Unsupported(text)
        raise ConnectorError(text)

    def refresh(self) -> None:
        creds = self.credentials
        if not creds.get("refresh_token"):
            raise NeedsReconnection("YouTube access token expired and there is no refresh token")
        data = {
            "grant_type": "refresh_token",
            "refresh_token": creds["refresh_token"],
            "client_id": creds.get("client_id", ""),
            "client_secret": creds.get("client_secret", ""),
        }
        try:
            response = self.http.post(self.token_url, data=data)
        except httpx.HTTPError as exc:
            raise TransientError(f"YouTube token refresh: connection failed ({exc!r})") from exc
        if response.status_code >= 500:
            raise TransientError(f"YouTube token refresh: server error {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if (
            response.status_code != 200
            or not isinstance(body, dict)
            or not body.get("access_token")
        ):
            detail = ""
            if isinstance(body, dict):
                detail = str(body.get("error_description") or body.get("error") or "")
            raise NeedsReconnection(
                f"YouTube token refresh failed ({response.status_code} {detail}); reconnect the channel"
            )
        creds["access_token"] = body["access_token"]
        if body.get("refresh_token"):
            creds["refresh_token"] = body["refresh_token"]
        if body.get("scope"):
            creds["scope"] = body["scope"]
        if body.get("expires_in"):
            creds["expires_at"] = int(time.time()) + int(body["expires_in"])
        if self.on_credentials is not None:
            self.on_credentials(dict(creds))
