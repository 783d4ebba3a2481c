"""X outbound: each action once, lookup before retry, tiers."""

from __future__ import annotations

import pytest

from veille.sources.connector import ConnectorError, OutboundAction, TransientError, Unsupported


def test_reply_returns_the_new_post_id(fake_x, make_x):
    target = fake_x.add_tweet("2001", "@alpina broken zip", mentions_me=True)
    result = make_x().act(
        OutboundAction("reply", "k1", text="Sorry! DM us.", target_external_id=target)
    )
    replies = fake_x.own_replies_to(target)
    assert [r["id"] for r in replies] == [result.external_id]


def test_reply_sent_once_when_the_connection_drops_after_x_accepted_it(fake_x, make_x):
    target = fake_x.add_tweet("2001", "@alpina broken zip", mentions_me=True)
    connector = make_x()
    action = OutboundAction(
        "reply",
        "key-7",
        text="Sorry to hear that & we'll fix it: https://alpina.example/help",
        target_external_id=target,
    )
    fake_x.fail_next("drop", method="POST", path="/2/tweets")
    with pytest.raises(TransientError):
        connector.act(action)
    assert len(fake_x.own_replies_to(target)) == 1  # X did it
    result = connector.act(action)  # the caller retries with the same key
    replies = fake_x.own_replies_to(target)
    assert len(replies) == 1
    assert result.external_id == replies[0]["id"]
    assert result.detail["recovered"] is True
    posts = [r for r in fake_x.requests if r["method"] == "POST" and r["path"] == "/2/tweets"]
    assert len(posts) == 1
    assert connector.act(action).external_id == result.external_id  # and again: remembered


def test_retry_from_a_fresh_process_looks_up_when_told_it_is_a_retry(fake_x, make_x):
    target = fake_x.add_tweet("2001", "@alpina ?", mentions_me=True)
    fake_x.fail_next("drop", method="POST", path="/2/tweets")
    action = OutboundAction("reply", "k2", text="On it", target_external_id=target)
    with pytest.raises(TransientError):
        make_x().act(action)
    action.extra["attempt"] = 2
    result = make_x().act(action)
    assert len(fake_x.own_replies_to(target)) == 1
    assert result.detail["recovered"] is True


def test_retry_sends_when_the_lost_attempt_never_arrived(fake_x, make_x):
    target = fake_x.add_tweet("2001", "@alpina ?", mentions_me=True)
    connector = make_x()
    fake_x.fail_next("500", method="POST", path="/2/tweets")  # refused before doing anything
    action = OutboundAction("reply", "k3", text="Hello", target_external_id=target)
    with pytest.raises(TransientError):
        connector.act(action)
    assert fake_x.own_replies_to(target) == []
    result = connector.act(action)
    assert [r["id"] for r in fake_x.own_replies_to(target)] == [result.external_id]
    assert "recovered" not in result.detail


def test_free_tier_retry_relies_on_x_refusing_duplicate_content(fake_x, make_x):
    connector = make_x(tier="free")
    fake_x.fail_next("drop", method="POST", path="/2/tweets")
    action = OutboundAction("post", "k4", text="New season is here")
    with pytest.raises(TransientError):
        connector.act(action)
    result = connector.act(action)
    assert result.detail == {"recovered": True, "duplicate": True}
    own = [t for t in fake_x.tweets.values() if t.get("author_id") == "1000"]
    assert len(own) == 1
    assert not any(r["method"] == "GET" for r in fake_x.requests)  # free tier cannot read


def test_duplicate_content_on_a_first_attempt_is_an_error(fake_x, make_x):
    connector = make_x()
    connector.act(OutboundAction("post", "a", text="Same words"))
    with pytest.raises(ConnectorError, match="duplicate"):
        connector.act(OutboundAction("post", "b", text="Same words"))


def test_dm_once_despite_a_dropped_connection(fake_x, make_x):
    connector = make_x()
    fake_x.fail_next("drop", method="POST", path="/messages")
    action = OutboundAction(
        "dm", "k5", text="Can you send your order number?", recipient_external_id="2001"
    )
    with pytest.raises(TransientError):
        connector.act(action)
    result = connector.act(action)
    sent = [e for e in fake_x.dm_events.values() if e["sender_id"] == "1000"]
    assert [e["id"] for e in sent] == [result.external_id]


def test_like_repost_hide_unhide_delete(fake_x, make_x):
    target = fake_x.add_tweet("2001", "@alpina rude", mentions_me=True)
    connector = make_x()
    assert (
        connector.act(OutboundAction("like", "l", target_external_id=target)).external_id == target
    )
    assert target in fake_x.likes
    connector.act(OutboundAction("repost", "r", target_external_id=target))
    assert connector.act(OutboundAction("repost", "r2", target_external_id=target)).detail == {
        "already": True
    }
    connector.act(OutboundAction("hide", "h", target_external_id=target))
    assert fake_x.tweets[target]["_hidden"] is True
    connector.act(OutboundAction("unhide", "u", target_external_id=target))
    assert fake_x.tweets[target]["_hidden"] is False
    own = connector.act(OutboundAction("post", "p", text="oops"))
    fake_x.fail_next("drop", method="DELETE")
    delete = OutboundAction("delete", "d", target_external_id=own.external_id)
    with pytest.raises(TransientError):
        connector.act(delete)
    assert connector.act(delete).detail == {"already": True}
    assert own.external_id not in fake_x.tweets


@pytest.mark.parametrize("tier,kind", [("free", "hide"), ("free", "dm"), ("basic", "dm")])
def test_tier_restricted_action_is_unsupported(fake_x, make_x, tier, kind):
    with pytest.raises(Unsupported, match=f"{tier} tier"):
        make_x(tier=tier).act(
            OutboundAction(
                kind, "k", text="x", target_external_id="1", recipient_external_id="2001"
            )
        )
    assert fake_x.requests == []


def test_unknown_action_is_unsupported(make_x):
    with pytest.raises(Unsupported, match="no 'pin' action"):
        make_x().act(OutboundAction("pin", "k"))
