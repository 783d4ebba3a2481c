"""Reading a Facebook Page: feed posts, comments and replies, Messenger conversations."""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from veille.sources.base import NormalizeError
from veille.sources.connector import Unsupported

CARLA = {"id": "2001", "name": "Carla R"}
DIMITRI = {"id": "2002", "name": "Dimitri"}


def drain(connector, cursor=None, limit=100):
    records = []
    for _ in range(limit):
        result = connector.poll(cursor)
        json.dumps(result.cursor)
        records += result.records
        cursor = result.cursor
        if not result.more:
            return records, cursor
    raise AssertionError("poll never settled")


def ids(records, kind=None):
    return [r.external_id for r in records if kind is None or r.payload["type"] == kind]


def test_first_sync_reads_posts_then_comments_and_replies(fake_fb, make_fb):
    post = fake_fb.add_post("Our new boots are out")
    c1 = fake_fb.add_comment(post, "Love them", author=CARLA)
    c2 = fake_fb.add_comment(post, "Sizes?", author=DIMITRI)
    r1 = fake_fb.add_comment(post, "Same question", author=CARLA, parent=c2)
    connector = make_fb()
    records, cursor = drain(connector)
    assert ids(records, "post") == [post]
    assert ids(records, "comment") == [r1, c2, c1]  # newest first, replies included
    comments = [r for r in fake_fb.requests if r["path"].endswith("/comments")]
    assert comments[0]["query"]["filter"] == "stream"
    assert comments[0]["query"]["order"] == "reverse_chronological"
    reply = connector.normalize(records[1].payload)
    assert reply.in_reply_to_external_id == c2 and reply.kind == "reply"
    top = connector.normalize(records[-1].payload)
    assert top.in_reply_to_external_id == post
    assert connector.normalize(records[0].payload).is_outbound is True
    assert cursor["comments"]["posts"][post]["since"]


def test_incremental_sync_reads_only_new_comments(fake_fb, make_fb):
    post = fake_fb.add_post("Post")
    fake_fb.add_comment(post, "one")
    connector = make_fb()
    _, cursor = drain(connector)
    requests_before = len(fake_fb.requests)
    assert drain(connector, cursor)[0] == []
    # Nothing moved: only the feed was read, no comment page.
    assert [r["path"].rsplit("/", 1)[-1] for r in fake_fb.requests[requests_before:]] == ["feed"]
    new = fake_fb.add_comment(post, "two")
    records, cursor = drain(connector, cursor)
    assert ids(records) == [new]


def test_same_second_comments_are_neither_lost_nor_repeated(fake_fb, make_fb):
    from datetime import datetime

    fake_fb.now = datetime.now(UTC).replace(microsecond=0)  # comments written just now
    post = fake_fb.add_post("Post")
    a = fake_fb.add_comment(post, "a")
    connector = make_fb()
    _, cursor = drain(connector)
    b = fake_fb.add_comment(post, "b", same_second=True)  # same created_time as a
    records, cursor = drain(connector, cursor)
    assert ids(records) == [b]
    assert sorted(cursor["comments"]["posts"][post]["ids"]) == sorted([a, b])
    assert drain(connector, cursor)[0] == []


def test_pagination_and_restart_mid_scan(fake_fb, make_fb):
    post = fake_fb.add_post("Post")
    made = [fake_fb.add_comment(post, f"c{i}") for i in range(7)]
    first = make_fb(page_size=3)
    feed = first.poll(None)
    assert ids(feed.records) == [post] and feed.more
    page1 = first.poll(feed.cursor)
    assert len(page1.records) == 3 and page1.more
    assert page1.cursor["comments"]["scan"]["after"]
    late = fake_fb.add_comment(post, "late")
    rest, cursor = drain(make_fb(page_size=3), page1.cursor)
    assert sorted(ids(page1.records) + ids(rest)) == sorted(made)
    again, _ = drain(make_fb(page_size=3), cursor)
    assert ids(again) == [late]


def test_pagination_edges(fake_fb, make_fb):
    connector = make_fb(page_size=3)
    empty, cursor = drain(connector)
    assert empty == []
    post = fake_fb.add_post("Post")
    records, cursor = drain(connector, cursor)  # a post without comments: one empty page
    assert ids(records) == [post]
    three = [fake_fb.add_comment(post, f"c{i}") for i in range(3)]  # exactly one full page
    records, cursor = drain(connector, cursor)
    assert sorted(ids(records)) == sorted(three)
    four = [fake_fb.add_comment(post, f"d{i}") for i in range(4)]  # a page and a last page of one
    records, cursor = drain(connector, cursor)
    assert sorted(ids(records)) == sorted(four)


def test_malformed_comment_in_a_good_page_is_kept(fake_fb, make_fb):
    post = fake_fb.add_post("Post")
    good = fake_fb.add_comment(post, "fine")
    fake_fb.add_comment(
        post, "x", raw={"message": "no id", "created_time": "2025-03-01T09:00:00+0000"}
    )
    fake_fb.add_comment(
        post,
        "y",
        raw={"id": "1_2", "message": "no author", "created_time": "2025-03-01T09:00:00+0000"},
    )
    connector = make_fb()
    records, _ = drain(connector)
    comments = [r for r in records if r.payload["type"] == "comment"]
    assert len(comments) == 3 and good in ids(comments)
    for record in comments:
        if record.external_id != good:
            with pytest.raises(NormalizeError):
                connector.normalize(record.payload)


def test_messenger_conversations(fake_fb, make_fb):
    m1 = fake_fb.add_message(CARLA, "Where is my order?")
    m2 = fake_fb.add_message(DIMITRI, "Hello")
    connector = make_fb(follow=["conversations"], page_size=1)
    records, cursor = drain(connector)
    assert sorted(ids(records)) == sorted([m1, m2])
    post = connector.normalize(records[0].payload)
    assert post.kind == "dm" and not post.is_outbound
    reply = fake_fb.add_message(CARLA, "It ships today", from_page=True)
    m3 = fake_fb.add_message(CARLA, "Thanks")
    records, cursor = drain(connector, cursor)
    assert ids(records) == [m3, reply]
    assert connector.normalize(records[1].payload).is_outbound is True
    assert drain(connector, cursor)[0] == []


def test_both_streams_take_turns(fake_fb, make_fb):
    post = fake_fb.add_post("Post")
    c = fake_fb.add_comment(post, "hi")
    m = fake_fb.add_message(CARLA, "dm")
    records, cursor = drain(make_fb(follow=["comments", "conversations"]))
    assert sorted(ids(records)) == sorted([post, c, m])
    assert cursor["turn"] == 0


def test_missing_permissions_make_reading_unsupported(make_fb):
    connector = make_fb(
        credentials={
            "page_access_token": "page-token",
            "permissions": ["pages_read_engagement", "pages_manage_engagement"],
        }
    )
    assert "read.comments" not in connector.available_capabilities()
    assert "act.hide" in connector.available_capabilities()
    with pytest.raises(Unsupported, match="read comments"):
        connector.poll(None)


def test_registry_resolves_the_connector():
    from veille.sources.facebook.connector import FacebookConnector
    from veille.sources.registry import connector_class

    assert connector_class("facebook") is FacebookConnector
