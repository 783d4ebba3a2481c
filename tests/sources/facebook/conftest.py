"""Fixtures for the Facebook connector tests: a fake Graph API on loopback."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.facebook_server import FakeGraph

CARLA = {"id": "2001", "name": "Carla R"}
DIMITRI = {"id": "2002", "name": "Dimitri"}


@pytest.fixture
def fake_fb():
    fake = FakeGraph(page_id="500", page_name="Alpina")
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def make_fb(fake_fb):
    from veille.sources.facebook.connector import FacebookConnector

    clients: list[httpx.Client] = []

    def make(follow=("comments",), credentials=None, **settings) -> FacebookConnector:
        http = httpx.Client(timeout=5.0)
        clients.append(http)
        creds = credentials or {"page_access_token": "page-token"}
        conf = {"page_id": "500", "follow": list(follow), **settings}
        return FacebookConnector(conf, creds, base_url=fake_fb.url, http=http, sleep=lambda s: None)

    yield make
    for http in clients:
        http.close()
