"""Build posts straight into the database and route them as the pipeline's hook would, so care
tests do not depend on the NLP model files (the real pipeline is exercised in test_pipeline)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from veille.ingest.models import Author, Post
from veille.ingest.pipeline import StoredPost
from veille.ingest.store import PostRow

_ids = itertools.count(1)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


def author(workspace, handle="client1", platform="import", name=""):
    found, _ = Author.objects.get_or_create(workspace=workspace, platform=platform, external_id=f"u-{handle}",
                                            defaults={"handle": handle, "name": name or handle.title(), "first_seen_at": T0})
    return found


def post(source, text="Bonjour @alpina ma box ne marche plus", *, handle="client1", reply_to=None, outbound=False, kind="post",
         language="fr", sentiment="negative", complaint=None, at=None, external_id=None):
    who = author(source.workspace, "alpina" if outbound else handle, source.platform if source.platform != "demo" else "import")
    parent = reply_to
    root = (parent.thread_root_id or parent.id) if parent is not None else None
    created = Post.objects.create(
        workspace=source.workspace, source=source, external_id=external_id or f"x{next(_ids)}", author=who, text=text,
        created_at=at or T0, received_at=at or T0, kind=kind, is_outbound=outbound,
        in_reply_to_external_id=parent.external_id if parent else None, reply_to=parent, thread_root_id=root,
        language=language, sentiment=sentiment, complaint=complaint)
    from veille.ingest.store import index_posts

    index_posts([(created.id, created.text, created.sentiment, created.language)])  # as the pipeline does (SQLite's FTS5 index)
    return created


def stored(p: Post) -> StoredPost:
    row = PostRow(source_id=p.source_id, external_id=p.external_id, author_key=(p.author.platform, p.author.external_id), text=p.text,
                  created_at=p.created_at, kind=p.kind, is_outbound=p.is_outbound, url="", in_reply_to_external_id=p.in_reply_to_external_id,
                  author_handle=p.author.handle, reply_to_id=p.reply_to_id, thread_root_id=p.thread_root_id, language=p.language)
    row.sentiment = p.sentiment
    row.complaint = p.complaint
    return StoredPost(p.id, p.workspace_id, p.author_id, row)


def route(*posts, now=None):
    from veille.care.actions import route_posts

    with transaction.atomic():
        return route_posts(posts[0].workspace_id, [stored(p) for p in posts], now or timezone.now())


def later(minutes):
    return timezone.now() + timedelta(minutes=minutes)
