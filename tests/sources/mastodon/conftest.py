from __future__ import annotations

import pytest

from tests.fakes.mastodon_server import TOKEN
from veille.sources.mastodon.connector import MastodonConnector


@pytest.fixture
def make_connector(mastodon_server):
    made: list[MastodonConnector] = []

    def make(follow=("notifications",), token=TOKEN, **settings):
        connector = MastodonConnector(
            {"account": "@brand@mastodon.example", "follow": list(follow), **settings},
            {"access_token": token},
            base_url=mastodon_server.base_url,
            sleep=lambda _s: None,
        )
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()
