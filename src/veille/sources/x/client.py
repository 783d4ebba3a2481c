"""A small wrapper over the X API v2: one ``request`` that authenticates, refreshes an expired
OAuth 2.0 token once, and maps every failure onto the connector errors.

Why httpx and not tweepy: tweepy hard-codes ``https://api.twitter.com`` as host and is built on
requests, so it can neither be pointed at a local fake server nor share the injected
``httpx.Client``.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import secrets
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx

from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    RateLimited,
    TransientError,
    Unsupported,
)

DEFAULT_BASE_URL = "https://api.x.com"
TOKEN_PATH = "/2/oauth2/token"
DEFAULT_TIMEOUT_S = 30.0
# Used when a 429 carries no usable reset header: the most common X window is 15 minutes.
DEFAULT_RETRY_AFTER_S = 60.0


class NotFound(ConnectorError):
    """The target does not exist (deleted post, unknown list)."""


class DuplicateContent(ConnectorError):
    """X refused a post because the account already posted the same text recently."""


class AlreadyDone(ConnectorError):
    """X refused an action because it is already in effect (e.g. already reposted)."""


def _oauth_escape(value: str) -> str:
    # RFC 5849 section 3.6: percent-encode everything but the unreserved characters.
    return urllib.parse.quote(str(value), safe="~-._")


def oauth1_authorization(
    method: str,
    url: str,
    *,
    consumer_key: str,
    consumer_secret: str,
    token: str,
    token_secret: str,
    nonce: str | None = None,
    timestamp: int | None = None,
    body_params: list[tuple[str, str]] | None = None,
) -> str:
    """The ``Authorization`` header of an OAuth 1.0a HMAC-SHA1 signed request.

    ``url`` may carry a query string; its parameters are signed. A JSON body is never signed
    (only form-encoded bodies are, passed as ``body_params``).
    """
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    base_uri = f"{scheme}://{host}{parts.path or '/'}"
    oauth = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(timestamp if timestamp is not None else int(time.time())),
        "oauth_token": token,
        "oauth_version": "1.0",
    }
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    pairs += list(body_params or [])
    pairs += list(oauth.items())
    encoded = sorted((_oauth_escape(k), _oauth_escape(v)) for k, v in pairs)
    param_string = "&".join(f"{k}={v}" for k, v in encoded)
    base_string = "&".join([method.upper(), _oauth_escape(base_uri), _oauth_escape(param_string)])
    key = f"{_oauth_escape(consumer_secret)}&{_oauth_escape(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    oauth["oauth_signature"] = base64.b64encode(digest).decode()
    return "OAuth " + ", ".join(
        f'{_oauth_escape(k)}="{_oauth_escape(v)}"' for k, v in sorted(oauth.items())
    )


def _problem_text(body: Any) -> str:
    """A readable message from an X error body (problem JSON or an ``errors`` array)."""
    if not isinstance(body, dict):
        return ""
    bits = [str(body[k]) for k in ("title", "detail") if body.get(k)]
    for err in body.get("errors") or []:
        if isinstance(err, dict):
            bits.append(str(err.get("message") or err.get("detail") or err.get("title") or ""))
    return "; ".join(b for b in bits if b)


def _problem_type(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    kinds = [str(body.get("type") or ""), str(body.get("reason") or "")]
    for err in body.get("errors") or []:
        if isinstance(err, dict):
            kinds.append(str(err.get("type") or ""))
    return " ".join(kinds)


def retry_after_from(headers: httpx.Headers) -> float:
    """Seconds to wait after a 429, from X's reset headers (epoch seconds).

    The server's own ``Date`` is the "now" when present, so clock skew between us and X does
    not shorten or stretch the wait. Of the windows that are exhausted (15-minute and the
    24-hour post caps), the one that resets last wins.
    """
    now = time.time()
    date = headers.get("date")
    if date:
        try:
            now = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            pass
    resets: list[float] = []
    for prefix in ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour"):
        reset = headers.get(f"{prefix}-reset")
        if reset is None or headers.get(f"{prefix}-remaining", "0").strip() != "0":
            continue
        try:
            resets.append(float(reset))
        except ValueError:
            continue
    if not resets and headers.get("x-rate-limit-reset"):
        try:
            resets.append(float(headers["x-rate-limit-reset"]))
        except ValueError:
            pass
    if resets:
        return max(1.0, max(resets) - now)
    try:
        return max(1.0, float(headers.get("retry-after", "")))
    except ValueError:
        return DEFAULT_RETRY_AFTER_S


class XClient:
    """HTTP to the X API v2 for one account.

    Credentials, either:
    * OAuth 2.0 user context: ``access_token``, ``refresh_token``, ``client_id`` and, for a
      confidential client, ``client_secret``; optionally ``scope`` (space separated, as granted);
    * OAuth 1.0a user context: ``consumer_key``, ``consumer_secret``, ``access_token``,
      ``access_token_secret`` (these never expire, so there is nothing to refresh).
    """

    def __init__(
        self,
        credentials: dict[str, Any],
        *,
        base_url: str | None = None,
        http: httpx.Client | None = None,
        on_credentials: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.http = http if http is not None else httpx.Client(timeout=DEFAULT_TIMEOUT_S)
        self.credentials = dict(credentials)
        self.on_credentials = on_credentials
        if self.credentials.get("consumer_key") and self.credentials.get("access_token_secret"):
            self.auth_mode = "oauth1"
        elif self.credentials.get("access_token"):
            self.auth_mode = "oauth2"
        else:
            raise ValueError(
                "X credentials need an OAuth 2.0 access_token, or OAuth 1.0a consumer_key, "
                "consumer_secret, access_token and access_token_secret"
            )

    @property
    def scopes(self) -> frozenset[str] | None:
        """The granted OAuth 2.0 scopes when known (None: unknown, assume what is needed)."""
        scope = self.credentials.get("scope")
        if self.auth_mode != "oauth2" or not scope:
            return None
        if isinstance(scope, str):
            return frozenset(scope.split())
        return frozenset(scope)

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> dict[str, Any]:
        """Send one request; return the JSON object of a 2xx answer or raise a ConnectorError."""
        refreshed = False
        while True:
            response = self._send(method, path, params=params, json=json)
            if response.status_code == 401 and not refreshed and self._can_refresh():
                self.refresh()
                refreshed = True
                continue
            return self._parse(response)

    def _send(self, method: str, path: str, *, params: Any, json: Any) -> httpx.Response:
        url = self.base_url + path
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            request = self.http.build_request(method, url, params=clean or None, json=json)
            request.headers["Authorization"] = self._authorization(request)
            return self.http.send(request)
        except httpx.TimeoutException as exc:
            raise TransientError(f"X {method} {path}: timed out ({exc})") from exc
        except httpx.HTTPError as exc:
            raise TransientError(f"X {method} {path}: connection failed ({exc!r})") from exc

    def _authorization(self, request: httpx.Request) -> str:
        creds = self.credentials
        if self.auth_mode == "oauth1":
            return oauth1_authorization(
                request.method,
                str(request.url),
                consumer_key=creds["consumer_key"],
                consumer_secret=creds["consumer_secret"],
                token=creds["access_token"],
                token_secret=creds["access_token_secret"],
            )
        return f"Bearer {creds['access_token']}"

    def _parse(self, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        where = f"X {response.request.method} {response.request.url.path}"
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return {}
            try:
                body = response.json()
            except ValueError as exc:
                raise TransientError(f"{where}: malformed JSON in a {status} answer") from exc
            if not isinstance(body, dict):
                raise TransientError(f"{where}: expected a JSON object, got {type(body).__name__}")
            return body
        try:
            body = response.json()
        except ValueError:
            body = None
        text = _problem_text(body) or response.text[:200]
        kind = _problem_type(body)
        if status == 401:
            raise NeedsReconnection(f"{where}: unauthorized ({text}); reconnect the X account")
        if status == 429:
            raise RateLimited(f"{where}: rate limited ({text})", retry_after_from(response.headers))
        if status >= 500:
            raise TransientError(f"{where}: server error {status} ({text})")
        if status == 403:
            lowered = text.lower()
            if "duplicate content" in lowered:
                raise DuplicateContent(f"{where}: {text}")
            if "already" in lowered and ("retweet" in lowered or "repost" in lowered):
                raise AlreadyDone(f"{where}: {text}")
            if "unsupported-authentication" in kind:
                raise NeedsReconnection(f"{where}: wrong kind of authentication ({text})")
            raise Unsupported(f"{where}: forbidden by X ({text})")
        if status == 404:
            raise NotFound(f"{where}: not found ({text})")
        raise ConnectorError(f"{where}: rejected with {status} ({text})")

    # -- OAuth 2.0 refresh -----------------------------------------------------------------

    def _can_refresh(self) -> bool:
        return self.auth_mode == "oauth2" and bool(self.credentials.get("refresh_token"))

    def refresh(self) -> None:
        """Trade the refresh token for a new access token (X rotates the refresh token too)."""
        creds = self.credentials
        data = {
            "grant_type": "refresh_token",
            "refresh_token": creds["refresh_token"],
            "client_id": creds.get("client_id", ""),
        }
        auth = None
        if creds.get("client_secret"):
            auth = (creds.get("client_id", ""), creds["client_secret"])
        try:
            response = self.http.post(self.base_url + TOKEN_PATH, data=data, auth=auth)
        except httpx.HTTPError as exc:
            raise TransientError(f"X token refresh: connection failed ({exc!r})") from exc
        if response.status_code >= 500:
            raise TransientError(f"X token refresh: server error {response.status_code}")
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
                f"X token refresh failed ({response.status_code} {detail}); reconnect the X account"
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
