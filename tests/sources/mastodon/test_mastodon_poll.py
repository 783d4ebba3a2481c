from __future__ import annotations

import json

import pytest

from veille.sources.base import NormalizeError
from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    RateLimited,
    TransientError,
)
from veille.sources.mastodon.connector import MastodonConnector, parse_follow


def mention(server, text="hello @brand", **kw):
    return server.add_status(f"<p>{text}</p>", mention_me=True, **kw)


def drain(connector, cursor, limit=50):
    """Poll until the connector says nothing more is waiting; return all records and the cursor."""
    records = []
    for _ in range(limit):
        result = connector.poll(cursor)
        json.dumps(result.cursor)  # the cursor must be storable as JSON
        records.extend(result.records)
        cursor = result.cursor
        if not result.more:
            return records, cursor
    raise AssertionError("poll never finished")


def test_first_sync_returns_newest_page_oldest_first(mastodon_server, make_connector):
    statuses = [mention(mastodon_server, f"m{i}") for i in range(3)]
    connector = make_connector()

    result = connector.poll(None)

    assert [r.external_id for r in result.records] == [s["id"] for s in statuses]
    assert all(r.location == "notifications" for r in result.records)
    assert result.more is False
    newest_notification = mastodon_server.notifications[-1]["id"]
    assert result.cursor["streams"]["notifications"] == {"min_id": newest_notification}
    posts = [connector.normalize(r.payload) for r in result.records]
    assert [p.text for p in posts] == ["m0", "m1", "m2"]


def test_incremental_sync_returns_nothing_twice(mastodon_server, make_connector):
    mention(mastodon_server, "old")
    connector = make_connector()
    first = connector.poll(None)
    new = [mention(mastodon_server, f"new{i}") for i in range(2)]

    second = connector.poll(first.cursor)
    third = connector.poll(second.cursor)

    assert [r.external_id for r in second.records] == [s["id"] for s in new]
    assert third.records == []
    assert third.cursor == second.cursor
    # The connector asked for what is immediately newer than the cursor (gapless min_id).
    _, _, query, _ = [r for r in mastodon_server.requests if r[1] == "/api/v1/notifications"][-1]
    assert query["min_id"] == [second.cursor["streams"]["notifications"]["min_id"]]
    assert query["types[]"] == ["mention"]


def test_restart_mid_sync_resumes_without_gap_or_duplicate(mastodon_server, make_connector):
    connector = make_connector(page_size=10)
    start = connector.poll(None)  # empty instance: cursor starts at the beginning
    assert start.records == [] and start.cursor["streams"]["notifications"] == {"min_id": "0"}
    statuses = [mention(mastodon_server, f"m{i}") for i in range(25)]

    page1 = connector.poll(start.cursor)
    assert len(page1.records) == 10 and page1.more
    # The process dies here; a new connector is given the stored cursor.
    restarted = make_connector(page_size=10)
    rest, _ = drain(restarted, page1.cursor)

    ids = [r.external_id for r in page1.records + rest]
    assert ids == [s["id"] for s in statuses]


def test_pagination_exactly_one_page_then_empty_page(mastodon_server, make_connector):
    connector = make_connector(page_size=5)
    cursor = connector.poll(None).cursor
    [mention(mastodon_server, f"m{i}") for i in range(5)]

    full = connector.poll(cursor)
    assert len(full.records) == 5
    assert full.more is True  # a full page may hide another one: poll again at once
    empty = connector.poll(full.cursor)
    assert empty.records == [] and empty.more is False
    assert empty.cursor == full.cursor


def test_pagination_last_partial_page(mastodon_server, make_connector):
    connector = make_connector(page_size=5)
    cursor = connector.poll(None).cursor
    [mention(mastodon_server, f"m{i}") for i in range(7)]

    first = connector.poll(cursor)
    last = connector.poll(first.cursor)

    assert (len(first.records), first.more) == (5, True)
    assert (len(last.records), last.more) == (2, False)


def test_other_notification_types_are_not_posts(mastodon_server, make_connector):
    status = mention(mastodon_server)
    mastodon_server.add_favourite_notification(status)
    records = make_connector().poll(None).records
    assert [r.payload["type"] for r in records] == ["mention"]


def test_invalid_token_needs_reconnection(mastodon_server, make_connector):
    with pytest.raises(NeedsReconnection, match="401"):
        make_connector(token="revoked").poll(None)


@pytest.mark.parametrize("status", ["401", "403"])
def test_auth_refusal_needs_reconnection(mastodon_server, make_connector, status):
    mastodon_server.fail_next(status)
    with pytest.raises(NeedsReconnection):
        make_connector().poll(None)


def test_missing_token_needs_reconnection():
    with pytest.raises(NeedsReconnection):
        MastodonConnector({"account": "@brand@mastodon.example"}, {})


def test_rate_limited_with_reset_header_then_success(mastodon_server, make_connector):
    mention(mastodon_server)
    connector = make_connector()
    mastodon_server.fail_next("429", reset_in_s=30)

    with pytest.raises(RateLimited) as caught:
        connector.poll(None)
    assert 29 <= caught.value.retry_after_s <= 31

    assert len(connector.poll(None).records) == 1


def test_rate_limited_prefers_retry_after(mastodon_server, make_connector):
    mastodon_server.fail_next("429", reset_in_s=300, retry_after="7")
    with pytest.raises(RateLimited) as caught:
        make_connector().poll(None)
    assert caught.value.retry_after_s == 7


@pytest.mark.parametrize("kind", ["500", "malformed", "drop"])
def test_server_errors_are_transient_and_lose_nothing(mastodon_server, make_connector, kind):
    connector = make_connector()
    cursor = connector.poll(None).cursor
    status = mention(mastodon_server)
    mastodon_server.fail_next(kind)

    with pytest.raises(TransientError):
        connector.poll(cursor)
    retry = connector.poll(cursor)

    assert [r.external_id for r in retry.records] == [status["id"]]


def test_malformed_item_in_good_page_is_kept_for_dead_letter(mastodon_server, make_connector):
    good1 = mention(mastodon_server, "first")
    mastodon_server.add_notification(
        {"id": str(mastodon_server.next_id()), "type": "mention", "account": {"id": "9"}, "status": None}
    )
    mastodon_server.add_notification(
        {"id": str(mastodon_server.next_id()), "type": "mention", "account": {"id": "9"},
         "status": {"id": "77", "content": ["not", "html"], "account": {"id": "9", "acct": "x"}}}
    )
    good2 = mention(mastodon_server, "second")
    connector = make_connector()

    records = connector.poll(None).records

    assert len(records) == 4
    outcomes = []
    for record in records:
        try:
            outcomes.append(connector.normalize(record.payload).external_id)
        except NormalizeError as exc:
            outcomes.append(f"error: {exc}")
    assert outcomes[0] == good1["id"] and outcomes[3] == good2["id"]
    assert outcomes[1].startswith("error:") and "no status" in outcomes[1]
    assert outcomes[2].startswith("error:") and "content" in outcomes[2]


def test_every_follow_kind(mastodon_server, make_connector):
    alice = mastodon_server.add_account("alice", display_name="Alice")
    tagged = mastodon_server.add_status("<p>love #alpina</p>", account=alice, tags=("alpina",))
    listed = mastodon_server.add_status("<p>on my list</p>", account=alice, lists=("123",))
    searched = mastodon_server.add_status("<p>Alpina Telecom is down</p>", account=alice)
    dm = mastodon_server.add_status("<p>@brand my order?</p>", account=alice, visibility="direct",
                                    mention_me=True)
    connector = make_connector(
        follow=["notifications", "hashtag:alpina", "search:alpina telecom", "list:123", "direct"]
    )

    result = connector.poll(None)

    by_stream: dict[str, list[str]] = {}
    for record in result.records:
        by_stream.setdefault(record.location, []).append(record.external_id)
    assert by_stream == {
        "notifications": [dm["id"]],
        "hashtag:alpina": [tagged["id"]],
        "search:alpina telecom": [searched["id"]],
        "list:123": [listed["id"]],
        "direct": [dm["id"]],
    }
    assert connector.normalize(result.records[-1].payload).kind == "dm"

    # Everything again from the cursor: nothing new, nothing twice.
    assert connector.poll(result.cursor).records == []
    later = mastodon_server.add_status("<p>alpina telecom rocks</p>", account=alice, tags=("alpina",))
    again = connector.poll(result.cursor)
    assert sorted((r.location, r.external_id) for r in again.records) == [
        ("hashtag:alpina", later["id"]),
        ("search:alpina telecom", later["id"]),
    ]


def test_search_pages_down_within_window(mastodon_server, make_connector):
    connector = make_connector(follow=["search:alpina"], page_size=3)
    cursor = connector.poll(None).cursor
    matches = [mastodon_server.add_status(f"<p>alpina {i}</p>") for i in range(7)]

    records, cursor = drain(connector, cursor)

    assert sorted(r.external_id for r in records) == sorted(s["id"] for s in matches)
    assert len(records) == 7
    assert cursor["streams"]["search:alpina"] == {"min_id": matches[-1]["id"]}
    assert connector.poll(cursor).records == []


def test_failure_after_a_good_stream_keeps_its_items(mastodon_server, make_connector):
    connector = make_connector(follow=["notifications", "hashtag:alpina"])
    cursor = connector.poll(None).cursor
    status = mention(mastodon_server)
    tagged = mastodon_server.add_status("<p>#alpina</p>", tags=("alpina",))
    mastodon_server.fail_next("500", path="/api/v1/timelines/tag")

    partial = connector.poll(cursor)
    assert [r.external_id for r in partial.records] == [status["id"]]
    assert partial.more and partial.cursor["resume_at"] == "hashtag:alpina"

    rest = connector.poll(partial.cursor)
    assert [r.external_id for r in rest.records] == [tagged["id"]]
    assert "resume_at" not in rest.cursor


def test_unknown_list_is_a_clear_refusal(mastodon_server, make_connector):
    with pytest.raises(ConnectorError, match="404"):
        make_connector(follow=["list:999"]).poll(None)


def test_follow_entries_are_validated():
    assert parse_follow("#Alpina").arg == "Alpina"
    assert parse_follow("hashtag:#alpina").arg == "alpina"
    assert parse_follow("dm").kind == "direct"
    with pytest.raises(ValueError, match="unknown Mastodon follow entry"):
        parse_follow("everything")
