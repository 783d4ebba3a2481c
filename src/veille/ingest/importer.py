"""Files into the durable intake: ``veille import`` and ``veille replay`` share this."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from veille.ingest import queue
from veille.ingest.pipeline import Incoming, Prepared, SourceInfo, load_sources, prepare, write
from veille.ingest.worker import Worker
from veille.sources.base import BadRecord, RawRecord

log = logging.getLogger("veille.import")

INTAKE_CHUNK = 4000


@dataclasses.dataclass
class ImportReport:
    read: int = 0
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    # (line or location, reason) of the first rejections, to show the operator.
    rejections: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


class ImportFailed(Exception):
    """Nothing at all could be read from the file; the message says why."""


def open_records(path: Path, format_name: str | None) -> tuple[str, Iterator[RawRecord | BadRecord], Callable[[], int], int]:
    """Open ``path`` and return (format, records, bytes consumed so far, total bytes)."""
    from veille.sources.formats import get_format, open_input, sniff_format

    if not path.exists():
        raise ImportFailed(f"{path}: no such file")
    if path.is_dir():
        raise ImportFailed(f"{path}: is a directory, not a file")
    try:
        name = format_name or sniff_format(path)
        file_format = get_format(name)
    except ValueError as error:
        raise ImportFailed(f"{path}: {error}") from None
    try:
        stream = open_input(path)
    except (OSError, ValueError) as error:
        raise ImportFailed(f"{path}: {error}") from None
    total = os.path.getsize(path)

    def records() -> Iterator[RawRecord | BadRecord]:
        try:
            yield from file_format.read(stream)
        finally:
            stream.close()

    def consumed() -> int:
        # Progress by compressed bytes read when gzipped, else by position.
        inner = getattr(stream, "fileobj", None) or getattr(stream, "raw", None) or stream
        try:
            return min(total, inner.tell())
        except (OSError, ValueError, AttributeError):
            return 0

    return name, records(), consumed, total


def import_file(
    path: Path,
    source_id: int,
    format_name: str | None = None,
    *,
    process: bool = True,
    progress: Callable[[int, int, int], None] | None = None,
    preparers: int | None = None,
) -> ImportReport:
    """Persist every record of ``path`` as raw items and, by default, run them through the pipeline.

    ``preparers``: how many child processes prepare the chunks (0: this one does, inline;
    default: by cores and by how much preparing costs, see ``default_preparers``).

    Each chunk's raw items are stored, settled, in the transaction that writes its posts.
    Reading, normalising and enriching are CPU work that needs no database, so on a machine
    with several cores they run in child processes, chunks ahead of the database writes.
    """
    with _few_collections():
        return _import_file(path, source_id, format_name, process=process, progress=progress, preparers=preparers)


@contextlib.contextmanager
def _few_collections() -> Iterator[None]:
    """Keep the cyclic garbage collector from rescanning the whole process again and again.

    An import allocates hundreds of thousands of short-lived objects (rows, payloads) that
    trigger collections, and each full collection walks every object the process holds (Django,
    models). Freezing what exists and collecting less often halves the time spent unpickling
    prepared chunks; nothing here creates reference cycles worth collecting sooner.
    """
    thresholds = gc.get_threshold()
    # No collection first: in a large process it costs more than the garbage it would free,
    # which ``unfreeze`` hands back to the collector afterwards anyway.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _import_file(path: Path, source_id: int, format_name: str | None, *, process: bool,
                 progress: Callable[[int, int, int], None] | None, preparers: int | None) -> ImportReport:
    started = time.perf_counter()
    name, records, consumed, total = open_records(path, format_name)
    report = ImportReport()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM ingest_rawitem")
        first_id = cursor.fetchone()[0] + 1
    if not process:
        while chunk := list(itertools.islice(records, INTAKE_CHUNK)):
            report.read += len(chunk)
            queue.intake(source_id, name, chunk)
            if progress:
                progress(consumed(), total, report.read)
    else:
        sources = load_sources({source_id})
        full = bool(settings.VEILLE_ENRICH)
        if preparers is None:
            preparers = default_preparers(os.cpu_count() or 1, full) if total > PARALLEL_FROM_BYTES else 0
        with contextlib.ExitStack() as children:
            if preparers > 0:
                from veille.ingest.enrich import warm_up

                # While the children prepare their first chunks, this process prepares the first
                # one itself instead of waiting idle, when a core is left for it.
                own = 1 if preparers < (os.cpu_count() or 1) else 0

                def prepare_share(share: int) -> Iterator[_Chunk]:
                    _, own_records, own_consumed, _ = open_records(path, name)
                    return _prepared_chunks(own_records, name, source_id, sources, full, own_consumed,
                                            share=(share, preparers), skip=own)

                warm_up(full)  # loaded once here, shared with the preparing processes by fork
                from_children = children.enter_context(_in_child_processes(prepare_share, preparers))
                first = itertools.islice(_prepared_chunks(records, name, source_id, sources, full, consumed), own)
                chunks: Iterator[_Chunk] = itertools.chain(first, from_children)
            else:
                chunks = _prepared_chunks(records, name, source_id, sources, full, consumed)
            for chunk in chunks:
                _write_chunk(chunk)
                report.read += chunk.read
                if progress:
                    progress(chunk.consumed, total, report.read)
        # Anything left pending for this source (an earlier import that was interrupted).
        Worker(source_id=source_id).drain()
    _count(report, source_id, first_id)
    report.seconds = time.perf_counter() - started
    return report


def _write_chunk(chunk: _Chunk) -> None:
    if chunk.prepared is None:
        # Preparing failed as a whole: store the chunk pending and let the worker path
        # (which isolates a poison item) process it.
        queue.insert_raw(chunk.raw_rows)
        return
    try:
        # Raw items and their posts in one transaction: the raw rows are written once,
        # already settled. A crash before the commit leaves nothing of this chunk and
        # the file still holds it; importing again stores it (and skips what was stored).
        with transaction.atomic():
            ids = queue.insert_raw(chunk.raw_rows, savepoint=False)
            chunk.prepared.remap(ids)
            write(chunk.prepared, raw_settled=True, savepoint=False)
    except Exception:
        log.exception("writing an import chunk failed; its items are queued for item-by-item processing")
        queue.insert_raw(chunk.raw_rows.as_pending())


def default_preparers(cores: int, full_enrichment: bool) -> int:
    """Preparing processes for an import on ``cores`` cores (0: prepare in the writing process).

    One core stays the writer's. On two cores the choice depends on what preparing costs against
    writing (~45 µs a post on SQLite): with the sentiment, complaint and abuse models (~70 µs a
    post) two preparing processes keep the writer busy; with language alone (~27 µs a post) one
    does, and a second would only take CPU from the writer (measured on twcs_union: 3.1 s
    against 3.4 s with two; with the models, 5.2 s with two against 6.2 s with one).
    """
    if cores < 2:
        return 0
    return min(4, max(2 if full_enrichment else 1, cores - 1))


# Below this size a file is prepared in the importing process itself: starting a child would cost more.
PARALLEL_FROM_BYTES = 512 * 1024


@dataclasses.dataclass
class _Chunk:
    read: int  # records read from the file, good and bad
    prepared: Prepared | None  # None when preparing the chunk failed
    raw_rows: queue.RawRows  # its raw items: settled as ``prepared`` says, or pending if it failed
    consumed: int


def _prepared_chunks(records: Iterator[RawRecord | BadRecord], format_name: str, source_id: int,
                     sources: dict[int, SourceInfo], full: bool, consumed: Callable[[], int],
                     share: tuple[int, int] = (0, 1), skip: int = 0) -> Iterator[_Chunk]:
    """Chunks of the file, prepared. The first ``skip`` chunks are only read past; of the rest,
    with ``share=(k, n)``, every n-th from the k-th is prepared: n processes split the work of one file."""
    mine, every = share
    for index in itertools.count(-skip):
        chunk = list(itertools.islice(records, INTAKE_CHUNK))
        if not chunk:
            return
        if index < 0 or index % every != mine:
            continue
        good = [record for record in chunk if isinstance(record, RawRecord)]
        incoming = [Incoming(position, source_id, format_name, record.payload) for position, record in enumerate(good)]
        try:
            prepared: Prepared | None = prepare(incoming, sources, full_enrichment=full)
        except Exception:
            log.exception("preparing an import chunk failed; it will be processed item by item")
            prepared = None
        payloads = [queue.payload_json(record.payload) for record in good]
        raw = queue.raw_rows(source_id, format_name, chunk, payloads=payloads,
                             settled=None if prepared is None else prepared.settled_statuses())
        yield _Chunk(len(chunk), prepared, raw, consumed())


@contextlib.contextmanager
def _in_child_processes(share_of: Callable[[int], Iterator[_Chunk]], count: int) -> Iterator[Iterator[_Chunk]]:
    """Start ``count`` forked children, child k taking chunks k, k+count, …; the iterator yields
    them in file order, each child a few chunks ahead of the consumer. Leaving the context stops them."""
    import multiprocessing
    import queue as queue_module

    from django.db import connections

    connections.close_all()  # the children must not share the parent's database connections
    context = multiprocessing.get_context("fork")
    channels = [context.Queue(maxsize=2) for _ in range(count)]

    def produce(share: int) -> None:
        channel = channels[share]
        try:
            for chunk in share_of(share):
                channel.put(("chunk", chunk))
            channel.put(("end", None))
        except BaseException as error:  # reported to the parent, which raises it
            channel.put(("error", f"{type(error).__name__}: {error}"))

    children = [context.Process(target=produce, args=(share,), name=f"veille-import-prepare-{share}", daemon=True)
                for share in range(count)]
    for child in children:
        child.start()

    def in_file_order() -> Iterator[_Chunk]:
        for index in itertools.count():
            share = index % count
            while True:
                try:
                    kind, value = channels[share].get(timeout=1.0)
                    break
                except queue_module.Empty:
                    if not children[share].is_alive():
                        raise ImportFailed("a process preparing the file stopped unexpectedly") from None
            if kind == "end":
                return  # chunks are dealt in turn, so the first share to end ends the file
            if kind == "error":
                raise ImportFailed(f"preparing the file failed: {value}")
            yield value

    try:
        yield in_file_order()
    finally:
        for child in children:
            if child.is_alive():
                child.terminate()
        for child in children:
            child.join(5)


def _count(report: ImportReport, source_id: int, first_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, COUNT(*) FROM ingest_rawitem WHERE source_id = %s AND id >= %s GROUP BY status",
            [source_id, first_id],
        )
        counts = dict(cursor.fetchall())
        report.imported = counts.get("done", 0)
        report.duplicates = counts.get("duplicate", 0)
        report.rejected = counts.get("dead", 0)
        cursor.execute(
            "SELECT line, location, error FROM ingest_rawitem WHERE source_id = %s AND id >= %s AND status = 'dead' "
            "ORDER BY id LIMIT 20",
            [source_id, first_id],
        )
        for line, location, error in cursor.fetchall():
            where = f"line {line}" if line is not None else (location or "?")
            report.rejections.append((where, error))


def replay_schedule(path: Path, format_name: str | None) -> tuple[str, list[tuple[datetime, RawRecord]], list[BadRecord]]:
    """Read a whole data set and order it by original time, for ``veille replay``."""
    from veille.sources.base import NormalizeError
    from veille.sources.formats import get_format

    name, records, _, _ = open_records(path, format_name)
    file_format = get_format(name)
    timed: list[tuple[datetime, RawRecord]] = []
    bad: list[BadRecord] = []
    for record in records:
        if isinstance(record, BadRecord):
            bad.append(record)
            continue
        try:
            created_at = file_format.normalize(record.payload).created_at
        except (NormalizeError, ValueError, KeyError, TypeError) as error:
            bad.append(BadRecord(str(error), str(record.payload)[:10000], record.line, record.location))
            continue
        timed.append((created_at, record))
    timed.sort(key=lambda pair: pair[0])
    return name, timed, bad
