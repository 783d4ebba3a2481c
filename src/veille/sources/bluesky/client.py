"""Small wrapper over Bluesky's XRPC HTTP API (``/xrpc/<nsid>``), on httpx.

It holds the session (``com.atproto.server.createSession`` with an app password, renewed with
``refreshSession`` when the access token expires, recreated when the refresh token is gone too)
and turns every failure into a connector error. XRPC errors are JSON ``{"error": name,
"message": text}``; note that an expired access token is answered with HTTP **400**
``ExpiredToken``, not 401.

Sessions are cached per process (keyed by service URL and identifier): the PDS limits
``createSession`` to 30 per 5 minutes and 300 per day per account, so a connector built anew for
every poll must not log in every time.
"""

from __future__ import annotations

import json
import threading
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    RateLimited,
    TransientError,
)

DEFAULT_SERVICE = "https://bsky.social"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = "veille-connector/1 (bluesky)"
DEFAULT_RETRY_AFTER_S = 60.0

_SESSIONS: dict[tuple[str, str], dict[str, Any]] = {}
_SESSIONS_LOCK = threading.Lock()


class NotFound(ConnectorError):
    """The record or post does not exist (XRPC ``RecordNotFound``, ``NotFound``, HTTP 404)."""


class XrpcError(ConnectorError):
    """A request the service refused for good (4xx other than auth and rate limit)."""

    def __init__(self, message: str, status: int, error: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error


def forget_sessions() -> None:
    """Drop the per-process session cache (tests; a source whose credentials changed)."""
    with _SESSIONS_LOCK:
        _SESSIONS.clear()


def _error_fields(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return str(body.get("error") or ""), str(body.get("message") or "")
    return "", response.text[:200].strip()


def retry_after_seconds(response: httpx.Response) -> float:
    """``Retry-After`` if given, else ``ratelimit-reset`` (epoch seconds) minus the server's
    ``Date`` (falling back to our clock)."""
    retry_after = response.headers.get("retry-after", "").strip()
    if retry_after.replace(".", "", 1).isdigit():
        return float(retry_after)
    reset = response.headers.get("ratelimit-reset", "").strip()
    if reset.replace(".", "", 1).isdigit():
        now = time.time()
        date = response.headers.get("date")
        if date:
            try:
                now = parsedate_to_datetime(date).timestamp()
            except (TypeError, ValueError):
                pass
        return max(float(reset) - now, 0.0)
    return DEFAULT_RETRY_AFTER_S


def raise_for_status(response: httpx.Response, what: str) -> None:
    status = response.status_code
    if status < 400:
        return
    error, message = _error_fields(response)
    detail = f"{error}: {message}" if error else message
    if status in (401, 403):
        raise NeedsReconnection(f"Bluesky refused {what} (HTTP {status} {detail})")
    if status == 429:
        raise RateLimited(f"Bluesky rate limit reached on {what} ({detail})", retry_after_seconds(response))
    if status >= 500 or status == 408:
        raise TransientError(f"Bluesky server error on {what} (HTTP {status} {detail})")
    if status == 404 or error in ("RecordNotFound", "NotFound"):
        raise NotFound(f"Bluesky: not found on {what} ({detail})")
    raise XrpcError(f"Bluesky refused {what} (HTTP {status} {detail})", status, error)


def _decode(response: httpx.Response, what: str) -> Any:
    if not response.content:
        return {}
    try:
        return json.loads(response.content)
    except ValueError as exc:
        raise TransientError(f"Bluesky {what}: malformed JSON body ({exc})") from exc


class BlueskyClient:
    def __init__(
        self,
        service_url: str,
        identifier: str,
        app_password: str,
        *,
        http: httpx.Client | None = None,
        follow_pds: bool = False,
    ) -> None:
        self.service_url = service_url.rstrip("/")
        self.base_url = self.service_url
        self.identifier = identifier
        self.app_password = app_password
        # When the service is the default entryway, talk to the account's own PDS afterwards.
        self.follow_pds = follow_pds
        self._owns_http = http is None
        self.http = http or httpx.Client(timeout=DEFAULT_TIMEOUT)
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    # ---------------------------------------------------------------- session

    @property
    def _cache_key(self) -> tuple[str, str]:
        return (self.service_url, self.identifier.lower())

    @property
    def session(self) -> dict[str, Any]:
        with _SESSIONS_LOCK:
            session = _SESSIONS.get(self._cache_key)
        if session is None:
            session = self._create_session()
        self._apply_pds(session)
        return session

    @property
    def did(self) -> str:
        return str(self.session["did"])

    def _store(self, session: dict[str, Any]) -> dict[str, Any]:
        with _SESSIONS_LOCK:
            _SESSIONS[self._cache_key] = session
        self._apply_pds(session)
        return session

    def _apply_pds(self, session: dict[str, Any]) -> None:
        if self.follow_pds and session.get("pds"):
            self.base_url = str(session["pds"]).rstrip("/")

    def _send(
        self, method: str, url: str, *, what: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self.http.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise TransientError(f"Bluesky {what}: timed out ({exc.__class__.__name__})") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"Bluesky {what}: connection failed ({exc})") from exc

    def _create_session(self) -> dict[str, Any]:
        with self._lock:
            with _SESSIONS_LOCK:
                cached = _SESSIONS.get(self._cache_key)
            if cached is not None:
                return cached
            what = "login (com.atproto.server.createSession)"
            if not self.identifier or not self.app_password:
                raise NeedsReconnection("Bluesky source has no identifier or app password")
            response = self._send(
                "POST",
                f"{self.service_url}/xrpc/com.atproto.server.createSession",
                what=what,
                json={"identifier": self.identifier, "password": self.app_password},
            )
            if response.status_code == 400:
                error, message = _error_fields(response)
                # AuthFactorTokenRequired (e-mail 2FA: use an app password), AccountTakedown...
                raise NeedsReconnection(f"Bluesky refused the login ({error}: {message})")
            raise_for_status(response, what)
            return self._store(self._session_from(_decode(response, what), what))

    def _refresh_session(self, stale: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            with _SESSIONS_LOCK:
                current = _SESSIONS.get(self._cache_key)
            if current is not None and current.get("accessJwt") != stale.get("accessJwt"):
                return current  # another thread already renewed it
            what = "session refresh (com.atproto.server.refreshSession)"
            response = self._send(
                "POST",
                f"{self.service_url}/xrpc/com.atproto.server.refreshSession",
                what=what,
                token=str(stale.get("refreshJwt") or ""),
            )
            if response.status_code in (400, 401):
                # Refresh token expired or revoked: log in again with the app password.
                with _SESSIONS_LOCK:
                    _SESSIONS.pop(self._cache_key, None)
            else:
                raise_for_status(response, what)
                return self._store(self._session_from(_decode(response, what), what))
        return self._create_session()

    @staticmethod
    def _session_from(body: Any, what: str) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("accessJwt") or not body.get("did"):
            raise TransientError(f"Bluesky {what}: answer has no session")
        pds = None
        did_doc = body.get("didDoc")
        if isinstance(did_doc, dict):
            for service in did_doc.get("service") or []:
                if isinstance(service, dict) and str(service.get("id", "")).endswith("#atproto_pds"):
                    pds = service.get("serviceEndpoint")
        return {
            "did": body["did"],
            "handle": body.get("handle"),
            "accessJwt": body["accessJwt"],
            "refreshJwt": body.get("refreshJwt"),
            "pds": pds if isinstance(pds, str) and pds.startswith("https://") else None,
        }

    # ---------------------------------------------------------------- calls

    def call(
        self,
        method: str,
        nsid: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        what: str = "",
    ) -> Any:
        """One authenticated XRPC call; renews the session once if the token expired."""
        what = what or nsid
        for attempt in range(2):
            session = self.session
            kwargs: dict[str, Any] = {"params": params}
            if body is not None:
                kwargs["json"] = body
            response = self._send(
                method, f"{self.base_url}/xrpc/{nsid}", what=what, token=session["accessJwt"], **kwargs
            )
            if response.status_code in (400, 401):
                error, message = _error_fields(response)
                if attempt == 1 and error in ("ExpiredToken", "InvalidToken"):
                    raise NeedsReconnection(f"Bluesky refused {what} after a new login ({error}: {message})")
            if attempt == 0 and response.status_code in (400, 401):
                if error == "ExpiredToken":
                    self._refresh_session(session)
                    continue
                if response.status_code == 401 or error == "InvalidToken":
                    # Revoked or unknown session: drop it and log in again with the app password.
                    with _SESSIONS_LOCK:
                        if _SESSIONS.get(self._cache_key) is session:
                            _SESSIONS.pop(self._cache_key, None)
                    continue
            raise_for_status(response, what)
            return _decode(response, what)
        raise NeedsReconnection(f"Bluesky refused {what}: the session could not be renewed")
