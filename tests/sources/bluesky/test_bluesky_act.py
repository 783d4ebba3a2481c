from __future__ import annotations

import re

import pytest

from tests.fakes.bluesky_server import BRAND_DID
from veille.sources.bluesky.connector import build_facets, record_key
from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    OutboundAction,
    TransientError,
    Unsupported,
)

CREATE = "com.atproto.repo.createRecord"
GET_RECORD = "com.atproto.repo.getRecord"


@pytest.fixture
def question(bluesky_server):
    own = bluesky_server.add_post("we launched", author=bluesky_server.brand)
    return bluesky_server.add_post("@brand.test is it down?", reply_to=own["uri"])


def test_record_key_is_a_deterministic_tid():
    key = record_key("app.bsky.feed.post", "outbox-1")
    assert key == record_key("app.bsky.feed.post", "outbox-1")
    assert key != record_key("app.bsky.feed.post", "outbox-2")
    assert key != record_key("app.bsky.feed.like", "outbox-1")
    assert re.fullmatch(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}", key)


def test_reply_sent_once_when_connection_drops_after_accept(bluesky_server, make_connector, question):
    connector = make_connector()
    action = OutboundAction(kind="reply", idempotency_key="outbox-7", text="Checking now",
                            target_external_id=question["uri"])
    bluesky_server.fail_next("drop_after", nsid=CREATE)

    result = connector.act(action)  # the write went through: read back, not re-sent

    records = bluesky_server.brand_records()
    replies = [r for r in records if r["value"].get("reply")]
    assert len(replies) == 1
    assert result.external_id == replies[0]["uri"]
    assert result.detail["already_existed"] is True
    assert bluesky_server.calls(CREATE) == 1


def test_reply_retried_by_the_outbox_is_sent_once(bluesky_server, make_connector, question):
    connector = make_connector()
    action = OutboundAction(kind="reply", idempotency_key="outbox-8", text="On it",
                            target_external_id=question["uri"])
    bluesky_server.fail_next("drop_after", nsid=CREATE)
    bluesky_server.fail_next("500", nsid=GET_RECORD, skip=1)  # the read-back fails too

    with pytest.raises(TransientError):
        connector.act(action)
    retried = connector.act(action)

    replies = [r for r in bluesky_server.brand_records() if r["value"].get("reply")]
    assert len(replies) == 1 and retried.external_id == replies[0]["uri"]
    assert bluesky_server.calls(CREATE) == 1


def test_duplicate_key_answered_with_500_is_resolved(bluesky_server, make_connector):
    connector = make_connector()
    action = OutboundAction(kind="post", idempotency_key="p-dup", text="hello")
    first = connector.act(action)
    # A second attempt racing the first: its pre-check does not see the record yet, so it
    # creates, and the PDS answers the duplicate key with a 500; reading back resolves it.
    bluesky_server.fail_next("not_found", nsid=GET_RECORD)

    second = connector.act(action)

    assert second.external_id == first.external_id and second.detail["already_existed"] is True
    assert bluesky_server.calls(CREATE) == 2
    assert len(bluesky_server.brand_records()) == 1


def test_reply_threads_root_and_parent(bluesky_server, make_connector, question):
    result = make_connector().act(OutboundAction(kind="reply", idempotency_key="r", text="Hi",
                                                 target_external_id=question["uri"]))
    record = next(r for r in bluesky_server.brand_records() if r["uri"] == result.external_id)["value"]
    assert record["reply"]["parent"] == {"uri": question["uri"], "cid": question["cid"]}
    assert record["reply"]["root"] == question["record"]["reply"]["root"]
    assert record["$type"] == "app.bsky.feed.post" and record["createdAt"].endswith("Z")
    assert result.detail["url"].startswith("https://bsky.app/profile/brand.test/post/")


def test_post_has_link_tag_and_mention_facets(bluesky_server, make_connector):
    alice = bluesky_server.add_account("alice.test")
    text = "Café ☕ news: https://alpina.example/a?b=1. #Alpina thanks @alice.test and @ghost.test"
    result = make_connector().act(OutboundAction(kind="post", idempotency_key="p", text=text,
                                                 extra={"langs": ["fr"]}))
    record = bluesky_server.brand_records()[0]["value"]
    assert result.external_id == bluesky_server.brand_records()[0]["uri"]
    assert record["langs"] == ["fr"]
    raw = text.encode()
    spans = [(raw[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode(), f["features"][0]) for f in record["facets"]]
    assert spans == [
        ("https://alpina.example/a?b=1", {"$type": "app.bsky.richtext.facet#link", "uri": "https://alpina.example/a?b=1"}),
        ("#Alpina", {"$type": "app.bsky.richtext.facet#tag", "tag": "Alpina"}),
        ("@alice.test", {"$type": "app.bsky.richtext.facet#mention", "did": alice["did"]}),
    ]


def test_facets_skip_tags_inside_links():
    facets = build_facets("see https://x.example/#top #1 #ok", lambda _h: None)
    assert [f["features"][0]["$type"].rsplit("#", 1)[1] for f in facets] == ["link", "tag"]


def test_like_repost_unlike_delete(bluesky_server, make_connector, question):
    connector = make_connector()
    like = OutboundAction(kind="like", idempotency_key="l1", target_external_id=question["uri"])
    first, again = connector.act(like), connector.act(like)
    assert first.external_id == again.external_id
    assert len(bluesky_server.brand_records("app.bsky.feed.like")) == 1
    assert bluesky_server.brand_records("app.bsky.feed.like")[0]["value"]["subject"]["cid"] == question["cid"]

    repost = connector.act(OutboundAction(kind="boost", idempotency_key="r1", target_external_id=question["uri"]))
    assert "/app.bsky.feed.repost/" in repost.external_id

    connector.act(OutboundAction(kind="unlike", idempotency_key="u1", target_external_id=question["uri"]))
    assert bluesky_server.brand_records("app.bsky.feed.like") == []

    post = connector.act(OutboundAction(kind="post", idempotency_key="p1", text="oops"))
    delete = OutboundAction(kind="delete", idempotency_key="d1", target_external_id=post.external_id)
    connector.act(delete)
    connector.act(delete)  # already gone: still fine
    assert bluesky_server.brand_records() == [r for r in bluesky_server.brand_records() if r["uri"] != post.external_id]
    assert post.external_id.startswith(f"at://{BRAND_DID}/")

    with pytest.raises(Unsupported, match="own records"):
        connector.act(OutboundAction(kind="delete", idempotency_key="d2", target_external_id=question["uri"]))


def test_unsupported_and_refused_actions(bluesky_server, make_connector):
    connector = make_connector()
    with pytest.raises(Unsupported, match="direct messages"):
        connector.act(OutboundAction(kind="dm", idempotency_key="x", text="hi", recipient_external_id="did:plc:a"))
    with pytest.raises(Unsupported):
        connector.act(OutboundAction(kind="hide", idempotency_key="x", target_external_id="at://a/b/c"))
    with pytest.raises(ConnectorError, match="empty text"):
        connector.act(OutboundAction(kind="post", idempotency_key="x", text=" "))
    with pytest.raises(ConnectorError, match="not found"):
        connector.act(OutboundAction(kind="reply", idempotency_key="x", text="hi",
                                     target_external_id="at://did:plc:none/app.bsky.feed.post/zzz"))
    bluesky_server.fail_next("403", nsid=CREATE)
    with pytest.raises(NeedsReconnection):
        connector.act(OutboundAction(kind="post", idempotency_key="x", text="hi"))
