"""Saved searches are matched while posts are prepared — in ``veille import``'s preparing process
too — and the write stores what was matched there: the same matches and rollups as a recomputation."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC

import pytest

from tests.support import ingest, make_post
from veille.ingest import importer, pipeline
from veille.listening import actions, queries
from veille.listening.models import (
    ALL_POSTS,
    AuthorRollup,
    HourRollup,
    MinuteRollup,
    SearchMatch,
    TagRollup,
)
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


def _recounted(workspace_id: int, search_ids: list[int], alerting: set[int]) -> dict[str, Counter]:
    """Every rollup the store hook keeps, counted again from the stored posts and match rows
    (minutes for the ``alerting`` searches only)."""
    from veille.ingest.models import Post
    from veille.listening.matching import hashtags

    counted: dict[str, Counter] = {"authors": Counter(), "tags": Counter(), "minutes": Counter()}
    posts = {p.id: p for p in Post.objects.filter(workspace_id=workspace_id)}
    pairs = [(ALL_POSTS, post_id) for post_id in posts]
    pairs += list(SearchMatch.objects.filter(search_id__in=search_ids).values_list("search_id", "post_id"))
    for search_id, post_id in pairs:
        post = posts[post_id]
        day = post.created_at.astimezone(UTC).date()
        counted["authors"][(search_id, day, post.author_id)] += 1
        for tag in hashtags(post.text):
            counted["tags"][(search_id, day, tag)] += 1
        if search_id in alerting:
            minute = post.created_at.astimezone(UTC).replace(second=0, microsecond=0)
            counted["minutes"][(search_id, minute, "n")] += 1
            counted["minutes"][(search_id, minute, "neg")] += post.sentiment == "negative"
            counted["minutes"][(search_id, minute, "pos")] += post.sentiment == "positive"
    return counted


def _stored(workspace_id: int) -> dict[str, Counter]:
    stored: dict[str, Counter] = {"authors": Counter(), "tags": Counter(), "minutes": Counter()}
    for r in AuthorRollup.objects.filter(workspace_id=workspace_id):
        stored["authors"][(r.search_id, r.day, r.author_id)] += r.count
    for r in TagRollup.objects.filter(workspace_id=workspace_id):
        stored["tags"][(r.search_id, r.day, r.tag)] += r.count
    for r in MinuteRollup.objects.filter(workspace_id=workspace_id):
        minute = r.minute.astimezone(UTC)
        stored["minutes"].update({(r.search_id, minute, "n"): r.count, (r.search_id, minute, "neg"): r.negative,
                                  (r.search_id, minute, "pos"): r.positive})
    return {name: +counter for name, counter in stored.items()}


def test_rollups_equal_a_recount_when_a_batch_holds_posts_already_stored(workspace, source, manager):
    searches = [actions.create_search(workspace, manager, name="panne", query="panne OR coupure", spike_enabled=True),
                actions.create_search(workspace, manager, name="tags", query="#alpina OR #swisscom")]
    texts = ["panne #Alpina ce matin", "coupure totale #swisscom #alpina", "merci pour l'aide", "panne encore"]
    first = [make_post(f"r{i}", text=texts[i % 4], minutes=i * 7, author=f"a{i % 3}") for i in range(12)]
    ingest(source, first)
    # Half of this batch is already stored: only the new half may be counted again.
    second = first[:6] + [make_post(f"s{i}", text=texts[i % 4], minutes=i * 5 + 3, author=f"b{i % 2}") for i in range(6)]
    ingest(source, second)
    searched = [s.id for s in searches]
    recounted = {name: +counter for name, counter in _recounted(workspace.id, searched, {searches[0].id}).items()}
    assert recounted["authors"] and recounted["tags"] and recounted["minutes"]
    assert _stored(workspace.id) == recounted
    for search_id in [ALL_POSTS, *searched]:
        hours = {(r.hour, r.sentiment, r.language): r.count
                 for r in HourRollup.objects.filter(workspace_id=workspace.id, search_id=search_id)}
        assert hours == queries.recompute_hour_rollup(workspace.id, search_id)
