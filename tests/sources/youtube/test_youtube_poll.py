"""Reading YouTube comment threads: first sync, incremental, restart, pagination, replies."""

from __future__ import annotations

import json

import pytest

from veille.sources.base import NormalizeError
from veille.sources.connector import Unsupported

CHANNEL = "UCalpina000000000000000"


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


def ids(records):
    return [r.external_id for r in records]


def test_first_sync_returns_threads_and_replies(fake_yt, make_yt):
    t1 = fake_yt.add_thread("Great video")
    t2 = fake_yt.add_thread("My boots leak")
    r1 = fake_yt.add_reply(t2, "Mine too")
    connector = make_yt()
    records, cursor = drain(connector)
    assert sorted(ids(records)) == sorted([t1, t2, r1])
    first = fake_yt.requests[0]["query"]
    assert first["allThreadsRelatedToChannelId"] == CHANNEL
    assert first["part"] == "snippet,replies" and first["textFormat"] == "plainText"
    reply = connector.normalize(next(r for r in records if r.external_id == r1).payload)
    assert reply.in_reply_to_external_id == t2 and reply.kind == "reply"
    assert cursor["round"] is None and cursor["since"]


def test_incremental_sync_returns_only_new_comments(fake_yt, make_yt):
    t1 = fake_yt.add_thread("one")
    connector = make_yt()
    _, cursor = drain(connector)
    assert drain(connector, cursor)[0] == []
    r = fake_yt.add_reply(t1, "reply to one")
    t2 = fake_yt.add_thread("two")
    records, cursor = drain(connector, cursor)
    assert sorted(ids(records)) == sorted([r, t2])
    assert drain(connector, cursor)[0] == []


def test_pagination_and_restart_mid_round(fake_yt, make_yt):
    made = [fake_yt.add_thread(f"c{i}") for i in range(7)]
    first = make_yt(page_size=3)
    page1 = first.poll(None)
    assert page1.more and len(page1.records) == 3
    assert page1.cursor["round"]["page_token"]
    rest, cursor = drain(make_yt(page_size=3), page1.cursor)
    assert sorted(ids(page1.records) + ids(rest)) == sorted(made)
    late = fake_yt.add_thread("late")
    again, _ = drain(make_yt(page_size=3), cursor)
    assert ids(again) == [late]


def test_pagination_edges(fake_yt, make_yt):
    connector = make_yt(page_size=3)
    empty = connector.poll(None)
    assert empty.records == [] and empty.more is False
    three = [fake_yt.add_thread(f"a{i}") for i in range(3)]
    one = connector.poll(empty.cursor)
    assert sorted(ids(one.records)) == sorted(three) and one.more is False
    four = [fake_yt.add_thread(f"b{i}") for i in range(4)]
    records, cursor = drain(connector, one.cursor)
    assert sorted(ids(records)) == sorted(four)
    # 7 threads by 3: pages of 3 new, then 1 new + 2 old, then a page with nothing new ends
    # the round; the listing is not read to its end
    pages = [r for r in fake_yt.requests if r["path"].endswith("commentThreads")]
    assert len(pages) == 1 + 1 + 3


def test_replies_beyond_the_embedded_ones_are_fetched(fake_yt, make_yt):
    fake_yt.embedded_replies = 2
    thread = fake_yt.add_thread("question")
    replies = [fake_yt.add_reply(thread, f"r{i}") for i in range(5)]
    connector = make_yt()
    records, cursor = drain(connector)
    assert sorted(ids(records)) == sorted([thread, *replies])
    assert len(ids(records)) == 6  # embedded ones not returned twice
    assert any(
        r["path"] == "/youtube/v3/comments" and r["query"]["parentId"] == thread
        for r in fake_yt.requests
    )
    more = fake_yt.add_reply(thread, "late reply")
    records, _ = drain(connector, cursor)
    assert ids(records) == [more]


def test_scan_pages_caps_a_round(fake_yt, make_yt):
    for i in range(10):
        fake_yt.add_thread(f"c{i}")
    records, cursor = drain(make_yt(page_size=2, scan_pages=2))
    assert len(records) == 4


def test_malformed_thread_in_a_good_page_is_kept(fake_yt, make_yt):
    good = fake_yt.add_thread("fine")
    fake_yt.add_raw_thread({"id": "broken", "snippet": {"videoId": "v"}})
    fake_yt.add_raw_thread(["not", "an", "object"])
    connector = make_yt()
    records, _ = drain(connector)
    assert len(records) == 3 and good in ids(records)
    for record in records:
        if record.external_id != good:
            with pytest.raises(NormalizeError):
                connector.normalize(record.payload)


def test_token_without_a_youtube_scope_cannot_read(make_yt):
    connector = make_yt(credentials={"access_token": "ya29.first", "scope": "openid email"})
    assert connector.available_capabilities() == frozenset()
    with pytest.raises(Unsupported):
        connector.poll(None)
    readonly = make_yt(
        credentials={
            "access_token": "ya29.first",
            "scope": "https://www.googleapis.com/auth/youtube.readonly",
        }
    )
    assert readonly.available_capabilities() == {"read.comments"}


def test_registry_resolves_the_connector():
    from veille.sources.registry import connector_class
    from veille.sources.youtube.connector import YoutubeConnector

    assert connector_class("youtube") is YoutubeConnector
