"""Assignment, status, notes, replies and the outbox, approvals, macros, private messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.care.helpers import post, route
from tests.support import make_user
from veille.care import actions
from veille.care.models import (
    AgentProfile,
    Conversation,
    ConversationEvent,
    Notification,
    Presence,
    Reply,
    Status,
    Team,
)
from veille.sources.models import OutboundAction

pytestmark = pytest.mark.django_db


def _conv(source, handle="client1", text="@alpina no network", **kw):
    route(post(source, text, handle=handle, **kw))
    return Conversation.objects.order_by("-id").first()


def test_claim_is_exclusive_and_assign_is_conditional(brand_source, agent, agent2, manager):
    c = _conv(brand_source)
    actions.claim(c, agent)
    with pytest.raises(actions.Conflict):
        actions.claim(c, agent2)
    actions.claim(c, agent)  # claiming what you already own is fine
    with pytest.raises(actions.Conflict):
        actions.assign(c, manager, agent2.pk, expected=None)  # the manager saw it unassigned: stale
    actions.assign(c, manager, agent2.pk, expected=agent.pk)
    c.refresh_from_db()
    assert c.assignee == agent2
    assert Notification.objects.filter(user=agent2, kind="assigned").exists()
    with pytest.raises(actions.CareError):
        actions.assign(c, manager, 999999)


def test_auto_assign_picks_least_loaded_eligible_online_agent(brand_source, workspace, agent, agent2,
                                                               django_capture_on_commit_callbacks):
    fr_team = Team.objects.create(workspace=workspace, name="FR", languages=["fr"])
    third = make_user(workspace, "agent3", "agent")
    AgentProfile.objects.create(workspace=workspace, user=agent, team=fr_team, capacity=2, presence=Presence.ONLINE)
    AgentProfile.objects.create(workspace=workspace, user=agent2, team=fr_team, capacity=5, presence=Presence.AWAY)
    AgentProfile.objects.create(workspace=workspace, user=third, team=None, languages=["de"], capacity=5, presence=Presence.ONLINE)
    route(*[post(brand_source, f"@alpina panne {i}", handle=f"c{i}", language="fr") for i in range(3)])
    Conversation.objects.update(team=fr_team)
    assigned = actions.auto_assign(workspace.pk)
    # agent (online, FR team) takes 2 up to capacity; agent2 is away; agent3 is not in the team.
    assert assigned == 2
    assert Conversation.objects.filter(assignee=agent).count() == 2
    assert Conversation.objects.filter(assignee__isnull=True).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        route(post(brand_source, "@alpina Netz weg", handle="de1", language="de"))
    de = Conversation.objects.get(author__handle="de1")
    assert de.assignee == third  # assigned right after routing commits
    assert de.status == Status.OPEN


def test_reassign_stale_hands_on_unanswered_conversations(brand_source, workspace, agent, agent2):
    actions.update_settings(workspace, None, auto_assign=True)
    AgentProfile.objects.create(workspace=workspace, user=agent, presence=Presence.ONLINE)
    AgentProfile.objects.create(workspace=workspace, user=agent2, presence=Presence.ONLINE)
    actions.update_settings(workspace, None, reassign_after_minutes=10)
    c = _conv(brand_source)
    answered = _conv(brand_source, handle="other")
    actions.auto_assign(workspace.pk)
    c.refresh_from_db()
    first = c.assignee_id
    assert first in (agent.pk, agent2.pk)
    answered.refresh_from_db()
    actions.send_reply(answered, answered.assignee, "On it")
    moved = actions.reassign_stale(timezone.now() + timedelta(minutes=11))
    assert moved == 1
    c.refresh_from_db()
    assert c.assignee_id not in (None, first)
    assert ConversationEvent.objects.filter(conversation=c, kind="unassigned", detail__how="stale").exists()
    assert Notification.objects.filter(user_id=first, kind="reassigned").exists()


def test_status_lifecycle_and_snooze_wakes_up(brand_source, agent):
    c = _conv(brand_source)
    with pytest.raises(actions.CareError):
        actions.set_status(c, agent, Status.SNOOZED)  # needs a time
    actions.set_status(c, agent, Status.SNOOZED, snooze_until=timezone.now() + timedelta(hours=1))
    assert actions.check_sla(timezone.now() + timedelta(hours=2))["woken"] == 1
    c.refresh_from_db()
    assert c.status == Status.OPEN
    actions.set_status(c, agent, Status.CLOSED)
    with pytest.raises(actions.Conflict):
        actions.set_status(c, agent, Status.OPEN)
    with pytest.raises(actions.Conflict):
        actions.send_reply(c, agent, "too late")


def test_note_mentions_notify_colleagues(brand_source, agent, agent2, manager):
    c = _conv(brand_source)
    note = actions.add_note(c, agent, "@Agent2 can you check? cc @cm1 and @nobody, mail x@agent2.ch")
    assert sorted(note.mentions) == sorted([agent2.pk, manager.pk])
    assert Notification.objects.filter(kind="mention").count() == 2
    assert not Notification.objects.filter(user=agent).exists()


def test_reply_and_outbox_row_commit_together_and_never_twice(brand_source, agent):
    c = _conv(brand_source)
    with pytest.raises(RuntimeError), transaction.atomic():
        actions.send_reply(c, agent, "First try")
        raise RuntimeError("crash before commit")
    assert not Reply.objects.exists() and not OutboundAction.objects.exists()
    reply = actions.send_reply(c, agent, "Second try")
    from veille.sources.actions import request_action

    # A retry of the same request (same key) never makes a second outbound action.
    again = request_action(brand_source, agent, kind="reply", idempotency_key=reply.idempotency_key, text="Second try")
    assert again.pk == reply.outbound_id and OutboundAction.objects.count() == 1
    # The outbox sends it (the fake X connector stands in for the platform); the result is copied back.
    OutboundAction.objects.filter(pk=reply.outbound_id).update(status="sent", result_external_id="x-999", sent_at=timezone.now())
    assert actions.sync_reply_results() == 1
    assert actions.sync_reply_results() == 0
    reply.refresh_from_db()
    assert reply.state == Reply.State.SENT and reply.result_external_id == "x-999"
    c.refresh_from_db()
    assert c.first_reply_at is not None and c.waiting_since is None


def test_failed_sends_are_reported_to_the_agent(brand_source, agent):
    c = _conv(brand_source)
    reply = actions.send_reply(c, agent, "Hello")
    OutboundAction.objects.filter(pk=reply.outbound_id).update(status="failed", error="HTTP 403")
    actions.sync_reply_results()
    reply.refresh_from_db()
    assert reply.state == Reply.State.FAILED and "403" in reply.error
    assert Notification.objects.filter(user=agent, kind="reply_failed").exists()


@pytest.mark.parametrize("policy,first_n,warned,held", [
    ("all", 0, False, True), ("flagged", 0, False, False), ("flagged", 0, True, True), ("first_n", 1, False, True), ("none", 0, True, False),
])
def test_approval_policies(brand_source, workspace, agent, policy, first_n, warned, held):
    team = Team.objects.create(workspace=workspace, name="T", approval_policy=policy, approval_first_n=first_n)
    AgentProfile.objects.create(workspace=workspace, user=agent, team=team)
    c = _conv(brand_source)
    text = "CALL US NOW PLEASE" if warned else "Call us please"
    reply = actions.send_reply(c, agent, text, acknowledge_warnings=True)
    assert (reply.state == Reply.State.AWAITING_APPROVAL) is held
    assert OutboundAction.objects.exists() is (not held)


def test_first_n_replies_of_a_new_agent_then_free(brand_source, workspace, agent, manager):
    actions.update_agent(workspace, manager, agent.pk, approval_policy="first_n", approval_first_n=1)
    c = _conv(brand_source)
    first = actions.send_reply(c, agent, "one")
    assert first.state == Reply.State.AWAITING_APPROVAL
    actions.reject_reply(first, manager, note="Say hello first")
    second = actions.send_reply(c, agent, "Hello, two")
    actions.approve_reply(second, manager)
    third = actions.send_reply(c, agent, "three")
    assert third.state == Reply.State.QUEUED
    assert Notification.objects.filter(user=agent, kind="reply_rejected", text__contains="Say hello first").exists()
    with pytest.raises(actions.CareError):
        actions.reject_reply(third, manager, note="")


def test_manager_replies_never_wait(brand_source, workspace, manager):
    Team.objects.create(workspace=workspace, name="T", approval_policy="all")
    c = _conv(brand_source)
    assert actions.send_reply(c, manager, "hi").state == Reply.State.QUEUED


def test_move_to_private_links_the_dm_conversation(brand_source, workspace, agent):
    c = _conv(brand_source)
    actions.update_settings(workspace, None, dm_invite_template="Hi {customer_handle}, please DM us (ref {conversation_id}).")
    reply, private = actions.move_to_private(c, agent)
    assert reply.text == f"Hi @client1, please DM us (ref {c.pk})." and reply.kind == "reply" and reply.purpose == "dm_invite"
    c.refresh_from_db()
    assert c.linked_id == private.pk and private.linked_id == c.pk and private.is_private
    # The customer's DM joins the linked private conversation.
    route(post(brand_source, "here is my contract number", kind="dm"))
    assert Conversation.objects.filter(is_private=True).count() == 1
    private.refresh_from_db()
    assert private.status == Status.OPEN and private.memberships.count() == 1
    dm_reply = actions.send_reply(private, agent, "Thanks, fixed. Write to support@alpina.ch")  # personal data is fine in private
    assert dm_reply.kind == "dm" and OutboundAction.objects.get(pk=dm_reply.outbound_id).recipient_external_id == "u-client1"


def test_viewers_and_typing(brand_source, agent, agent2):
    c = _conv(brand_source)
    assert actions.ping(c, agent) == []
    assert actions.ping(c, agent2, typing=True) == [{"username": "agent1", "typing": False}]
    assert actions.ping(c, agent) == [{"username": "agent2", "typing": True}]
    assert actions.viewers(c, agent, timezone.now() + timedelta(seconds=10)) == [{"username": "agent2", "typing": False}]
    assert actions.viewers(c, agent, timezone.now() + timedelta(minutes=5)) == []


def test_scheduled_auto_assignment_skips_workspaces_that_turned_it_off(brand_source, workspace, agent, other_workspace):
    route(post(brand_source, "@alpina a", handle="a"))
    AgentProfile.objects.create(workspace=workspace, user=agent, presence=Presence.ONLINE)
    actions.update_settings(workspace, None, auto_assign=False)
    assert actions.auto_assign_waiting() == 0
    actions.update_settings(workspace, None, auto_assign=True)
    assert actions.auto_assign_waiting() == 1
    assert Conversation.objects.get().assignee == agent


def test_idle_online_agents_become_away(workspace, agent, agent2):
    actions.set_presence(workspace, agent, "online")
    actions.set_presence(workspace, agent2, "online")
    actions.seen(workspace.pk, agent2, timezone.now() + timedelta(minutes=9))
    assert actions.expire_presence(timezone.now() + timedelta(minutes=11)) == 1
    assert AgentProfile.objects.get(user=agent).presence == Presence.AWAY
    assert AgentProfile.objects.get(user=agent2).presence == Presence.ONLINE
