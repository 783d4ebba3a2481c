"""Two agents can never own one conversation: concurrent claims on real connections."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from tests.care.helpers import post, route
from tests.support import make_user
from veille.care import actions
from veille.care.models import Conversation, ConversationEvent

pytestmark = pytest.mark.django_db(transaction=True)


def _race(n_agents: int, target) -> list:
    barrier = threading.Barrier(n_agents)
    results: list = [None] * n_agents

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = target(index)
        except Exception as error:  # noqa: BLE001 - the test inspects every outcome
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n_agents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="real concurrent writers need PostgreSQL")
def test_concurrent_claims_have_exactly_one_winner(brand_source, workspace):
    agents = [make_user(workspace, f"racer{i}", "agent") for i in range(8)]
    route(*[post(brand_source, f"@alpina panne {i}", handle=f"c{i}") for i in range(5)])
    conversations = list(Conversation.objects.order_by("id"))
    for c in conversations:
        results = _race(len(agents), lambda i, c=c: actions.claim(c, agents[i]))
        winners = [r for r in results if isinstance(r, Conversation)]
        losers = [r for r in results if isinstance(r, actions.Conflict)]
        assert len(winners) == 1 and len(losers) == len(agents) - 1, results
        c.refresh_from_db()
        assert c.assignee_id == winners[0].assignee_id
        assert ConversationEvent.objects.filter(conversation=c, kind="assigned").count() == 1


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="real concurrent writers need PostgreSQL")
def test_claim_racing_manager_assignment_and_auto_assignment(brand_source, workspace, manager):
    from veille.care.models import AgentProfile, Presence

    agents = [make_user(workspace, f"racer{i}", "agent") for i in range(4)]
    for user in agents:
        AgentProfile.objects.create(workspace=workspace, user=user, presence=Presence.ONLINE, capacity=100)
    actions.update_settings(workspace, None, auto_assign=False)
    route(*[post(brand_source, f"@alpina panne {i}", handle=f"c{i}") for i in range(20)])

    def work(index: int):
        if index == 0:
            return actions.auto_assign(workspace.pk)
        if index == 1:
            done = 0
            for c in Conversation.objects.order_by("-id"):
                try:
                    actions.assign(c, manager, agents[0].pk, expected=None)
                    done += 1
                except actions.Conflict:
                    pass
            return done
        done = 0
        for c in Conversation.objects.order_by("id"):
            try:
                actions.claim(c, agents[index - 2])
                done += 1
            except actions.Conflict:
                pass
        return done

    results = _race(4, work)
    assert all(isinstance(r, int) for r in results), results
    assert Conversation.objects.filter(assignee__isnull=True).count() == 0
    # Every conversation was taken exactly once, by whoever the database let through first.
    events = list(ConversationEvent.objects.filter(kind="assigned").values_list("conversation_id", "detail"))
    assert len(events) == 20 and len({cid for cid, _ in events}) == 20
    owners = dict(Conversation.objects.values_list("id", "assignee_id"))
    assert all(owners[cid] == detail["to"] for cid, detail in events)


def test_claim_is_a_conditional_update_on_any_database(brand_source, agent, agent2):
    route(post(brand_source))
    c = Conversation.objects.get()
    stale = Conversation.objects.get(pk=c.pk)  # agent2's page still shows it unassigned
    actions.claim(c, agent)
    with pytest.raises(actions.Conflict):
        actions.claim(stale, agent2)
    assert Conversation.objects.get(pk=c.pk).assignee == agent
    assert connection.vendor in ("sqlite", "postgresql")


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="real concurrent writers need PostgreSQL")
def test_concurrent_send_to_care_opens_one_conversation(brand_source, workspace):
    people = [make_user(workspace, f"sender{i}", "agent") for i in range(6)]
    quiet = post(brand_source, "my box is slow", handle="quiet")
    results = _race(len(people), lambda i: actions.open_from_post(quiet, people[i]).pk)
    assert len(set(results)) == 1 and all(isinstance(r, int) for r in results), results
    conversation = Conversation.objects.get()
    assert conversation.pk == results[0]
    assert ConversationEvent.objects.filter(conversation=conversation, kind="sent_to_care").count() == 1
    assert ConversationEvent.objects.filter(conversation=conversation, kind="created").count() == 1
