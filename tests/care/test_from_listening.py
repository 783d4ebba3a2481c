"""Posts sent to the care desk by hand (listening columns, the thread page, the API): opened with
the routing rules of intake, joined to their thread's conversation, idempotent, recorded; roles
and workspaces enforced."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from tests.care.conftest import login
from tests.care.helpers import post, route
from tests.support import make_user
from veille.care import actions
from veille.care.models import (
    Conversation,
    ConversationEvent,
    ConversationPost,
    RoutingRule,
    Status,
    Team,
)
from veille.web.live import bus

pytestmark = pytest.mark.django_db


def _events(conversation: Conversation, kind: str) -> list[ConversationEvent]:
    return list(ConversationEvent.objects.filter(conversation=conversation, kind=kind).order_by("id"))


def test_a_post_nobody_routed_opens_a_conversation_with_the_routing_rules(brand_source, workspace, agent, manager):
    team = Team.objects.create(workspace=workspace, name="Hardware")
    RoutingRule.objects.create(workspace=workspace, name="boxes", conditions={"text_contains": ["box"]}, set_team=team,
                               set_priority=3, add_labels=["hardware"])
    quiet = post(brand_source, "my box is slow again", sentiment="neutral")
    assert route(quiet) == []  # no mention, no complaint: intake leaves it alone
    conversation = actions.open_from_post(quiet, agent)
    assert conversation.team_id == team.pk and conversation.priority == 3 and conversation.label_list() == ["hardware"]
    assert conversation.status == Status.NEW and conversation.author_id == quiet.author_id
    assert conversation.thread_key == f"t:{quiet.pk}:{quiet.author_id}" and conversation.customer_id is not None
    assert ConversationPost.objects.get(post=quiet).conversation_id == conversation.pk
    created = _events(conversation, "created")
    assert len(created) == 1 and created[0].actor_id == agent.pk and created[0].detail["how"] == "sent_to_care"
    sent = _events(conversation, "sent_to_care")
    assert [(e.actor_id, e.detail) for e in sent] == [(agent.pk, {"post": quiet.pk})]
    # Idempotent: pressing again (anyone) gives the same conversation and records nothing new.
    assert actions.open_from_post(quiet, manager).pk == conversation.pk
    assert actions.open_from_post(quiet, agent).pk == conversation.pk
    assert Conversation.objects.count() == 1 and len(_events(conversation, "sent_to_care")) == 1


def test_a_post_of_a_thread_joins_its_conversation_and_is_recorded_once(brand_source, agent, manager):
    root = post(brand_source, "@alpina my internet is down")
    route(root)
    conversation = Conversation.objects.get()
    follow_up = post(brand_source, "still nothing", reply_to=root)  # stored, not routed yet
    joined = actions.open_from_post(follow_up, manager)
    assert joined.pk == conversation.pk and Conversation.objects.count() == 1
    assert set(ConversationPost.objects.filter(conversation=conversation).values_list("post_id", flat=True)) == {root.pk, follow_up.pk}
    joined.refresh_from_db()
    assert joined.last_post_id == follow_up.pk and joined.preview == "still nothing"
    # The root was already in the conversation: sending it records who sent it, once.
    assert actions.open_from_post(root, agent).pk == conversation.pk
    assert actions.open_from_post(root, agent).pk == conversation.pk
    assert sorted(e.detail["post"] for e in _events(conversation, "sent_to_care")) == sorted([root.pk, follow_up.pk])


def test_an_older_post_joins_without_rewinding_the_conversation(brand_source, agent):
    root = post(brand_source, "@alpina help")
    first_reply = post(brand_source, "hello?", reply_to=root)
    route(root)
    latest = post(brand_source, "anyone there?", reply_to=root)
    route(latest)
    conversation = Conversation.objects.get()
    assert conversation.last_post_id == latest.pk
    actions.open_from_post(first_reply, agent)
    conversation.refresh_from_db()
    assert conversation.last_post_id == latest.pk and conversation.preview == "anyone there?"


def test_a_closed_conversation_stays_closed_and_a_new_one_opens(brand_source, agent):
    root = post(brand_source, "@alpina help")
    route(root)
    old = Conversation.objects.get()
    actions.set_status(old, agent, Status.CLOSED)
    later = post(brand_source, "it broke again", reply_to=root)
    fresh = actions.open_from_post(later, agent)
    assert fresh.pk != old.pk and fresh.status == Status.NEW
    old.refresh_from_db()
    assert old.status == Status.CLOSED


def test_the_brands_own_posts_cannot_be_sent(brand_source, agent):
    mine = post(brand_source, "We are on it", outbound=True)
    with pytest.raises(actions.CareError) as error:
        actions.open_from_post(mine, agent)
    assert error.value.code == "outbound_post" and not Conversation.objects.exists()


def test_sending_publishes_a_live_care_event(brand_source, workspace, agent, django_capture_on_commit_callbacks):
    quiet = post(brand_source, "my box is slow")
    before = bus.count(workspace.pk, ("care",))
    with django_capture_on_commit_callbacks(execute=True):
        actions.open_from_post(quiet, agent)
    assert bus.count(workspace.pk, ("care",)) > before


def test_api_from_post_roles_workspaces_and_idempotency(brand_source, workspace, agent, manager, analyst, other_workspace):
    quiet = post(brand_source, "my box is slow")
    url = "/api/care/conversations/from-post"
    body = {"post_id": quiet.pk}
    assert login(analyst).post(url, body, content_type="application/json").status_code == 403
    stranger = make_user(other_workspace, "stranger", "admin")
    assert login(stranger).post(url, body, content_type="application/json").status_code == 404
    assert not Conversation.objects.exists()
    first = login(agent).post(url, body, content_type="application/json")
    assert first.status_code == 200, first.content
    opened = first.json()
    assert opened["status"] == "new" and opened["customer_handle"] == "client1" and opened["preview"] == "my box is slow"
    again = login(manager).post(url, body, content_type="application/json")
    admin = make_user(workspace, "boss", "admin")
    third = login(admin).post(url, body, content_type="application/json")
    assert again.json()["id"] == third.json()["id"] == opened["id"] and Conversation.objects.count() == 1
    assert login(agent).post(url, {"post_id": 2**40}, content_type="application/json").status_code == 404
    mine = post(brand_source, "Our answer", outbound=True)
    refused = login(agent).post(url, {"post_id": mine.pk}, content_type="application/json")
    assert refused.status_code == 400 and refused.json()["code"] == "outbound_post"


def test_listening_button_answers_json_or_redirects_back(brand_source, agent, analyst, other_workspace):
    quiet = post(brand_source, "my box is slow")
    url = reverse("listening:send_to_care", args=[quiet.pk])
    client = login(agent)
    answer = client.post(url, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200
    data = answer.json()
    conversation = Conversation.objects.get()
    assert data == {"conversation_id": conversation.pk, "url": f"/care/c/{conversation.pk}/", "label": f"In care: #{conversation.pk}"}
    assert client.post(url, HTTP_ACCEPT="application/json").json()["conversation_id"] == conversation.pk
    # Without the script: back to the page it came from (never to another site).
    thread = reverse("thread", args=[quiet.pk])
    assert client.post(url, {"next": thread}).url == thread
    assert client.post(url, {"next": "https://evil.example/"}).url == reverse("listening:board")
    assert login(analyst).post(url, HTTP_ACCEPT="application/json").status_code == 403
    stranger = make_user(other_workspace, "stranger", "agent")
    assert login(stranger).post(url, HTTP_ACCEPT="application/json").status_code == 404
    mine = post(brand_source, "Our answer", outbound=True)
    refused = client.post(reverse("listening:send_to_care", args=[mine.pk]), HTTP_ACCEPT="application/json")
    assert refused.status_code == 400 and json.loads(refused.content)["code"] == "outbound_post"


def test_thread_page_offers_the_button_then_the_link(brand_source, agent, analyst):
    quiet = post(brand_source, "my box is slow")
    brand = post(brand_source, "We are on it", outbound=True, reply_to=quiet)
    page = login(agent).get(reverse("thread", args=[quiet.pk])).content.decode()
    assert reverse("listening:send_to_care", args=[quiet.pk]) in page
    assert reverse("listening:send_to_care", args=[brand.pk]) not in page  # the brand's own post
    assert "send_to_care.js" in page
    conversation = actions.open_from_post(quiet, agent)
    page = login(agent).get(reverse("thread", args=[quiet.pk])).content.decode()
    assert f'href="/care/c/{conversation.pk}/"' in page and f"In care: #{conversation.pk}" in page
    assert reverse("listening:send_to_care", args=[quiet.pk]) not in page
    assert "send-to-care" not in login(analyst).get(reverse("thread", args=[quiet.pk])).content.decode()
