from __future__ import annotations

import pytest

from tests.fakes.rss_server import FakeFeedHost
from veille.sources.rss.connector import RssConnector


@pytest.fixture
def feed_host():
    fake = FakeFeedHost()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def make_connector(feed_host):
    made: list[RssConnector] = []

    def make(feeds=("/blog.xml",), credentials=None):
        connector = RssConnector({"feeds": list(feeds)}, credentials or {}, base_url=feed_host.base_url)
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()
