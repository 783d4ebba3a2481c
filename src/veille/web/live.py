"""Live fan-out of "something new" signals to server-sent-event streams.

The database stays the source of truth: an event only wakes streams up, and each stream then
reads what is new for its own workspace since the last id it sent. A missed signal therefore
delays an update by at most one poll interval and never loses it.

Within a process, a condition variable wakes waiting streams. Across processes (scale-out on
PostgreSQL) the writer also sends ``NOTIFY veille_live`` and every web process runs one
listener thread that relays notifications into its local bus.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

from django.db import close_old_connections, connection
from django.http import StreamingHttpResponse
from django.utils import translation

log = logging.getLogger("veille.live")
CHANNEL = "veille_live"


class LiveBus:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0
        self._last: dict[int, dict] = {}
        # How many events of each type each workspace has had: a stream that only cares about
        # one kind (the care queues) re-reads the database only when that count moves, instead
        # of on every new post of every workspace.
        self._counts: dict[tuple[int, str], int] = {}

    def publish_local(self, workspace_id: int, event: dict) -> None:
        with self._condition:
            self._generation += 1
            self._last[workspace_id] = event
            key = (workspace_id, str(event.get("type", "")))
            self._counts[key] = self._counts.get(key, 0) + 1
            self._condition.notify_all()

    def count(self, workspace_id: int, types: tuple[str, ...]) -> int:
        """Events of these types published for the workspace so far (in this process)."""
        with self._condition:
            return sum(self._counts.get((workspace_id, kind), 0) for kind in types)

    @property
    def generation(self) -> int:
        return self._generation

    def wait(self, seen_generation: int, timeout: float) -> int:
        """Block until something is published after ``seen_generation`` or the timeout passes."""
        with self._condition:
            self._condition.wait_for(lambda: self._generation != seen_generation, timeout=timeout)
            return self._generation


bus = LiveBus()


def publish(workspace_id: int, event: dict) -> None:
    """Call after commit: wakes this process's streams and, on PostgreSQL, every other process's."""
    bus.publish_local(workspace_id, event)
    if connection.vendor == "postgresql":
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, json.dumps({"workspace": workspace_id, **event})[:7000]])
        except Exception:  # a lost signal only delays a stream by one poll interval
            log.exception("could not send live notification")


_listener_started = False
_listener_lock = threading.Lock()


def start_postgres_listener() -> None:
    """Relay PostgreSQL notifications into this process's bus (web processes in scale-out)."""
    global _listener_started
    if connection.vendor != "postgresql":
        return
    with _listener_lock:
        if _listener_started:
            return
        _listener_started = True
    thread = threading.Thread(target=_listen_forever, name="veille-live-listener", daemon=True)
    thread.start()


def _listen_forever() -> None:
    import psycopg

    settings_dict = connection.settings_dict
    while True:
        try:
            with psycopg.connect(
                dbname=settings_dict["NAME"], user=settings_dict["USER"] or None,
                password=settings_dict["PASSWORD"] or None, host=settings_dict["HOST"] or None,
                port=settings_dict["PORT"] or None, autocommit=True,
            ) as listener:
                listener.execute(f"LISTEN {CHANNEL}")
                for notification in listener.notifies():
                    try:
                        event = json.loads(notification.payload)
                        bus.publish_local(int(event.get("workspace", 0)), event)
                    except (ValueError, TypeError):
                        log.warning("ignored a malformed live notification")
        except Exception:
            log.exception("live listener lost its connection; reconnecting")
            time.sleep(2)


# A stream connection is recycled after this long (the browser reconnects at once with
# Last-Event-ID), so server threads are never held forever by forgotten tabs.
STREAM_MAX_S = 300
STREAM_KEEPALIVE_S = 15

# poll(after) → (rendered events, the new cursor, whether more are waiting right now)
Poll = Callable[[int], tuple[list[str], int, bool]]


def event_stream(request, poll: Poll) -> StreamingHttpResponse:
    """A server-sent-event response that calls ``poll`` whenever the bus signals something new
    (and every 2 s regardless), resuming from the browser's Last-Event-ID."""
    try:
        after = int(request.headers.get("Last-Event-ID") or request.GET.get("after") or 0)
    except ValueError:
        after = 0
    language = translation.get_language()

    def events() -> Iterator[str]:
        nonlocal after
        translation.activate(language)
        yield "retry: 3000\n: connected\n\n"
        deadline = time.monotonic() + STREAM_MAX_S
        generation = bus.generation
        last_sent = time.monotonic()
        try:
            while time.monotonic() < deadline:
                chunks, after, more = poll(after)
                if chunks:
                    yield from chunks
                    last_sent = time.monotonic()
                if more:
                    continue
                if time.monotonic() - last_sent >= STREAM_KEEPALIVE_S:
                    yield ": keepalive\n\n"
                    last_sent = time.monotonic()
                generation = bus.wait(generation, timeout=2.0)
        finally:
            close_old_connections()

    response = StreamingHttpResponse(events(), content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
