"""Which posts need care, how they open or join conversations, rules, customers."""

from __future__ import annotations

import pytest

from tests.care.helpers import post, route
from veille.care.models import Conversation, ConversationEvent, RoutingRule, Status, Team

pytestmark = pytest.mark.django_db


def test_mention_dm_and_reply_to_brand_open_conversations_others_do_not(brand_source):
    mention = post(brand_source, "Hello @Alpina my bill is wrong")
    other = post(brand_source, "What a nice day", handle="bystander")
    email_like = post(brand_source, "write to me@alpina.ch", handle="mailer")
    dm = post(brand_source, "private question", handle="dmuser", kind="dm")
    brand = post(brand_source, "Our new offer", outbound=True)
    answer = post(brand_source, "Does it include TV?", handle="fan", reply_to=brand)
    complaint = post(brand_source, "network down again", handle="angry", complaint=0.95)
    route(mention, other, email_like, dm, brand, answer, complaint)
    opened = {c.author.handle: c for c in Conversation.objects.select_related("author")}
    assert set(opened) == {"client1", "dmuser", "fan", "angry"}
    assert opened["dmuser"].is_private and opened["dmuser"].thread_key.startswith("dm:")
    assert opened["client1"].status == Status.NEW and opened["client1"].waiting_since is not None
    assert ConversationEvent.objects.filter(kind="created").count() == 4
    assert opened["client1"].customer_id is not None


def test_replies_join_the_thread_and_reopen_a_resolved_conversation(brand_source, agent):
    from veille.care import actions

    first = post(brand_source, "@alpina internet down")
    route(first)
    conversation = Conversation.objects.get()
    actions.claim(conversation, agent)
    actions.send_reply(conversation, agent, "We are looking into it.")
    actions.set_status(conversation, agent, Status.RESOLVED)
    follow = post(brand_source, "still down!", reply_to=first)
    route(follow)
    conversation.refresh_from_db()
    assert Conversation.objects.count() == 1
    assert conversation.status == Status.OPEN and conversation.resolved_at is None
    assert conversation.waiting_since is not None and conversation.memberships.count() == 2
    assert ConversationEvent.objects.filter(conversation=conversation, kind="reopened").exists()


def test_several_posts_joining_one_conversation_in_one_batch_are_applied_in_order(brand_source, agent):
    from veille.care import actions
    from veille.care.models import SlaPolicy
    from veille.ingest.models import Post

    SlaPolicy.objects.create(workspace=brand_source.workspace, name="default", first_response_minutes=30, next_response_minutes=20)
    first = post(brand_source, "@alpina internet down")
    route(first)
    conversation = Conversation.objects.get()
    actions.claim(conversation, agent)
    actions.send_reply(conversation, agent, "We are looking into it.")
    actions.set_status(conversation, agent, Status.PENDING)
    Conversation.objects.filter(pk=conversation.pk).update(sla_marks=",nr_warn,nr_breach,fr_warn,")
    # One batch: the customer again, the brand answering on the platform, the customer once more.
    again = post(brand_source, "still down!", reply_to=first)
    brand = post(brand_source, "A technician is on the way", reply_to=again, outbound=True)
    last = post(brand_source, "thanks, waiting", reply_to=brand)
    route(again, brand, last)
    conversation.refresh_from_db()
    assert conversation.memberships.count() == 4
    assert conversation.status == Status.OPEN
    assert conversation.last_post_id == last.id and conversation.preview == "thanks, waiting"
    assert conversation.last_reply_at is not None
    # The last customer post is unanswered again: a new wait with a next-response due time, and
    # the next-response marks of the previous wait are cleared (others stay).
    assert conversation.waiting_since == Post.objects.get(pk=last.id).created_at
    assert conversation.next_response_due is not None
    assert conversation.sla_marks == ",fr_warn,"
    kinds = list(ConversationEvent.objects.filter(conversation=conversation).order_by("id").values_list("kind", "detail"))
    assert [k for k, _ in kinds].count("reopened") == 1
    assert [d["post"] for k, d in kinds if k == "customer_post"] == [again.id, last.id]


def test_closed_conversation_is_not_reopened_a_new_one_starts(brand_source, agent):
    from veille.care import actions

    first = post(brand_source, "@alpina help", kind="dm")
    route(first)
    conversation = Conversation.objects.get()
    actions.set_status(conversation, agent, Status.CLOSED)
    route(post(brand_source, "hello again", kind="dm"))
    assert Conversation.objects.count() == 2
    assert Conversation.objects.get(pk=conversation.pk).status == Status.CLOSED


def test_rules_set_team_priority_and_labels(brand_source, workspace):
    team = Team.objects.create(workspace=workspace, name="Billing", languages=["de"])
    RoutingRule.objects.create(workspace=workspace, name="bills", conditions={"text_contains": ["rechnung"], "language": ["de"]},
                               set_team=team, set_priority=3, add_labels=["billing", "Wichtig Sehr"])
    RoutingRule.objects.create(workspace=workspace, name="vip", conditions={"author_handles": ["@vip"], "labels": ["billing"]},
                               add_labels=["vip"])
    route(post(brand_source, "@alpina Rechnung falsch", handle="vip", language="de"),
          post(brand_source, "@alpina facture fausse", handle="other", language="fr"))
    de = Conversation.objects.get(author__handle="vip")
    fr = Conversation.objects.get(author__handle="other")
    assert de.team == team and de.priority == 3 and de.label_list() == ["billing", "wichtig-sehr", "vip"]
    assert fr.team is None and fr.label_list() == []


def test_routing_query_count_does_not_grow_with_the_batch(brand_source, django_assert_max_num_queries):
    small = [post(brand_source, f"@alpina panne {i}", handle=f"s{i}") for i in range(3)]
    with django_assert_max_num_queries(20):
        route(*small)
    big = [post(brand_source, f"@alpina panne {i}", handle=f"b{i}") for i in range(60)]
    with django_assert_max_num_queries(20):
        route(*big)
    assert Conversation.objects.count() == 63


def test_each_customer_answering_a_brand_post_gets_their_own_conversation(brand_source):
    announcement = post(brand_source, "Maintenance tonight", outbound=True)
    anna = post(brand_source, "Again?!", handle="anna", reply_to=announcement)
    ben = post(brand_source, "How long?", handle="ben", reply_to=announcement)
    route(announcement, anna, ben)
    answer_to_ben = post(brand_source, "About two hours, Ben", outbound=True, reply_to=ben)
    ben_again = post(brand_source, "thanks", handle="ben", reply_to=answer_to_ben)
    route(answer_to_ben, ben_again)
    conversations = {c.author.handle: c for c in Conversation.objects.select_related("author")}
    assert set(conversations) == {"anna", "ben"}
    assert conversations["anna"].memberships.count() == 1
    assert conversations["ben"].memberships.count() == 3
    assert conversations["ben"].first_reply_at is not None and conversations["anna"].first_reply_at is None
