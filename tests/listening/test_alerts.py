"""Spike and sentiment-dip alerts: the demo outage replayed minute by minute raises one alert of
each kind, not a storm; deliveries go out by e-mail and to a signed webhook, with retries."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from tests.support import ingest
from veille.listening import actions
from veille.listening.models import Alert, AlertDelivery, AlertKind, DeliveryStatus
from veille.sources.demo import DemoGenerator

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
OUTAGE_AT_MIN = 150


def replay(until_min: int, step_min: int = 1) -> list[Alert]:
    raised = []
    for minute in range(30, until_min, step_min):
        raised += actions.evaluate_alerts(START + timedelta(minutes=minute))
    return raised


def test_demo_outage_raises_one_spike_and_one_dip_alert(workspace, manager):
    complaints = actions.create_search(workspace, manager, name="Outage", query="panne OR störung OR guasto OR outage OR #alpinadown",
                                       spike_enabled=True, spike_window_min=10, spike_baseline_windows=12, spike_sensitivity=3,
                                       spike_min_count=10, cooldown_min=120)
    everything = actions.create_search(workspace, manager, name="All", query="NOT zzzzzz", dip_enabled=True, dip_window_min=15,
                                       dip_sensitivity=2, dip_min_count=20, cooldown_min=120)
    from veille.sources.models import Source

    fresh = Source.objects.create(workspace=workspace, name="replay", platform="demo")  # the demo generator's posts
    generator = DemoGenerator(seed=8, start=START, rate_per_min=12, outage_at_min=OUTAGE_AT_MIN, outage_minutes=15)
    ingest(fresh, generator.generate(START + timedelta(minutes=220)))
    raised = replay(220)
    spikes = [a for a in raised if a.kind == AlertKind.SPIKE]
    dips = [a for a in raised if a.kind == AlertKind.DIP]
    assert len(spikes) == 1, [(a.window_end, a.value, a.baseline) for a in spikes]
    assert len(dips) == 1, [(a.window_end, a.value, a.baseline) for a in dips]
    assert spikes[0].search == complaints and dips[0].search == everything
    outage = START + timedelta(minutes=OUTAGE_AT_MIN)
    assert outage < spikes[0].window_end <= outage + timedelta(minutes=15)
    assert outage < dips[0].window_end <= outage + timedelta(minutes=20)
    assert spikes[0].value > spikes[0].threshold > spikes[0].baseline
    # Evaluating again at the same moments changes nothing (cooldown).
    assert replay(220, step_min=7) == []


def test_no_alert_on_ordinary_traffic_or_a_new_search(source, workspace, manager):
    actions.create_search(workspace, manager, name="Brand", query="alpina*", spike_enabled=True, spike_window_min=10, dip_enabled=True)
    generator = DemoGenerator(seed=3, start=START, rate_per_min=12, outage_at_min=None)
    ingest(source, generator.generate(START + timedelta(minutes=200)))
    assert replay(200, step_min=2) == []


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []
    fail_first = True

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        if type(self).fail_first:
            type(self).fail_first = False
            self.send_response(503)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_deliveries_by_email_and_signed_webhook_with_retries(workspace, manager, source):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        search = actions.create_search(workspace, manager, name="Hook", query="panne", spike_enabled=True, spike_min_count=1,
                                       alert_emails="cm@example.com, boss@example.com",
                                       webhook_url=f"http://127.0.0.1:{server.server_port}/hook")
        now = START + timedelta(hours=5)
        found = {"kind": AlertKind.SPIKE, "value": 12.0, "baseline": 1.5, "threshold": 4.0,
                 "window_start": now - timedelta(minutes=15), "window_end": now}
        alert = actions._raise_alert(search, found, now)
        assert actions._raise_alert(search, found, now + timedelta(minutes=5)) is None  # cooldown
        assert actions.deliver_alerts(now) == 1  # the e-mail; the webhook got a 503
        assert len(mail.outbox) == 1 and mail.outbox[0].to == ["cm@example.com", "boss@example.com"]
        hook = AlertDelivery.objects.get(channel="webhook")
        assert hook.status == DeliveryStatus.PENDING and hook.attempts == 1 and "503" in hook.last_error
        assert actions.deliver_alerts(now + timedelta(seconds=10)) == 0  # not due yet: back-off
        assert actions.deliver_alerts(now + timedelta(minutes=2)) == 1
        hook.refresh_from_db()
        assert hook.status == DeliveryStatus.SENT and hook.attempts == 2
        headers, body = _Hook.received[-1]
        expected = hmac.new(search.webhook_secret.encode(), headers["X-Veille-Timestamp"].encode() + b"." + body, hashlib.sha256).hexdigest()
        assert headers["X-Veille-Signature"] == "sha256=" + expected
        assert json.loads(body)["id"] == alert.id and json.loads(body)["search"]["name"] == "Hook"
    finally:
        server.shutdown()


def test_undeliverable_webhook_gives_up_after_max_attempts(workspace, manager):
    search = actions.create_search(workspace, manager, name="Dead", query="x", webhook_url="http://127.0.0.1:9/nothing")
    now = START
    actions._raise_alert(search, {"kind": AlertKind.DIP, "value": 0.5, "baseline": 0.1, "threshold": 0.2,
                                  "window_start": now, "window_end": now}, now)
    for _ in range(actions.DELIVERY_MAX_ATTEMPTS):
        now += timedelta(hours=2)
        actions.deliver_alerts(now)
    delivery = AlertDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == actions.DELIVERY_MAX_ATTEMPTS


def _minute_rows(search) -> dict:
    from veille.listening.models import MinuteRollup

    rows = MinuteRollup.objects.filter(search_id=search.id).values_list("minute", "count", "negative", "positive")
    return {minute: (count, negative, positive) for minute, count, negative, positive in rows}


def test_minute_counts_are_kept_for_alerting_searches_only_and_filled_when_alerts_are_switched_on(workspace, manager, source):
    from tests.support import make_post
    from veille.listening.models import ALL_POSTS, MinuteRollup

    alerting = actions.create_search(workspace, manager, name="Alerting", query="box", spike_enabled=True)
    quiet = actions.create_search(workspace, manager, name="Quiet", query="box")
    posts = [make_post(f"p{i}", text=["box en panne", "box super, merci", "ma box"][i % 3], minutes=i // 2) for i in range(12)]
    ingest(source, posts)

    # Written at ingest for the alerting search: posts per minute, with the negative and positive ones.
    kept = _minute_rows(alerting)
    first = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert sum(count for count, _, _ in kept.values()) == 12 and len(kept) == 6
    assert kept[first] == (2, 1, 1) and kept[first + timedelta(minutes=1)] == (2, 1, 0)
    assert not MinuteRollup.objects.filter(search_id__in=[quiet.id, ALL_POSTS]).exists()

    # Switching alerts on fills the lookback from the search's matches: the same counts as ingest wrote.
    now = first + timedelta(minutes=30)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: now)
        actions.update_search(quiet, manager, dip_enabled=True)
    assert _minute_rows(quiet) == kept
    # From then on ingest keeps them.
    ingest(source, [make_post("late", text="box en panne", minutes=20)])
    assert _minute_rows(quiet)[first + timedelta(minutes=20)] == (1, 1, 0)

    # Switched off: nothing keeps them up to date, so they go (no stale baseline later).
    actions.update_search(quiet, manager, dip_enabled=False)
    assert not MinuteRollup.objects.filter(search_id=quiet.id).exists()
    assert _minute_rows(alerting)  # the other search's are untouched


def test_switching_alerts_on_fills_only_the_alert_lookback(workspace, manager, source):
    from tests.support import make_post

    search = actions.create_search(workspace, manager, name="Old and new", query="panne")
    ingest(source, [make_post("old", text="panne", minutes=0), make_post("new", text="panne", minutes=600)])
    now = datetime(2026, 11, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=610)
    search.spike_window_min, search.dip_window_min, search.spike_baseline_windows = 10, 10, 5  # 60 minutes back
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.utils.timezone.now", lambda: now)
        actions.update_search(search, manager, spike_enabled=True)
    assert list(_minute_rows(search)) == [datetime(2026, 11, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=600)]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_switching_alerts_on_holds_ingest_rollup_writes_until_the_fill_commits(workspace, manager):
    """PostgreSQL: while alerts are switched on and the lookback filled, an ingest batch cannot
    write the hour rollup (which it does before it reads which searches alert), so no batch
    falls between the fill and the ingest hook."""
    import psycopg
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("SQLite orders writers with its single write lock")
    search = actions.create_search(workspace, manager, name="Switch", query="panne")
    params = connection.get_connection_params()
    other = psycopg.connect(dbname=params["dbname"], user=params.get("user") or "postgres",
                            host=params.get("host") or "127.0.0.1", port=params.get("port") or 5432, autocommit=True)
    insert = ("INSERT INTO listening_hourrollup (workspace_id, search_id, hour, sentiment, language, count) "
              "VALUES (%s, 0, now(), '', '', 1)")
    try:
        other.execute("SET lock_timeout = '300ms'")
        with transaction.atomic():
            actions.update_search(search, manager, spike_enabled=True)
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute(insert, [workspace.id])
        other.execute(insert, [workspace.id])  # committed: ingest goes on
    finally:
        other.close()
