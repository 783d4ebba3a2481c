"""Helpers for tests: build posts in our NDJSON schema, users, and run the pipeline."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

_ids = itertools.count(1)


def make_post(external_id: str | None = None, *, text: str = "Bonjour, ma box ne marche plus", reply_to: str | None = None,
              author: str = "client1", minutes: int = 0, outbound: bool = False, kind: str = "post") -> dict:
    """A post in the NDJSON schema (docs/formats.md)."""
    external_id = external_id or f"p{next(_ids)}"
    return {
        "id": external_id,
        "text": text,
        "created_at": (datetime(2026, 11, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat(),
        "author": {"id": f"u-{author}", "handle": author, "name": author.title(), "followers": 10},
        "in_reply_to": reply_to,
        "outbound": outbound,
        "kind": kind,
        "url": "",
        "lang": "",
    }


def make_user(workspace, username: str, role: str, password: str = "correct horse battery"):
    from veille.accounts.actions import add_member
    from veille.accounts.models import User

    user = User.objects.create_user(username=username, password=password)
    add_member(workspace, user, role)
    return user


def ingest(source, posts: list[dict], format_name: str = "ndjson"):
    """Persist posts as raw items and run the pipeline until the queue is empty."""
    from veille.ingest import queue
    from veille.ingest.worker import Worker
    from veille.sources.base import RawRecord

    queue.intake(source.id, format_name, [RawRecord(payload=post, external_id=post.get("id")) for post in posts])
    return Worker(source_id=source.id).drain()


class StreamReader:
    """``connector.stream`` on a thread, so a test can wait for records with a timeout; the
    connector's cursor is copied after each record."""

    def __init__(self, connector, cursor=None):
        import queue
        import threading

        self.connector = connector
        self.stop = threading.Event()
        self.out: queue.Queue = queue.Queue()
        self.cursors: list[dict] = []
        self.thread = threading.Thread(target=self._run, args=(cursor,), daemon=True)
        self.thread.start()

    def _run(self, cursor):
        import json

        try:
            for record in self.connector.stream(cursor, stop=self.stop):
                self.cursors.append(json.loads(json.dumps(self.connector.cursor)))
                self.out.put(record)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            self.out.put(exc)
        self.out.put(None)

    def take(self, count, timeout=5.0):
        got = []
        while len(got) < count:
            item = self.out.get(timeout=timeout)
            if isinstance(item, BaseException):
                raise item
            assert item is not None, f"stream ended after {got}"
            got.append(item)
        return got

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive()
        rest = []
        while not self.out.empty():
            item = self.out.get()
            if item is not None:
                rest.append(item)
        return rest
