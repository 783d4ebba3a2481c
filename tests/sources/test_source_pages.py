"""Source pages: who may manage sources, credentials encrypted and kept, health shown."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.support import make_user
from veille.sources import actions
from veille.sources.models import Source, SourceStatus

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery"


def client_for(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_agents_and_analysts_cannot_manage_sources(workspace, agent):
    analyst = make_user(workspace, "ana", "analyst")
    for user in (agent, analyst):
        client = client_for(user)
        assert client.get("/sources/").status_code == 403
        assert client.post("/sources/new/", {"name": "x", "platform": "rss"}).status_code == 403


def test_manager_adds_a_source_with_encrypted_credentials(manager):
    client = client_for(manager)
    response = client.post("/sources/new/", {
        "name": "Mastodon brand", "platform": "mastodon", "account_handle": "@brand@mastodon.social",
        "follow": "notifications\nhashtag:alpina", "poll_interval_s": "30", "advanced": "",
        "credential_access_token": "s3cret-token",
    })
    assert response.status_code == 302
    source = Source.objects.get(name="Mastodon brand")
    assert source.settings["follow"] == ["notifications", "hashtag:alpina"]
    assert source.settings["account"] == "@brand@mastodon.social"
    assert "s3cret-token" not in source.credentials_encrypted
    assert source.get_credentials() == {"access_token": "s3cret-token"}
    page = client.get("/sources/").content.decode()
    assert "Mastodon brand" in page and "s3cret-token" not in page
    edit_page = client.get(f"/sources/{source.id}/").content.decode()
    assert "s3cret-token" not in edit_page


def test_editing_without_credentials_keeps_them_and_bad_json_is_refused(manager, workspace):
    source = actions.create_source(workspace, None, name="Feed", platform="rss", settings_data={"feeds": ["https://blog.example/feed"]},
                                   credentials={"username": "u", "password": "p"})
    client = client_for(manager)
    response = client.post(f"/sources/{source.id}/", {"name": "Feed", "account_handle": "", "follow": "", "poll_interval_s": "600",
                                                      "advanced": "{not json"})
    assert response.status_code == 200 and "JSON" in response.content.decode()
    response = client.post(f"/sources/{source.id}/", {"name": "Blog", "account_handle": "", "follow": "", "poll_interval_s": "600",
                                                      "advanced": '{"feeds": ["https://blog.example/feed"]}'})
    assert response.status_code == 302
    source.refresh_from_db()
    assert source.name == "Blog" and source.poll_interval_s == 600
    assert source.get_credentials() == {"username": "u", "password": "p"}


def test_pause_resume_remove_and_health(manager, workspace):
    source = actions.create_source(workspace, None, name="Feed", platform="rss", settings_data={"feeds": []})
    Source.objects.filter(pk=source.pk).update(status=SourceStatus.NEEDS_RECONNECTION, last_error="needs reconnection: token revoked")
    client = client_for(manager)
    page = client.get("/sources/").content.decode()
    assert "token revoked" in page and "Reconnect" in page
    Source.objects.filter(pk=source.pk).update(status=SourceStatus.ACTIVE)
    assert client.post(f"/sources/{source.id}/pause/").status_code == 302
    assert Source.objects.get(pk=source.pk).status == SourceStatus.PAUSED
    assert source.pk not in actions.claim_due_sources("t")
    client.post(f"/sources/{source.id}/resume/")
    assert Source.objects.get(pk=source.pk).status == SourceStatus.ACTIVE
    assert client.get(f"/sources/{source.id}/pause/").status_code == 405  # state changes need POST (and CSRF)
    client.post(f"/sources/{source.id}/remove/")
    assert Source.objects.get(pk=source.pk).status == SourceStatus.REMOVED
    assert f'data-source-id="{source.id}"' not in client.get("/sources/").content.decode()


def test_another_workspace_source_is_not_found(manager, other_workspace):
    theirs = actions.create_source(other_workspace, None, name="Theirs", platform="rss", settings_data={})
    client = client_for(manager)
    assert client.get(f"/sources/{theirs.id}/").status_code == 404
    assert client.post(f"/sources/{theirs.id}/pause/").status_code == 404
    assert Source.objects.get(pk=theirs.pk).status == SourceStatus.ACTIVE
