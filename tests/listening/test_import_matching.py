"""Saved searches are matched while posts are prepared — in ``veille import``'s preparing process
too — and the write stores what was matched there: the same matches and rollups as a recomputation."""

from __future__ import annotations

import json

import pytest

from tests.support import ingest, make_post
from veille.ingest import importer, pipeline
from veille.listening import actions, queries
from veille.listening.models import ALL_POSTS, HourRollup, SearchMatch
from veille.listening.query import compile_query
from veille.listening.search import search_ids

pytestmark = pytest.mark.django_db(transaction=True)


def _refuse_fallback(*args, **kwargs):
    raise AssertionError("the chunk fell back to the worker path: preparing or writing it failed")


def test_import_prepared_in_a_child_process_matches_saved_searches(workspace, source, manager, tmp_path, monkeypatch):
    searches = [actions.create_search(workspace, manager, name="panne", query='panne OR "réseau mobile"'),
                actions.create_search(workspace, manager, name="merci", query="merci #alpina -lang:de")]
    bodies = ["Panne à Lausanne", "réseau mobile coupé", "merci #Alpina", "rien à signaler", "merci #alpina"]
    posts = [make_post(f"m{i}", text=bodies[i % 5], minutes=i * 11, author=f"u{i % 7}") | {"lang": ["fr", "de"][i % 2]}
             for i in range(60)]
    path = tmp_path / "posts.ndjson"
    path.write_text("".join(json.dumps(post) + "\n" for post in posts), encoding="utf-8")
    monkeypatch.setattr(importer.queue, "intake", _refuse_fallback)
    report = importer.import_file(path, source.id, "ndjson", preparers=2)
    assert report.imported == 60
    for search in searches:
        live = set(SearchMatch.objects.filter(search=search).values_list("post_id", flat=True))
        assert live and live == set(search_ids(workspace.id, compile_query(search.query), limit=1000)), search.query
    for search_id in [ALL_POSTS] + [s.id for s in searches]:
        stored = {(r.hour, r.sentiment, r.language): r.count
                  for r in HourRollup.objects.filter(workspace_id=workspace.id, search_id=search_id)}
        assert stored == queries.recompute_hour_rollup(workspace.id, search_id)


def test_posts_stored_without_annotations_are_still_matched(workspace, source, manager, monkeypatch):
    search = actions.create_search(workspace, manager, name="panne", query="panne")
    # As if the posts had been prepared before the listening app was ready: no prepare hooks.
    monkeypatch.setattr(pipeline, "PREPARE_HOOKS", [])
    ingest(source, [make_post("u1", text="grosse panne"), make_post("u2", text="tout va bien")])
    assert list(SearchMatch.objects.filter(search=search).values_list("post__external_id", flat=True)) == ["u1"]
