"""Fixtures for the live-reader tests (``test_live_*.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest


def _wait_for(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "the condition") -> Any:
    """Poll ``predicate`` until it returns something true (an event the test cannot be told
    about directly, such as a row written by a reader thread); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def wait_for():
    return _wait_for


@pytest.fixture
def live():
    """The live-reader module; every reader started by the test is stopped (and has released
    its lease) before the database is flushed."""
    from veille.sources import actions, live

    yield live
    live.shutdown(timeout=10)
    actions._connector_cache.clear()


@pytest.fixture
def bluesky_server():
    """A local server speaking the Bluesky XRPC endpoints the connector uses."""
    from tests.fakes.bluesky_server import FakeBluesky
    from veille.sources.bluesky.client import forget_sessions

    forget_sessions()
    fake = FakeBluesky()
    fake.start()
    yield fake
    fake.stop()
    forget_sessions()


@pytest.fixture
def mastodon_server():
    """A local server speaking the Mastodon REST and streaming API the connector uses."""
    from tests.fakes.mastodon_server import FakeMastodon
    from veille.sources import actions

    fake = FakeMastodon()
    fake.start()
    yield fake
    fake.stop()
    actions._connector_cache.clear()
