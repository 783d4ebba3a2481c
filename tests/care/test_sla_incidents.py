"""SLA due times in business hours, warnings and breaches as facts, reports, export, incidents."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.care.conftest import login
from tests.care.helpers import post, route
from veille.care import actions, hours, queries
from veille.care.matching import matcher_for
from veille.care.models import (
    Conversation,
    ConversationEvent,
    Incident,
    IncidentEvent,
    Notification,
    Reply,
    SlaEvent,
    SlaPolicy,
    Status,
    Team,
)
from veille.sources.models import OutboundAction

pytestmark = pytest.mark.django_db
OFFICE = {"timezone": "Europe/Zurich", "hours": {str(d): [["09:00", "12:00"], ["13:00", "17:00"]] for d in range(5)}}


def test_business_minutes_skip_nights_lunch_and_weekends():
    friday_1630 = datetime(2026, 11, 6, 15, 30, tzinfo=UTC)  # 16:30 in Zurich
    due = hours.add_business_minutes(friday_1630, 60, OFFICE)
    assert due.astimezone(UTC) == datetime(2026, 11, 9, 8, 30, tzinfo=UTC)  # Monday 09:30 Zurich
    monday_1130 = datetime(2026, 11, 9, 10, 30, tzinfo=UTC)
    assert hours.add_business_minutes(monday_1130, 60, OFFICE) == datetime(2026, 11, 9, 12, 30, tzinfo=UTC)
    assert hours.add_business_minutes(monday_1130, 60, {}) == monday_1130 + timedelta(minutes=60)
    assert hours.add_business_minutes(monday_1130, 60, {"hours": {"0": []}}) == monday_1130 + timedelta(minutes=60)
    with pytest.raises(ValueError):
        hours.validate({"timezone": "Mars/Olympus"})


def test_sla_warning_breach_escalation_and_facts(brand_source, workspace, agent, manager):
    SlaPolicy.objects.create(workspace=workspace, name="default", first_response_minutes=30, next_response_minutes=20,
                             resolution_minutes=600, warn_before_minutes=10)
    now = timezone.now()
    route(post(brand_source, "@alpina help"), now=now)
    c = Conversation.objects.get()
    assert c.first_response_due == now + timedelta(minutes=30)
    assert actions.check_sla(now + timedelta(minutes=5)) == {"warnings": 0, "breaches": 0, "woken": 0}
    assert actions.check_sla(now + timedelta(minutes=21))["warnings"] == 1
    assert actions.check_sla(now + timedelta(minutes=22))["warnings"] == 0  # once
    assert actions.check_sla(now + timedelta(minutes=31))["breaches"] == 1
    assert actions.check_sla(now + timedelta(minutes=40))["breaches"] == 0
    c.refresh_from_db()
    assert c.priority == 2
    assert list(SlaEvent.objects.order_by("id").values_list("metric", "kind")) == [("first_response", "warning"), ("first_response", "breached")]
    assert Notification.objects.filter(user=manager, kind="sla_breached").count() == 1
    assert ConversationEvent.objects.filter(kind="sla_breached").count() == 1
    actions.send_reply(c, agent, "Sorry for the wait", now=now + timedelta(minutes=45))
    assert SlaEvent.objects.filter(metric="first_response", kind="missed").count() == 1
    # The customer answers: a next-response deadline starts; answering in time is "met".
    first = c.root_post
    route(post(brand_source, "still broken", reply_to=first), now=now + timedelta(minutes=50))
    c.refresh_from_db()
    assert c.next_response_due == now + timedelta(minutes=70)
    actions.send_reply(c, agent, "Restarting it now", now=now + timedelta(minutes=55))
    assert SlaEvent.objects.filter(metric="next_response", kind="met").count() == 1
    actions.set_status(c, agent, Status.RESOLVED, now=now + timedelta(minutes=60))
    assert SlaEvent.objects.filter(metric="resolution", kind="met").count() == 1


def test_team_calendar_applies(brand_source, workspace):
    team = Team.objects.create(workspace=workspace, name="Office", business_hours=OFFICE)
    SlaPolicy.objects.create(workspace=workspace, team=team, name="office", first_response_minutes=60)
    from veille.care.models import RoutingRule

    RoutingRule.objects.create(workspace=workspace, name="all", conditions={}, set_team=team)
    friday_night = datetime(2026, 11, 6, 21, 0, tzinfo=UTC)
    route(post(brand_source, "@alpina hello"), now=friday_night)
    assert Conversation.objects.get().first_response_due == datetime(2026, 11, 9, 9, 0, tzinfo=UTC)  # Monday 10:00 Zurich


def test_reports_per_agent_and_csv_export_is_injection_safe(brand_source, workspace, agent, manager):
    SlaPolicy.objects.create(workspace=workspace, name="default", first_response_minutes=30)
    now = timezone.now()
    route(post(brand_source, "=HYPERLINK(\"http://evil\") @alpina", handle="evil"), now=now)
    route(post(brand_source, "@alpina slow", handle="slow"), now=now)
    fast, slow = Conversation.objects.order_by("id")
    actions.claim(fast, agent, now=now)
    actions.send_reply(fast, agent, "Done", now=now + timedelta(minutes=10))
    actions.set_status(fast, agent, Status.RESOLVED, now=now + timedelta(minutes=20))
    actions.claim(slow, manager, now=now)
    actions.send_reply(slow, manager, "Late", acknowledge_warnings=True, now=now + timedelta(minutes=50))
    report = {row["name"]: row for row in queries.sla_report(workspace.pk, "agent")}
    assert report["agent1"]["first_response_median_s"] == 600 and report["agent1"]["sla_met_pct"] == 100.0
    assert report["agent1"]["resolution_median_s"] == 1200
    assert report["cm1"]["sla_met_pct"] == 0.0
    assert {row["name"] for row in queries.sla_report(workspace.pk, "queue")} == {"Alpina on X"}
    response = login(manager).get("/care/sla/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "conversation" and len(rows) == 3
    evil = rows[1]
    assert evil[-1].startswith("'=HYPERLINK") and all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    api_rows = list(csv.reader(io.StringIO(b"".join(login(manager).get("/api/care/reports/conversations.csv").streaming_content).decode())))
    assert api_rows == rows
    assert login(manager).get("/api/care/reports/sla", {"group": "team"}).status_code == 200


def test_phrase_matcher():
    match = matcher_for("phrase", '"réseau mobile" panne OR outage, Netz weg')
    assert match("Plus de RESEAU MOBILE, quelle panne !")
    assert match("total outage here")
    assert match("Das Netz ist weg")
    assert not match("panne de courant")
    assert not match("réseau fixe en panne mobile")  # the phrase must be together
    assert matcher_for("unknown", "x")("x y")


def test_incident_groups_labels_bulk_replies_paced_and_summarises(brand_source, workspace, agent, manager):
    route(post(brand_source, "@alpina panne réseau à Genève", handle="before"))
    incident = actions.declare_incident(workspace, manager, title="Panne Genève", query="panne réseau", origin="spike alert 7")
    assert Conversation.objects.get(author__handle="before").incident == incident
    route(*[post(brand_source, f"@alpina encore une panne de réseau {i}", handle=f"h{i}") for i in range(4)],
          post(brand_source, "@alpina question facture", handle="other"))
    grouped = Conversation.objects.filter(incident=incident)
    assert grouped.count() == 5 and all(incident.label in c.label_list() for c in grouped)
    assert Conversation.objects.get(author__handle="other").incident is None
    with pytest.raises(actions.Conflict):
        actions.send_incident_message(incident, manager)  # no approved message yet
    actions.set_incident_message(incident, manager, "We know about the outage, {customer_name}; fix expected at 18:00.")
    assert actions.send_incident_message(incident, manager) == 5
    assert actions.send_incident_message(incident, manager) == 0  # never twice
    replies = Reply.objects.filter(purpose="incident")
    assert replies.count() == 5 and all(r.state == Reply.State.QUEUED for r in replies)
    times = sorted(OutboundAction.objects.filter(care_reply__purpose="incident").values_list("next_attempt_at", flat=True),
                   key=lambda t: t or datetime.min.replace(tzinfo=UTC))
    assert times[0] is None and times[1] is not None and (times[2] - times[1]).total_seconds() == pytest.approx(6, abs=0.01)  # X: 10/min
    ended = actions.end_incident(incident, manager)
    assert ended.state == "ended" and ended.summary["conversations"] == 5 and ended.summary["replied"] == 5
    assert ended.summary["messages_sent"] == 5
    assert list(IncidentEvent.objects.filter(incident=incident).values_list("kind", flat=True)) == [
        "declared", "grouped", "message_approved", "message_sent", "ended"]
    route(post(brand_source, "@alpina panne réseau again", handle="after"))
    assert Conversation.objects.get(author__handle="after").incident is None
    with pytest.raises(actions.Conflict):
        actions.end_incident(incident, manager)
    page = login(manager).get(f"/care/incidents/{incident.pk}/")
    assert page.status_code == 200 and b"Panne Gen" in page.content
    detail = login(agent).get(f"/api/care/incidents/{incident.pk}").json()
    assert [e["kind"] for e in detail["timeline"]][-1] == "ended" and sum(v["posts"] for v in detail["volume"]) == 5
    assert Incident.objects.count() == 1


@pytest.mark.tone_models
def test_tone_check_rules_and_models():
    from veille.care import tone

    codes = lambda text, **kw: [w["code"] for w in tone.check(text, **kw)]  # noqa: E731
    assert codes("Thank you, we fixed your line.", platform="x") == []
    assert codes("x" * 281, platform="x", use_models=False) == ["too_long"]
    assert codes("x" * 281, platform="mastodon", use_models=False) == []
    assert codes("Appelez le +41 79 123 45 67", platform="x", use_models=False) == ["personal_data"]
    assert codes("Appelez le +41 79 123 45 67", platform="x", public=False, use_models=False) == []
    assert codes("C'est vraiment Gratuit", forbidden_words=["gratuit"], use_models=False) == ["forbidden_word"]
    assert codes("you are an idiot", use_models=False) == ["aggressive"]
    try:
        from veille.nlp.analyzer import get_analyzer

        get_analyzer()
    except Exception:  # noqa: BLE001 - models not trained here
        pytest.skip("NLP model files are not available")
    assert "negative" in codes("This is terrible, awful, the worst service, I hate it", use_models=True) or \
        "aggressive" in codes("This is terrible, awful, the worst service, I hate it", use_models=True)
