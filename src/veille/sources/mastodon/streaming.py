"""Mastodon streaming API (server-sent events) read on background threads.

Each subscription (``/api/v1/streaming/user/notification``, ``/hashtag?tag=``, ``/list?list=``,
``/direct``) is one long HTTP response read line by line on a daemon thread; every parsed event,
and the end of the stream, is put on one queue that the connector's ``stream`` generator reads.
Only transport lives here: what an event means, and catching up by REST after a reconnect, is
the connector's job.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urljoin

import httpx

from veille.sources.connector import TransientError
from veille.sources.mastodon.client import MastodonClient, raise_for_status

# Mastodon sends a ``:thump`` heartbeat comment every ~15 s; no byte for this long = dead stream.
STREAM_READ_TIMEOUT_S = 60.0


@dataclasses.dataclass(slots=True)
class SseEvent:
    event: str
    data: str


def parse_sse(lines: Iterable[str]) -> Iterator[SseEvent]:
    """Server-sent events from text lines (``event:``, ``data:`` fields, blank line ends one,
    lines starting with ``:`` are comments such as Mastodon's ``:thump`` heartbeat)."""
    event = ""
    data: list[str] = []
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SseEvent(event or "message", "\n".join(data))
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        # "id" and "retry" fields are not used by Mastodon.


@dataclasses.dataclass(slots=True)
class Message:
    """What a subscription thread reports: ``connected``, ``event`` or ``ended``."""

    kind: str
    key: str
    event: SseEvent | None = None
    error: BaseException | None = None


class Subscription(threading.Thread):
    """One streaming endpoint read on a daemon thread until it ends or ``stop()`` is called."""

    def __init__(
        self,
        client: MastodonClient,
        key: str,
        path: str,
        params: dict[str, Any],
        out: queue.Queue[Message],
    ) -> None:
        super().__init__(name=f"mastodon-stream-{key}", daemon=True)
        self.client = client
        self.key = key
        self.path = path
        self.params = params
        self.out = out
        self._stopped = threading.Event()
        self._response: httpx.Response | None = None

    def stop(self) -> None:
        self._stopped.set()
        response = self._response
        if response is not None:
            try:
                response.close()
            except Exception:  # noqa: BLE001 - closing from another thread may race; nothing to do
                pass

    def _open(self) -> httpx.Response:
        url = self.client.url(self.path)
        timeout = httpx.Timeout(STREAM_READ_TIMEOUT_S, connect=10.0)
        # The web server may redirect to the instance's streaming host; follow at most twice,
        # sending the token to that host (it is the same instance's own streaming server).
        for _ in range(3):
            request = self.client.http.build_request(
                "GET",
                url,
                params=self.params,
                headers=self.client.headers({"Accept": "text/event-stream"}),
                timeout=timeout,
            )
            response = self.client.http.send(request, stream=True)
            if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                location = urljoin(str(response.url), response.headers["location"])
                response.close()
                url = location
                continue
            return response
        raise TransientError(f"Mastodon streaming {self.key}: too many redirects")

    def run(self) -> None:
        error: BaseException | None = None
        try:
            response = self._open()
            self._response = response
            try:
                if response.status_code >= 400:
                    response.read()
                    raise_for_status(response, f"streaming {self.key}")
                self.out.put(Message("connected", self.key))
                for event in parse_sse(response.iter_lines()):
                    if self._stopped.is_set():
                        break
                    self.out.put(Message("event", self.key, event=event))
            finally:
                response.close()
        except httpx.TimeoutException as exc:
            error = TransientError(f"Mastodon streaming {self.key}: no data (heartbeat) in time")
            error.__cause__ = exc
        except httpx.HTTPError as exc:
            error = TransientError(f"Mastodon streaming {self.key}: connection lost ({exc})")
            error.__cause__ = exc
        except BaseException as exc:  # noqa: BLE001 - every failure is reported to the reader
            error = exc
        if not self._stopped.is_set():
            if error is None:
                error = TransientError(f"Mastodon streaming {self.key}: server closed the stream")
            self.out.put(Message("ended", self.key, error=error))
