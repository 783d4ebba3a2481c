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

from django.db import connection

log = logging.getLogger("veille.live")
CHANNEL = "veille_live"


class LiveBus:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation = 0
        self._last: dict[int, dict] = {}

    def publish_local(self, workspace_id: int, event: dict) -> None:
        with self._condition:
            self._generation += 1
            self._last[workspace_id] = event
            self._condition.notify_all()

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
