"""The ingest worker loop: claim a batch under a lease, process it, repeat.

Run as ``veille worker`` (any number, on PostgreSQL) or as a thread of ``veille run``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from django.conf import settings
from django.db import close_old_connections

from veille.ingest import queue
from veille.ingest.pipeline import BatchResult, Pipeline

log = logging.getLogger("veille.worker")


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(self, *, worker_id: str | None = None, batch_size: int | None = None, lease_s: float | None = None,
                 pipeline: Pipeline | None = None, source_id: int | None = None) -> None:
        self.worker_id = worker_id or new_worker_id()
        self.batch_size = batch_size or settings.VEILLE_INGEST_BATCH
        self.lease_s = lease_s or settings.VEILLE_INGEST_LEASE_S
        self.pipeline = pipeline or Pipeline()
        self.source_id = source_id
        self.stop_event = threading.Event()
        self.wake_event = threading.Event()

    def run_once(self) -> BatchResult | None:
        """Claim and process one batch; None when there was nothing to claim."""
        items = queue.claim(self.worker_id, self.batch_size, self.lease_s, self.source_id)
        if not items:
            return None
        return self.pipeline.process(items)

    def drain(self) -> BatchResult:
        """Process until the queue is empty (imports, tests)."""
        total = BatchResult()
        while not self.stop_event.is_set():
            result = self.run_once()
            if result is None:
                break
            total.add(result)
        return total

    def run_forever(self, idle_s: float = 0.5) -> None:
        log.info("worker %s started", self.worker_id)
        while not self.stop_event.is_set():
            try:
                result = self.run_once()
            except Exception:
                # A database outage or a bug outside item processing: wait and try again;
                # the lease makes sure nothing claimed is lost.
                log.exception("worker %s: batch failed", self.worker_id)
                close_old_connections()
                self.stop_event.wait(2.0)
                continue
            if result is None:
                self.wake_event.wait(idle_s)
                self.wake_event.clear()
            elif result.stored or result.dead:
                log.debug("stored %s, duplicates %s, dead %s", result.stored, result.duplicates, result.dead)
        log.info("worker %s stopped", self.worker_id)

    def stop(self) -> None:
        self.stop_event.set()
        self.wake_event.set()
