"""Live readers: sources whose platform has a live transport are streamed instead of polled.

A connector that advertises ``read.stream`` has ``stream(cursor, stop=..., on_state=...)``: a
generator of records that catches up by REST from the cursor, then follows the platform's live
transport (Mastodon streaming, Bluesky Jetstream), and keeps ``connector.cursor`` covering
everything it has yielded. Here each such source gets one reader thread, in one process at a
time, that persists what the stream yields.

* **One process per source.** ``supervise(owner, wake)``, run every few seconds by each process
  (``add_platform_jobs`` in ``veille.cli``), claims active streamable sources with a lease in
  the database (``live_owner`` / ``live_lease_until``, taken by a conditional UPDATE, so two
  processes never both claim one source) and renews the leases of its running readers. A process
  that dies stops renewing; its leases expire and another process takes the sources over.
* **Durable.** Records and the cursor that follows them are stored in one transaction by
  ``actions.store_batch``, the same code the poller uses, fenced by the lease: a reader that
  lost its lease or whose source was paused cannot write any more, and stops.
* **Not polled twice.** ``claim_due_sources`` skips sources whose live lease is held; when
  streaming keeps failing (``FALLBACK_AFTER_FAILURES`` reconnections in a row without getting
  through) the reader lets go and sets ``live_retry_at``: the source is polled until then.
* **Errors as in polling.** NeedsReconnection marks the source and stops; RateLimited waits
  ``retry_after``; transient errors back off exponentially and restart the stream from the
  stored cursor (the connector's catch-up reads what was missed).

Two threads per streamed source: the *pump* drives the connector's generator (which blocks
while the platform is quiet) and hands records over a queue to the *reader*, which stores
whatever has queued up as one batch, so a catch-up of hundreds of records is a few
transactions, not hundreds.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import DatabaseError, connection
from django.db.models import Q
from django.utils import timezone

from veille.sources.actions import (
    _mark_needs_reconnection,
    _record_failure,
    build_connector,
    store_batch,
)
from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    RateLimited,
    TransientError,
    Unsupported,
)
from veille.sources.crypto import CredentialsUnreadable
from veille.sources.models import LiveState, Source, SourceStatus
from veille.sources.registry import CONNECTORS, connector_class

log = logging.getLogger("veille.sources.live")

# A lease outlives several missed renewals (supervise runs every few seconds) so a busy
# process does not lose its sources, and is short enough that a dead one's are taken over soon.
LEASE_S = 30.0
BATCH_MAX = 500
# Reconnections in a row without getting through, after which the source is polled instead.
FALLBACK_AFTER_FAILURES = 5
FALLBACK_FOR_S = 900.0
MAX_BACKOFF_S = 60.0
# How long a stopping reader may take to finish its current batch.
STOP_TIMEOUT_S = 5.0


class _GiveUp(ConnectorError):
    """Streaming keeps failing for this source: poll it for a while instead."""


@functools.cache
def can_stream(platform: str) -> bool:
    """Whether the platform's connector has a live transport (imports its module once)."""
    if platform not in CONNECTORS:
        return False
    try:
        return "read.stream" in getattr(connector_class(platform), "capabilities", ())
    except ImportError:
        return False


def _wants_live(settings: Any) -> bool:
    # ``"live": false`` in a source's advanced settings keeps it on polling.
    return not (isinstance(settings, dict) and settings.get("live") is False)


def _fingerprint(row: dict[str, Any]) -> tuple[str, str]:
    """A reader is restarted when what its connector was built from changes."""
    return (row["credentials_encrypted"], json.dumps(row["settings"] or {}, sort_keys=True))


def _claimable(now: Any) -> Q:
    return (
        Q(status=SourceStatus.ACTIVE)
        & (Q(live_lease_until__isnull=True) | Q(live_lease_until__lt=now))
        # Not while a poller is in the middle of a poll: it would store a cursor behind ours.
        & (Q(poll_lease_until__isnull=True) | Q(poll_lease_until__lt=now))
        & (Q(live_retry_at__isnull=True) | Q(live_retry_at__lte=now))
    )


def release(source_id: int, owner: str) -> None:
    Source.objects.filter(pk=source_id, live_owner=owner).update(live_owner="", live_lease_until=None, live_state="")


class Reader(threading.Thread):
    """Streams one source for as long as this process holds its live lease."""

    def __init__(self, source_id: int, owner: str, wake: Callable[[], object], fingerprint: tuple[str, str]) -> None:
        super().__init__(name=f"veille-live-{source_id}", daemon=True)
        self.source_id = source_id
        self.owner = owner
        self.wake = wake
        self.fingerprint = fingerprint
        self.stop_event = threading.Event()
        # Stops the current stream attempt (set by ``stop`` and when an attempt is abandoned).
        self._halt = threading.Event()
        self.failures = 0  # attempts in a row that ended in an error

    def stop(self) -> None:
        self.stop_event.set()
        self._halt.set()

    def run(self) -> None:
        try:
            self._run()
        except Exception:  # noqa: BLE001 - a reader must never take its process down
            log.exception("live reader for source %s failed", self.source_id)
        finally:
            try:
                release(self.source_id, self.owner)
            except DatabaseError:
                log.warning("live reader for source %s could not release its lease", self.source_id)
            connection.close()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            source = (Source.objects.select_related("workspace")
                      .filter(pk=self.source_id, live_owner=self.owner, status=SourceStatus.ACTIVE).first())
            if source is None:
                return  # paused, removed or taken over
            try:
                connector = build_connector(source)
            except (CredentialsUnreadable, NeedsReconnection) as error:
                _mark_needs_reconnection(source, str(error))
                return
            except (ConnectorError, ValueError, TypeError) as error:
                self._fall_back(source, f"cannot stream: {type(error).__name__}: {error}")
                return
            self._halt = threading.Event()
            if self.stop_event.is_set():
                self._halt.set()
            # The connector waits between its own reconnections: make those waits end at once
            # when the reader is stopped (a paused source stops within a second or so).
            connector.sleep = self._halt.wait
            try:
                self._follow(source, connector)
                return
            except NeedsReconnection as error:
                _mark_needs_reconnection(source, str(error))
                return
            except RateLimited as error:
                now = timezone.now()
                wait = max(1.0, error.retry_after_s)
                Source.objects.filter(pk=source.pk, live_owner=self.owner).update(
                    rate_limited_until=now + timedelta(seconds=wait), live_state=LiveState.RECONNECTING,
                    last_error=f"rate limited: {error}"[:2000], last_error_at=now)
                self.stop_event.wait(wait)
            except (Unsupported, _GiveUp) as error:
                self._fall_back(source, str(error))
                return
            except (TransientError, ConnectorError, OSError, ValueError, DatabaseError) as error:
                if isinstance(error, DatabaseError):
                    connection.close()  # reconnect on the next query
                self.failures += 1
                try:
                    Source.objects.filter(pk=source.pk, live_owner=self.owner).update(live_state=LiveState.RECONNECTING)
                    _record_failure(source, f"{type(error).__name__}: {error}", what="streaming")
                except DatabaseError:
                    connection.close()
                if self.failures >= FALLBACK_AFTER_FAILURES:
                    self._fall_back(source, f"streaming failed {self.failures} times in a row: {error}")
                    return
                self.stop_event.wait(min(MAX_BACKOFF_S, 2.0 ** (self.failures - 1)))
            finally:
                self._halt.set()
                connector_close = getattr(connector, "close", None)
                if connector_close is not None:
                    connector_close()

    def _fall_back(self, source: Source, reason: str) -> None:
        now = timezone.now()
        log.warning("source %s: %s; polling it for %s s", source.pk, reason, FALLBACK_FOR_S)
        Source.objects.filter(pk=source.pk, live_owner=self.owner).update(
            live_retry_at=now + timedelta(seconds=FALLBACK_FOR_S), next_poll_at=now,
            last_error=reason[:2000], last_error_at=now)

    def _pump(self, connector: Any, cursor: dict[str, Any] | None, out: queue.Queue[tuple[str, Any, Any]],
              halt: threading.Event) -> None:
        """Drive the connector's generator; hand records (with the cursor after each) over."""
        reconnects = 0

        def on_state(state: str, error: BaseException | None) -> None:
            nonlocal reconnects
            if state == "reconnecting":
                reconnects += 1
                out.put(("state", state, error))
                if reconnects >= FALLBACK_AFTER_FAILURES:
                    # Raised inside the generator: it closes its connections and ends.
                    raise _GiveUp(f"streaming could not reconnect {reconnects} times in a row: {error}")
            else:
                reconnects = 0
                out.put(("state", state, None))

        try:
            for record in connector.stream(cursor, stop=halt, on_state=on_state):
                out.put(("record", record, copy.deepcopy(connector.cursor)))
        except BaseException as error:  # noqa: BLE001 - every end is reported to the reader
            out.put(("error", error, None))
        else:
            out.put(("end", None, None))

    def _follow(self, source: Source, connector: Any) -> None:
        """Store what the stream yields until stopped; raise what ended the stream."""
        halt = self._halt
        inbox: queue.Queue[tuple[str, Any, Any]] = queue.Queue()
        pump = threading.Thread(target=self._pump, args=(connector, source.cursor or None, inbox, halt),
                                name=f"veille-live-pump-{source.pk}", daemon=True)
        pump.start()
        stopping_since: float | None = None
        try:
            while True:
                try:
                    item = inbox.get(timeout=0.5)
                except queue.Empty:
                    if halt.is_set():
                        # A pump stuck in a slow request is left to finish on its own (daemon).
                        stopping_since = stopping_since or time.monotonic()
                        if not pump.is_alive() or time.monotonic() - stopping_since > STOP_TIMEOUT_S:
                            return
                    continue
                kind, value, extra = item
                if kind == "record":
                    batch, cursor = [value], extra
                    held = None
                    while len(batch) < BATCH_MAX:
                        try:
                            following = inbox.get_nowait()
                        except queue.Empty:
                            break
                        if following[0] != "record":
                            held = following
                            break
                        batch.append(following[1])
                        cursor = following[2]
                    if not store_batch(source, batch, cursor, next_poll_in_s=source.poll_interval_s,
                                       live_owner=self.owner):
                        log.info("source %s: no longer ours or not active; its reader stops", source.pk)
                        self.stop()
                        return
                    self.failures = 0
                    try:
                        self.wake()
                    except Exception:  # noqa: BLE001 - waking is a courtesy; the worker polls anyway
                        log.exception("live reader wake callback failed")
                    if held is None:
                        continue
                    kind, value, extra = held
                if kind == "state":
                    self._set_state(source, value, extra)
                elif kind == "error":
                    raise value
                elif kind == "end":
                    if halt.is_set():
                        return
                    raise TransientError("the stream ended")
        finally:
            halt.set()
            pump.join(timeout=STOP_TIMEOUT_S)

    def _set_state(self, source: Source, state: str, error: BaseException | None) -> None:
        mine = Source.objects.filter(pk=source.pk, live_owner=self.owner)
        if state == "connected":
            self.failures = 0
            source.consecutive_failures = 0
            mine.update(live_state=LiveState.CONNECTED, last_sync_at=timezone.now(), consecutive_failures=0)
        elif state == "reconnecting":
            mine.update(live_state=LiveState.RECONNECTING)
            _record_failure(source, f"{type(error).__name__}: {error}", what="streaming")


class Supervisor:
    """The live readers of one process (``owner``)."""

    def __init__(self, owner: str, wake: Callable[[], object], lease_s: float = LEASE_S) -> None:
        self.owner = owner
        self.wake = wake
        self.lease_s = lease_s
        self.readers: dict[int, Reader] = {}
        self.lock = threading.Lock()

    def tick(self) -> int:
        """Renew, stop and start readers; returns how many run (not counting those stopping)."""
        with self.lock:
            now = timezone.now()
            for source_id, reader in list(self.readers.items()):
                if not reader.is_alive():
                    del self.readers[source_id]
            if self.readers:
                rows = {row["id"]: row for row in Source.objects.filter(
                    pk__in=list(self.readers), live_owner=self.owner, status=SourceStatus.ACTIVE,
                ).values("id", "settings", "credentials_encrypted")}
                keep = []
                for source_id, reader in self.readers.items():
                    row = rows.get(source_id)
                    if row is None or _fingerprint(row) != reader.fingerprint or not _wants_live(row["settings"]):
                        # Paused, removed, taken over after our lease expired, or edited: stop.
                        # It stays listed until it has ended, so it is not started twice here.
                        reader.stop()
                    elif not reader.stop_event.is_set():
                        keep.append(source_id)
                if keep:
                    mine = Source.objects.filter(pk__in=keep, live_owner=self.owner)
                    mine.update(live_lease_until=now + timedelta(seconds=self.lease_s))
                    # A connected stream is in sync even when nobody posts.
                    mine.filter(live_state=LiveState.CONNECTED).update(last_sync_at=now)
            # Only the platforms that have sources are looked at (connector modules load lazily).
            platforms = [platform for platform in Source.objects.filter(status=SourceStatus.ACTIVE)
                         .values_list("platform", flat=True).distinct() if can_stream(platform)]
            candidates = (Source.objects.filter(_claimable(now), platform__in=platforms)
                          .exclude(pk__in=list(self.readers))
                          .values("id", "settings", "credentials_encrypted"))
            for row in candidates:
                if not _wants_live(row["settings"]):
                    continue
                claimed = Source.objects.filter(_claimable(now), pk=row["id"]).update(
                    live_owner=self.owner, live_lease_until=now + timedelta(seconds=self.lease_s),
                    live_state=LiveState.CONNECTING)
                if claimed:
                    reader = Reader(row["id"], self.owner, self.wake, _fingerprint(row))
                    self.readers[row["id"]] = reader
                    reader.start()
            # A reader that let go of its lease may still be ending (closing its connection):
            # it stays listed so it is not started twice, but it no longer streams.
            return sum(1 for reader in self.readers.values() if not reader.stop_event.is_set())

    def shutdown(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop every reader and wait for them (each releases its lease as it ends)."""
        with self.lock:
            readers = list(self.readers.values())
            self.readers.clear()
        for reader in readers:
            reader.stop()
        deadline = time.monotonic() + timeout
        for reader in readers:
            reader.join(max(0.0, deadline - time.monotonic()))


_supervisors: dict[str, Supervisor] = {}
_supervisors_lock = threading.Lock()


def supervise(owner: str, wake: Callable[[], object] = lambda: None, *, lease_s: float = LEASE_S) -> int:
    """Run by every process every few seconds: keep this process's share of live readers."""
    with _supervisors_lock:
        supervisor = _supervisors.get(owner)
        if supervisor is None:
            supervisor = _supervisors[owner] = Supervisor(owner, wake, lease_s)
    supervisor.lease_s = lease_s
    return supervisor.tick()


def readers(owner: str) -> dict[int, Reader]:
    """The running readers of ``owner`` (for tests and diagnostics)."""
    supervisor = _supervisors.get(owner)
    return dict(supervisor.readers) if supervisor else {}


def shutdown(owner: str | None = None, timeout: float = STOP_TIMEOUT_S) -> None:
    """Stop the readers of ``owner`` (default: of every supervisor in this process)."""
    with _supervisors_lock:
        owners = [owner] if owner is not None else list(_supervisors)
        stopping = [_supervisors.pop(name) for name in owners if name in _supervisors]
    for supervisor in stopping:
        supervisor.shutdown(timeout)
