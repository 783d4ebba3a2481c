"""``veille bench listening``: saved-search matching, ingest overhead, dashboards and search at scale.

On a fresh database (SQLite in a temporary folder, or a new PostgreSQL database next to
``--database-url``), N demo posts are imported twice through ``veille import``'s own path
(preparing processes, matching saved searches included, beside the one that writes), part by
part and interleaved: once into a workspace without saved searches, once into a workspace with
S saved searches (match rows and rollups in the posts' transaction; ``--alerting`` of them, a
tenth by default, have spike alerts on, for which minute counts are kept too). The NLP models
are replaced by a cheap stand-in (this measures listening, not the models; with the real models
each post costs more and the ratio is lower still), and only the listening hook is installed
(other apps' hooks, such as care routing, are left out).
``ingest_overhead_ratio`` is the import time with S searches over the same without;
``write_overhead_ratio`` the write step alone (the strictest view).

Figures: ``match_posts_per_s`` (documents built and matched against the S searches, Python
only), ``ingest_overhead_ratio``, ``dashboard_p50_ms``/``p95`` (everything a saved search's
dashboard page reads, over the posts' last 7 and 30 days; ``dashboard_posts_mean``: how many
posts a dashboard counted, on average), ``search_p50_ms``/``p95`` (an ad-hoc query, top 20
by recency, re-checked by the matcher) and ``saved_search_top20_p50_ms``/``p95`` (a saved
search's latest 20 posts, read from its match rows, as its page and board columns do).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--posts", type=int, default=100_000, help="posts to write (default 100000)")
    parser.add_argument("--searches", type=int, default=200, help="saved searches (default 200)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (a fresh database is created next to it)")
    parser.add_argument("--alerting", type=float, default=0.1,
                        help="share of the searches with spike alerts on, whose minute counts ingest keeps (default 0.1)")
    parser.add_argument("--batch", type=int, default=None, help="posts per write transaction (default: as veille import)")
    parser.add_argument("--rounds", type=int, default=60, help="timed dashboard and search requests (default 60)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")


def main(args: argparse.Namespace) -> int:
    from veille.bench import fresh_database

    with fresh_database(args.database_url):
        figures = run(args.posts, args.searches, batch=args.batch, rounds=args.rounds, seed=args.seed, alerting=args.alerting)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>28}: {value}")
    return 0


NEGATIVE = ("panne", "störung", "guasto", "outage", "down", "nul", "lent", "langsam", "lento", "slow", "😡", "🤬")
POSITIVE = ("merci", "danke", "grazie", "thanks", "super", "top", "great", "❤")


def cheap_enrich(rows, *, full: bool = True) -> None:
    """Stand-in for the NLP models: language from the post, sentiment from a few words."""
    for row in rows:
        lowered = row.text.lower()
        row.language = row.language or "en"
        row.sentiment = ("negative" if any(w in lowered for w in NEGATIVE)
                         else "positive" if any(w in lowered for w in POSITIVE) else "neutral")


def make_queries(texts: list[str], count: int, rng: random.Random) -> list[str]:
    """Saved searches a community team would write: brands, topics, phrases, hashtags, filters."""
    from veille.listening.query import HASHTAG_RE, WORD_RE, fold

    words: Counter = Counter()
    tags: Counter = Counter()
    bigrams: Counter = Counter()
    for text in texts:
        folded = fold(text)
        tokens = [t for t in WORD_RE.findall(folded) if len(t) > 3 and not t.isdigit()]
        words.update(set(tokens))
        tags.update(set(HASHTAG_RE.findall(folded)))
        bigrams.update(zip(tokens, tokens[1:], strict=False))
    def top(counter: Counter, n: int) -> list:  # ties broken by value: the same queries on every run
        return [key for key, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]

    common = top(words, 400)[20:]  # the very commonest words are noise
    rare = top(words, 3000)[400:]
    hashtags = top(tags, 60)
    phrases = [f'"{a} {b}"' for a, b in top(bigrams, 200)]
    shapes = [
        lambda: rng.choice(common),
        lambda: f"{rng.choice(rare)} OR {rng.choice(rare)} OR {rng.choice(rare)}",
        lambda: rng.choice(phrases),
        lambda: "#" + rng.choice(hashtags),
        lambda: f"{rng.choice(common)} lang:{rng.choice(['fr', 'de', 'it', 'en'])}",
        lambda: f"({rng.choice(common)} OR {rng.choice(rare)}) -{rng.choice(common)}",
        lambda: f"{rng.choice(common)[:4]}* sentiment:negative",
        lambda: f"{rng.choice(common)} NEAR/3 {rng.choice(common)}",
    ]
    return [shapes[i % len(shapes)]() for i in range(count)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(n_posts: int, n_searches: int, *, batch: int | None = None, rounds: int = 60, seed: int = 1,
        alerting: float = 0.1) -> dict:
    from django.db import connection

    from veille.accounts.actions import create_workspace
    from veille.ingest import pipeline
    from veille.ingest import queries as post_queries
    from veille.listening import actions, queries
    from veille.listening.models import SearchMatch
    from veille.listening.query import Doc, Matcher, compile_query
    from veille.listening.search import search_ids
    from veille.listening.views import _dashboard
    from veille.sources.demo import DemoGenerator
    from veille.sources.models import Source

    rng = random.Random(seed)
    pipeline.enrich = cheap_enrich
    start = datetime(2026, 1, 1, tzinfo=UTC)
    # Enough time for the posts to spread over ~60 days, as a busy brand's history would.
    rate = max(1.0, n_posts / (60 * 24 * 60))
    generator = DemoGenerator(seed=seed, start=start, rate_per_min=rate, outage_at_min=60 * 24 * 20)
    started = time.perf_counter()
    posts = generator.posts(n_posts)
    generate_s = time.perf_counter() - started

    plain = create_workspace("Without searches", "bench-plain")
    listened = create_workspace("With searches", "bench-listened")
    plain_source = Source.objects.create(workspace=plain, name="demo", platform="import")
    listened_source = Source.objects.create(workspace=listened, name="demo", platform="import")
    query_texts = make_queries([p["text"] for p in posts[:20000]], n_searches, rng)
    # Some searches alert (a brand, an outage watch): ingest keeps minute counts for those only.
    n_alerting = round(n_searches * alerting)
    searches = [actions.create_search(listened, None, name=f"search {i}", query=q, spike_enabled=i < n_alerting)
                for i, q in enumerate(query_texts)]

    # Live matching alone (Python): documents built and matched, as the ingest hook does.
    matcher = Matcher([(s.id, compile_query(s.query)) for s in searches])
    sample = posts[: min(len(posts), 50_000)]
    started = time.perf_counter()
    matched = 0
    for post in sample:
        doc = Doc(post["text"], language=post.get("lang") or "", sentiment="neutral", platform="import",
                  handle=post["author"]["handle"].lower())
        matched += len(matcher.match(doc))
    match_s = time.perf_counter() - started
    n_sample = len(sample)

    # Time spent in the listening store hook itself, per workspace (the rest of the difference is
    # the cost of larger tables and indexes).
    from veille.ingest import importer
    from veille.listening import matching

    hook_s = {plain.id: 0.0, listened.id: 0.0}
    original_hook = matching.on_posts_stored

    def timed_hook(workspace_id, stored, now):
        t0 = time.perf_counter()
        original_hook(workspace_id, stored, now)
        hook_s[workspace_id] += time.perf_counter() - t0

    write_s = {plain.id: 0.0, listened.id: 0.0}
    original_write = importer.write

    def timed_write(prepared, *args, **kwargs):
        t0 = time.perf_counter()
        result = original_write(prepared, *args, **kwargs)
        for workspace_id in prepared.rows:
            write_s[workspace_id] += time.perf_counter() - t0
        return result

    # Only the listening hooks run (other apps' hooks, e.g. care routing, would time themselves).
    hooks = pipeline.POST_STORE_HOOKS
    saved_hooks = list(hooks)
    hooks[:] = [timed_hook]
    saved_prepare_hooks = list(pipeline.PREPARE_HOOKS)
    pipeline.PREPARE_HOOKS[:] = [matching.annotate]
    importer.write = timed_write
    saved_chunk = importer.INTAKE_CHUNK
    if batch:
        importer.INTAKE_CHUNK = batch
    # Ingest is ``veille import`` itself (preparing in other processes on a multi-core machine),
    # part by part, alternating the workspaces so that neither always writes into the larger tables.
    total_s = {plain.id: 0.0, listened.id: 0.0}
    n_posts = len(posts)
    parts = max(1, min(10, n_posts // 20_000))
    size = -(-n_posts // parts)
    try:
        with tempfile.TemporaryDirectory(prefix="veille-bench-") as folder:
            paths = [Path(folder) / f"part{index}.ndjson" for index in range(parts)]
            for index, path in enumerate(paths):
                with path.open("w", encoding="utf-8") as out:
                    for post in posts[index * size:(index + 1) * size]:
                        out.write(json.dumps(post, ensure_ascii=False) + "\n")
            # The files hold the posts now: a real ``veille import`` process does not carry a
            # million generated posts in memory, whose every garbage collection would be timed.
            del posts, sample
            gc.collect()
            for path in paths:
                for source in (plain_source, listened_source):
                    t0 = time.perf_counter()
                    report = importer.import_file(path, source.id, "ndjson")
                    total_s[source.workspace_id] += time.perf_counter() - t0
                    if report.rejected:
                        raise RuntimeError(f"the benchmark's own posts were rejected: {report.rejections[:3]}")
    finally:
        importer.write = original_write
        importer.INTAKE_CHUNK = saved_chunk
        pipeline.PREPARE_HOOKS[:] = saved_prepare_hooks
    plain_total_s, listened_total_s = total_s[plain.id], total_s[listened.id]
    plain_s, listened_s = write_s[plain.id], write_s[listened.id]

    hooks[:] = saved_hooks
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum / a running desk would have

    # The dashboards look at the last 7 or 30 days of the posts, not of the calendar (the posts
    # are dated from ``start``): windows that hold them, as a team's dashboards do.
    now = start + timedelta(minutes=n_posts / rate)
    _dashboard(listened.id, searches[0].id, 7, now)  # warm-up: URL resolver, templates, statement caches
    search_ids(listened.id, compile_query(query_texts[0]), limit=20)
    dashboard_ms: list[float] = []
    dashboard_posts = 0
    for i in range(rounds):
        search = rng.choice(searches)
        days = 7 if i % 2 else 30
        t0 = time.perf_counter()
        context = _dashboard(listened.id, search.id, days, now)
        queries.share_of_voice(listened.id, searches[:5], *queries.period(days, now))
        dashboard_ms.append((time.perf_counter() - t0) * 1000)
        dashboard_posts += context["total"]
    # Ad-hoc queries (top 20 by recency): the saved searches' queries, typed again.
    search_ms: list[float] = []
    found = 0
    for _ in range(rounds):
        compiled = compile_query(rng.choice(query_texts))
        t0 = time.perf_counter()
        found += len(search_ids(listened.id, compiled, limit=20))
        search_ms.append((time.perf_counter() - t0) * 1000)

    # A saved search's latest 20 posts (what its page and board column read): the match rows.
    saved_ms: list[float] = []
    for _ in range(rounds):
        search = rng.choice(searches)
        t0 = time.perf_counter()
        post_queries.posts_by_ids(listened.id, queries.matching_posts(listened.id, search.id, limit=20))
        saved_ms.append((time.perf_counter() - t0) * 1000)

    total_matches = SearchMatch.objects.count()
    return {
        "database": connection.vendor,
        "posts": n_posts,
        "searches": len(searches),
        "alerting_searches": n_alerting,
        "generate_s": round(generate_s, 2),
        "match_posts_per_s": round(n_sample / match_s, 1),
        "matches_per_post": round(matched / n_sample, 3),
        "ingest_s_without_searches": round(plain_total_s, 3),
        "ingest_s_with_searches": round(listened_total_s, 3),
        "ingest_overhead_ratio": round(listened_total_s / plain_total_s, 3) if plain_total_s else None,
        "write_s_without_searches": round(plain_s, 3),
        "write_s_with_searches": round(listened_s, 3),
        "write_overhead_ratio": round(listened_s / plain_s, 3) if plain_s else None,
        "hook_s_without_searches": round(hook_s[plain.id], 3),
        "hook_s_with_searches": round(hook_s[listened.id], 3),
        "match_rows": total_matches,
        "dashboard_p50_ms": round(statistics.median(dashboard_ms), 2),
        "dashboard_p95_ms": round(percentile(dashboard_ms, 0.95), 2),
        "dashboard_posts_mean": round(dashboard_posts / rounds, 1),
        "search_p50_ms": round(statistics.median(search_ms), 2),
        "search_p95_ms": round(percentile(search_ms, 0.95), 2),
        "search_hits_mean": round(found / rounds, 1),
        "saved_search_top20_p50_ms": round(statistics.median(saved_ms), 2),
        "saved_search_top20_p95_ms": round(percentile(saved_ms, 0.95), 2),
        "batch": batch,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
