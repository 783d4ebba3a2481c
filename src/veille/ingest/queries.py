"""Reads of posts shared by pages, the API and live streams (always scoped to one workspace)."""

from __future__ import annotations

from django.db.models import QuerySet

from veille.ingest.models import Post, RawItem, RawStatus

POST_LIST_FIELDS = (
    "id", "external_id", "text", "created_at", "kind", "is_outbound", "url", "language", "sentiment",
    "sentiment_score", "complaint", "abuse", "reply_to_id", "thread_root_id", "in_reply_to_external_id",
    "author__handle", "author__name", "author__followers", "source__name", "source__platform",
)


def posts_of(workspace_id: int) -> QuerySet[Post]:
    return Post.objects.filter(workspace_id=workspace_id).select_related("author", "source").only(*POST_LIST_FIELDS)


def recent_posts(workspace_id: int, limit: int = 50, after_id: int | None = None, before_id: int | None = None) -> list[Post]:
    queryset = posts_of(workspace_id)
    if after_id is not None:
        # Oldest first so a stream can send them in order, then the page prepends each.
        return list(queryset.filter(id__gt=after_id).order_by("id")[:limit])
    if before_id is not None:
        queryset = queryset.filter(id__lt=before_id)
    return list(queryset.order_by("-id")[:limit])


def posts_by_ids(workspace_id: int, ids: list[int]) -> list[Post]:
    by_id = {post.id: post for post in posts_of(workspace_id).filter(id__in=ids)}
    return [by_id[post_id] for post_id in ids if post_id in by_id]


def thread_of(workspace_id: int, post_id: int) -> tuple[Post, list[Post]]:
    """The post and every post of its thread (root first, then by time)."""
    post = posts_of(workspace_id).get(id=post_id)
    root_id = post.thread_root_id or post.id
    members = list(
        posts_of(workspace_id).filter(id=root_id).union(posts_of(workspace_id).filter(thread_root_id=root_id))
    )
    members.sort(key=lambda p: (p.id != root_id, p.created_at, p.id))
    # Each post's correction history, in one query for the whole thread.
    from veille.nlp.models import Correction

    history: dict[int, list] = {}
    for correction in Correction.objects.filter(post_id__in=[p.id for p in members]).select_related("corrected_by"):
        history.setdefault(correction.post_id, []).append(correction)
    for member in members:
        member.correction_history = history.get(member.id, [])
    return post, members


def dead_letters(workspace_id: int, limit: int = 100) -> list[RawItem]:
    return list(
        RawItem.objects.filter(source__workspace_id=workspace_id, status=RawStatus.DEAD)
        .select_related("source")
        .only("id", "source__name", "format", "line", "location", "error", "received_at", "payload")
        .order_by("-id")[:limit]
    )
