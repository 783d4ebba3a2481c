"""``veille import``: every record persisted, malformed ones rejected with reason and line,
the rest imported; exit status and counts as an operator reads them."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from veille.ingest.importer import ImportFailed, default_preparers, import_file
from veille.ingest.models import Post, RawItem, RawStatus

pytestmark = pytest.mark.django_db(transaction=True)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "formats"


def test_malformed_twcs_file_imports_the_good_records_and_rejects_the_rest_with_line_numbers(source):
    report = import_file(FIXTURES / "twcs_malformed.csv", source.id, "twcs")
    stored = set(Post.objects.filter(source=source).values_list("external_id", flat=True))
    assert {"1", "5", "7", "12"} <= stored
    assert not {"2", "3", "4", "6", "8", "9"} & stored
    assert report.imported == len(stored)
    assert report.rejected == RawItem.objects.filter(source=source, status=RawStatus.DEAD).count() >= 6
    reasons = dict(report.rejections)
    assert any("UTF-8" in reason for reason in reasons.values())
    assert any("NUL" in reason for reason in reasons.values())
    assert any("yesterday" in reason for reason in reasons.values())
    assert "UTF-8" in reasons["line 3"] and "NUL" in reasons["line 4"]
    # The reply from the brand's care account is threaded to the customer's post.
    reply = Post.objects.get(source=source, external_id="12")
    assert reply.is_outbound


def test_reimport_counts_duplicates_and_stores_nothing_twice(source):
    first = import_file(FIXTURES / "twcs_sample.csv", source.id)
    second = import_file(FIXTURES / "twcs_sample.csv", source.id)
    assert first.imported > 0 and second.imported == 0
    assert second.duplicates == first.imported
    assert Post.objects.filter(source=source).count() == first.imported


def test_gzipped_file_is_read_transparently(source, tmp_path):
    packed = tmp_path / "sample.csv.gz"
    packed.write_bytes(gzip.compress((FIXTURES / "twcs_sample.csv").read_bytes()))
    report = import_file(packed, source.id)
    assert report.imported == Post.objects.filter(source=source).count() > 0


@pytest.mark.parametrize(("cores", "models", "expected"), [
    (1, True, 0), (1, False, 0),  # one core: prepared in the writing process
    (2, True, 2), (2, False, 1),  # models cost more than writing; language alone less
    (4, True, 3), (4, False, 3), (16, True, 4),
])
def test_preparing_processes_leave_the_writer_a_core(cores, models, expected):
    assert default_preparers(cores, models) == expected


def test_preparing_in_a_child_process_gives_the_same_result(source, workspace):
    from veille.sources.models import Source

    inline = import_file(FIXTURES / "posts.ndjson", source.id, "ndjson", preparers=0)
    other = Source.objects.create(workspace=workspace, name="parallel", platform="import")
    parallel = import_file(FIXTURES / "posts.ndjson", other.id, "ndjson", preparers=2)
    assert (inline.imported, inline.rejected) == (parallel.imported, parallel.rejected)
    fields = ("external_id", "text", "language", "reply_to__external_id", "thread_root__external_id")
    assert list(Post.objects.filter(source=source).order_by("external_id").values_list(*fields)) == \
        list(Post.objects.filter(source=other).order_by("external_id").values_list(*fields))


def test_missing_file_and_unknown_format_fail_clearly(source, tmp_path):
    with pytest.raises(ImportFailed, match="no such file"):
        import_file(tmp_path / "absent.csv", source.id)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n not a data file")
    with pytest.raises(ImportFailed, match="junk.bin"):
        import_file(junk, source.id)


def database_url() -> str:
    settings_dict = connection.settings_dict
    if connection.vendor == "postgresql":
        return (f"postgresql://{settings_dict['USER'] or 'postgres'}@{settings_dict['HOST'] or '127.0.0.1'}:"
                f"{settings_dict['PORT'] or '5432'}/{settings_dict['NAME']}")
    return f"sqlite:///{os.path.abspath(settings_dict['NAME'])}"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "VEILLE_DATABASE_URL": database_url(), "VEILLE_ENRICH": "false"}
    return subprocess.run([sys.executable, "-m", "veille.cli", *args], env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_prints_counts_and_exits_zero_when_something_was_imported(db, tmp_path):
    result = run_cli("import", str(FIXTURES / "twcs_malformed.csv"), "--source", "CLI", "--json")
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["imported"] >= 4 and counts["rejected"] >= 6
    assert "rejected line 3: invalid UTF-8" in result.stderr


@pytest.mark.slow
def test_cli_exits_non_zero_when_nothing_could_be_read(db, tmp_path):
    empty = tmp_path / "empty.ndjson"
    empty.write_text("")
    result = run_cli("import", str(empty), "--source", "CLI", "--format", "ndjson")
    assert result.returncode == 1
    assert "nothing could be read" in result.stderr
    garbage = tmp_path / "garbage.ndjson"
    garbage.write_bytes(b"{not json\n\xff\xfe\n")
    result = run_cli("import", str(garbage), "--source", "CLI", "--format", "ndjson")
    assert result.returncode == 1
    assert "every one was rejected" in result.stderr
    result = run_cli("import", str(tmp_path / "absent.csv"), "--source", "CLI")
    assert result.returncode == 1 and "no such file" in result.stderr


def _write_ndjson(path: Path, posts: list[dict]) -> Path:
    path.write_text("".join(json.dumps(post) + "\n" for post in posts), encoding="utf-8")
    return path


@pytest.mark.parametrize("preparers", [0, 1, 2])
def test_raw_items_of_an_import_are_stored_once_with_their_final_status(source, tmp_path, preparers, monkeypatch):
    from tests.support import make_post
    from veille.ingest import importer

    def refuse_fallback(*args, **kwargs):
        raise AssertionError("a chunk fell back to the worker path")

    monkeypatch.setattr(importer.queue, "intake", refuse_fallback)

    posts = [make_post(f"s{i}", minutes=i) for i in range(6)]
    posts.append(make_post("s1", text="the same id again in the file"))  # a duplicate inside the file
    broken = make_post("s-broken")
    broken["created_at"] = "last tuesday"
    posts.append(broken)
    path = _write_ndjson(tmp_path / "posts.ndjson", posts)
    report = import_file(path, source.id, "ndjson", preparers=preparers)
    assert (report.read, report.imported, report.duplicates, report.rejected) == (8, 6, 1, 1)
    items = list(RawItem.objects.filter(source=source).order_by("id"))
    assert [item.status for item in items] == ["done"] * 6 + ["duplicate", "dead"]
    assert all(item.processed_at is not None and item.lease_owner == "" for item in items)
    assert "last tuesday" in items[-1].error and items[-1].line == 8
    posts_by_raw = dict(Post.objects.filter(source=source).values_list("raw_item_id", "external_id"))
    assert posts_by_raw == {item.id: f"s{i}" for i, item in enumerate(items[:6])}

    again = import_file(path, source.id, "ndjson", preparers=preparers)  # every post already stored
    assert (again.imported, again.duplicates, again.rejected) == (0, 7, 1)
    assert Post.objects.filter(source=source).count() == 6
    assert not RawItem.objects.filter(source=source, status=RawStatus.PENDING).exists()


def test_a_chunk_whose_write_fails_is_queued_and_processed_item_by_item(source, tmp_path, monkeypatch):
    from tests.support import make_post
    from veille.ingest import pipeline

    def refuse_poison(workspace_id, stored, now):
        if any("POISON" in post.row.text for post in stored):
            raise RuntimeError("an app refused this post")

    monkeypatch.setattr(pipeline, "POST_STORE_HOOKS", [*pipeline.POST_STORE_HOOKS, refuse_poison])
    posts = [make_post(f"f{i}", minutes=i) for i in range(5)] + [make_post("f-poison", text="POISON pill")]
    report = import_file(_write_ndjson(tmp_path / "posts.ndjson", posts), source.id, "ndjson", preparers=0)
    assert sorted(Post.objects.filter(source=source).values_list("external_id", flat=True)) == [f"f{i}" for i in range(5)]
    assert report.imported == 5
    # The poison item is retried until its attempts run out, then rejected with the reason.
    poison = RawItem.objects.get(source=source, external_id="f-poison")
    assert poison.status == RawStatus.DEAD
    assert "an app refused this post" in poison.error
    assert report.rejected == 1
    assert RawItem.objects.filter(source=source).count() == 6, "each record stored once"


@pytest.mark.parametrize("cores", [2, 8])  # on 8 the writing process prepares the first chunk itself
def test_chunks_dealt_to_several_preparing_processes_come_back_in_file_order(workspace, tmp_path, monkeypatch, cores):
    from tests.support import make_post
    from veille.ingest import importer
    from veille.sources.models import Source

    monkeypatch.setattr(importer.os, "cpu_count", lambda: cores)

    # Replies follow their parents across chunk boundaries; a bad line sits in the middle.
    posts = [make_post(f"o{i}", minutes=i, reply_to=f"o{i - 1}" if i % 4 else None) for i in range(23)]
    lines = [json.dumps(post) for post in posts]
    lines.insert(11, "{not json")
    path = tmp_path / "posts.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.setattr(importer, "INTAKE_CHUNK", 4)
    inline_source = Source.objects.create(workspace=workspace, name="inline", platform="import")
    shared_source = Source.objects.create(workspace=workspace, name="shared", platform="import")
    inline = import_file(path, inline_source.id, "ndjson", preparers=0)
    shared = import_file(path, shared_source.id, "ndjson", preparers=3)
    assert (shared.read, shared.imported, shared.rejected) == (inline.read, inline.imported, inline.rejected) == (24, 23, 1)
    # Raw items were stored in file order, and the threads are linked the same way.
    for source in (inline_source, shared_source):
        lines_in_order = list(RawItem.objects.filter(source=source).exclude(status=RawStatus.DEAD)
                              .order_by("id").values_list("line", flat=True))
        assert lines_in_order == sorted(lines_in_order)
    fields = ("external_id", "reply_to__external_id", "thread_root__external_id")
    assert list(Post.objects.filter(source=inline_source).order_by("external_id").values_list(*fields)) == \
        list(Post.objects.filter(source=shared_source).order_by("external_id").values_list(*fields))
