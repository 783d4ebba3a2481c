"""Fixtures for the X connector tests: a fake X API on loopback and a connector pointed at it."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.x_server import FakeX


@pytest.fixture
def fake_x():
    fake = FakeX(me_id="1000", me_username="alpina")
    fake.add_user("2001", "carla", "Carla R", 120)
    fake.add_user("2002", "dimitri", "Dimitri", 7)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def make_x(fake_x):
    from veille.sources.x.connector import XConnector

    clients: list[httpx.Client] = []

    def make(follow=("mentions",), tier="pro", credentials=None, **settings) -> XConnector:
        http = httpx.Client(timeout=5.0)
        clients.append(http)
        creds = credentials or {"access_token": "at-1", "refresh_token": "rt-1", "client_id": "cid"}
        conf = {
            "user_id": "1000",
            "handle": "alpina",
            "tier": tier,
            "follow": list(follow),
            **settings,
        }
        return XConnector(conf, creds, base_url=fake_x.url, http=http, sleep=lambda s: None)

    yield make
    for http in clients:
        http.close()
