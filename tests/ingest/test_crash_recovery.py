"""Reliability, stated as tests: real worker processes, killed for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from tests.support import make_post
from veille.ingest import queue
from veille.ingest.models import Post, RawItem, RawStatus
from veille.sources.base import RawRecord

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def database_url() -> str:
    settings_dict = connection.settings_dict
    if connection.vendor == "postgresql":
        user = settings_dict["USER"] or "postgres"
        host = settings_dict["HOST"] or "127.0.0.1"
        port = settings_dict["PORT"] or "5432"
        return f"postgresql://{user}@{host}:{port}/{settings_dict['NAME']}"
    return f"sqlite:///{os.path.abspath(settings_dict['NAME'])}"


def start_worker(*extra: str, pause_s: float = 0.0) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(
        VEILLE_DATABASE_URL=database_url(),
        VEILLE_INGEST_LEASE_S="5",
        VEILLE_INGEST_BATCH="100",
        VEILLE_ENRICH="false",
        VEILLE_FAULT_PAUSE_IN_BATCH_S=str(pause_s),
    )
    return subprocess.Popen([sys.executable, "-m", "veille.cli", "worker", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigkill_mid_batch_then_restart_stores_every_item_exactly_once(source):
    total = 600
    queue.intake(source.id, "ndjson", [RawRecord(payload=make_post(f"k{i}", minutes=i)) for i in range(total)])
    victim = start_worker(pause_s=1.5)
    try:
        # Kill while a batch is inside its transaction: some batches are committed, one is not.
        wait_for(lambda: Post.objects.filter(source=source).count() >= 100, 60, "the first committed batch")
        time.sleep(0.7)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    stored_before = Post.objects.filter(source=source).count()
    assert 0 < stored_before < total
    assert RawItem.objects.filter(status=RawStatus.PENDING).exclude(lease_owner="").exists(), "a batch was leased when killed"

    survivor = start_worker("--drain")
    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    # Items leased by the dead worker come back once the lease expires; drain again until done.
    wait_for(lambda: subprocess.run([sys.executable, "-m", "veille.cli", "worker", "--drain"],
                                    env={**os.environ, "VEILLE_DATABASE_URL": database_url(), "VEILLE_ENRICH": "false"},
                                    capture_output=True).returncode == 0 and queue.pending_count() == 0, 60, "the queue to empty")
    assert Post.objects.filter(source=source).count() == total
    assert RawItem.objects.filter(status=RawStatus.DONE).count() == total
    assert not RawItem.objects.exclude(status=RawStatus.DONE).exists()
    external_ids = list(Post.objects.filter(source=source).values_list("external_id", flat=True))
    assert len(set(external_ids)) == total


@pytest.mark.postgres_only
def test_two_workers_on_postgresql_process_everything_once(source):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent workers need PostgreSQL (SQLite has one writer)")
    total = 3000
    queue.intake(source.id, "ndjson", [RawRecord(payload=make_post(f"w{i}", minutes=i % 500)) for i in range(total)])
    workers = [start_worker("--drain"), start_worker("--drain")]
    outputs = [worker.communicate(timeout=180) for worker in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    import json

    stored_by_worker = [json.loads(out.strip().splitlines()[-1])["stored"] for out, _ in outputs]
    assert sum(stored_by_worker) == total
    assert all(count > 0 for count in stored_by_worker), "both workers took part"
    assert Post.objects.filter(source=source).count() == total
    assert RawItem.objects.filter(status=RawStatus.DONE).count() == total
    assert not RawItem.objects.filter(status=RawStatus.DUPLICATE).exists()
