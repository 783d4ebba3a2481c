"""Bluesky's live transport: the Jetstream client and local matching, the connector's
``stream`` (REST catch-up, then Jetstream from the cursor), and a live reader storing it, all
against local servers (a fake PDS/AppView and a fake Jetstream mirroring its writes)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.fakes.bluesky_server import APP_PASSWORD, BRAND_DID, BRAND_HANDLE
from tests.fakes.jetstream_server import FakeJetstream
from tests.support import StreamReader
from veille.ingest.models import Post, RawItem, RawStatus
from veille.ingest.worker import Worker
from veille.sources import actions
from veille.sources.base import BadRecord
from veille.sources.bluesky.connector import BlueskyConnector
from veille.sources.bluesky.jetstream import (
    REWIND_US,
    Malformed,
    PostMatcher,
    parse_message,
    subscribe_url,
)
from veille.sources.models import LiveState, Source


@pytest.fixture
def bluesky(bluesky_server):
    return bluesky_server


@pytest.fixture
def jetstream(bluesky):
    fake = FakeJetstream()
    fake.attach(bluesky)
    fake.start()
    yield fake
    fake.stop()


def settings(bluesky, jetstream, follow=("mentions", "hashtag:alpina")):
    return {"handle": BRAND_HANDLE, "did": BRAND_DID, "follow": list(follow),
            "base_url": bluesky.base_url, "jetstream_url": jetstream.url}


def make_connector(bluesky, jetstream, **extra):
    return BlueskyConnector({**settings(bluesky, jetstream), **extra},
                            {"identifier": BRAND_HANDLE, "app_password": APP_PASSWORD},
                            base_url=bluesky.base_url, sleep=lambda _s: None)


# ---------------------------------------------------------------- protocol and matching


def test_parse_message_and_its_reasons():
    event = parse_message(json.dumps({
        "did": "did:plc:a", "time_us": 1725911162329308, "kind": "commit",
        "commit": {"rev": "r", "operation": "create", "collection": "app.bsky.feed.post", "rkey": "3k",
                   "record": {"text": "hi"}, "cid": "bafy"}}))
    assert event.uri == "at://did:plc:a/app.bsky.feed.post/3k" and event.record == {"text": "hi"}
    assert parse_message('{"did": "did:plc:a", "time_us": 5, "kind": "identity", '
                         '"identity": {"handle": "a.test"}}').handle == "a.test"
    for bad, reason in [("{oops", "not JSON"), ("[1]", "expected an object"),
                        ('{"did": "did:plc:a", "kind": "commit"}', "time_us"),
                        ('{"did": "did:plc:a", "time_us": 5, "kind": "commit", "commit": '
                         '{"operation": "create", "collection": "app.bsky.feed.post", "rkey": "x", "record": 3}}',
                         "without a 'record' object")]:
        with pytest.raises(Malformed, match=reason):
            parse_message(bad)


def test_subscribe_url_carries_filters_and_cursor():
    url = subscribe_url("wss://js.example/subscribe?compress=false", dids=["did:plc:a"], cursor_us=42)
    query = parse_qs(urlsplit(url).query)
    assert query == {"compress": ["false"], "wantedCollections": ["app.bsky.feed.post"],
                     "wantedDids": ["did:plc:a"], "cursor": ["42"]}


def test_matcher_follows_what_polling_follows():
    own = f"at://{BRAND_DID}/app.bsky.feed.post/1"
    matcher = PostMatcher([("mentions", "notifications", "", ("mention", "reply", "quote")),
                           ("#alpina", "search", "#alpina", ()),
                           ("search:fibre panne lang:fr", "search", "fibre panne lang:fr", ()),
                           ("search:from:x.test box", "search", "from:x.test box", ()),
                           ("list:at://x", "list", "at://x", ())], BRAND_DID, BRAND_HANDLE)
    assert matcher.unmatched == ["search:from:x.test box", "list:at://x"]
    mention_facet = {"facets": [{"index": {"byteStart": 0, "byteEnd": 6}, "features": [
        {"$type": "app.bsky.richtext.facet#mention", "did": BRAND_DID}]}], "text": "@brand help"}
    assert matcher.match("did:plc:u", mention_facet) == "mentions"
    assert matcher.match("did:plc:u", {"text": f"hello @{BRAND_HANDLE}!"}) == "mentions"
    assert matcher.match("did:plc:u", {"text": "thanks", "reply": {"parent": {"uri": own}, "root": {"uri": own}}}) == "mentions"
    assert matcher.match("did:plc:u", {"text": "look", "embed": {"$type": "app.bsky.embed.record", "record": {"uri": own}}}) == "mentions"
    assert matcher.match("did:plc:u", {"text": "no tag but", "facets": [{"features": [
        {"$type": "app.bsky.richtext.facet#tag", "tag": "Alpina"}]}]}) == "#alpina"
    assert matcher.match("did:plc:u", {"text": "Vive #ALPINA"}) == "#alpina"
    assert matcher.match("did:plc:u", {"text": "#alpinaX is not it"}) is None
    assert matcher.match("did:plc:u", {"text": "Panne de FIBRE", "langs": ["fr"]}) == "search:fibre panne lang:fr"
    assert matcher.match("did:plc:u", {"text": "panne de fibre", "langs": ["en"]}) is None
    assert matcher.match("did:plc:u", {"text": "nothing here", "langs": ["fr"]}) is None
    # The account's own posts are not notifications (they can still match a search).
    assert matcher.match(BRAND_DID, {"text": f"@{BRAND_HANDLE} me"}) is None


# ---------------------------------------------------------------- the connector's stream


def test_stream_catches_up_by_rest_then_follows_jetstream_and_resumes_from_its_cursor(bluesky, jetstream):
    alice = bluesky.add_account("alice.test", display_name="Alice", followers=12)
    connector = make_connector(bluesky, jetstream)
    cursor = connector.poll(None).cursor  # polled until now: nothing yet
    missed = bluesky.add_post(f"@{BRAND_HANDLE} while polled", author=alice)
    reader = StreamReader(connector, cursor)
    try:
        assert [r.external_id for r in reader.take(1)] == [missed["uri"]]  # REST catch-up
        jetstream.wait_connections(1)
        brand_post = bluesky.add_post("our announcement", author=bluesky.brand)
        bluesky.add_post("unrelated chatter", author=alice)
        reply = bluesky.add_post("a reply to the brand", author=alice, reply_to=brand_post["uri"])
        tagged = bluesky.add_post("on aime #alpina")
        got = reader.take(2)
        assert [(r.location, r.external_id) for r in got] == [("mentions", reply["uri"]), ("hashtag:alpina", tagged["uri"])]
        # Jetstream gives DIDs only: authors come from what REST returned (alice) or are
        # looked up once (the hashtag's author), and the payloads normalize.
        post = connector.normalize(got[0].payload)
        assert (post.author_handle, post.author_name) == ("alice.test", "Alice")
        assert post.in_reply_to_external_id == brand_post["uri"] and post.kind == "reply"
        assert connector.normalize(got[1].payload).author_handle == tagged["author"]["handle"]
        assert bluesky.calls("app.bsky.actor.getProfile") == 1
        saved = reader.cursors[-1]
    finally:
        assert reader.close() == []
    assert saved["jetstream"]["time_us"] > 0

    # Down for a while, then a new connector resumes from the saved cursor.
    down = [bluesky.add_post(f"@{BRAND_HANDLE} while down {i}", author=alice) for i in range(2)]
    connector2 = make_connector(bluesky, jetstream)
    reader2 = StreamReader(connector2, saved)
    try:
        # Read by the REST catch-up, and again by Jetstream's replay: handed out once.
        assert sorted(r.external_id for r in reader2.take(2)) == sorted(p["uri"] for p in down)
        jetstream.wait_connections(1)
        after = bluesky.add_post(f"@{BRAND_HANDLE} after", author=alice)
        assert [r.external_id for r in reader2.take(1)] == [after["uri"]]
    finally:
        assert reader2.close() == []
    request = jetstream.requests[-1]
    assert request["wantedCollections"] == ["app.bsky.feed.post"]
    assert int(request["cursor"][0]) == saved["jetstream"]["time_us"] - REWIND_US


def test_lost_jetstream_connection_raises_transient_and_malformed_messages_are_kept(bluesky, jetstream):
    connector = make_connector(bluesky, jetstream)
    reader = StreamReader(connector, connector.poll(None).cursor)
    try:
        jetstream.wait_connections(1)
        jetstream.send_raw("{not json")
        jetstream.send_raw(json.dumps({"did": "did:plc:x", "time_us": 7, "kind": "commit", "commit": {"operation": "create"}}))
        good = bluesky.add_post(f"@{BRAND_HANDLE} still here")
        bad1, bad2, ok = reader.take(3)
        assert isinstance(bad1, BadRecord) and "not JSON" in bad1.reason and bad1.raw_text == "{not json"
        assert isinstance(bad2, BadRecord) and "without operation" in bad2.reason
        assert ok.external_id == good["uri"]
        jetstream.drop_connections()
        ended = reader.out.get(timeout=5)
        assert type(ended).__name__ == "TransientError" and "Jetstream" in str(ended)
    finally:
        reader.close()


# ---------------------------------------------------------------- a live reader


@pytest.mark.django_db(transaction=True)
def test_live_reader_streams_bluesky_into_posts_and_quarantines_malformed_messages(
        workspace, bluesky, jetstream, live, wait_for):
    source = actions.create_source(workspace, None, name="Bluesky", platform="bluesky", account_handle=BRAND_HANDLE,
                                   settings_data=settings(bluesky, jetstream),
                                   credentials={"identifier": BRAND_HANDLE, "app_password": APP_PASSWORD})
    bob = bluesky.add_account("bob.test", display_name="Bob")
    assert live.supervise("proc-1") == 1
    jetstream.wait_connections(1)
    wait_for(lambda: Source.objects.get(pk=source.pk).live_state == LiveState.CONNECTED, what="connected")
    jetstream.send_raw("\x00garbage")
    mention = bluesky.add_post(f"Bonjour @{BRAND_HANDLE}, ma box est en panne", author=bob, langs=("fr",))
    bluesky.add_post("rien à voir", author=bob)

    def items():
        return list(RawItem.objects.filter(source=source).order_by("id").values_list("status", "error", "external_id"))

    wait_for(lambda: len(items()) == 2, what="the bad message and the mention")
    # The two are stored by different paths (quarantine, intake): their order is not the point.
    dead = [(status, reason) for status, reason, _ in items() if status == RawStatus.DEAD]
    assert len(dead) == 1 and "Jetstream message skipped: not JSON" in dead[0][1]
    assert [uri for status, _, uri in items() if status != RawStatus.DEAD] == [mention["uri"]]
    assert live.readers("proc-1")[source.pk].is_alive()  # the bad message did not end the reader
    Worker(source_id=source.id).drain()
    post = Post.objects.get(source=source)
    assert post.text == f"Bonjour @{BRAND_HANDLE}, ma box est en panne"
    row = Source.objects.get(pk=source.pk)
    assert row.cursor["jetstream"]["time_us"] > 0 and row.live_owner == "proc-1"

    # The Jetstream connection drops: the reader backs off, catches up and resumes.
    jetstream.drop_connections()
    during = bluesky.add_post(f"@{BRAND_HANDLE} pendant la coupure", author=bob)
    wait_for(lambda: RawItem.objects.filter(source=source, external_id=during["uri"]).exists(), what="the catch-up")
    jetstream.wait_connections(1)
    after = bluesky.add_post(f"@{BRAND_HANDLE} après", author=bob)
    wait_for(lambda: RawItem.objects.filter(source=source, external_id=after["uri"]).exists(), what="the resumed stream")
    assert RawItem.objects.filter(source=source, external_id=during["uri"]).count() == 1
