"""Live feeds that are not platforms: the demo generator and the replay of a data set."""

from __future__ import annotations

import logging
import sys
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from veille.ingest import queue
from veille.ingest.importer import replay_schedule
from veille.ingest.worker import Worker
from veille.sources.base import RawRecord
from veille.sources.models import Source

log = logging.getLogger("veille.feeds")

# The demo opens with half an hour of history so the first page is not empty.
DEMO_BACKFILL = timedelta(minutes=30)


class DemoFeed:
    """Feeds the demo generator's traffic into the intake as time passes."""

    def __init__(self, source: Source, *, seed: int | None = None, outage_after_start_min: float = 10.0) -> None:
        from veille.sources.demo import DemoGenerator

        self.source = source
        now = timezone.now()
        start = now - DEMO_BACKFILL
        # Ids are namespaced by the start minute: a restart makes new posts, not duplicates.
        self.tag = f"r{int(start.timestamp()) // 60}"
        backfill_min = DEMO_BACKFILL.total_seconds() / 60
        self.generator = DemoGenerator(
            seed=seed if seed is not None else int(start.timestamp()),
            start=start,
            rate_per_min=float(settings.VEILLE_DEMO_RATE_PER_MIN),
            outage_at_min=backfill_min + outage_after_start_min,
        )

    def tick(self) -> int:
        posts = self.generator.generate(timezone.now())
        if not posts:
            return 0
        records = []
        for post in posts:
            post = dict(post)
            post["id"] = f"{self.tag}-{post['id']}"
            if post.get("in_reply_to"):
                post["in_reply_to"] = f"{self.tag}-{post['in_reply_to']}"
            records.append(RawRecord(payload=post, external_id=post["id"]))
        queue.intake(self.source.id, "ndjson", records)
        return len(records)


def replay(path: Path, source: Source, format_name: str | None, *, speed: float, limit: int | None = None) -> int:
    """Feed a data set into the intake with its original gaps divided by ``speed``; process as it goes."""
    if speed <= 0:
        print("veille replay: --speed must be positive", file=sys.stderr)
        return 2
    name, timed, bad = replay_schedule(path, format_name)
    if bad:
        queue.intake(source.id, name, bad)
        print(f"{len(bad)} records could not be read and went to dead-letter", file=sys.stderr)
    if not timed:
        print(f"veille replay: nothing to replay in {path}", file=sys.stderr)
        return 1
    if limit is not None:
        timed = timed[:limit]
    worker = Worker(source_id=source.id)
    first_at = timed[0][0]
    started = time.monotonic()
    sent = 0
    print(f"replaying {len(timed):,} posts from {first_at:%Y-%m-%d %H:%M} at {speed:g}×", flush=True)
    index = 0
    try:
        while index < len(timed):
            elapsed_original = (time.monotonic() - started) * speed
            due: list[RawRecord] = []
            while index < len(timed) and (timed[index][0] - first_at).total_seconds() <= elapsed_original:
                due.append(timed[index][1])
                index += 1
            if due:
                queue.intake(source.id, name, due)
                worker.drain()
                sent += len(due)
                print(f"\r{sent:,} / {len(timed):,} posts", end="", flush=True)
            if index < len(timed):
                gap = (timed[index][0] - first_at).total_seconds() / speed - (time.monotonic() - started)
                time.sleep(min(max(gap, 0.01), 1.0))
    except KeyboardInterrupt:
        print(f"\nstopped after {sent:,} posts")
        return 0
    print(f"\nreplayed {sent:,} posts")
    return 0
