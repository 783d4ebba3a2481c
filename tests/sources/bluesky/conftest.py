from __future__ import annotations

import pytest

from tests.fakes.bluesky_server import APP_PASSWORD, BRAND_HANDLE
from veille.sources.bluesky.connector import BlueskyConnector


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
