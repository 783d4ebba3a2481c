"""Live readers (``veille.sources.live``) streaming a Mastodon source from a local server that
speaks Mastodon's REST and streaming API: into posts end to end, resume after a restart,
reconnect after a drop, needs-reconnection, pause, and one reader per source across processes."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tests.fakes.mastodon_server import TOKEN
from veille.ingest.models import Post, RawItem
from veille.ingest.worker import Worker
from veille.sources import actions
from veille.sources.models import LiveState, Source, SourceStatus
from veille.sources.queries import sources_with_health

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake(mastodon_server):
    return mastodon_server


@pytest.fixture
def source(workspace, fake):
    return actions.create_source(
        workspace, None, name="Mastodon", platform="mastodon", account_handle="@brand@mastodon.example",
        settings_data={"account": "@brand@mastodon.example", "follow": ["notifications", "hashtag:alpina"],
                       "base_url": fake.base_url},
        credentials={"access_token": TOKEN},
    )


def state(source: Source) -> Source:
    return Source.objects.get(pk=source.pk)


def start(live, owner, source, fake, wait_for, wake=None, subscribers=2):
    """One supervisor tick, then wait until its reader is caught up and listening."""
    assert live.supervise(owner, wake or (lambda: None)) == 1
    fake.wait_subscribers(subscribers)
    wait_for(lambda: state(source).live_state == LiveState.CONNECTED, what="the stream to be connected")


def external_ids(source: Source) -> list[str]:
    return sorted(RawItem.objects.filter(source=source).values_list("external_id", flat=True))


def test_streamed_source_ends_up_as_posts_and_is_not_polled(source, fake, live, wait_for, manager):
    alice = fake.add_account("alice", display_name="Alice")
    before = fake.add_status("<p>@brand déjà là</p>", account=alice, mention_me=True)
    woken = threading.Event()
    start(live, "proc-1", source, fake, wait_for, wake=woken.set)
    # The REST catch-up read what was there before the stream started.
    wait_for(lambda: external_ids(source) == [before["id"]], what="the catch-up")
    live_status = fake.add_status("<p>@brand ma box ne marche plus</p>", account=alice, mention_me=True)
    tagged = fake.add_status("<p>vive #alpina</p>", tags=("alpina",))
    wait_for(lambda: len(external_ids(source)) == 3, what="the streamed statuses")
    assert woken.is_set()
    Worker(source_id=source.id).drain()
    texts = sorted(Post.objects.filter(source=source).values_list("text", flat=True))
    assert texts == ["@brand déjà là", "@brand ma box ne marche plus", "vive #alpina"]
    assert set(external_ids(source)) == {before["id"], live_status["id"], tagged["id"]}
    # While its live lease is held the poller leaves it alone.
    Source.objects.filter(pk=source.pk).update(next_poll_at=None)
    assert actions.claim_due_sources("poller") == []
    row = state(source)
    assert row.live_owner == "proc-1" and row.last_sync_at is not None
    assert row.cursor["streams"]["notifications"]["min_id"]
    health = {item.source.pk: item for item in sources_with_health(source.workspace_id)}[source.pk]
    assert health.live_state == LiveState.CONNECTED
    client = Client()
    assert client.login(username=manager.username, password="correct horse battery")
    assert 'class="badge live-connected"' in client.get("/sources/").content.decode()


def test_restart_resumes_from_the_stored_cursor_without_gap_or_duplicate(source, fake, live, wait_for):
    alice = fake.add_account("alice")
    first = fake.add_status("<p>@brand un</p>", account=alice, mention_me=True)
    start(live, "proc-1", source, fake, wait_for)
    wait_for(lambda: external_ids(source) == [first["id"]], what="the first status")
    second = fake.add_status("<p>@brand deux</p>", account=alice, mention_me=True)
    wait_for(lambda: len(external_ids(source)) == 2, what="the second status")
    live.shutdown()  # the process stops: the lease is released, the cursor is stored
    assert state(source).live_owner == ""
    fake.wait_subscribers(0)
    down = [fake.add_status(f"<p>@brand pendant l'arrêt {i}</p>", account=alice, mention_me=True) for i in range(3)]
    tagged_down = fake.add_status("<p>#alpina pendant l'arrêt</p>", tags=("alpina",))
    start(live, "proc-2", source, fake, wait_for)  # another process takes over
    after = fake.add_status("<p>@brand après</p>", account=alice, mention_me=True)
    expected = sorted([first["id"], second["id"], *(s["id"] for s in down), tagged_down["id"], after["id"]])
    wait_for(lambda: external_ids(source) == expected, what="every status exactly once")
    Worker(source_id=source.id).drain()
    assert Post.objects.filter(source=source).count() == len(expected)


def test_a_dropped_stream_reconnects_and_catches_up(source, fake, live, wait_for):
    alice = fake.add_account("alice")
    start(live, "proc-1", source, fake, wait_for)
    fake.drop_streams()
    # Posted while the stream is down: only the REST catch-up after reconnecting can see it.
    gap = fake.add_status("<p>@brand pendant la coupure</p>", account=alice, mention_me=True)
    wait_for(lambda: external_ids(source) == [gap["id"]], what="the catch-up after reconnecting")
    wait_for(lambda: state(source).live_state == LiveState.CONNECTED, what="the stream to be back")
    fake.wait_subscribers(2)
    after = fake.add_status("<p>@brand après la coupure</p>", account=alice, mention_me=True)
    wait_for(lambda: external_ids(source) == sorted([gap["id"], after["id"]]), what="the live status")
    row = state(source)
    assert "stream" in row.last_error  # the drop is in the source's health
    assert row.consecutive_failures == 0 and row.status == SourceStatus.ACTIVE


def test_revoked_token_marks_the_source_for_reconnection(workspace, fake, live, wait_for):
    source = actions.create_source(
        workspace, None, name="Revoked", platform="mastodon",
        settings_data={"account": "@brand@mastodon.example", "follow": ["notifications"], "base_url": fake.base_url},
        credentials={"access_token": "revoked"},
    )
    live.supervise("proc-1")
    wait_for(lambda: state(source).status == SourceStatus.NEEDS_RECONNECTION, what="needs reconnection")
    wait_for(lambda: not live.readers("proc-1")[source.pk].is_alive(), what="the reader to end")
    row = state(source)
    assert "reconnection" in row.last_error and row.live_owner == ""
    assert live.supervise("proc-1") == 0  # not streamed again until reconnected
    assert actions.claim_due_sources("poller") == []  # nor polled


@pytest.mark.parametrize("status", [SourceStatus.PAUSED, SourceStatus.REMOVED])
def test_paused_or_removed_source_stops_its_reader(source, fake, live, wait_for, status):
    start(live, "proc-1", source, fake, wait_for)
    reader = live.readers("proc-1")[source.pk]
    actions.set_source_status(state(source), None, status)
    fake.add_status("<p>@brand pendant la pause</p>", mention_me=True)
    live.supervise("proc-1")
    reader.join(timeout=3)
    assert not reader.is_alive()
    fake.wait_subscribers(0)
    row = state(source)
    assert row.live_owner == "" and row.live_lease_until is None
    assert external_ids(source) == []  # nothing read after the pause was stored
    assert live.supervise("proc-1") == 0


def test_two_processes_never_stream_one_source_and_an_expired_lease_is_taken_over(source, fake, live, wait_for):
    start(live, "proc-a", source, fake, wait_for)
    for _ in range(3):
        assert live.supervise("proc-b") == 0
        assert live.supervise("proc-a") == 1
    assert state(source).live_owner == "proc-a"
    assert len(fake.stream_subscribers) == 2  # one subscription per followed stream, once
    # proc-a dies without a word: simulated by its lease running out while another owner
    # claims it (what proc-a's next write or renewal then finds).
    reader_a = live.readers("proc-a")[source.pk]
    Source.objects.filter(pk=source.pk).update(live_lease_until=timezone.now() - timedelta(seconds=1))
    assert live.supervise("proc-b") == 1
    assert state(source).live_owner == "proc-b"
    # proc-a's reader notices at its next renewal and stops without writing anything more.
    live.supervise("proc-a")
    reader_a.join(timeout=3)
    assert not reader_a.is_alive()
    assert state(source).live_owner == "proc-b"
    wait_for(lambda: state(source).live_state == LiveState.CONNECTED, what="proc-b to be connected")
    fake.wait_subscribers(2)
    status = fake.add_status("<p>@brand chez b</p>", mention_me=True)
    wait_for(lambda: external_ids(source) == [status["id"]], what="proc-b to store the status")


def test_a_reader_that_lost_its_lease_cannot_write(source, fake, live, wait_for):
    start(live, "proc-a", source, fake, wait_for)
    reader = live.readers("proc-a")[source.pk]
    Source.objects.filter(pk=source.pk).update(live_owner="proc-elsewhere")
    fake.add_status("<p>@brand perdu</p>", mention_me=True)
    reader.join(timeout=3)  # the fenced write is refused and the reader stops by itself
    assert not reader.is_alive()
    assert external_ids(source) == []
    assert state(source).live_owner == "proc-elsewhere"


def test_a_held_live_lease_keeps_others_off_until_it_expires(source, fake, live):
    # A process that died holding the lease: nobody streams or polls until it expires.
    Source.objects.filter(pk=source.pk).update(live_owner="dead", live_lease_until=timezone.now() + timedelta(seconds=60))
    assert live.supervise("proc-b") == 0
    assert actions.claim_due_sources("poller") == []
    Source.objects.filter(pk=source.pk).update(live_lease_until=timezone.now() - timedelta(seconds=1))
    assert live.supervise("proc-b") == 1


def test_a_polled_source_is_not_claimed_while_its_poll_lease_is_held(source, fake, live):
    assert actions.claim_due_sources("poller") == [source.pk]
    assert live.supervise("proc-b") == 0
    actions.poll_source(state(source))  # the poll ends and lets go of its lease
    assert live.supervise("proc-b") == 1


def test_live_false_keeps_a_source_on_polling(workspace, fake, live):
    source = actions.create_source(
        workspace, None, name="Polled", platform="mastodon",
        settings_data={"account": "@brand@mastodon.example", "base_url": fake.base_url, "live": False},
        credentials={"access_token": TOKEN},
    )
    assert live.supervise("proc-1") == 0
    assert actions.claim_due_sources("poller") == [source.pk]


@pytest.mark.postgres_only
def test_concurrent_supervisors_on_postgresql_claim_each_source_once(workspace, fake, live):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent claims need PostgreSQL (SQLite has one writer)")
    sources = [
        actions.create_source(
            workspace, None, name=f"Mastodon {i}", platform="mastodon",
            settings_data={"account": "@brand@mastodon.example", "follow": ["notifications"], "base_url": fake.base_url},
            credentials={"access_token": TOKEN},
        )
        for i in range(6)
    ]
    barrier = threading.Barrier(3)

    def run(owner: str) -> None:
        try:
            barrier.wait()
            for _ in range(5):
                live.supervise(owner)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f"proc-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    running = [(owner, source_id) for owner in ("proc-0", "proc-1", "proc-2")
               for source_id in live.readers(owner)]
    assert sorted(source_id for _, source_id in running) == sorted(s.pk for s in sources)
    owners = dict(Source.objects.filter(pk__in=[s.pk for s in sources]).values_list("pk", "live_owner"))
    assert all(owners[source_id] == owner for owner, source_id in running)
    fake.wait_subscribers(len(sources))
    assert len(fake.stream_subscribers) == len(sources)


def test_a_stream_that_keeps_failing_falls_back_to_polling(source, fake, live, wait_for, monkeypatch):
    # Fewer attempts than in production (5, with waits of 1+2+4+8 s) keep the test short.
    monkeypatch.setattr(live, "FALLBACK_AFTER_FAILURES", 2)
    # The reader lingers after letting go of its lease, as one closing its connection does:
    # the supervisor must neither count it as streaming nor start the source again.
    ending = threading.Event()
    release = live.release

    def release_then_linger(source_id: int, owner: str) -> None:
        release(source_id, owner)
        ending.wait(5)

    monkeypatch.setattr(live, "release", release_then_linger)
    for _ in range(2):
        fake.fail_next("500", path="/api/v1/streaming/user")
    assert live.supervise("proc-1") == 1
    wait_for(lambda: state(source).live_retry_at is not None, what="the fall-back")
    wait_for(lambda: state(source).live_owner == "", what="the lease to be released")
    row = state(source)
    assert "reconnect" in row.last_error
    try:
        assert live.readers("proc-1")[source.pk].is_alive()
        assert live.supervise("proc-1") == 0  # not streamed again before live_retry_at
    finally:
        ending.set()
    live.readers("proc-1")[source.pk].join(timeout=5)
    assert live.supervise("proc-1") == 0
    assert actions.claim_due_sources("poller") == [source.pk]  # polled meanwhile
    health = {item.source.pk: item for item in sources_with_health(source.workspace_id)}[source.pk]
    assert health.polled_until == row.live_retry_at and health.live_state == ""


def test_rate_limited_catch_up_waits_then_streams(source, fake, live, wait_for):
    fake.fail_next("429", path="/api/v1/notifications", retry_after="1")
    assert live.supervise("proc-1") == 1
    wait_for(lambda: state(source).rate_limited_until is not None, what="the rate limit to be recorded")
    row = state(source)
    assert "rate limited" in row.last_error and row.live_owner == "proc-1"  # keeps its lease
    assert actions.claim_due_sources("poller") == []
    wait_for(lambda: state(source).live_state == LiveState.CONNECTED, what="the stream after the wait")
    fake.wait_subscribers(2)
    status = fake.add_status("<p>@brand après l'attente</p>", mention_me=True)
    wait_for(lambda: external_ids(source) == [status["id"]], what="the status")
    assert state(source).rate_limited_until is None
