from __future__ import annotations

from datetime import UTC, datetime

import pytest

from veille.sources.base import MAX_TEXT_CHARS, NormalizeError
from veille.sources.bluesky.normalize import normalize_post

URI = "at://did:plc:alice/app.bsky.feed.post/3kabc"
AUTHOR = {"did": "did:plc:alice", "handle": "alice.test", "displayName": "Alice", "followersCount": 12}


def post_view(**record_overrides):
    record = {"$type": "app.bsky.feed.post", "text": "<b>not html</b> just text", "createdAt": "2024-05-01T10:00:00.000Z",
              "langs": ["de"]}
    record.update(record_overrides)
    return {"uri": URI, "cid": "bafy", "author": AUTHOR, "record": record, "indexedAt": "2024-05-01T10:00:01.500Z"}


def test_post_view_fields():
    post = normalize_post(post_view())
    assert post.external_id == URI
    assert post.text == "<b>not html</b> just text"  # Bluesky text is plain text, kept as written
    assert post.created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert (post.author_external_id, post.author_handle, post.author_name, post.author_followers) == (
        "did:plc:alice", "alice.test", "Alice", 12)
    assert post.kind == "post" and post.in_reply_to_external_id is None
    assert post.lang_hint == "de"
    assert post.url == "https://bsky.app/profile/alice.test/post/3kabc"
    assert post.is_outbound is False


def test_reply_notification_and_feed_item():
    reply = {"root": {"uri": "at://r/app.bsky.feed.post/1", "cid": "c"}, "parent": {"uri": "at://p/app.bsky.feed.post/2", "cid": "c"}}
    notification = {**post_view(reply=reply), "reason": "reply", "isRead": False}
    post = normalize_post(notification)
    assert post.kind == "reply" and post.in_reply_to_external_id == "at://p/app.bsky.feed.post/2"
    feed_item = {"post": post_view(), "reason": {"$type": "app.bsky.feed.defs#reasonRepost", "by": AUTHOR,
                                                  "indexedAt": "2024-05-02T00:00:00Z"}}
    assert normalize_post(feed_item).external_id == URI


def test_own_posts_are_outbound():
    assert normalize_post(post_view(), own_handle="@Alice.test").is_outbound is True
    assert normalize_post(post_view(), own_did="did:plc:alice").is_outbound is True


def test_future_created_at_falls_back_to_indexed_at():
    post = normalize_post(post_view(createdAt="2031-01-01T00:00:00Z"))
    assert post.created_at == datetime(2024, 5, 1, 10, 0, 1, 500000, tzinfo=UTC)
    assert normalize_post(post_view(createdAt="garbage")).created_at.year == 2024


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({**post_view(), "uri": None}, "uri"),
        ({**post_view(), "record": None}, "no record"),
        ({**post_view(), "record": {"$type": "app.bsky.feed.like", "subject": {}}}, "not a post"),
        ({**post_view(), "author": {"did": "did:plc:x"}}, "author"),
        (post_view(text=["x"]), "text is list"),
        (post_view(text="x" * (MAX_TEXT_CHARS + 1)), "characters"),
        ({**post_view(createdAt=None), "indexedAt": None}, "date"),
        ({"unexpected_item": 3}, "uri"),
    ],
)
def test_malformed_payloads(payload, message):
    with pytest.raises(NormalizeError, match=message):
        normalize_post(payload)
