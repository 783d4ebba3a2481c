from __future__ import annotations

import pytest

from tests.fakes.mastodon_server import TOKEN
from tests.support import StreamReader
from veille.sources.connector import NeedsReconnection
from veille.sources.mastodon.connector import MastodonConnector
from veille.sources.mastodon.streaming import parse_sse


def make(server, follow, sleep=lambda _s: None):
    return MastodonConnector(
        {"account": "@brand@mastodon.example", "follow": follow, "search_poll_interval_s": 3600},
        {"access_token": TOKEN},
        base_url=server.base_url,
        sleep=sleep,
    )


def test_parse_sse():
    lines = [":thump", "event: update", 'data: {"id":', "data:  \"1\"}", "", "event: delete", "data: 5", "", ""]
    events = list(parse_sse(lines))
    assert [(e.event, e.data) for e in events] == [("update", '{"id":\n "1"}'), ("delete", "5")]


def test_catch_up_then_live_then_reconnect_and_catch_up(mastodon_server):
    server = mastodon_server
    connector = make(server, ["notifications", "hashtag:alpina"])
    cursor = connector.poll(None).cursor  # nothing yet
    missed = server.add_status("<p>@brand while away</p>", mention_me=True)

    gap = []

    def sleep_during_gap(_seconds):
        # Posted while the connector is disconnected: nobody is subscribed to hear it live.
        gap.append(server.add_status("<p>#alpina in the gap</p>", tags=("alpina",)))

    connector.sleep = sleep_during_gap
    reader = StreamReader(connector, cursor)
    try:
        # 1. the REST catch-up returns what was posted before the stream started
        assert [r.external_id for r in reader.take(1)] == [missed["id"]]
        server.wait_subscribers(2)
        # 2. live events
        live = server.add_status("<p>@brand live</p>", mention_me=True)
        tagged = server.add_status("<p>live #alpina</p>", tags=("alpina",))
        got = reader.take(2)
        assert sorted((r.location, r.external_id) for r in got) == sorted(
            [("notifications", live["id"]), ("hashtag:alpina", tagged["id"])]
        )
        # 3. the stream drops; what is posted during the gap comes back by REST after reconnect
        server.drop_streams()
        again = reader.take(1)
        assert [(r.location, r.external_id) for r in again] == [("hashtag:alpina", gap[0]["id"])]
        server.wait_subscribers(2)
        after = server.add_status("<p>@brand after</p>", mention_me=True)
        assert [r.external_id for r in reader.take(1)] == [after["id"]]
    finally:
        leftover = reader.close()
    assert leftover == []
    # The cursor covers everything yielded: a poll from it finds nothing twice.
    assert connector.poll(connector.cursor).records == []


def test_stream_ignores_other_events_and_keeps_malformed(mastodon_server):
    server = mastodon_server
    connector = make(server, ["hashtag:alpina"])
    reader = StreamReader(connector, connector.poll(None).cursor)
    try:
        server.wait_subscribers(1)
        server.publish("hashtag:alpina", "delete", "12345")
        server.publish("hashtag:alpina", "update", "{not json")
        good = server.add_status("<p>#alpina ok</p>", tags=("alpina",))
        taken = reader.take(2)
    finally:
        reader.close()
    # The new status may come through the REST catch-up before the streamed event: any order.
    bad, ok = sorted(taken, key=lambda record: "unparsed_event" not in record.payload)
    assert bad.payload == {"unparsed_event": "update", "data": "{not json"}
    assert ok.external_id == good["id"]


def test_stream_raises_needs_reconnection(mastodon_server):
    connector = MastodonConnector(
        {"account": "@brand@mastodon.example", "follow": ["notifications"]},
        {"access_token": "revoked"},
        base_url=mastodon_server.base_url,
    )
    with pytest.raises(NeedsReconnection):
        next(connector.stream(None))
