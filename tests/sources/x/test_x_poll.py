"""Reading X: first sync, incremental sync, restart mid-sync, pagination edges, tiers."""

from __future__ import annotations

import json

import pytest

from veille.sources.connector import Unsupported


def drain(connector, cursor=None, limit=50):
    """Poll until the connector says there is nothing more right now."""
    records = []
    for _ in range(limit):
        result = connector.poll(cursor)
        json.dumps(result.cursor)  # must stay JSON-serialisable
        records += result.records
        cursor = result.cursor
        if not result.more:
            return records, cursor
    raise AssertionError("poll never settled")


def ids(records):
    return [r.external_id for r in records]


def test_first_sync_returns_mentions_newest_first_with_authors(fake_x, make_x):
    a = fake_x.add_tweet("2001", "@alpina my skis broke", mentions_me=True)
    b = fake_x.add_tweet("2002", "@alpina love it", mentions_me=True)
    fake_x.add_tweet("2002", "not about you")
    records, cursor = drain(make_x(page_size=5))
    assert ids(records) == [b, a]
    assert cursor["streams"]["mentions"]["since_id"] == b
    assert records[0].payload["includes"]["users"][0]["username"] == "dimitri"
    mention = fake_x.requests[-1]
    assert mention["path"] == "/2/users/1000/mentions"
    assert "author_id" in mention["query"]["expansions"]


def test_incremental_sync_returns_only_new_items(fake_x, make_x):
    fake_x.add_tweet("2001", "@alpina one", mentions_me=True)
    connector = make_x()
    _, cursor = drain(connector)
    assert drain(connector, cursor)[0] == []
    c = fake_x.add_tweet("2001", "@alpina two", mentions_me=True)
    records, cursor = drain(connector, cursor)
    assert ids(records) == [c]
    assert fake_x.requests[-1]["query"]["since_id"] != ""
    assert drain(connector, cursor)[0] == []


def test_pagination_and_restart_mid_sync_without_gap_or_duplicate(fake_x, make_x):
    made = [fake_x.add_tweet("2001", f"@alpina n{i}", mentions_me=True) for i in range(12)]
    first = make_x(page_size=5)
    page1 = first.poll(None)
    assert page1.more and len(page1.records) == 5
    assert page1.cursor["streams"]["mentions"]["run"]["next_token"]
    # New mention arrives while paginating; the process restarts with the stored cursor.
    late = fake_x.add_tweet("2002", "@alpina late", mentions_me=True)
    restarted = make_x(page_size=5)
    rest, cursor = drain(restarted, page1.cursor)
    assert len(rest) == 7
    seen = ids(page1.records) + ids(rest)
    assert sorted(seen) == sorted(made)  # every one once, the late one not yet
    again, cursor = drain(restarted, cursor)
    assert ids(again) == [late]


def test_pagination_edges_empty_one_page_last_page(fake_x, make_x):
    connector = make_x(page_size=5)
    empty = connector.poll(None)
    assert empty.records == [] and empty.more is False
    assert empty.cursor["streams"]["mentions"]["since_id"] is None
    made = [fake_x.add_tweet("2001", f"@alpina {i}", mentions_me=True) for i in range(5)]
    one = connector.poll(empty.cursor)  # exactly one full page, no next_token
    assert len(one.records) == 5 and one.more is False
    more = [fake_x.add_tweet("2001", f"@alpina b{i}", mentions_me=True) for i in range(6)]
    p1 = connector.poll(one.cursor)
    assert p1.more and len(p1.records) == 5
    last = connector.poll(p1.cursor)
    assert len(last.records) == 1 and last.more is False
    assert last.cursor["streams"]["mentions"]["since_id"] == max(more, key=int)
    assert set(made).isdisjoint(ids(p1.records) + ids(last.records))


def test_list_timeline_stops_at_since_id_client_side(fake_x, make_x):
    old = [fake_x.add_tweet("2001", f"list {i}", lists=("77",)) for i in range(3)]
    connector = make_x(follow=["list:77"], page_size=2)
    records, cursor = drain(connector)
    assert sorted(ids(records)) == sorted(old)
    new = [fake_x.add_tweet("2002", f"list new {i}", lists=("77",)) for i in range(3)]
    records, cursor = drain(connector, cursor)
    assert sorted(ids(records)) == sorted(new)


def test_unknown_list_is_an_error_not_an_empty_page(fake_x, make_x):
    from veille.sources.connector import ConnectorError

    with pytest.raises(ConnectorError, match="Could not find list"):
        make_x(follow=["list:999"]).poll(None)


def test_several_streams_take_turns_and_search_passes_the_query(fake_x, make_x):
    m = fake_x.add_tweet("2001", "@alpina hello", mentions_me=True)
    s = fake_x.add_tweet("2002", "alpina boots are great")
    fake_x.add_tweet("2002", "alpina boots RT", retweet=True)
    d = fake_x.add_dm("2001", "where is my order?")
    connector = make_x(follow=["mentions", "search:alpina boots -is:retweet", "dm"])
    first = connector.poll(None)
    assert ids(first.records) == [m] and first.more
    second = connector.poll(first.cursor)
    assert ids(second.records) == [s] and second.more
    assert fake_x.requests[-1]["query"]["query"] == "alpina boots -is:retweet"
    third = connector.poll(second.cursor)
    assert ids(third.records) == [d] and third.more is False
    assert third.records[0].payload["veille"]["dm"] is True
    assert connector.normalize(third.records[0].payload).kind == "dm"


def test_backfill_pages_caps_the_first_sync(fake_x, make_x):
    for i in range(12):
        fake_x.add_tweet("2001", f"@alpina {i}", mentions_me=True)
    records, cursor = drain(make_x(page_size=5, backfill_pages=1))
    assert len(records) == 5
    newest = max(ids(records), key=int)
    assert cursor["streams"]["mentions"]["since_id"] == newest


def test_malformed_item_in_a_good_page_is_kept(fake_x, make_x):
    good = fake_x.add_tweet("2001", "@alpina fine", mentions_me=True)
    fake_x.add_raw_tweet({"text": "no id here"})
    fake_x.add_raw_tweet("not even an object")
    connector = make_x()
    records, cursor = drain(connector)
    assert len(records) == 3
    assert good in ids(records)
    from veille.sources.base import NormalizeError

    bad = [r for r in records if r.external_id is None]
    assert len(bad) == 2
    for record in bad:
        with pytest.raises(NormalizeError):
            connector.normalize(record.payload)
    assert cursor["streams"]["mentions"]["since_id"] == good


def test_free_tier_cannot_read(fake_x, make_x):
    connector = make_x(tier="free", follow=["mentions", "search:alpina"])
    with pytest.raises(Unsupported, match="free tier"):
        connector.poll(None)
    assert fake_x.requests == []
    assert "read.mentions" not in connector.available_capabilities()
    assert "act.post" in connector.available_capabilities()


def test_dm_needs_pro_or_granted_dm_access(make_x):
    assert "read.dm" not in make_x(tier="basic").available_capabilities()
    assert "read.dm" in make_x(tier="basic", dm_access=True).available_capabilities()
    assert "read.dm" in make_x(tier="pro").available_capabilities()
    with pytest.raises(Unsupported):
        make_x(tier="basic", follow=["dm"]).poll(None)


def test_granted_scopes_limit_capabilities(make_x):
    creds = {
        "access_token": "at-1",
        "refresh_token": "rt-1",
        "client_id": "cid",
        "scope": "tweet.read users.read tweet.write offline.access",
    }
    caps = make_x(credentials=creds).available_capabilities()
    assert "act.reply" in caps and "read.mentions" in caps
    assert "act.like" not in caps and "read.dm" not in caps and "act.hide" not in caps


def test_class_capabilities_are_the_maximum(make_x):
    from veille.sources.x.connector import XConnector

    for tier in ("free", "basic", "pro"):
        assert make_x(tier=tier).available_capabilities() <= XConnector.capabilities


def test_bad_follow_entry_is_refused_at_construction(make_x):
    with pytest.raises(ValueError, match="follow entry"):
        make_x(follow=["timeline"])


def test_registry_resolves_the_connector():
    from veille.sources.registry import connector_class
    from veille.sources.x.connector import XConnector

    assert connector_class("x") is XConnector
