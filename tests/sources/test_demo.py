"""The demo generator: deterministic, realistic enough, and always valid ndjson posts."""

from __future__ import annotations

import collections
import io
import json
import re
import statistics
from datetime import UTC, datetime, timedelta

import pytest

from veille.sources.base import RawRecord
from veille.sources.demo import CARE_HANDLE, MAIN_HANDLE, OUTAGE_TAG, DemoGenerator
from veille.sources.formats import get_format

START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
OUTAGE_WORDS = re.compile(r"panne|Störung|guasto|outage|#AlpinaDown", re.IGNORECASE)
SCHEMA_KEYS = {"id", "text", "created_at", "author", "in_reply_to", "outbound", "kind", "url", "lang"}


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    return DemoGenerator(seed=7, start=START).posts(3000)


def minute(post: dict) -> float:
    return (datetime.fromisoformat(post["created_at"]) - START).total_seconds() / 60


def test_same_seed_same_posts_other_seed_other_posts():
    a = DemoGenerator(seed=3, start=START).posts(500)
    b = DemoGenerator(seed=3, start=START).posts(500)
    c = DemoGenerator(seed=4, start=START).posts(500)
    assert a == b
    assert [p["text"] for p in a] != [p["text"] for p in c]


def test_generate_in_slices_equals_generate_at_once():
    whole = DemoGenerator(seed=5, start=START).generate(START + timedelta(minutes=45))
    sliced_gen = DemoGenerator(seed=5, start=START)
    sliced = []
    t = START
    while t < START + timedelta(minutes=45):
        t += timedelta(seconds=37)
        sliced += sliced_gen.generate(min(t, START + timedelta(minutes=45)))
    assert sliced == whole
    assert all(minute(p) <= 45 for p in whole)
    assert sliced_gen.generate(START + timedelta(minutes=10)) == []  # the clock does not go back


def test_posts_does_not_move_the_clock():
    gen = DemoGenerator(seed=1, start=START)
    first = gen.generate(START + timedelta(minutes=2))
    gen.posts(200)
    assert gen.generate(START + timedelta(minutes=4))[0]["id"] > first[-1]["id"]
    assert gen.posts(10) == DemoGenerator(seed=1, start=START).generate(START + timedelta(minutes=1))[:10]


def test_every_post_is_a_valid_ndjson_post(sample):
    fmt = get_format("ndjson")
    for post in sample:
        assert set(post) == SCHEMA_KEYS
        normalized = fmt.normalize(post)
        assert normalized.created_at.tzinfo is not None
    # And as a file, through read: no rejects.
    data = "\n".join(json.dumps(p, ensure_ascii=False) for p in sample).encode()
    records = list(fmt.read(io.BytesIO(data)))
    assert len(records) == len(sample) and all(isinstance(r, RawRecord) for r in records)


def test_ids_unique_ordered_and_replies_point_back(sample):
    ids = [p["id"] for p in sample]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"demo-\d{6}", i) for i in ids)
    assert ids == sorted(ids)
    by_id = {p["id"]: p for p in sample}
    times = [p["created_at"] for p in sample]
    assert times == sorted(times)
    replies = [p for p in sample if p["in_reply_to"]]
    assert len(replies) > 300
    for reply in replies:
        parent = by_id[reply["in_reply_to"]]
        assert parent["id"] < reply["id"]
        assert parent["created_at"] < reply["created_at"]
        assert reply["kind"] == ("dm" if parent["kind"] == "dm" else "reply")


def test_threads_of_two_to_four_with_the_care_account(sample):
    by_id = {p["id"]: p for p in sample}
    depth = {}
    for p in sample:
        depth[p["id"]] = depth[p["in_reply_to"]] + 1 if p["in_reply_to"] else 1
    lengths = collections.Counter(depth.values())
    assert set(lengths) == {1, 2, 3, 4}
    for p in sample:
        if p["in_reply_to"]:
            parent = by_id[p["in_reply_to"]]
            assert p["outbound"] != parent["outbound"]  # customer and care take turns
            if p["outbound"]:
                assert p["author"]["handle"] == CARE_HANDLE
                if p["kind"] == "reply":
                    assert p["text"].startswith("@" + parent["author"]["handle"] + " ")


def test_mix_of_languages_kinds_and_content(sample):
    langs = collections.Counter(p["lang"] for p in sample)
    assert set(langs) == {"de", "fr", "it", "en"}
    assert langs["de"] > langs["fr"] > langs["it"] > 0
    kinds = collections.Counter(p["kind"] for p in sample)
    assert kinds["dm"] > 20 and kinds["reply"] > 300 and kinds["post"] > 1500
    for dm in (p for p in sample if p["kind"] == "dm"):
        assert dm["url"] == ""
    texts = " ".join(p["text"] for p in sample)
    for needle in ("roaming", "eSIM", "5G", "CHF", "fibre", "Glasfaser", "fattura", "Rechnung",
                   "Lacustra", "Nordwand", "https://", "#", "é", "ü", "🙏"):
        assert needle in texts, needle
    assert any(p["author"]["handle"] == MAIN_HANDLE for p in sample)


def test_several_hundred_distinct_texts_per_language():
    posts = DemoGenerator(seed=11, start=START, outage_at_min=None).posts(6000)
    distinct = collections.defaultdict(set)
    for p in posts:
        if not p["outbound"]:
            distinct[p["lang"]].add(p["text"])
    for lang in ("de", "fr", "it", "en"):
        assert len(distinct[lang]) >= 300, (lang, len(distinct[lang]))


def test_authors_are_a_long_tailed_pool(sample):
    customers = {}
    posts_per_author = collections.Counter()
    for p in sample:
        if not p["outbound"]:
            customers[p["author"]["id"]] = p["author"]
            posts_per_author[p["author"]["id"]] += 1
    assert len(customers) > 300
    followers = [a["followers"] for a in customers.values()]
    assert max(followers) > 50 * statistics.median(followers)
    assert posts_per_author.most_common(1)[0][1] >= 10  # some people post a lot
    handles = {a["handle"] for a in customers.values()}
    assert len(handles) == len(customers)


def test_outage_makes_complaints_spike(sample):
    # Default outage: minutes 20 to 35.
    before = [p for p in sample if 5 <= minute(p) < 20 and not p["outbound"]]
    during = [p for p in sample if 20 <= minute(p) < 35 and not p["outbound"]]
    rate_before = sum(bool(OUTAGE_WORDS.search(p["text"])) for p in before) / 15
    rate_during = sum(bool(OUTAGE_WORDS.search(p["text"])) for p in during) / 15
    assert rate_during > 8 * max(rate_before, 1)
    assert len(during) > 2 * len(before)
    assert sum(OUTAGE_TAG in p["text"] for p in during) > 100
    status = [p for p in sample if p["outbound"] and p["kind"] == "post" and "⚠️" in p["text"]]
    assert len(status) == 4 and all(20 <= minute(p) <= 26 for p in status)
    resolved = [p for p in sample if p["outbound"] and "✅" in p["text"]]
    assert len(resolved) == 4 and all(35 <= minute(p) < 40 for p in resolved)


def test_no_outage_when_disabled():
    posts = DemoGenerator(seed=7, start=START, outage_at_min=None).posts(1500)
    assert not any(OUTAGE_TAG in p["text"] for p in posts)


def test_rate_and_configurable_outage_window():
    gen = DemoGenerator(seed=2, start=START, rate_per_min=6, outage_at_min=60, outage_minutes=30)
    posts = gen.generate(START + timedelta(minutes=120))
    customers_first_hour = [p for p in posts if minute(p) < 60 and not p["in_reply_to"]]
    assert 250 < len(customers_first_hour) < 480  # about 6 a minute
    spike = [p for p in posts if 60 <= minute(p) < 90 and OUTAGE_TAG in p["text"]]
    assert len(spike) > 20


def test_bad_arguments():
    with pytest.raises(ValueError, match="timezone-aware"):
        DemoGenerator(start=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="rate_per_min"):
        DemoGenerator(start=START, rate_per_min=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        DemoGenerator(start=START).generate(datetime(2024, 1, 1))


def test_default_start_is_now():
    gen = DemoGenerator(seed=1)
    assert abs((gen.start - datetime.now(UTC)).total_seconds()) < 120
    assert gen.generate(datetime.now(UTC) - timedelta(hours=1)) == []
