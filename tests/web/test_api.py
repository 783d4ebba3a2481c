"""The HTTP API: authentication, workspace scoping, shapes."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.support import ingest, make_post
from veille.ingest.models import Post

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery"


def test_api_needs_a_signed_in_member(client, source):
    assert client.get("/api/posts/").status_code == 401


def test_api_lists_searches_and_threads_only_own_workspace(source, agent, other_workspace):
    from veille.sources.models import Source

    theirs = Source.objects.create(workspace=other_workspace, name="Theirs", platform="import")
    ingest(theirs, [make_post("o1", text="facture secrète")])
    ingest(source, [make_post("m1", text="Ma facture est fausse"), make_post("m2", text="Nous regardons", reply_to="m1", outbound=True, minutes=1)])
    client = Client()
    client.login(username="agent1", password=PASSWORD)
    listed = client.get("/api/posts/").json()
    assert [post["external_id"] for post in listed] == ["m2", "m1"]
    found = client.get("/api/posts/", {"q": "FACTURE"}).json()
    assert [post["external_id"] for post in found] == ["m1"]
    m2 = Post.objects.get(external_id="m2")
    thread = client.get(f"/api/posts/{m2.id}/thread").json()
    assert [post["external_id"] for post in thread] == ["m1", "m2"]
    other = Post.objects.get(external_id="o1")
    assert client.get(f"/api/posts/{other.id}").status_code == 404
    assert client.get(f"/api/posts/{other.id}/thread").status_code == 404


def test_openapi_spec_is_served(agent):
    client = Client()
    client.login(username="agent1", password=PASSWORD)
    spec = client.get("/api/openapi.json").json()
    assert "/api/posts/" in spec["paths"]
