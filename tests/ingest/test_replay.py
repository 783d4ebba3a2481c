"""``veille replay``: a data set fed in as a live source, its original gaps compressed N×."""

from __future__ import annotations

import json
import time

import pytest

from tests.support import make_post
from veille.ingest.feeds import replay
from veille.ingest.models import Post

pytestmark = pytest.mark.django_db(transaction=True)


def test_replay_keeps_order_and_compresses_time(source, tmp_path):
    data = tmp_path / "day.ndjson"
    # Written out of order; two minutes between the first and the last post.
    posts = [make_post("r3", minutes=2, text="trois"), make_post("r1", minutes=0, text="un"),
             make_post("r2", minutes=1, text="deux", reply_to="r1")]
    data.write_text("\n".join(json.dumps(post) for post in posts) + "\n")
    started = time.monotonic()
    assert replay(data, source, "ndjson", speed=120) == 0
    elapsed = time.monotonic() - started
    assert 0.8 <= elapsed < 10, elapsed  # 120 s of original time at 120× ≈ 1 s
    stored = list(Post.objects.filter(source=source).order_by("id").values_list("external_id", flat=True))
    assert stored == ["r1", "r2", "r3"]  # arrived in original time order
    assert Post.objects.get(external_id="r2").reply_to.external_id == "r1"


def test_replay_refuses_a_bad_speed_and_an_empty_file(source, tmp_path):
    empty = tmp_path / "empty.ndjson"
    empty.write_text("")
    assert replay(empty, source, "ndjson", speed=0) == 2
    assert replay(empty, source, "ndjson", speed=10) == 1
