"""X payload → NormalizedPost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from veille.sources.base import MAX_TEXT_CHARS, NormalizeError
from veille.sources.x.normalize import normalize_payload


def tweet_payload(**data):
    base = {
        "id": "1800000000000000001",
        "text": "@alpina zip &amp; buckle broke &lt;3",
        "author_id": "2001",
        "created_at": "2025-03-01T10:20:30.000Z",
        "lang": "en",
    }
    base.update(data)
    return {
        "data": base,
        "includes": {
            "users": [
                {
                    "id": "2001",
                    "username": "carla",
                    "name": "Carla R",
                    "public_metrics": {"followers_count": 120},
                }
            ]
        },
        "veille": {"stream": "mentions", "account_id": "1000", "dm": False},
    }


def test_tweet_with_author():
    post = normalize_payload(tweet_payload())
    assert post.external_id == "1800000000000000001"
    assert post.text == "@alpina zip & buckle broke <3"
    assert post.created_at == datetime(2025, 3, 1, 10, 20, 30, tzinfo=UTC)
    assert (
        post.author_external_id,
        post.author_handle,
        post.author_name,
        post.author_followers,
    ) == ("2001", "carla", "Carla R", 120)
    assert post.kind == "post" and post.in_reply_to_external_id is None and not post.is_outbound
    assert post.url == "https://x.com/carla/status/1800000000000000001"
    assert post.lang_hint == "en"


def test_reply_long_post_and_outbound():
    payload = tweet_payload(
        author_id="1000",
        note_tweet={"text": "long " * 100},
        referenced_tweets=[{"type": "quoted", "id": "5"}, {"type": "replied_to", "id": "7"}],
    )
    post = normalize_payload(payload)
    assert post.text.startswith("long long") and len(post.text) == 500
    assert post.kind == "reply" and post.in_reply_to_external_id == "7"
    assert post.is_outbound is True
    assert post.author_handle == ""  # the author was not in includes


def test_dm_event():
    payload = {
        "data": {
            "id": "1900000000000000000",
            "event_type": "MessageCreate",
            "text": "hi",
            "sender_id": "2001",
            "dm_conversation_id": "1000-2001",
            "created_at": "2025-03-01T10:20:30.000Z",
        },
        "includes": {"users": []},
        "veille": {"stream": "dm", "account_id": "1000", "dm": True},
    }
    post = normalize_payload(payload)
    assert post.kind == "dm" and post.author_external_id == "2001"
    assert post.url == "https://x.com/messages/1000-2001"


@pytest.mark.parametrize(
    "change,message",
    [
        ({"id": None}, "not an X id"),
        ({"text": None}, "text missing"),
        ({"created_at": "yesterday"}, "ISO 8601"),
        ({"created_at": None}, "missing created_at"),
        ({"author_id": "abc"}, "author"),
        ({"text": "x" * (MAX_TEXT_CHARS + 1)}, "characters"),
    ],
)
def test_bad_tweets_raise_normalize_error(change, message):
    with pytest.raises(NormalizeError, match=message):
        normalize_payload(tweet_payload(**change))


def test_non_object_data_raises():
    with pytest.raises(NormalizeError):
        normalize_payload({"data": "nope"})
    with pytest.raises(NormalizeError, match="not a message"):
        normalize_payload(
            {
                "data": {
                    "id": "1",
                    "event_type": "ParticipantsJoin",
                    "created_at": "2025-01-01T00:00:00Z",
                }
            }
        )
