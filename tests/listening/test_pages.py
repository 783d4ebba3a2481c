"""Pages and permissions: every page renders, nobody sees another workspace's searches or
another user's private lists, hostile post text stays escaped, CSV cells cannot run formulas."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from tests.support import ingest, make_post, make_user
from veille.listening import actions
from veille.listening.models import Column
from veille.sources.models import Source

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert(1)</script><img src=x onerror=alert(2)> =HYPERLINK("http://evil") panne'


@pytest.fixture
def search(workspace, manager):
    return actions.create_search(workspace, manager, name="Pannes", query="panne OR outage", spike_enabled=True)


@pytest.fixture
def cm_client(client, manager):
    client.force_login(manager)
    return client


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(body)))


def test_every_page_renders_and_escapes_post_text(cm_client, workspace, manager, source, search):
    ingest(source, [make_post(text=HOSTILE, author="=cmd|calc"), make_post(text="#Alpina super merci", author="bob")])
    author_list = actions.create_list(workspace, manager, name="VIP")
    actions.add_to_list(author_list, manager, ["@Bob"])
    board = actions.board_for(workspace, manager)
    actions.add_column(board, kind="search", title="Pannes", config={"search_id": search.id})
    actions.add_column(board, kind="list", title="VIP", config={"list_id": author_list.id})
    from datetime import timedelta

    from django.utils import timezone
    event = actions.create_event(search, manager, name="Launch", starts_at=timezone.now() - timedelta(hours=1), ends_at=timezone.now() + timedelta(hours=1))
    pages = [
        reverse("listening:overview"), reverse("listening:overview") + "?days=30", reverse("listening:search", args=[search.id]),
        reverse("listening:search_edit", args=[search.id]), reverse("listening:search_new"), reverse("listening:sov"),
        reverse("listening:adhoc_search") + "?q=panne", reverse("listening:adhoc_search") + "?q=%28panne",
        reverse("listening:lists"), reverse("listening:list", args=[author_list.id]), reverse("listening:board"),
        reverse("listening:event", args=[event.id]), reverse("listening:event_live", args=[event.id]),
        reverse("listening:alerts"), reverse("listening:event_new", args=[search.id]),
    ]
    for url in pages:
        response = cm_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        assert "<script>alert(1)" not in body and "<img src=x" not in body, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in cm_client.get(reverse("listening:board")).content.decode()
    assert "Position 7" in cm_client.get(reverse("listening:adhoc_search") + "?q=%28panne").content.decode()


def test_csv_exports_are_injection_safe(cm_client, source, search):
    ingest(source, [make_post(text=HOSTILE, author="=cmd|calc"), make_post(text="-2+3 panne @x", author="+bob")])
    rows = _csv(cm_client.get(reverse("listening:search_export", args=[search.id, "posts"]) + "?days=90"))
    assert rows[0][0] == "id"
    cells = [cell for row in rows[1:] for cell in row]
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in cells)
    assert "'=cmd|calc" in cells and "'-2+3 panne @x" in cells
    for table in ("volume", "sentiment", "languages", "authors_volume", "authors_reach", "hashtags", "terms"):
        response = cm_client.get(reverse("listening:search_export", args=[search.id, table]))
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv"), table
        assert len(_csv(response)) >= 1
        assert cm_client.get(reverse("listening:export", args=[table])).status_code == 200
    sov = _csv(cm_client.get(reverse("listening:export", args=["sov"])))
    assert sov[1][0] == "Pannes"
    authors = _csv(cm_client.get(reverse("listening:search_export", args=[search.id, "authors_volume"]) + "?days=90"))
    assert {row[0] for row in authors[1:]} == {"'=cmd|calc", "'+bob"}


def test_other_workspace_cannot_see_searches_lists_or_columns(client, workspace, other_workspace, manager, search):
    outsider = make_user(other_workspace, "outsider", "community_manager")
    theirs = actions.create_search(other_workspace, outsider, name="Theirs", query="secret")
    client.force_login(outsider)
    assert client.get(reverse("listening:search", args=[search.id])).status_code == 404
    assert client.get(reverse("listening:search_export", args=[search.id, "posts"])).status_code == 404
    assert client.post(reverse("listening:search_delete", args=[search.id])).status_code == 404
    overview = client.get(reverse("listening:overview")).content.decode()
    assert "Theirs" in overview and "Pannes" not in overview
    private = actions.create_list(workspace, manager, name="Mine", is_private=True)
    assert client.get(reverse("listening:list", args=[private.id])).status_code == 404
    client.post(reverse("listening:column_add"), {"kind": "search", "target": search.id})
    client.post(reverse("listening:column_add"), {"kind": "list", "target": private.id})
    assert list(Column.objects.filter(board__user=outsider).values_list("config", flat=True)) == []
    assert theirs.workspace_id == other_workspace.id


def test_private_lists_stay_private_inside_the_workspace(client, workspace, manager, agent):
    private = actions.create_list(workspace, manager, name="Mine", is_private=True)
    public = actions.create_list(workspace, manager, name="Shared")
    client.force_login(agent)
    page = client.get(reverse("listening:lists")).content.decode()
    assert "Shared" in page and "Mine" not in page
    assert client.get(reverse("listening:list", args=[private.id])).status_code == 404
    assert client.get(reverse("listening:list", args=[public.id])).status_code == 200
    # Reading a public list is fine; changing someone else's is not (for an agent).
    assert client.post(reverse("listening:list", args=[public.id]), {"handles": "eve"}).status_code == 403
    client.post(reverse("listening:column_add"), {"kind": "list", "target": private.id})
    assert not Column.objects.filter(board__user=agent).exists()


def test_roles(client, workspace, agent, search):
    client.force_login(agent)
    assert client.get(reverse("listening:search_new")).status_code == 403
    assert client.post(reverse("listening:search_delete", args=[search.id])).status_code == 403
    assert client.get(reverse("listening:search", args=[search.id])).status_code == 200
    analyst = make_user(workspace, "ana", "analyst")
    client.force_login(analyst)
    assert client.get(reverse("listening:search_new")).status_code == 200


def test_create_search_through_the_form_reports_syntax_errors(cm_client, workspace):
    response = cm_client.post(reverse("listening:search_new"), {"name": "Bad", "query": 'orange AND (', "spike_window_min": 15,
                                                                 "spike_baseline_windows": 12, "spike_sensitivity": 3, "spike_min_count": 10,
                                                                 "cooldown_min": 60, "dip_window_min": 60, "dip_sensitivity": 2, "dip_min_count": 20})
    assert response.status_code == 200
    assert "Position 13" in response.content.decode()
    response = cm_client.post(reverse("listening:search_new"), {"name": "Good", "query": 'orange -job', "is_active": "on", "spike_window_min": 15,
                                                                 "spike_baseline_windows": 12, "spike_sensitivity": 3, "spike_min_count": 10,
                                                                 "cooldown_min": 60, "dip_window_min": 60, "dip_sensitivity": 2, "dip_min_count": 20})
    assert response.status_code == 302


def test_list_from_csv_and_list_column(cm_client, workspace, manager, source):
    author_list = actions.create_list(workspace, manager, name="Press")
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("h.csv", b"name,handle\nMarie,@Marie\nPaul,paul\n,\n")
    cm_client.post(reverse("listening:list", args=[author_list.id]), {"handles": "zoe, @Luc", "csv_file": upload})
    assert sorted(author_list.members.values_list("handle", flat=True)) == ["luc", "marie", "paul", "zoe"]
    board = actions.board_for(workspace, manager)
    column = actions.add_column(board, kind="list", title="Press", config={"list_id": author_list.id})
    ingest(source, [make_post(text="hello", author="Marie"), make_post(text="other", author="nobody")])
    from veille.listening.columns import COLUMN_KINDS
    ids = COLUMN_KINDS["list"].post_ids(column, workspace.id)
    assert len(ids) == 1
    assert COLUMN_KINDS["list"].unread(column, workspace.id) == 1


def test_actions_follow_platform_capabilities(cm_client, workspace, manager, source):
    from veille.ingest.models import Post
    from veille.sources.models import OutboundAction

    ingest(source, [make_post("m1", text="hello")])
    post = Post.objects.get(external_id="m1")
    response = cm_client.post(reverse("listening:post_act", args=[post.id]), {"kind": "like"})
    assert response.status_code == 302 and not OutboundAction.objects.exists()  # "import" cannot act
    mastodon = Source.objects.create(workspace=workspace, name="Masto", platform="mastodon", account_handle="@alpina")
    Post.objects.filter(pk=post.pk).update(source=mastodon)
    cm_client.post(reverse("listening:post_act", args=[post.id]), {"kind": "like"})
    cm_client.post(reverse("listening:post_act", args=[post.id]), {"kind": "like"})
    cm_client.post(reverse("listening:post_act", args=[post.id]), {"kind": "reply", "text": "Bonjour !"})
    assert sorted(OutboundAction.objects.values_list("kind", flat=True)) == ["like", "reply"]
    page = cm_client.get(reverse("listening:adhoc_search") + "?q=hello").content.decode()
    assert reverse("listening:post_act", args=[post.id]) in page
    assert 'value="like" class="small secondary">' in page  # enabled on Mastodon


def test_page_queries_do_not_grow_with_posts(cm_client, workspace, manager, source, search, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    board = actions.board_for(workspace, manager)
    actions.add_column(board, kind="search", title="Pannes", config={"search_id": search.id})
    pages = [reverse("listening:board"), reverse("listening:search", args=[search.id]), reverse("listening:adhoc_search") + "?q=panne"]
    counts = []
    for batch in (3, 15):
        ingest(source, [make_post(text=f"panne {batch} {i}", author=f"user{batch}-{i}") for i in range(batch)])
        with CaptureQueriesContext(connection) as captured:
            for url in pages:
                assert cm_client.get(url).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]
