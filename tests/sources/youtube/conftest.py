"""Fixtures for the YouTube connector tests: a fake Data API v3 and token endpoint on loopback."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.youtube_server import FakeYouTube

CHANNEL = "UCalpina000000000000000"


@pytest.fixture
def fake_yt():
    fake = FakeYouTube(channel_id=CHANNEL, channel_name="@alpina")
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def make_yt(fake_yt):
    from veille.sources.youtube.connector import YoutubeConnector

    clients: list[httpx.Client] = []

    def make(credentials=None, **settings) -> YoutubeConnector:
        http = httpx.Client(timeout=5.0)
        clients.append(http)
        creds = credentials or {
            "access_token": "ya29.first",
            "refresh_token": "1//refresh",
            "client_id": "cid.apps.googleusercontent.com",
            "client_secret": "shh",
        }
        conf = {"channel_id": CHANNEL, "follow": ["comments"], **settings}
        return YoutubeConnector(conf, creds, base_url=fake_yt.url, http=http, sleep=lambda s: None)

    yield make
    for http in clients:
        http.close()
