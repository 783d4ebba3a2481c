"""Board columns (kinds, unread counts, live events) and event mode, without a browser."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from tests.support import ingest, make_post
from veille.ingest.models import Post
from veille.listening import actions, queries
from veille.listening.columns import COLUMN_KINDS, ColumnKind, register
from veille.sources.models import Source

pytestmark = pytest.mark.django_db


def test_columns_of_each_kind(workspace, manager, source):
    mastodon = Source.objects.create(workspace=workspace, name="Masto", platform="mastodon", account_handle="@AlpinaCare@social.example")
    search = actions.create_search(workspace, manager, name="Pannes", query="panne")
    vip = actions.create_list(workspace, manager, name="VIP", is_private=True)
    actions.add_to_list(vip, manager, ["zoe"])
    board = actions.board_for(workspace, manager)
    columns = [actions.add_column(board, kind="search", title="Pannes", config={"search_id": search.id}),
               actions.add_column(board, kind="list", title="VIP", config={"list_id": vip.id}),
               actions.add_column(board, kind="mentions", title="Care", config={"source_id": mastodon.id})]
    ingest(source, [make_post("a", text="panne", author="bob"), make_post("b", text="bonjour @alpinacare", author="zoe"),
                    make_post("c", text="rien", author="eve"), make_post("d", text="@AlpinaCare panne !", author="eve")])
    ids = {p.external_id: p.id for p in Post.objects.all()}
    got = [COLUMN_KINDS[c.kind].post_ids(c, workspace.id) for c in columns]
    assert got == [[ids["d"], ids["a"]], [ids["b"]], [ids["d"], ids["b"]]]
    assert [COLUMN_KINDS[c.kind].unread(c, workspace.id) for c in columns] == [2, 1, 2]
    actions.mark_column_read(columns[0], ids["d"])
    columns[0].refresh_from_db()
    assert COLUMN_KINDS["search"].unread(columns[0], workspace.id) == 0
    # Newest first, paged by id.
    assert COLUMN_KINDS["search"].post_ids(columns[0], workspace.id, before_id=ids["d"]) == [ids["a"]]
    actions.move_column(columns[2], -5)
    assert list(board.columns.values_list("title", flat=True)) == ["Care", "Pannes", "VIP"]


def test_column_kinds_are_pluggable(workspace, manager):
    class Everything(ColumnKind):
        key = "everything"
        label = "Everything"

        def post_ids(self, column, workspace_id, *, after_id=None, upto_id=None, before_id=None, limit=30):
            return list(Post.objects.filter(workspace_id=workspace_id).order_by("-id").values_list("id", flat=True)[:limit])

    register(Everything())
    try:
        board = actions.board_for(workspace, manager)
        column = actions.add_column(board, kind="everything", title="All", config={})
        assert column.kind == "everything"
    finally:
        COLUMN_KINDS.pop("everything")
    with pytest.raises(ValueError):
        actions.add_column(board, kind="nope", title="x", config={})


def test_board_stream_sends_new_posts_to_their_columns(client, workspace, manager, source):
    search = actions.create_search(workspace, manager, name="Pannes", query="panne")
    other = actions.create_search(workspace, manager, name="Merci", query="merci")
    board = actions.board_for(workspace, manager)
    first = actions.add_column(board, kind="search", title="Pannes", config={"search_id": search.id})
    second = actions.add_column(board, kind="search", title="Merci", config={"search_id": other.id})
    ingest(source, [make_post("x1", text="<b>panne</b>"), make_post("x2", text="merci"), make_post("x3", text="rien")])
    client.force_login(manager)
    response = client.get(reverse("listening:board_events") + "?after=0")
    events = []
    for chunk in response.streaming_content:
        text = chunk.decode()
        if text.startswith("id:") and "event: post" in text:
            events.append(json.loads(text.split("data: ", 1)[1]))
        if "event: cursor" in text:
            break
    response.close()
    by_column = {e["column"]: e for e in events}
    assert set(by_column) == {first.id, second.id}
    assert "&lt;b&gt;panne&lt;/b&gt;" in by_column[first.id]["html"] and "<b>panne" not in by_column[first.id]["html"]
    assert "merci" in by_column[second.id]["html"]


def test_event_stats(workspace, manager, source):
    search = actions.create_search(workspace, manager, name="Launch", query="#launch")
    posts = [make_post(f"e{i}", text=f"#launch n{i}", author=["ann", "bob", "ann"][i % 3], minutes=i) for i in range(9)]
    posts.append(make_post("e-reply", text="#launch yes", author="cid", minutes=3, reply_to="e1"))
    posts.append(make_post("e-late", text="#launch late", author="bob", minutes=500))
    ingest(source, posts)
    start = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    event = actions.create_event(search, manager, name="Launch", starts_at=start, ends_at=start + timedelta(minutes=30))
    stats = queries.event_stats(event, now=start + timedelta(minutes=60))
    assert stats["total"] == 10 and not stats["live"]
    assert stats["peak"] == 2 and len(stats["per_minute"]) == 30
    assert [(row["author"].handle, row["posts"]) for row in stats["top_authors"]][:2] == [("ann", 6), ("bob", 3)]
    assert stats["top_post_ids"][0] == Post.objects.get(external_id="e1").id  # the replied-to one
    with pytest.raises(ValueError):
        actions.create_event(search, manager, name="x", starts_at=start, ends_at=start)
