"""The listening benchmark runs end to end (tiny sizes) and reports the figures asked for."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_bench_listening_figures():
    from veille.bench.listening import run

    figures = run(400, 20, batch=100, rounds=3)
    for key in ("match_posts_per_s", "ingest_overhead_ratio", "dashboard_p50_ms", "dashboard_p95_ms", "search_p50_ms", "search_p95_ms"):
        assert figures[key] > 0, key
    assert figures["posts"] == 400 and figures["searches"] == 20 and figures["match_rows"] > 0
    # The dashboards were timed over windows that hold the posts, whatever today's date.
    assert figures["dashboard_posts_mean"] > 0
