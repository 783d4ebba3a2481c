"""The pipeline end to end on the database: store, dedupe, thread, dead-letter, search."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection

from tests.support import ingest, make_post
from veille.ingest import queue
from veille.ingest.models import Author, Post, RawItem, RawStatus
from veille.ingest.search import index_words, search_post_ids
from veille.ingest.worker import Worker
from veille.sources.base import BadRecord, RawRecord

pytestmark = pytest.mark.django_db(transaction=True)


def test_posts_are_stored_with_author_and_raw_item(source):
    result = ingest(source, [make_post("a1", text="Réseau en panne à Lausanne", author="marie")])
    assert (result.stored, result.duplicates, result.dead) == (1, 0, 0)
    post = Post.objects.select_related("author").get(source=source, external_id="a1")
    assert post.text == "Réseau en panne à Lausanne"
    assert post.author.handle == "marie"
    assert post.workspace_id == source.workspace_id
    raw = RawItem.objects.get(pk=post.raw_item_id)
    assert raw.status == RawStatus.DONE
    assert json.loads(raw.payload)["id"] == "a1"


def test_same_post_twice_is_stored_once(source):
    ingest(source, [make_post("d1")])
    result = ingest(source, [make_post("d1"), make_post("d1"), make_post("d2")])
    assert result.stored == 1 and result.duplicates == 2
    assert Post.objects.filter(source=source).count() == 2
    assert RawItem.objects.filter(status=RawStatus.DUPLICATE).count() == 2


def test_author_identity_is_shared_and_refreshed(source):
    ingest(source, [make_post("x1", author="paul")])
    changed = make_post("x2", author="paul")
    changed["author"]["followers"] = 999
    ingest(source, [changed])
    assert Author.objects.filter(handle="paul").count() == 1
    assert Author.objects.get(handle="paul").followers == 999


def test_reply_chain_in_one_batch_is_threaded(source):
    ingest(source, [make_post("r3", reply_to="r2", minutes=3), make_post("r1"), make_post("r2", reply_to="r1", minutes=1)])
    r1, r2, r3 = (Post.objects.get(external_id=name) for name in ("r1", "r2", "r3"))
    assert r1.thread_root_id is None and r1.reply_to_id is None
    assert (r2.reply_to_id, r2.thread_root_id) == (r1.id, r1.id)
    assert (r3.reply_to_id, r3.thread_root_id) == (r2.id, r1.id)


def test_reply_before_its_parent_is_linked_when_the_parent_comes(source):
    ingest(source, [make_post("c3", reply_to="c2", minutes=3)])
    ingest(source, [make_post("c2", reply_to="c1", minutes=2)])
    c2, c3 = Post.objects.get(external_id="c2"), Post.objects.get(external_id="c3")
    assert c3.reply_to_id == c2.id and c3.thread_root_id == c2.id
    ingest(source, [make_post("c1")])
    c1 = Post.objects.get(external_id="c1")
    c2.refresh_from_db()
    c3.refresh_from_db()
    assert c2.reply_to_id == c1.id and c2.thread_root_id == c1.id
    assert c3.thread_root_id == c1.id  # the whole subtree moved under the real root


def test_reply_cycle_in_hostile_data_does_not_loop(source):
    result = ingest(source, [make_post("k1", reply_to="k2"), make_post("k2", reply_to="k1")])
    assert result.stored == 2


def test_malformed_items_go_to_dead_letter_and_the_rest_is_stored(source):
    good = make_post("g1")
    missing = make_post("g2")
    del missing["created_at"]
    bad_date = make_post("g3")
    bad_date["created_at"] = "yesterday"
    huge = make_post("g4", text="x" * 1_000_000)
    nul = make_post("g5", text="a\x00b")
    not_object = ["not", "an", "object"]
    queue.intake(source.id, "ndjson", [RawRecord(payload=p, external_id=None, line=i + 1) for i, p in enumerate([good, missing, bad_date, huge, nul])])
    queue.intake(source.id, "ndjson", [RawRecord(payload=not_object, line=6), BadRecord("invalid JSON: Expecting value", "{oops", line=7)])  # type: ignore[arg-type]
    result = Worker(source_id=source.id).drain()
    assert result.stored == 1
    assert list(Post.objects.values_list("external_id", flat=True)) == ["g1"]
    dead = {item.line: item.error for item in RawItem.objects.filter(status=RawStatus.DEAD)}
    assert set(dead) == {2, 3, 4, 5, 6, 7}
    assert "created_at" in dead[2]
    assert "yesterday" in dead[3]
    assert "limit" in dead[4] or "characters" in dead[4]
    assert "NUL" in dead[5]
    assert "JSON" in dead[7]


def test_search_is_accent_and_case_insensitive_and_scoped(source, other_workspace):
    from veille.sources.models import Source

    ingest(source, [make_post("s1", text="Le RÉSEAU est coupé à Genève"), make_post("s2", text="Tout va bien")])
    other = Source.objects.create(workspace=other_workspace, name="Other", platform="import")
    ingest(other, [make_post("s1", text="reseau concurrent")])
    s1 = Post.objects.get(source=source, external_id="s1")
    assert search_post_ids(source.workspace_id, "reseau") == [s1.id]
    assert search_post_ids(source.workspace_id, "geneve coupe") == [s1.id]
    assert search_post_ids(source.workspace_id, "gen") == [s1.id]  # last word is a prefix
    assert search_post_ids(source.workspace_id, "absent") == []
    # Query syntax characters are words, never operators.
    assert search_post_ids(source.workspace_id, '" OR * NEAR(') == []


def _lexemes(tsvector_text: str) -> set[str]:
    return set(re.findall(r"'([^']*)'", tsvector_text))


def test_index_words_hold_folded_words_and_adjacent_pairs():
    assert _lexemes(index_words("Réseau MOBILE: en panne! réseau")) == {
        "reseau", "mobile", "en", "panne", "~reseau mobile", "~mobile en", "~en panne", "~panne reseau"}
    assert index_words("!!! ...") == ""
    # Sentiment and language are lexemes no word can be; a value that is not one word is left out.
    assert _lexemes(index_words("Panne", "negative", "FR")) == {"panne", "s:negative", "l:fr"}
    assert _lexemes(index_words("Panne", "", "fr' | x")) == {"panne"}
    # A "word" too long for a PostgreSQL lexeme is left out, the rest of the post is indexed.
    assert index_words("ok " + "x" * 3000) == "'ok'"


def test_phrase_search_needs_adjacent_words(source):
    """On PostgreSQL the phrase goes to the index as words and pairs: a post holding both words
    apart is not even a candidate, whichever path wrote it (pipeline, corrected text, other insert)."""
    from veille.listening.query import compile_query
    from veille.listening.search import search_ids

    ingest(source, [make_post("p1", text="Le réseau mobile est coupé"), make_post("p2", text="mobile, le réseau va"),
                    make_post("p3", text="RESEAU-MOBILE ok", minutes=1)])
    p1, p3 = Post.objects.get(external_id="p1"), Post.objects.get(external_id="p3")
    phrase = compile_query('"reseau mobile"')
    assert search_ids(source.workspace_id, phrase) == [p3.id, p1.id]
    Post.objects.filter(pk=p1.pk).update(text="le mobile du réseau")  # a correction re-indexes the post
    assert search_ids(source.workspace_id, phrase) == [p3.id]
    # Sentiment and language filters are answered by the index too, and follow a correction.
    negative = compile_query("mobile sentiment:negative")
    Post.objects.filter(source=source).update(sentiment="neutral")
    assert search_ids(source.workspace_id, negative) == []
    Post.objects.filter(pk=p3.pk).update(sentiment="negative")
    assert search_ids(source.workspace_id, negative) == [p3.id]
    if connection.vendor != "postgresql":
        return
    Post.objects.create(workspace_id=source.workspace_id, source=source, external_id="p5", author=p1.author,
                        text="mobile", language="f'x", created_at=p1.created_at, received_at=p1.created_at)
    Post.objects.create(workspace_id=source.workspace_id, source=source, external_id="p4", author=p1.author,
                        text="Réseau mobile, encore", created_at=p1.created_at, received_at=p1.created_at)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM ingest_post WHERE workspace_id = %s AND words @@ %s::tsquery",
                       [source.workspace_id, "'~reseau mobile'"])
        assert cursor.fetchone()[0] == 2  # p3 and p4 (indexed by the trigger); p2 holds both words apart
        cursor.execute("SELECT text, sentiment, language, words FROM ingest_post WHERE workspace_id = %s",
                       [source.workspace_id])
        for text, sentiment, language, words in cursor.fetchall():  # Python (pipeline) and SQL (trigger) agree
            assert _lexemes(words) == _lexemes(index_words(text, sentiment, language)), text


def test_claims_do_not_overlap_and_expired_leases_are_reclaimed(source):
    queue.intake(source.id, "ndjson", [RawRecord(payload=make_post(f"l{i}")) for i in range(10)])
    first = queue.claim("w1", 6, lease_s=60)
    second = queue.claim("w2", 6, lease_s=60)
    assert len(first) == 6 and len(second) == 4
    assert not {item.id for item in first} & {item.id for item in second}
    assert queue.claim("w3", 6, lease_s=60) == []
    # w1 dies: once its lease is over its items are claimed again, with one more attempt counted.
    RawItem.objects.filter(id__in=[item.id for item in first]).update(lease_until="2000-01-01T00:00:00Z")
    again = queue.claim("w3", 10, lease_s=60)
    assert sorted(item.id for item in again) == sorted(item.id for item in first)
    assert all(item.attempts == 2 for item in again)


def test_poison_item_goes_dead_after_max_attempts(source, monkeypatch):
    from veille.ingest import pipeline as pipeline_module

    queue.intake(source.id, "ndjson", [RawRecord(payload=make_post("ok1"), external_id="ok1"), RawRecord(payload=make_post("poison"), external_id="poison")])
    from veille.ingest import store

    original = store.insert_posts

    def explode_on_poison(workspace_id, rows, author_ids, now):
        if any(row.external_id == "poison" for row in rows):
            raise RuntimeError("database said no")
        return original(workspace_id, rows, author_ids, now)

    monkeypatch.setattr(store, "insert_posts", explode_on_poison)
    worker = Worker(source_id=source.id, pipeline=pipeline_module.Pipeline(max_attempts=2))
    worker.drain()  # ok1 stored, poison released (attempt 1)
    worker.drain()  # poison fails again → dead
    assert Post.objects.filter(external_id="ok1").exists()
    poison = RawItem.objects.get(external_id="poison")
    assert poison.status == RawStatus.DEAD
    assert "database said no" in poison.error


def test_hostile_bytes_are_kept_for_inspection_on_every_database(source):
    surrogate = make_post("u1", text="broken \ud800 surrogate")
    queue.intake(source.id, "ndjson", [
        RawRecord(payload=surrogate, external_id="u1", line=1),
        BadRecord("NUL byte in line", "a\x00b \udcff", line=2),
    ])
    Worker(source_id=source.id).drain()
    dead = RawItem.objects.get(line=2)
    assert dead.status == RawStatus.DEAD and "\x00" not in dead.payload
    # The post with a broken character is stored, the character replaced.
    assert Post.objects.get(external_id="u1").text == "broken ? surrogate"



@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 index; PostgreSQL indexes a column of the posts")
def test_a_batch_with_replies_before_their_parents_is_indexed_in_id_order(source, monkeypatch):
    # Thread levels insert parents before replies, so this batch's ids are out of file order.
    # FTS5 writes its pending terms out as a new segment each time a rowid goes down (measured:
    # four to five times the cost per post), so the index must be fed in id order.
    from veille.ingest import sql

    written: list[int] = []
    executemany = sql.executemany

    def recording(statement, rows):
        rows = list(rows)
        if "ingest_post_fts" in statement:
            written.extend(row[0] for row in rows)
        return executemany(statement, rows)

    monkeypatch.setattr(sql, "executemany", recording)
    posts = []
    for i in range(30):
        posts.append(make_post(f"r{i}", text=f"réponse numéro {i} merci", reply_to=f"q{i}", minutes=i + 1))
        posts.append(make_post(f"q{i}", text=f"question numéro {i} panne", minutes=i))
    assert ingest(source, posts).stored == 60
    ids = sorted(Post.objects.filter(source=source).values_list("id", flat=True))
    assert written == ids
    assert sorted(search_post_ids(source.workspace_id, "numéro", limit=100)) == ids
    reply = Post.objects.get(source=source, external_id="r7")
    assert reply.reply_to.external_id == "q7" and reply.id > reply.reply_to_id
