"""Agents correct a post's sentiment or complaint flag: stored with who and when, shown in the
post's history, scoped to the workspace, and turned into training examples."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.support import ingest, make_post, make_user
from veille.ingest.models import Post
from veille.nlp.corrections import load_training_examples
from veille.nlp.models import Correction

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery"


def client_for(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_agent_corrects_through_the_page_and_history_shows_it(source, agent):
    ingest(source, [make_post("c1", text="Super, encore une panne")])
    # Sarcasm the model misread (whatever it says today, start from a wrong verdict).
    Post.objects.filter(external_id="c1").update(sentiment="positive", complaint=0.1)
    post = Post.objects.get(external_id="c1")
    client = client_for(agent)
    response = client.post(f"/posts/{post.id}/correct/", {"sentiment": "negative", "complaint": "1"})
    assert response.status_code == 302
    post.refresh_from_db()
    assert post.sentiment == "negative" and post.complaint == 1.0
    corrections = list(Correction.objects.filter(post=post))
    assert {c.field for c in corrections} == {"sentiment", "complaint"}
    assert all(c.corrected_by == agent for c in corrections)
    page = client.get(f"/posts/{post.id}/thread/").content.decode()
    assert "agent1" in page and "negative" in page


def test_api_correction_validates_values_and_is_scoped(source, agent, other_workspace):
    from veille.sources.models import Source

    ingest(source, [make_post("c2", text="Merci pour votre aide")])
    theirs = Source.objects.create(workspace=other_workspace, name="Theirs", platform="import")
    ingest(theirs, [make_post("c3", text="autre")])
    client = client_for(agent)
    mine, other = Post.objects.get(external_id="c2"), Post.objects.get(external_id="c3")
    url = f"/api/nlp/posts/{mine.id}/corrections"
    bad = client.post(url, {"field": "sentiment", "value": "furious"}, content_type="application/json")
    assert bad.status_code == 400 and "negative" in bad.json()["detail"]
    good = client.post(url, {"field": "sentiment", "value": "positive"}, content_type="application/json")
    assert good.status_code == 201 and good.json()["new_value"] == "positive"
    assert client.get(url).json()[0]["corrected_by"] == "agent1"
    denied = client.post(f"/api/nlp/posts/{other.id}/corrections", {"field": "sentiment", "value": "positive"},
                         content_type="application/json")
    assert denied.status_code == 404


def test_analysts_cannot_correct(source, workspace):
    analyst = make_user(workspace, "ana", "analyst")
    ingest(source, [make_post("c4")])
    post = Post.objects.get(external_id="c4")
    client = client_for(analyst)
    assert client.post(f"/posts/{post.id}/correct/", {"sentiment": "negative"}).status_code == 403
    assert client.post(f"/api/nlp/posts/{post.id}/corrections", {"field": "sentiment", "value": "negative"},
                       content_type="application/json").status_code == 403
    assert not Correction.objects.exists()


def test_latest_corrections_become_training_examples(source, agent, manager):
    from veille.nlp.actions import correct_post

    ingest(source, [make_post("c5", text="Le réseau est tombé"), make_post("c6", text="Bravo l'équipe")])
    first, second = Post.objects.get(external_id="c5"), Post.objects.get(external_id="c6")
    correct_post(first, agent, "sentiment", "neutral")
    correct_post(first, manager, "sentiment", "negative")  # the latest verdict wins
    correct_post(first, agent, "complaint", "1")
    correct_post(second, agent, "complaint", "0")
    examples = load_training_examples("alpina")
    assert examples["sentiment"] == [("Le réseau est tombé", 0)]
    assert sorted(examples["complaint"]) == [("Bravo l'équipe", 0), ("Le réseau est tombé", 1)]
    assert load_training_examples("concurrent") == {"sentiment": [], "complaint": []}
