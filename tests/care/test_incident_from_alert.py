"""A listening alert becomes a care incident: pre-filled with the saved search's query (matched
in the listening query language) and the alert's window, one incident per alert, declared by
community managers only, never across workspaces."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.care.conftest import login
from tests.care.helpers import post, route
from tests.support import make_user
from veille.care import actions
from veille.care.models import Conversation, Incident, IncidentEvent
from veille.listening import actions as listening_actions
from veille.listening.models import Alert

pytestmark = pytest.mark.django_db


@pytest.fixture
def alert(workspace, manager):
    search = listening_actions.create_search(workspace, manager, name="Outage", query='(panne OR "no internet") lang:fr')
    now = timezone.now()
    return Alert.objects.create(workspace=workspace, search=search, kind="spike", window_start=now - timedelta(minutes=15),
                                window_end=now, value=40, baseline=4, threshold=12, created_at=now)


def _conversations(brand_source):
    for text, language, handle in (("@alpina panne totale", "fr", "a"), ("@alpina bonjour", "fr", "b"), ("@alpina panne", "de", "c")):
        route(post(brand_source, text, handle=handle, language=language))
    return {c.author.handle: c for c in Conversation.objects.select_related("author")}


def test_api_declares_from_an_alert_once_with_its_query_and_window(brand_source, workspace, manager, alert):
    by_handle = _conversations(brand_source)
    api = login(manager)
    answer = api.post("/api/care/incidents/from-alert", {"alert_id": alert.pk}, content_type="application/json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["query"] == alert.search.query and body["matcher"] == "listening" and body["alert_id"] == alert.pk
    assert body["origin"] == f"alert:{alert.pk}" and body["window_start"] == alert.window_start.isoformat()
    assert body["window_end"] == alert.window_end.isoformat() and body["title"].startswith("Outage: alert of ")
    incident = Incident.objects.get()
    # The listening matcher reads the language too: the German "panne" is not grouped.
    assert set(Conversation.objects.filter(incident=incident).values_list("author__handle", flat=True)) == {"a"}
    assert by_handle["a"].pk in Conversation.objects.filter(incident=incident).values_list("id", flat=True)
    declared = IncidentEvent.objects.get(incident=incident, kind="declared")
    assert declared.actor_id == manager.pk and declared.detail["alert"] == alert.pk
    # One alert, one incident.
    again = api.post("/api/care/incidents/from-alert", {"alert_id": alert.pk, "title": "Other"}, content_type="application/json")
    assert again.status_code == 200 and again.json()["id"] == incident.pk and Incident.objects.count() == 1
    # New matching posts join the incident as they arrive (listening matcher at intake).
    route(post(brand_source, "@alpina no internet since noon", handle="d", language="fr"))
    assert Conversation.objects.get(author__handle="d").incident_id == incident.pk


def test_from_alert_roles_and_workspaces(brand_source, workspace, agent, analyst, manager, alert, other_workspace):
    url = "/api/care/incidents/from-alert"
    for user in (agent, analyst):
        assert login(user).post(url, {"alert_id": alert.pk}, content_type="application/json").status_code == 403
    stranger = make_user(other_workspace, "stranger", "admin")
    assert login(stranger).post(url, {"alert_id": alert.pk}, content_type="application/json").status_code == 404
    assert login(manager).post(url, {"alert_id": 2**40}, content_type="application/json").status_code == 404
    broken = login(manager).post(url, {"alert_id": alert.pk, "query": "(panne OR"}, content_type="application/json")
    assert broken.status_code == 400 and broken.json()["code"] == "invalid_query"
    assert not Incident.objects.exists()
    admin = make_user(workspace, "boss", "admin")
    assert login(admin).post(url, {"alert_id": alert.pk, "query": "panne"}, content_type="application/json").status_code == 201
    assert Incident.objects.get().query == "panne"


def test_manual_incidents_may_use_the_listening_language(brand_source, workspace, manager):
    _conversations(brand_source)
    api = login(manager)
    made = api.post("/api/care/incidents", {"title": "By hand", "query": "panne lang:de", "matcher": "listening"},
                    content_type="application/json")
    assert made.status_code == 201 and made.json()["alert_id"] is None and made.json()["matcher"] == "listening"
    assert set(Conversation.objects.filter(incident_id=made.json()["id"]).values_list("author__handle", flat=True)) == {"c"}
    unknown = api.post("/api/care/incidents", {"title": "x", "query": "y", "matcher": "regex"}, content_type="application/json")
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_matcher"


def test_alert_pages_offer_the_button_and_then_the_link(brand_source, workspace, manager, agent, analyst, alert):
    declare = f"/care/incidents/?alert={alert.pk}"
    assert declare in login(manager).get(reverse("listening:alerts")).content.decode()
    for user in (agent, analyst):
        assert declare not in login(user).get(reverse("listening:alerts")).content.decode()
    # The form starts with the saved search's query and says which alert and window.
    form = login(manager).get(declare).content.decode()
    assert f'name="alert" value="{alert.pk}"' in form and 'value="(panne OR &quot;no internet&quot;) lang:fr"' in form
    assert "Outage" in form and 'id="from-alert"' in form
    assert login(agent).get(declare).status_code == 200 and 'name="alert"' not in login(agent).get(declare).content.decode()
    answer = login(manager).post(reverse("care_incidents"), {"alert": alert.pk, "title": "Outage in Lausanne",
                                                             "query": alert.search.query})
    incident = Incident.objects.get()
    assert answer.url == reverse("care_incident", args=[incident.pk]) and incident.title == "Outage in Lausanne"
    assert incident.alert_id == alert.pk
    # Pressing again lands on the same incident; the alert lists link to it.
    assert login(manager).get(declare).url == reverse("care_incident", args=[incident.pk])
    again = login(manager).post(reverse("care_incidents"), {"alert": alert.pk, "title": "Twice", "query": "x"})
    assert again.url == reverse("care_incident", args=[incident.pk]) and Incident.objects.count() == 1
    for page in (reverse("listening:alerts"), reverse("listening:overview"), reverse("listening:search", args=[alert.search_id])):
        html = login(analyst).get(page).content.decode()
        assert f'href="/care/incidents/{incident.pk}/"' in html, page
    detail = login(manager).get(reverse("care_incident", args=[incident.pk])).content.decode()
    assert 'id="incident-alert"' in detail and "Outage" in detail
    # Agents cannot declare through the page either; another workspace's alert is not found.
    assert login(agent).post(reverse("care_incidents"), {"alert": alert.pk, "title": "t", "query": "q"}).status_code == 404


def test_another_workspaces_alert_is_not_found_on_the_page(manager, alert, other_workspace):
    stranger = make_user(other_workspace, "stranger", "community_manager")
    assert login(stranger).get(f"/care/incidents/?alert={alert.pk}").status_code == 404
    assert login(stranger).post(reverse("care_incidents"), {"alert": alert.pk, "title": "t", "query": "q"}).status_code == 404
    assert not Incident.objects.exists()


def test_declaring_again_returns_the_first_incident(workspace, manager, alert):
    first, created = actions.declare_incident_from_alert(alert, manager)
    second, created_again = actions.declare_incident_from_alert(alert, manager)
    assert created and not created_again and first.pk == second.pk
