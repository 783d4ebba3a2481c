"""Care pages: roles, hostile text escaped, forms, pinned query counts on hot paths."""

from __future__ import annotations

import pytest

from tests.care.conftest import login
from tests.care.helpers import post, route
from veille.care import actions
from veille.care.models import Conversation, Reply, Status

pytestmark = pytest.mark.django_db
HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)> "quoted" @alpina'


def test_hostile_text_is_escaped_everywhere(brand_source, agent, manager, workspace):
    actions.update_agent(workspace, manager, agent.pk, approval_policy="all")
    route(post(brand_source, HOSTILE, handle="<b>evil</b>"))
    c = Conversation.objects.get()
    actions.add_note(c, agent, HOSTILE)
    actions.send_reply(c, agent, HOSTILE.replace("@alpina", ""), acknowledge_warnings=True)
    for client, url in ((login(agent), "/care/?queue=all"), (login(agent), f"/care/c/{c.pk}/"), (login(manager), "/care/approvals/")):
        body = login(manager).get(url).content.decode() if client is None else client.get(url).content.decode()
        assert "<script>alert(1)" not in body and "<img src=x" not in body and "<b>evil</b>" not in body, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body, url


def test_pages_need_the_right_role(brand_source, agent, analyst):
    route(post(brand_source))
    c = Conversation.objects.get()
    assert login(agent).get("/care/approvals/").status_code == 403
    assert login(analyst).get("/care/").status_code == 200
    assert login(analyst).get("/care/sla/").status_code == 200
    assert login(analyst).post(f"/care/c/{c.pk}/claim/").status_code == 403
    from django.test import Client

    assert Client().get("/care/").status_code == 302


def test_agent_handles_a_conversation_with_forms(brand_source, agent, agent2):
    route(post(brand_source, "@alpina box is dead"))
    c = Conversation.objects.get()
    web = login(agent)
    assert web.post(f"/care/c/{c.pk}/claim/").status_code == 302
    assert login(agent2).post(f"/care/c/{c.pk}/claim/", follow=True).content.decode().count("Someone else already took") == 1
    warned = web.post(f"/care/c/{c.pk}/reply/", {"text": "CALL US AT 079 123 45 67 NOW"})
    assert warned.status_code == 409
    page = warned.content.decode()
    assert 'id="tone-warnings"' in page and 'data-code="all_caps"' in page and 'data-code="personal_data"' in page
    assert "CALL US AT 079 123 45 67 NOW</textarea>" in page  # the draft is kept
    assert web.post(f"/care/c/{c.pk}/reply/", {"text": "CALL US AT 079 123 45 67 NOW", "acknowledge": "1"}).status_code == 302
    assert Reply.objects.get().state == Reply.State.QUEUED
    web.post(f"/care/c/{c.pk}/note/", {"text": "@agent2 fyi"})
    web.post(f"/care/c/{c.pk}/change/", {"priority": "3", "add_label": "box, urgent", "team": "0"})
    web.post(f"/care/c/{c.pk}/status/", {"status": "pending"})
    c.refresh_from_db()
    assert c.status == Status.PENDING and c.priority == 3 and c.label_list() == ["box", "urgent"]
    web.post(f"/care/c/{c.pk}/status/", {"status": "snoozed", "snooze_hours": "2"})
    c.refresh_from_db()
    assert c.status == Status.SNOOZED and c.snooze_until is not None
    ping = web.post(f"/care/c/{c.pk}/presence/", "{\"typing\": true}", content_type="application/json")
    assert ping.json()["viewers"] == []
    assert login(agent2).post(f"/care/c/{c.pk}/presence/", "{}", content_type="application/json").json()["viewers"] == [
        {"username": "agent1", "typing": True}]
    moved = web.post(f"/care/c/{c.pk}/private/")
    assert moved.status_code == 302 and Conversation.objects.filter(is_private=True, linked=c).exists()


def test_manager_approves_and_rejects_on_the_page(brand_source, agent, manager, workspace):
    actions.update_agent(workspace, manager, agent.pk, approval_policy="all")
    route(post(brand_source, "@alpina 1", handle="a"), post(brand_source, "@alpina 2", handle="b"))
    first, second = Conversation.objects.order_by("id")
    r1 = actions.send_reply(first, agent, "Hello one")
    r2 = actions.send_reply(second, agent, "Hello two")
    boss = login(manager)
    assert "Hello one" in boss.get("/care/approvals/").content.decode()
    boss.post(f"/care/replies/{r1.pk}/approve/", {"text": "Hello one, edited", "note": "shorter is better"})
    boss.post(f"/care/replies/{r2.pk}/reject/", {"note": "wrong customer"})
    r1.refresh_from_db()
    r2.refresh_from_db()
    assert r1.state == Reply.State.QUEUED and r1.text == "Hello one, edited" and r1.original_text == "Hello one"
    assert r2.state == Reply.State.REJECTED
    agent_view = login(agent).get(f"/care/c/{second.pk}/").content.decode()
    assert "wrong customer" in agent_view


def test_queue_and_conversation_pages_pin_their_query_count(brand_source, agent, django_assert_max_num_queries):
    route(*[post(brand_source, f"@alpina panne {i}", handle=f"c{i}") for i in range(3)])
    web = login(agent)
    web.get("/care/?queue=all")
    with django_assert_max_num_queries(12):
        assert web.get("/care/?queue=all").status_code == 200
    route(*[post(brand_source, f"@alpina panne {i}", handle=f"d{i}") for i in range(40)])
    with django_assert_max_num_queries(12):
        assert web.get("/care/?queue=all").content.decode().count('class="conv-row') == 43
    c = Conversation.objects.order_by("id").first()
    actions.add_note(c, agent, "a")
    actions.send_reply(c, agent, "b")
    web.get(f"/care/c/{c.pk}/")
    with django_assert_max_num_queries(22):
        assert web.get(f"/care/c/{c.pk}/").status_code == 200
    with django_assert_max_num_queries(8):
        assert web.get("/api/care/conversations", {"queue": "all", "limit": 50}).status_code == 200


def test_mentions_show_on_the_queue_page_until_read(brand_source, agent, agent2):
    route(post(brand_source, "@alpina help"))
    c = Conversation.objects.get()
    actions.add_note(c, agent, "@agent2 <b>look</b>")
    page = login(agent2).get("/care/").content.decode()
    assert 'id="notifications"' in page and f"/care/c/{c.pk}/" in page
    web = login(agent2)
    assert web.post("/care/notifications/read/").status_code == 302
    assert 'id="notifications"' not in web.get("/care/").content.decode()
    ping = web.post(f"/care/c/{c.pk}/presence/", "{}", content_type="application/json").json()
    assert ping["version"]


def test_templates_have_no_inline_script_or_style():
    import re
    from pathlib import Path

    import veille.care

    root = Path(veille.care.__file__).parent / "templates" / "care"
    for template in root.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", text), template.name


def test_form_garbage_never_breaks_a_page(brand_source, agent, manager):
    route(post(brand_source))
    c = Conversation.objects.get()
    web, boss = login(agent), login(manager)
    bad = [
        (web, f"/care/c/{c.pk}/status/", {"status": "snoozed", "snooze_hours": str(10**30)}),
        (web, f"/care/c/{c.pk}/status/", {"status": "snoozed", "snooze_until": "2026-13-45T99:00"}),
        (web, f"/care/c/{c.pk}/status/", {"status": "nonsense"}),
        (web, f"/care/c/{c.pk}/change/", {"priority": "99", "team": "abc", "add_label": "x" * 5000}),
        (web, f"/care/c/{c.pk}/assign/", {"user_id": str(2**80)}),
        (web, f"/care/c/{c.pk}/reply/", {"text": ""}),
        (web, f"/care/c/{c.pk}/note/", {"text": "\x00"}),
        (web, f"/care/c/{c.pk}/macro/", {"macro_id": "-1"}),
        (web, f"/care/c/{10**30}/", {}),
        (boss, "/care/replies/999999/approve/", {}),
        (boss, "/care/incidents/", {"title": "", "query": ""}),
        (boss, "/care/incidents/999/end/", {}),
        (web, "/care/presence/", {"presence": "asleep"}),
    ]
    for client, url, data in bad:
        response = client.post(url, data) if data or url.endswith("/") and "c/1" not in url else client.get(url)
        assert response.status_code < 500, (url, data, response.status_code)
    assert web.get("/care/?queue=zzz&status=zzz&team=abc&q=%00").status_code == 200
    assert web.get("/care/sla/?group=zzz").status_code == 200


def test_queue_refresh_answers_304_when_nothing_changed(brand_source, agent):
    route(post(brand_source))
    web = login(agent)
    first = web.get("/care/?queue=all&partial=1")
    assert first.status_code == 200 and first["ETag"]
    again = web.get("/care/?queue=all&partial=1", headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 304
    actions.set_priority(Conversation.objects.get(), agent, 3)
    changed = web.get("/care/?queue=all&partial=1", headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
