"""The ingest benchmark runs end to end and prints the figures it promises (not a timing test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "formats" / "twcs_sample.csv"


@pytest.mark.slow
def test_bench_ingest_prints_posts_per_second_and_a_ratio_against_its_baseline(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "VEILLE_DATABASE_URL"}
    env["VEILLE_VAR_DIR"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-m", "veille.cli", "bench", "ingest", "--input", str(FIXTURE), "--json", "--core"],
                            env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["posts"] == figures["baseline_posts"] > 0
    for key in ("seconds", "posts_per_s", "baseline_posts_per_s", "ratio"):
        assert figures[key] > 0, key
    assert figures["ratio"] == pytest.approx(figures["posts_per_s"] / figures["baseline_posts_per_s"], rel=0.01, abs=0.001)
    assert figures["app_hooks"] == []
    assert not list(tmp_path.glob("veille.sqlite3*")), "the benchmark uses its own temporary database"
