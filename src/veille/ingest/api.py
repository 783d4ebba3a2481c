"""Posts through the API: recent, search, thread. Always the caller's workspace."""

from __future__ import annotations

from datetime import datetime

from django.http import Http404, HttpRequest
from ninja import Router, Schema

from veille.ingest import queries
from veille.ingest.models import Post
from veille.ingest.search import search_post_ids

router = Router(tags=["posts"])


class AuthorOut(Schema):
    handle: str
    name: str
    followers: int | None


class PostOut(Schema):
    id: int
    external_id: str
    source: str
    platform: str
    author: AuthorOut
    text: str
    created_at: datetime
    kind: str
    is_outbound: bool
    url: str
    language: str
    sentiment: str
    sentiment_score: float | None
    complaint: float | None
    abuse: float | None
    reply_to_id: int | None
    thread_root_id: int | None


def post_out(post: Post) -> PostOut:
    return PostOut(
        id=post.id, external_id=post.external_id, source=post.source.name, platform=post.source.platform,
        author=AuthorOut(handle=post.author.handle, name=post.author.name, followers=post.author.followers),
        text=post.text, created_at=post.created_at, kind=post.kind, is_outbound=post.is_outbound, url=post.url,
        language=post.language, sentiment=post.sentiment, sentiment_score=post.sentiment_score,
        complaint=post.complaint, abuse=post.abuse, reply_to_id=post.reply_to_id, thread_root_id=post.thread_root_id,
    )


@router.get("/", response=list[PostOut], summary="Recent posts, or posts matching q (newest first)")
def list_posts(request: HttpRequest, q: str = "", limit: int = 50, before_id: int | None = None):
    limit = max(1, min(limit, 200))
    workspace_id = request.workspace.id
    if q.strip():
        ids = search_post_ids(workspace_id, q[:500], limit=limit, before_id=before_id)
        return [post_out(post) for post in queries.posts_by_ids(workspace_id, ids)]
    return [post_out(post) for post in queries.recent_posts(workspace_id, limit=limit, before_id=before_id)]


@router.get("/{post_id}", response=PostOut)
def get_post(request: HttpRequest, post_id: int):
    posts = queries.posts_by_ids(request.workspace.id, [post_id])
    if not posts:
        raise Http404("No such post in this workspace.")
    return post_out(posts[0])


@router.get("/{post_id}/thread", response=list[PostOut], summary="Every post of the post's thread, root first")
def get_thread(request: HttpRequest, post_id: int):
    try:
        _, members = queries.thread_of(request.workspace.id, post_id)
    except Post.DoesNotExist:
        raise Http404("No such post in this workspace.") from None
    return [post_out(post) for post in members]
