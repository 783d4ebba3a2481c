from __future__ import annotations

import pytest

from tests.fakes.bluesky_server import APP_PASSWORD, BRAND_HANDLE, FakeBluesky
from veille.sources.bluesky.client import forget_sessions
from veille.sources.bluesky.connector import BlueskyConnector


@pytest.fixture
def bluesky_server():
    forget_sessions()
    fake = FakeBluesky()
    fake.start()
    yield fake
    fake.stop()
    forget_sessions()


@pytest.fixture
def make_connector(bluesky_server):
    made: list[BlueskyConnector] = []

    def make(follow=("mentions",), password=APP_PASSWORD, **settings):
        connector = BlueskyConnector(
            {"handle": BRAND_HANDLE, "follow": list(follow), **settings},
            {"identifier": BRAND_HANDLE, "app_password": password},
            base_url=bluesky_server.base_url,
            sleep=lambda _s: None,
        )
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()
