"""The listening API router (mounted at /api/listening by veille.api)."""

from __future__ import annotations

import pytest
from ninja.testing import TestClient

from tests.support import ingest, make_post
from veille.accounts.models import Membership
from veille.listening import actions
from veille.listening.api import router

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return TestClient(router)


def call(api, method, path, user, workspace, **kwargs):
    membership = Membership.objects.get(user=user, workspace=workspace)
    return getattr(api, method)(path, user=user, workspace=workspace, membership=membership, **kwargs)


def test_searches_queries_and_errors(api, workspace, other_workspace, manager, agent, source):
    actions.create_search(other_workspace, None, name="Theirs", query="secret")
    response = call(api, "post", "/searches", manager, workspace, json={"name": "Pannes", "query": "panne -merci"})
    assert response.status_code == 201
    search_id = response.json()["id"]
    assert call(api, "post", "/searches", manager, workspace, json={"name": "Bad", "query": "(panne"}).json()["position"] == 7
    assert call(api, "post", "/searches", manager, workspace, json={"name": "Pannes", "query": "x"}).status_code == 409
    ingest(source, [make_post(text="grosse panne"), make_post(text="panne, merci"), make_post(text="rien")])
    assert [s["name"] for s in call(api, "get", "/searches", agent, workspace).json()] == ["Pannes"]
    posts = call(api, "get", f"/searches/{search_id}/posts", agent, workspace).json()
    assert [p["text"] for p in posts] == ["grosse panne"]
    assert [p["text"] for p in call(api, "get", "/query?q=panne%20merci", agent, workspace).json()] == ["panne, merci"]
    assert call(api, "get", "/query?q=%22panne", agent, workspace).status_code == 400
    assert call(api, "get", "/alerts", agent, workspace).json() == []


def test_agents_cannot_create_searches(api, workspace, agent):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        call(api, "post", "/searches", agent, workspace, json={"name": "x", "query": "x"})
