"""YouTube outbound actions and failures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from veille.sources.connector import (
    NeedsReconnection,
    OutboundAction,
    RateLimited,
    TransientError,
    Unsupported,
)
from veille.sources.youtube.client import seconds_until_quota_reset


def test_reply_returns_the_comment_id(fake_yt, make_yt):
    thread = fake_yt.add_thread("When is the sale?")
    result = make_yt().act(
        OutboundAction("reply", "k1", text="Next Monday!", target_external_id=thread)
    )
    assert [c["id"] for c in fake_yt.own_replies_to(thread)] == [result.external_id]
    sent = [r for r in fake_yt.requests if r["method"] == "POST"][0]
    assert '"parentId"' in sent["body"] and sent["query"]["part"] == "snippet"


def test_reply_sent_once_when_the_connection_drops_after_youtube_accepted_it(fake_yt, make_yt):
    thread = fake_yt.add_thread("When is the sale?")
    connector = make_yt()
    action = OutboundAction("reply", "k2", text="Next  Monday!", target_external_id=thread)
    fake_yt.fail_next("drop", method="POST", path="/youtube/v3/comments")
    with pytest.raises(TransientError):
        connector.act(action)
    result = connector.act(action)
    replies = fake_yt.own_replies_to(thread)
    assert len(replies) == 1 and result.external_id == replies[0]["id"]
    assert result.detail == {"recovered": True}


def test_retry_sends_when_nothing_arrived(fake_yt, make_yt):
    thread = fake_yt.add_thread("?")
    connector = make_yt()
    fake_yt.fail_next("500", method="POST")
    action = OutboundAction("reply", "k3", text="hello", target_external_id=thread)
    with pytest.raises(TransientError):
        connector.act(action)
    result = connector.act(action)
    assert [c["id"] for c in fake_yt.own_replies_to(thread)] == [result.external_id]


@pytest.mark.parametrize(
    "kind,status",
    [
        ("hide", "heldForReview"),
        ("hold", "heldForReview"),
        ("reject", "rejected"),
        ("unhide", "published"),
    ],
)
def test_moderation(fake_yt, make_yt, kind, status):
    thread = fake_yt.add_thread("spam spam")
    result = make_yt().act(OutboundAction(kind, "m", target_external_id=thread))
    assert fake_yt.moderation[thread] == status
    assert result.detail == {"moderationStatus": status}


def test_unknown_action_and_missing_scope_are_unsupported(fake_yt, make_yt):
    with pytest.raises(Unsupported, match="no 'like' action"):
        make_yt().act(OutboundAction("like", "k", target_external_id="x"))
    readonly = make_yt(
        credentials={
            "access_token": "ya29.first",
            "scope": "https://www.googleapis.com/auth/youtube.readonly",
        }
    )
    with pytest.raises(Unsupported, match="force-ssl"):
        readonly.act(OutboundAction("reply", "k", text="x", target_external_id="x"))
    assert fake_yt.requests == []


def test_expired_token_is_refreshed_and_the_call_succeeds(fake_yt, make_yt):
    fake_yt.add_thread("hi")
    fake_yt.expire_tokens()
    seen = []
    connector = make_yt()
    connector.client.on_credentials = seen.append
    assert len(connector.poll(None).records) == 1
    assert connector.credentials["access_token"] == "ya29.refreshed1"
    assert seen[-1]["access_token"] == "ya29.refreshed1"
    assert [r["path"] for r in fake_yt.requests] == [
        "/youtube/v3/commentThreads",
        "/token",
        "/youtube/v3/commentThreads",
    ]


def test_failed_refresh_needs_reconnection(fake_yt, make_yt):
    fake_yt.expire_tokens()
    fake_yt.refresh_fails = True
    with pytest.raises(NeedsReconnection, match="expired or revoked"):
        make_yt().poll(None)


def test_401_twice_needs_reconnection(fake_yt, make_yt):
    fake_yt.fail_next("401", times=2)
    with pytest.raises(NeedsReconnection):
        make_yt().poll(None)


def test_quota_exceeded_waits_until_midnight_pacific(fake_yt, make_yt):
    fake_yt.date = int(datetime(2025, 7, 1, 12, 0, tzinfo=UTC).timestamp())  # 05:00 PDT
    fake_yt.fail_next("quota")
    with pytest.raises(RateLimited) as caught:
        make_yt().poll(None)
    assert caught.value.retry_after_s == 19 * 3600


def test_quota_reset_across_time_zones_and_seasons():
    winter = datetime(2025, 1, 15, 7, 59, 0, tzinfo=UTC)  # 23:59 PST
    assert seconds_until_quota_reset(winter) == 60
    dst_end = datetime(2025, 11, 2, 6, 0, tzinfo=UTC)  # 23:00 PDT on Nov 1; 25 h day
    assert seconds_until_quota_reset(dst_end) == 3600


def test_rate_limit_exceeded_is_a_short_wait(fake_yt, make_yt):
    fake_yt.fail_next("rate")
    with pytest.raises(RateLimited) as caught:
        make_yt().poll(None)
    assert caught.value.retry_after_s == 60


@pytest.mark.parametrize("failure", ["500", "malformed", "drop"])
def test_transient_failures(fake_yt, make_yt, failure):
    fake_yt.add_thread("hi")
    connector = make_yt()
    fake_yt.fail_next(failure)
    with pytest.raises(TransientError):
        connector.poll(None)
    assert len(connector.poll(None).records) == 1
