"""Pages through Django's test client: access rules, scoping, escaping, live events."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.support import ingest, make_post, make_user
from veille.ingest.models import Post

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery"


def logged_in(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_pages_need_login(client):
    for url in ["/stream/", "/search/?q=x", "/stream/events/", "/dead-letter/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_user_without_workspace_is_refused(db):
    from veille.accounts.models import User

    User.objects.create_user(username="nobody", password=PASSWORD)
    client = Client()
    client.login(username="nobody", password=PASSWORD)
    assert client.get("/stream/").status_code == 403


def test_stream_shows_posts_escaped(source, agent):
    ingest(source, [make_post("h1", text="<script>alert(1)</script> & <b>gras</b>", author="<img src=x>")])
    response = logged_in(agent).get("/stream/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;gras&lt;/b&gt;" in body
    assert "<script>alert(1)" not in body
    assert "<img src=x>" not in body
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_workspace_scoping_of_stream_search_and_thread(source, agent, other_workspace):
    from veille.sources.models import Source

    other_source = Source.objects.create(workspace=other_workspace, name="Theirs", platform="import")
    ingest(other_source, [make_post("secret", text="confidentiel concurrent")])
    ingest(source, [make_post("mine", text="notre réseau")])
    client = logged_in(agent)
    assert "confidentiel" not in client.get("/stream/").content.decode()
    assert "<article" not in client.get("/search/?q=confidentiel").content.decode()
    secret = Post.objects.get(external_id="secret")
    assert client.get(f"/posts/{secret.id}/thread/").status_code == 404
    mine = Post.objects.get(external_id="mine")
    assert client.get(f"/posts/{mine.id}/thread/").status_code == 200


def test_thread_page_lists_the_chain(source, agent):
    ingest(source, [make_post("t1", text="Question"), make_post("t2", text="Réponse", reply_to="t1", minutes=1, outbound=True)])
    t2 = Post.objects.get(external_id="t2")
    body = logged_in(agent).get(f"/posts/{t2.id}/thread/").content.decode()
    assert "Question" in body and "Réponse" in body


def test_dead_letter_page_is_for_managers_only(source, agent, manager):
    bad = make_post("dl1")
    bad["created_at"] = "not a date"
    ingest(source, [bad])
    assert logged_in(agent).get("/dead-letter/").status_code == 403
    body = logged_in(manager).get("/dead-letter/").content.decode()
    assert "not a date" in body


def test_analyst_can_read_but_not_manage(workspace, source):
    analyst = make_user(workspace, "ana", "analyst")
    client = logged_in(analyst)
    assert client.get("/stream/").status_code == 200
    assert client.get("/dead-letter/").status_code == 403


def test_stream_events_sends_new_posts_after_the_given_id(source, agent):
    ingest(source, [make_post("e1", text="premier")])
    first = Post.objects.get(external_id="e1")
    ingest(source, [make_post("e2", text="deuxième <b>nouveau</b>")])
    response = logged_in(agent).get(f"/stream/events/?after={first.id}")
    assert response["Content-Type"].startswith("text/event-stream")
    chunks = iter(response.streaming_content)
    received = ""
    for chunk in chunks:
        received += chunk.decode() if isinstance(chunk, bytes) else chunk
        if "event: post" in received:
            break
    response.close()
    import json

    events = [json.loads(line[len("data: "):]) for line in received.splitlines() if line.startswith("data: ")]
    assert len(events) == 1
    assert "deuxième &lt;b&gt;nouveau&lt;/b&gt;" in events[0]["html"]
    assert "premier" not in events[0]["html"]


def test_csrf_is_enforced_on_login():
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "a", "password": "b"})
    assert response.status_code == 403


def test_login_is_throttled_after_repeated_failures(agent, settings):
    settings.VEILLE_LOGIN_MAX_FAILURES = 3
    client = Client()
    for _ in range(3):
        assert client.post("/login/", {"username": "agent1", "password": "wrong"}).status_code == 200
    # Even the right password is refused while the account is throttled.
    response = client.post("/login/", {"username": "agent1", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_first_admin_must_change_the_one_time_password(workspace):
    from veille.accounts.actions import ensure_first_admin

    password = ensure_first_admin(workspace)
    assert password and ensure_first_admin(workspace) is None
    client = Client()
    response = client.post("/login/", {"username": "admin", "password": password})
    assert response.status_code == 302 and response["Location"] == "/password/"
    assert client.get("/stream/")["Location"] == "/password/"
    response = client.post("/password/", {"old_password": password, "new_password1": "Une-phrase-longue-42", "new_password2": "Une-phrase-longue-42"})
    assert response.status_code == 302
    assert client.get("/stream/").status_code == 200


def test_french_is_the_default_language(agent):
    body = logged_in(agent).get("/stream/").content.decode()
    assert "Flux en direct" in body
