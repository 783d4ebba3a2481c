"""The poller and the outbox against a local server that speaks Mastodon's API: durable
intake, cursor resume, needs-reconnection, back-off, dead-letter, exactly-once replies."""

from __future__ import annotations

import pytest

from tests.fakes.mastodon_server import TOKEN
from veille.ingest.models import Post, RawItem, RawStatus
from veille.ingest.worker import Worker
from veille.sources import actions
from veille.sources.models import OutboundAction, OutboundStatus, Source, SourceStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake(mastodon_server):
    return mastodon_server


@pytest.fixture
def mastodon_source(workspace, fake):
    return actions.create_source(
        workspace, None, name="Mastodon", platform="mastodon", account_handle="@brand@mastodon.example",
        settings_data={"account": "@brand@mastodon.example", "follow": ["notifications"], "base_url": fake.base_url},
        credentials={"access_token": TOKEN},
    )


def poll(source: Source) -> int:
    source.refresh_from_db()
    taken = actions.poll_source(source)
    Worker(source_id=source.id).drain()
    source.refresh_from_db()
    return taken


def test_credentials_are_encrypted_at_rest(mastodon_source):
    stored = Source.objects.values_list("credentials_encrypted", flat=True).get(pk=mastodon_source.pk)
    assert TOKEN not in stored
    assert Source.objects.get(pk=mastodon_source.pk).get_credentials() == {"access_token": TOKEN}


def test_first_sync_then_incremental_then_restart_without_gap_or_duplicate(mastodon_source, fake):
    alice = fake.add_account("alice", display_name="Alice")
    fake.add_status("<p>@brand ma box ne marche plus</p>", account=alice, mention_me=True)
    assert poll(mastodon_source) == 1
    assert Post.objects.filter(source=mastodon_source).count() == 1
    assert poll(mastodon_source) == 0  # nothing new, nothing twice
    fake.add_status("<p>@brand toujours en panne</p>", account=alice, mention_me=True)
    actions._connector_cache.clear()  # a restart: a new connector, the stored cursor
    assert poll(mastodon_source) == 1
    texts = sorted(Post.objects.filter(source=mastodon_source).values_list("text", flat=True))
    assert texts == ["@brand ma box ne marche plus", "@brand toujours en panne"]
    assert mastodon_source.last_sync_at is not None and mastodon_source.consecutive_failures == 0


def test_revoked_token_marks_the_source_for_reconnection(mastodon_source, fake):
    fake.fail_next("401")
    poll(mastodon_source)
    assert mastodon_source.status == SourceStatus.NEEDS_RECONNECTION
    assert "reconnection" in mastodon_source.last_error
    # Not polled while it needs reconnection; new credentials bring it back.
    assert mastodon_source.pk not in actions.claim_due_sources("test")
    actions.update_source(mastodon_source, None, name="Mastodon", account_handle=mastodon_source.account_handle,
                          settings_data=mastodon_source.settings, poll_interval_s=60, credentials={"access_token": TOKEN})
    assert Source.objects.get(pk=mastodon_source.pk).status == SourceStatus.ACTIVE
    assert mastodon_source.pk in actions.claim_due_sources("test")


def test_rate_limit_backs_off_until_reset(mastodon_source, fake):
    fake.fail_next("429", reset_in_s=120)
    poll(mastodon_source)
    assert mastodon_source.status == SourceStatus.ACTIVE
    assert mastodon_source.rate_limited_until is not None
    assert (mastodon_source.next_poll_at - mastodon_source.last_error_at).total_seconds() >= 60
    assert mastodon_source.pk not in actions.claim_due_sources("test")


def test_repeated_server_errors_back_off_then_dead_letter_and_the_source_keeps_running(mastodon_source, fake):
    for attempt in range(1, actions.DEAD_LETTER_AFTER_FAILURES + 1):
        fake.fail_next("500")
        Source.objects.filter(pk=mastodon_source.pk).update(next_poll_at=None)
        poll(mastodon_source)
        assert mastodon_source.consecutive_failures == attempt
        assert mastodon_source.status == SourceStatus.ACTIVE
    dead = RawItem.objects.get(source=mastodon_source, status=RawStatus.DEAD)
    assert "5 times" in dead.error
    # The platform recovers: the next poll works and resets the failure count.
    alice = fake.add_account("alice")
    fake.add_status("<p>@brand re-bonjour</p>", account=alice, mention_me=True)
    Source.objects.filter(pk=mastodon_source.pk).update(next_poll_at=None)
    assert poll(mastodon_source) == 1
    assert mastodon_source.consecutive_failures == 0


def test_reply_is_sent_once_even_when_the_connection_drops_after_the_platform_accepted(mastodon_source, fake):
    alice = fake.add_account("alice")
    question = fake.add_status("<p>@brand une question</p>", account=alice, mention_me=True)
    first = actions.request_action(mastodon_source, None, kind="reply", idempotency_key="reply-1",
                                   text="Nous regardons", target_external_id=question["id"])
    again = actions.request_action(mastodon_source, None, kind="reply", idempotency_key="reply-1",
                                   text="Nous regardons", target_external_id=question["id"])
    assert first.pk == again.pk
    fake.fail_next("drop_after", path="/api/v1/statuses", method="POST")
    actions.send_due_actions("outbox-test")
    first.refresh_from_db()
    assert first.status == OutboundStatus.PENDING and first.error
    OutboundAction.objects.filter(pk=first.pk).update(next_attempt_at=None)
    actions.send_due_actions("outbox-test")
    first.refresh_from_db()
    assert first.status == OutboundStatus.SENT
    own = fake.own_statuses()
    assert len(own) == 1
    assert first.result_external_id == own[0]["id"]


def test_action_the_platform_cannot_do_is_unsupported_not_failed(workspace):
    rss = actions.create_source(workspace, None, name="Blog", platform="rss", settings_data={"feeds": ["http://127.0.0.1:9/feed"]})
    action = actions.request_action(rss, None, kind="reply", idempotency_key="rss-1", text="hi", target_external_id="x")
    actions.send_due_actions("outbox-test")
    action.refresh_from_db()
    assert action.status == OutboundStatus.UNSUPPORTED
