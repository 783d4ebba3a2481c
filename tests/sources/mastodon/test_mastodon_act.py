from __future__ import annotations

import pytest

from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    OutboundAction,
    RateLimited,
    TransientError,
    Unsupported,
)


@pytest.fixture
def alice(mastodon_server):
    return mastodon_server.add_account("alice", display_name="Alice")


def test_reply_sent_once_when_connection_drops_after_accept(mastodon_server, make_connector, alice):
    question = mastodon_server.add_status("<p>@brand help?</p>", account=alice, mention_me=True)
    connector = make_connector()
    action = OutboundAction(kind="reply", idempotency_key="outbox-42", text="We are on it",
                            target_external_id=question["id"])
    mastodon_server.fail_next("drop_after", path="/api/v1/statuses", method="POST")

    with pytest.raises(TransientError):
        connector.act(action)
    assert len(mastodon_server.own_statuses()) == 1  # the platform did accept it

    result = connector.act(action)  # the outbox retries with the same key

    own = mastodon_server.own_statuses()
    assert len(own) == 1
    assert result.external_id == own[0]["id"]
    assert result.detail["uri"] == own[0]["uri"]
    keys = [h.get("Idempotency-Key") for m, p, _, h in mastodon_server.requests
            if m == "POST" and p == "/api/v1/statuses"]
    assert keys == ["outbox-42", "outbox-42"]


def test_reply_mentions_author_and_keeps_visibility(mastodon_server, make_connector, alice):
    question = mastodon_server.add_status("<p>psst</p>", account=alice, visibility="private")
    result = make_connector().act(
        OutboundAction(kind="reply", idempotency_key="k1", text="Hello!", target_external_id=question["id"])
    )
    reply = mastodon_server.statuses[int(result.external_id)]
    assert reply["in_reply_to_id"] == question["id"]
    assert reply["visibility"] == "private"
    assert reply["content"] == "<p>@alice@remote.example Hello!</p>"


def test_reply_does_not_mention_twice(mastodon_server, make_connector, alice):
    question = mastodon_server.add_status("<p>q</p>", account=alice)
    result = make_connector().act(
        OutboundAction(kind="reply", idempotency_key="k1", text="@Alice@remote.example hi",
                       target_external_id=question["id"])
    )
    assert mastodon_server.statuses[int(result.external_id)]["content"] == "<p>@Alice@remote.example hi</p>"


def test_dm_is_a_direct_status_mentioning_the_recipient(mastodon_server, make_connector, alice):
    connector = make_connector()
    by_id = connector.act(OutboundAction(kind="dm", idempotency_key="d1", text="your code: 1234",
                                         recipient_external_id=alice["id"]))
    by_acct = connector.act(OutboundAction(kind="dm", idempotency_key="d2", text="again",
                                           recipient_external_id="@alice@remote.example"))
    for result in (by_id, by_acct):
        status = mastodon_server.statuses[int(result.external_id)]
        assert status["visibility"] == "direct"
        assert status["content"].startswith("<p>@alice@remote.example ")


def test_post_like_repost(mastodon_server, make_connector, alice):
    connector = make_connector()
    post = connector.act(OutboundAction(kind="post", idempotency_key="p1", text="New plans!"))
    assert mastodon_server.statuses[int(post.external_id)]["visibility"] == "public"

    target = mastodon_server.add_status("<p>nice</p>", account=alice)
    like = connector.act(OutboundAction(kind="favourite", idempotency_key="l1", target_external_id=target["id"]))
    assert like.external_id == target["id"]
    assert int(target["id"]) in mastodon_server.favourites

    boost1 = connector.act(OutboundAction(kind="boost", idempotency_key="b1", target_external_id=target["id"]))
    boost2 = connector.act(OutboundAction(kind="repost", idempotency_key="b1", target_external_id=target["id"]))
    assert boost1.external_id == boost2.external_id != target["id"]
    assert len(mastodon_server.reblogs) == 1


def test_delete_own_is_idempotent_and_others_unsupported(mastodon_server, make_connector, alice):
    connector = make_connector()
    post = connector.act(OutboundAction(kind="post", idempotency_key="p1", text="oops"))
    action = OutboundAction(kind="delete", idempotency_key="del1", target_external_id=post.external_id)

    assert connector.act(action).detail == {"deleted": True}
    assert connector.act(action).detail == {"already_deleted": True}
    assert mastodon_server.own_statuses() == []

    theirs = mastodon_server.add_status("<p>mine</p>", account=alice)
    with pytest.raises(Unsupported, match="own posts"):
        connector.act(OutboundAction(kind="delete", idempotency_key="del2", target_external_id=theirs["id"]))


def test_unsupported_actions(make_connector):
    connector = make_connector()
    with pytest.raises(Unsupported, match="hide"):
        connector.act(OutboundAction(kind="hide", idempotency_key="h", target_external_id="1"))
    with pytest.raises(Unsupported):
        connector.act(OutboundAction(kind="teleport", idempotency_key="t"))


def test_act_errors_are_mapped(mastodon_server, make_connector):
    connector = make_connector()
    with pytest.raises(ConnectorError, match="empty text"):
        connector.act(OutboundAction(kind="post", idempotency_key="e", text="  "))
    mastodon_server.fail_next("401", method="POST")
    with pytest.raises(NeedsReconnection):
        connector.act(OutboundAction(kind="post", idempotency_key="e", text="x"))
    mastodon_server.fail_next("429", method="POST", reset_in_s=12)
    with pytest.raises(RateLimited) as caught:
        connector.act(OutboundAction(kind="post", idempotency_key="e", text="x"))
    assert 11 <= caught.value.retry_after_s <= 13
    with pytest.raises(ConnectorError, match="404"):
        connector.act(OutboundAction(kind="reply", idempotency_key="r", text="x", target_external_id="5"))
