"""YouTube payload → NormalizedPost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from veille.sources.base import MAX_TEXT_CHARS, NormalizeError
from veille.sources.youtube.normalize import normalize_payload

CHANNEL = "UCalpina000000000000000"


def payload(**snippet):
    base = {
        "videoId": "vid00000001",
        "textDisplay": "Tom &amp; Jerry<br>rock",
        "textOriginal": "Tom & Jerry\nrock",
        "authorDisplayName": "@carla",
        "authorChannelId": {"value": "UCcarla"},
        "publishedAt": "2025-03-01T10:20:30Z",
        "updatedAt": "2025-03-01T10:25:00Z",
    }
    base.update(snippet)
    return {
        "type": "comment",
        "data": {"kind": "youtube#comment", "id": "Ugx1", "snippet": base},
        "context": {"channel_id": CHANNEL, "video_id": "vid00000001", "thread_id": "Ugx1"},
    }


def test_top_level_comment():
    post = normalize_payload(payload())
    assert post.text == "Tom & Jerry\nrock"  # textOriginal, not the HTML textDisplay
    assert post.created_at == datetime(2025, 3, 1, 10, 20, 30, tzinfo=UTC)
    assert (post.author_external_id, post.author_handle, post.author_name) == (
        "UCcarla",
        "@carla",
        "carla",
    )
    assert post.kind == "post" and post.in_reply_to_external_id is None and not post.is_outbound
    assert post.url == "https://www.youtube.com/watch?v=vid00000001&lc=Ugx1"


def test_reply_by_the_channel_is_outbound():
    post = normalize_payload(payload(parentId="Ugx0", authorChannelId={"value": CHANNEL}))
    assert post.kind == "reply" and post.in_reply_to_external_id == "Ugx0" and post.is_outbound


def test_falls_back_to_text_display_without_html():
    post = normalize_payload(payload(textOriginal=None))
    assert post.text == "Tom & Jerry\nrock"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"publishedAt": None}, "publishedAt"),
        ({"authorChannelId": None}, "authorChannelId"),
        ({"textOriginal": None, "textDisplay": None}, "no text"),
        ({"textOriginal": "x" * (MAX_TEXT_CHARS + 1)}, "characters"),
    ],
)
def test_bad_comments_raise(change, message):
    with pytest.raises(NormalizeError, match=message):
        normalize_payload(payload(**change))


def test_not_a_comment_raises():
    with pytest.raises(NormalizeError):
        normalize_payload({"type": "comment", "data": ["x"]})
    with pytest.raises(NormalizeError, match="no snippet"):
        normalize_payload({"type": "comment", "data": {"id": "x"}})
