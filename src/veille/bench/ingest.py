"""``veille bench ingest``: the full pipeline against plain inserts, on one fresh database.

The baseline inserts the same already-normalised rows into the same tables and search index
(through the same ``store`` functions, in batches of the same size), so
``ratio = posts_per_s / baseline_posts_per_s`` is the cost of durability (raw intake, leases,
status), normalisation, enrichment and threading.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from veille.bench import fresh_database


def main(args: argparse.Namespace) -> int:
    path = Path(args.input)
    if not path.exists():
        print(f"veille bench ingest: {path}: no such file", file=sys.stderr)
        return 1
    if args.no_enrich:
        os.environ["VEILLE_ENRICH"] = "false"
    with fresh_database(args.database_url):
        from veille.ingest.pipeline import POST_STORE_HOOKS, PREPARE_HOOKS

        hooks = [f"{hook.__module__}.{hook.__name__}" for hook in (*PREPARE_HOOKS, *POST_STORE_HOOKS)]
        if args.core:
            POST_STORE_HOOKS.clear()
            PREPARE_HOOKS.clear()
        figures = run(path, args.format)
        figures["app_hooks"] = [] if args.core else hooks
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>24}: {value}")
    return 0


def run(path: Path, format_name: str | None) -> dict:
    from django.conf import settings
    from django.db import connection, transaction
    from django.utils import timezone

    from veille.accounts.actions import create_workspace
    from veille.ingest import store
    from veille.ingest.importer import import_file, open_records
    from veille.ingest.store import AuthorRow, PostRow
    from veille.sources.base import BadRecord, NormalizeError
    from veille.sources.formats import get_format
    from veille.sources.models import Source

    # Baseline rows: read and normalise up front (not timed), dedupe as the pipeline would.
    name, records, _, _ = open_records(path, format_name)
    file_format = get_format(name)
    rows: list[PostRow] = []
    authors: list[AuthorRow] = []
    seen: set[str] = set()
    for record in records:
        if isinstance(record, BadRecord):
            continue
        try:
            post = file_format.normalize(record.payload)
        except (NormalizeError, ValueError, KeyError, TypeError):
            continue
        if post.external_id in seen:
            continue
        seen.add(post.external_id)
        authors.append(AuthorRow("import", post.author_external_id, post.author_handle, post.author_name, post.author_followers))
        rows.append(PostRow(0, post.external_id, ("import", post.author_external_id), post.text, post.created_at,
                            post.kind, post.is_outbound, post.url, post.in_reply_to_external_id))

    baseline_workspace = create_workspace("Baseline", "baseline")
    baseline_source = Source.objects.create(workspace=baseline_workspace, name="baseline", platform="import")
    for row in rows:
        row.source_id = baseline_source.id
    batch = settings.VEILLE_INGEST_BATCH
    started = time.perf_counter()
    for start in range(0, len(rows), batch):
        part_rows = rows[start : start + batch]
        part_authors = authors[start : start + batch]
        with transaction.atomic():
            store.store_posts(baseline_workspace.id, part_authors, part_rows, timezone.now())
    baseline_seconds = time.perf_counter() - started

    workspace = create_workspace("Bench", "bench")
    source = Source.objects.create(workspace=workspace, name="bench", platform="import")
    report = import_file(path, source.id, format_name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM ingest_post WHERE source_id = %s", [source.id])
        stored = cursor.fetchone()[0]
    posts_per_s = stored / report.seconds if report.seconds else 0.0
    baseline_per_s = len(rows) / baseline_seconds if baseline_seconds else 0.0
    return {
        "input": str(path),
        "database": connection.vendor,
        "enrich": bool(settings.VEILLE_ENRICH),
        "records": report.read,
        "posts": stored,
        "duplicates": report.duplicates,
        "rejected": report.rejected,
        "seconds": round(report.seconds, 3),
        "posts_per_s": round(posts_per_s, 1),
        "baseline_posts": len(rows),
        "baseline_seconds": round(baseline_seconds, 3),
        "baseline_posts_per_s": round(baseline_per_s, 1),
        "ratio": round(posts_per_s / baseline_per_s, 3) if baseline_per_s else None,
        "batch": batch,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }
