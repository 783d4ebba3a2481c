"""Facebook payload → NormalizedPost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from veille.sources.base import MAX_TEXT_CHARS, NormalizeError
from veille.sources.facebook.normalize import normalize_payload


def comment(**data):
    base = {
        "id": "9001_7001",
        "message": "Where is my order?",
        "from": {"id": "2001", "name": "Carla R"},
        "created_time": "2025-03-01T10:20:30+0000",
        "permalink_url": "https://www.facebook.com/500_9001?comment_id=9001_7001",
    }
    base.update(data)
    return {"type": "comment", "data": base, "context": {"page_id": "500", "post_id": "500_9001"}}


def test_top_level_comment_answers_the_post():
    post = normalize_payload(comment())
    assert post.external_id == "9001_7001"
    assert post.text == "Where is my order?"
    assert post.created_at == datetime(2025, 3, 1, 10, 20, 30, tzinfo=UTC)
    assert (post.author_external_id, post.author_name) == ("2001", "Carla R")
    assert post.in_reply_to_external_id == "500_9001"
    assert post.kind == "reply" and post.is_outbound is False
    assert post.url.endswith("comment_id=9001_7001")


def test_reply_by_the_page():
    post = normalize_payload(
        comment(parent={"id": "9001_7000"}, **{"from": {"id": "500", "name": "Alpina"}})
    )
    assert post.in_reply_to_external_id == "9001_7000"
    assert post.is_outbound is True


def test_messenger_message_is_a_dm():
    payload = {
        "type": "message",
        "data": {
            "id": "m_1",
            "message": "hi",
            "created_time": "2025-03-01T10:20:30+0000",
            "from": {"id": "2001", "name": "Carla R", "email": "x@y"},
        },
        "context": {"page_id": "500", "conversation_id": "t_1"},
    }
    post = normalize_payload(payload)
    assert post.kind == "dm" and post.in_reply_to_external_id is None


def test_photo_only_comment_has_empty_text():
    assert normalize_payload(comment(message=None)).text == ""


@pytest.mark.parametrize(
    "change,message",
    [
        ({"id": None}, "missing id"),
        ({"created_time": "soon"}, "created_time"),
        ({"from": None}, "from"),
        ({"message": 5}, "not a string"),
        ({"message": "x" * (MAX_TEXT_CHARS + 1)}, "characters"),
    ],
)
def test_bad_comments_raise(change, message):
    with pytest.raises(NormalizeError, match=message):
        normalize_payload(comment(**change))


def test_unknown_type_raises():
    with pytest.raises(NormalizeError, match="unknown type"):
        normalize_payload({"type": "story", "data": {}})
