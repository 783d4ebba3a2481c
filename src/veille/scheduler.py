"""A small in-process scheduler: named jobs, each run every N seconds on one thread.

Jobs must be short and idempotent; a failing job is logged and tried again next time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections

log = logging.getLogger("veille.scheduler")


class Scheduler:
    def __init__(self) -> None:
        self._jobs: list[tuple[str, float, Callable[[], None]]] = []
        self._next: dict[str, float] = {}
        self.stop_event = threading.Event()

    def every(self, seconds: float, name: str, job: Callable[[], None]) -> None:
        self._jobs.append((name, seconds, job))
        self._next[name] = 0.0

    def run_forever(self) -> None:
        while not self.stop_event.is_set():
            now = time.monotonic()
            for name, interval, job in self._jobs:
                if now >= self._next[name]:
                    self._next[name] = now + interval
                    try:
                        job()
                    except Exception:
                        log.exception("scheduled job %s failed", name)
                        close_old_connections()
            wait = min((self._next[name] for name, _, _ in self._jobs), default=now + 1) - time.monotonic()
            self.stop_event.wait(max(0.05, min(wait, 1.0)))

    def stop(self) -> None:
        self.stop_event.set()
