from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.fakes.bluesky_server import BRAND_HANDLE
from veille.sources.base import NormalizeError
from veille.sources.bluesky.connector import BlueskyConnector, parse_follow
from veille.sources.connector import ConnectorError, NeedsReconnection, RateLimited, TransientError

LIST_URI = "at://did:plc:curator/app.bsky.graph.list/3kcurated"


def mention(server, text="hey", **kw):
    return server.add_post(f"@{BRAND_HANDLE} {text}", **kw)


def drain(connector, cursor, limit=50):
    records = []
    for _ in range(limit):
        result = connector.poll(cursor)
        json.dumps(result.cursor)
        records.extend(result.records)
        cursor = result.cursor
        if not result.more:
            return records, cursor
    raise AssertionError("poll never finished")


def test_first_sync_returns_newest_page_oldest_first(bluesky_server, make_connector):
    posts = [mention(bluesky_server, f"m{i}") for i in range(3)]
    connector = make_connector()

    result = connector.poll(None)

    assert [r.external_id for r in result.records] == [p["uri"] for p in posts]
    assert result.more is False
    assert result.cursor["streams"]["mentions"]["seen_until"].startswith("2024-05-01T12:00:04.5")
    assert [connector.normalize(r.payload).text for r in result.records] == [
        f"@{BRAND_HANDLE} m{i}" for i in range(3)
    ]
    _, _, query, _ = [r for r in bluesky_server.requests if r[1].endswith("listNotifications")][-1]
    assert query["reasons"] == ["mention", "reply", "quote"]


def test_incremental_sync_returns_nothing_twice(bluesky_server, make_connector):
    mention(bluesky_server, "old")
    connector = make_connector()
    first = connector.poll(None)
    new = [mention(bluesky_server, f"new{i}") for i in range(2)]

    second = connector.poll(first.cursor)
    third = connector.poll(second.cursor)

    assert [r.external_id for r in second.records] == [p["uri"] for p in new]
    assert third.records == [] and third.more is False


def test_restart_mid_walk_resumes_without_gap_or_duplicate(bluesky_server, make_connector):
    connector = make_connector(page_size=5)
    start = connector.poll(None)  # empty stream: everything from now on is new
    assert start.records == [] and start.cursor["streams"]["mentions"]["seen_until"].startswith("1970")
    posts = [mention(bluesky_server, f"m{i}") for i in range(12)]

    page1 = connector.poll(start.cursor)
    assert len(page1.records) == 5 and page1.more
    during = mention(bluesky_server, "posted during the walk")
    restarted = make_connector(page_size=5)
    rest, cursor = drain(restarted, page1.cursor)

    ids = [r.external_id for r in page1.records + rest]
    assert sorted(ids) == sorted([p["uri"] for p in posts] + [during["uri"]])
    assert len(ids) == len(set(ids))
    assert restarted.poll(cursor).records == []


def test_pagination_exactly_one_page_and_stop_inside_a_page(bluesky_server, make_connector):
    connector = make_connector(page_size=5)
    [mention(bluesky_server, f"old{i}") for i in range(3)]
    cursor = connector.poll(None).cursor
    new = [mention(bluesky_server, f"new{i}") for i in range(2)]

    # the page holds 2 new and 3 old items: the walk stops inside it
    result = connector.poll(cursor)
    assert [r.external_id for r in result.records] == [p["uri"] for p in new]
    assert result.more is False

    exact = [mention(bluesky_server, f"x{i}") for i in range(5)]
    result = connector.poll(result.cursor)
    assert [r.external_id for r in result.records] == [p["uri"] for p in exact]


def test_item_indexed_late_within_overlap_is_returned_once(bluesky_server, make_connector):
    connector = make_connector()
    mention(bluesky_server, "a")
    cursor = connector.poll(None).cursor
    late = mention(bluesky_server, "late", indexed_at=bluesky_server.clock - timedelta(seconds=30))

    first = connector.poll(cursor)
    second = connector.poll(first.cursor)

    assert [r.external_id for r in first.records] == [late["uri"]]
    assert second.records == []


def test_other_notification_reasons_are_skipped(bluesky_server, make_connector):
    post = mention(bluesky_server)
    bluesky_server.add_notification({**bluesky_server.notifications[0], "reason": "like",
                                     "uri": "at://did:plc:x/app.bsky.feed.like/1"})
    records = make_connector(follow=["mentions"]).poll(None).records
    assert [r.external_id for r in records] == [post["uri"]]


def test_wrong_app_password_needs_reconnection(bluesky_server, make_connector):
    with pytest.raises(NeedsReconnection, match="Invalid identifier or password"):
        make_connector(password="wrong").poll(None)


def test_revoked_session_logs_in_again_then_needs_reconnection(bluesky_server, make_connector):
    connector = make_connector()
    connector.poll(None)
    bluesky_server.revoke_sessions()
    connector.poll(None)  # transparently logs in again with the app password
    assert bluesky_server.session_creations == 2

    bluesky_server.revoke_sessions()
    bluesky_server.app_passwords.clear()  # the app password was revoked too
    with pytest.raises(NeedsReconnection):
        connector.poll(None)


def test_forbidden_needs_reconnection(bluesky_server, make_connector):
    bluesky_server.fail_next("403", nsid="app.bsky.notification.listNotifications")
    with pytest.raises(NeedsReconnection):
        make_connector().poll(None)


def test_expired_access_token_is_refreshed(bluesky_server, make_connector):
    connector = make_connector()
    connector.poll(None)
    bluesky_server.expire_tokens()
    post = mention(bluesky_server)

    result = connector.poll(None)

    assert [r.external_id for r in result.records] == [post["uri"]]
    assert bluesky_server.calls("com.atproto.server.refreshSession") == 1
    assert bluesky_server.session_creations == 1


def test_session_is_shared_by_connectors_of_the_same_account(bluesky_server, make_connector):
    make_connector().poll(None)
    make_connector().poll(None)
    assert bluesky_server.session_creations == 1


def test_rate_limited_with_reset_then_success(bluesky_server, make_connector):
    post = mention(bluesky_server)
    connector = make_connector()
    connector.poll(None)  # logged in
    bluesky_server.fail_next("429", nsid="app.bsky.notification.listNotifications", reset_in_s=45)

    with pytest.raises(RateLimited) as caught:
        connector.poll(None)
    assert 44 <= caught.value.retry_after_s <= 46
    assert [r.external_id for r in connector.poll(None).records] == [post["uri"]]


@pytest.mark.parametrize("kind", ["500", "malformed", "drop"])
def test_server_errors_are_transient_and_lose_nothing(bluesky_server, make_connector, kind):
    connector = make_connector()
    cursor = connector.poll(None).cursor
    post = mention(bluesky_server)
    bluesky_server.fail_next(kind, nsid="app.bsky.notification.listNotifications")

    with pytest.raises(TransientError):
        connector.poll(cursor)
    assert [r.external_id for r in connector.poll(cursor).records] == [post["uri"]]


def test_malformed_items_in_good_page_are_kept_for_dead_letter(bluesky_server, make_connector):
    good = mention(bluesky_server, "good")
    when = bluesky_server.notifications[0]["indexedAt"]
    bluesky_server.add_notification({"uri": "at://did:plc:x/app.bsky.feed.post/bad1", "reason": "mention",
                                     "indexedAt": when, "record": {"text": "no author"}})
    bluesky_server.add_notification({"uri": "at://did:plc:x/app.bsky.feed.post/bad2", "reason": "mention",
                                     "author": {"did": "did:plc:x", "handle": "x.test"},
                                     "record": {"text": 12, "createdAt": when}, "indexedAt": when})
    connector = make_connector()

    records = connector.poll(None).records

    assert len(records) == 3
    results = []
    for record in records:
        try:
            results.append(connector.normalize(record.payload).external_id)
        except NormalizeError as exc:
            results.append(str(exc))
    assert good["uri"] in results
    assert any("author" in r for r in results) and any("text is int" in r for r in results)


def test_every_follow_kind(bluesky_server, make_connector):
    own = bluesky_server.add_post("our launch", author=bluesky_server.brand)
    reply = bluesky_server.add_post("my line is down", reply_to=own["uri"])
    tagged = bluesky_server.add_post("love #alpina")
    searched = bluesky_server.add_post("Alpina Telecom support please", lists=(LIST_URI,))
    connector = make_connector(
        follow=["replies", "search:alpina telecom", "hashtag:alpina", f"list:{LIST_URI}"]
    )

    result = connector.poll(None)

    got = sorted((r.location, r.external_id) for r in result.records)
    assert got == sorted([
        ("replies", reply["uri"]),
        ("search:alpina telecom", searched["uri"]),
        ("hashtag:alpina", tagged["uri"]),
        (f"list:{LIST_URI}", searched["uri"]),
    ])
    reply_post = connector.normalize(next(r for r in result.records if r.location == "replies").payload)
    assert reply_post.kind == "reply" and reply_post.in_reply_to_external_id == own["uri"]
    assert connector.poll(result.cursor).records == []
    _, _, query, _ = [r for r in bluesky_server.requests if r[1].endswith("searchPosts")][-1]
    assert query["sort"] == ["latest"] and "since" in query


def test_failure_after_a_good_stream_keeps_its_items(bluesky_server, make_connector):
    connector = make_connector(follow=["mentions", "search:alpina"])
    cursor = connector.poll(None).cursor
    post = mention(bluesky_server, "alpina?")
    bluesky_server.fail_next("500", nsid="app.bsky.feed.searchPosts")

    partial = connector.poll(cursor)
    assert [r.location for r in partial.records] == ["mentions"]
    assert partial.more and partial.cursor["resume_at"] == "search:alpina"
    rest = connector.poll(partial.cursor)
    assert [(r.location, r.external_id) for r in rest.records] == [("search:alpina", post["uri"])]


def test_unknown_list_is_a_clear_refusal(bluesky_server, make_connector):
    with pytest.raises(ConnectorError, match="UnknownList"):
        make_connector(follow=["list:at://did:plc:nobody/app.bsky.graph.list/x"]).poll(None)


def test_settings_are_validated():
    assert parse_follow("#Alpina").arg == "#Alpina"
    assert parse_follow("hashtag:alpina").arg == "#alpina"
    with pytest.raises(ValueError):
        parse_follow("list:https://bsky.app/profile/x/lists/y")
    with pytest.raises(NeedsReconnection):
        BlueskyConnector({"handle": BRAND_HANDLE}, {}, base_url="http://127.0.0.1:9")
