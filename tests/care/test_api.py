"""The care API: shapes, roles, workspace scoping, errors."""

from __future__ import annotations

import pytest

from tests.care.conftest import login
from tests.care.helpers import post, route
from veille.care.models import Conversation
from veille.sources.models import OutboundAction

pytestmark = pytest.mark.django_db


def _conv(brand_source, text="@alpina my internet is down", handle="client1"):
    route(post(brand_source, text, handle=handle))
    return Conversation.objects.order_by("-id").first()


def test_agent_works_a_conversation_through_the_api(brand_source, agent):
    c = _conv(brand_source)
    api = login(agent)
    listed = api.get("/api/care/conversations", {"queue": "unassigned"}).json()
    assert [row["id"] for row in listed] == [c.pk]
    claimed = api.post(f"/api/care/conversations/{c.pk}/claim", content_type="application/json")
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "agent1" and claimed.json()["status"] == "open"
    assert [row["id"] for row in api.get("/api/care/conversations").json()] == [c.pk]
    shouting = api.post(f"/api/care/conversations/{c.pk}/replies", {"text": "WE ARE ON IT RIGHT NOW"}, content_type="application/json")
    assert shouting.status_code == 409 and shouting.json()["code"] == "tone_warnings"
    assert [w["code"] for w in shouting.json()["warnings"]] == ["all_caps"]
    sent = api.post(f"/api/care/conversations/{c.pk}/replies", {"text": "We are on it, sorry!"}, content_type="application/json")
    assert sent.status_code == 201, sent.content
    body = sent.json()
    assert body["state"] == "queued" and body["idempotency_key"] == f"care-reply-{body['id']}" and body["outbound_status"] == "pending"
    action = OutboundAction.objects.get(idempotency_key=body["idempotency_key"])
    assert action.kind == "reply" and action.target_external_id == c.root_post.external_id
    note = api.post(f"/api/care/conversations/{c.pk}/notes", {"text": "check the router"}, content_type="application/json")
    assert note.status_code == 201
    resolved = api.post(f"/api/care/conversations/{c.pk}/status", {"status": "resolved"}, content_type="application/json")
    assert resolved.json()["status"] == "resolved"
    bad = api.post(f"/api/care/conversations/{c.pk}/status", {"status": "pending"}, content_type="application/json")
    assert bad.status_code == 409 and bad.json()["code"] == "invalid_transition"
    detail = api.get(f"/api/care/conversations/{c.pk}").json()
    assert [e["kind"] for e in detail["events"]][:3] == ["created", "assigned", "reply_queued"]
    assert detail["customer"]["identities"][0]["handle"] == "client1"


def test_roles_and_workspaces_are_enforced(brand_source, agent, analyst, other_workspace):
    from tests.support import make_user

    c = _conv(brand_source)
    assert login(analyst).post(f"/api/care/conversations/{c.pk}/claim").status_code == 403
    assert login(analyst).get(f"/api/care/conversations/{c.pk}").status_code == 200
    assert login(agent).get("/api/care/replies/pending").status_code == 403
    assert login(agent).post("/api/care/incidents", {"title": "x", "query": "y"}, content_type="application/json").status_code == 403
    stranger = make_user(other_workspace, "stranger", "admin")
    assert login(stranger).get(f"/api/care/conversations/{c.pk}").status_code == 404
    assert login(stranger).post(f"/api/care/conversations/{c.pk}/claim").status_code == 404
    assert login(stranger).get("/api/care/conversations", {"queue": "all"}).json() == []
    from django.test import Client

    assert Client().get("/api/care/conversations").status_code == 401


def test_approval_flow_through_the_api(brand_source, agent, manager):
    from veille.care import actions

    actions.update_agent(brand_source.workspace, manager, agent.pk, approval_policy="all")
    c = _conv(brand_source)
    api = login(agent)
    held = api.post(f"/api/care/conversations/{c.pk}/replies", {"text": "Please restart the box."}, content_type="application/json").json()
    assert held["state"] == "awaiting_approval" and not OutboundAction.objects.exists()
    boss = login(manager)
    assert [r["id"] for r in boss.get("/api/care/replies/pending").json()] == [held["id"]]
    approved = boss.post(f"/api/care/replies/{held['id']}/approve", {"text": "Please restart your box, {customer_name}.", "note": "friendlier"},
                         content_type="application/json").json()
    assert approved["state"] == "queued" and approved["review_note"] == "friendlier"
    assert OutboundAction.objects.get().text == "Please restart your box, {customer_name}."
    again = boss.post(f"/api/care/replies/{held['id']}/approve", {}, content_type="application/json")
    assert again.status_code == 409 and OutboundAction.objects.count() == 1
    mine = api.get("/api/care/me/notifications").json()
    assert mine[0]["kind"] == "reply_approved" and "friendlier" in mine[0]["text"]


def test_configuration_endpoints(brand_source, manager):
    api = login(manager)
    team = api.post("/api/care/teams", {"name": "Deutsch", "languages": ["de"], "approval_policy": "flagged",
                                        "business_hours": {"timezone": "Europe/Zurich", "hours": {"0": [["09:00", "17:00"]]}}},
                    content_type="application/json")
    assert team.status_code == 201, team.content
    bad = api.post("/api/care/teams", {"name": "x", "business_hours": {"hours": {"9": [["a", "b"]]}}}, content_type="application/json")
    assert bad.status_code == 400
    dup = api.post("/api/care/teams", {"name": "Deutsch"}, content_type="application/json")
    assert dup.status_code == 409
    rule = api.post("/api/care/rules", {"name": "de", "conditions": {"language": ["de"]}, "set_team_id": team.json()["id"]},
                    content_type="application/json")
    assert rule.status_code == 201
    assert api.post("/api/care/rules", {"name": "x", "conditions": {"nope": 1}}, content_type="application/json").status_code == 400
    sla = api.put("/api/care/sla-policies", {"first_response_minutes": 30}, content_type="application/json")
    assert sla.status_code == 200 and sla.json()["first_response_minutes"] == 30
    canned = api.post("/api/care/canned", {"name": "hello", "text": "Hello {customer_name}, {agent_name} here"}, content_type="application/json")
    assert canned.status_code == 201
    macro = api.post("/api/care/macros", {"name": "billing", "steps": [{"do": "add_label", "value": "billing"}, {"do": "set_priority", "value": 2}]},
                     content_type="application/json")
    assert macro.status_code == 201, macro.content
    assert api.post("/api/care/macros", {"name": "bad", "steps": [{"do": "explode"}]}, content_type="application/json").status_code == 400
    c = _conv(brand_source)
    applied = api.post(f"/api/care/conversations/{c.pk}/macros/{macro.json()['id']}", content_type="application/json")
    assert applied.json()["done"] == ["add_label", "set_priority"]
    c.refresh_from_db()
    assert c.label_list() == ["billing"] and c.priority == 2
    rendered = api.get(f"/api/care/conversations/{c.pk}/canned/{canned.json()['id']}").json()
    assert rendered["text"] == "Hello Client1, cm1 here"
    settings = api.put("/api/care/settings", {"forbidden_words": ["gratuit"]}, content_type="application/json").json()
    assert settings["forbidden_words"] == ["gratuit"]
    assert api.put(f"/api/care/agents/{manager.pk}", {"capacity": 3, "team_id": team.json()["id"]}, content_type="application/json").json()["capacity"] == 3
    assert api.post("/api/care/me/presence", {"presence": "online"}, content_type="application/json").json() == {"presence": "online"}


def test_nul_bytes_and_huge_ids_are_refused_cleanly(brand_source, agent):
    c = _conv(brand_source)
    api = login(agent)
    assert api.get(f"/api/care/conversations/{2**70}").status_code in (404, 422)
    assert api.get(f"/api/care/conversations/{2**63 - 1}").status_code == 404
    note = api.post(f"/api/care/conversations/{c.pk}/notes", {"text": "a\x00b"}, content_type="application/json")
    assert note.status_code == 201 and "\x00" not in note.json()["text"]
    assert api.get("/api/care/conversations", {"q": "a\x00b", "queue": "all"}).status_code == 200


def test_customer_history_across_platforms(brand_source, workspace, agent):
    from veille.sources.models import Source

    mastodon = Source.objects.create(workspace=workspace, name="Alpina on Mastodon", platform="mastodon", account_handle="alpina")
    on_x = _conv(brand_source, handle="marie")
    on_mastodon = _conv(mastodon, handle="marie_m")
    assert on_x.customer_id != on_mastodon.customer_id
    api = login(agent)
    linked = api.post(f"/api/care/customers/{on_x.customer_id}/identities", {"author_id": on_mastodon.author_id},
                      content_type="application/json")
    assert linked.status_code == 200, linked.content
    body = linked.json()
    assert {(i["platform"], i["handle"]) for i in body["identities"]} == {("x", "marie"), ("mastodon", "marie_m")}
    assert {c["id"] for c in body["conversations"]} == {on_x.pk, on_mastodon.pk}
    page = login(agent).get(f"/care/c/{on_x.pk}/").content.decode()
    assert "Alpina on Mastodon" in page
    assert api.post(f"/api/care/customers/{on_x.customer_id}/identities", {"author_id": 10**12}, content_type="application/json").status_code == 400
