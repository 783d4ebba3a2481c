"""X failures: 401 and refresh, 429 with reset, 5xx, malformed JSON, dropped connections."""

from __future__ import annotations

import pytest

from veille.sources.connector import (
    NeedsReconnection,
    RateLimited,
    TransientError,
    Unsupported,
)


def test_expired_token_is_refreshed_once_and_the_call_succeeds(fake_x, make_x):
    seen = []
    fake_x.add_tweet("2001", "@alpina hi", mentions_me=True)
    fake_x.expire_tokens()
    connector = make_x()
    connector.client.on_credentials = seen.append
    result = connector.poll(None)
    assert len(result.records) == 1
    assert connector.credentials["access_token"] == "at-2"
    assert connector.credentials["refresh_token"] == "rt-2"  # X rotates it: persist it
    assert seen and seen[-1]["refresh_token"] == "rt-2"
    assert [r["path"] for r in fake_x.requests] == [
        "/2/users/1000/mentions",
        "/2/oauth2/token",
        "/2/users/1000/mentions",
    ]


def test_failed_refresh_needs_reconnection(fake_x, make_x):
    fake_x.expire_tokens()
    fake_x.refresh_fails = True
    with pytest.raises(NeedsReconnection, match="refresh failed"):
        make_x().poll(None)


def test_401_after_a_successful_refresh_needs_reconnection(fake_x, make_x):
    fake_x.fail_next("401", times=2, path="/mentions")
    with pytest.raises(NeedsReconnection):
        make_x().poll(None)
    assert [r["path"] for r in fake_x.requests].count("/2/oauth2/token") == 1


def test_oauth1_keys_cannot_refresh(fake_x, make_x):
    creds = {
        "consumer_key": "ck",
        "consumer_secret": "cs",
        "access_token": "t",
        "access_token_secret": "ts",
    }
    fake_x.add_dm("2001", "hello")
    connector = make_x(follow=["dm"], credentials=creds)
    assert len(connector.poll(None).records) == 1
    assert fake_x.requests[-1]["auth"].startswith('OAuth oauth_consumer_key="ck"')
    fake_x.fail_next("401")
    with pytest.raises(NeedsReconnection):
        connector.poll(None)
    assert "/2/oauth2/token" not in [r["path"] for r in fake_x.requests]


def test_429_gives_retry_after_from_the_reset_header(fake_x, make_x):
    fake_x.now = 1_750_000_000
    fake_x.fail_next("429", reset_in=321)
    with pytest.raises(RateLimited) as caught:
        make_x().poll(None)
    assert caught.value.retry_after_s == pytest.approx(321)


def test_429_on_the_daily_post_cap_waits_for_the_24_hour_reset():
    import httpx

    from veille.sources.x.client import retry_after_from

    headers = httpx.Headers(
        {
            "date": "Mon, 16 Jun 2025 12:00:00 GMT",  # 1750075200
            "x-rate-limit-remaining": "40",
            "x-rate-limit-reset": "1750076100",
            "x-user-limit-24hour-remaining": "0",
            "x-user-limit-24hour-reset": "1750118400",
        }
    )
    assert retry_after_from(headers) == pytest.approx(1750118400 - 1750075200)
    assert retry_after_from(httpx.Headers({})) == 60.0


@pytest.mark.parametrize("failure", ["500", "malformed", "drop"])
def test_server_errors_bad_json_and_dropped_connections_are_transient(fake_x, make_x, failure):
    fake_x.add_tweet("2001", "@alpina hi", mentions_me=True)
    connector = make_x()
    fake_x.fail_next(failure)
    with pytest.raises(TransientError):
        connector.poll(None)
    assert len(connector.poll(None).records) == 1  # and the next poll works


def test_timeout_is_transient(make_x):
    import httpx

    from veille.sources.x.connector import XConnector

    def slow(request):
        raise httpx.ReadTimeout("too slow", request=request)

    http = httpx.Client(transport=httpx.MockTransport(slow))
    connector = XConnector(
        {"user_id": "1", "tier": "pro", "follow": ["mentions"]},
        {"access_token": "a"},
        base_url="http://127.0.0.1:9",
        http=http,
    )
    with pytest.raises(TransientError, match="timed out"):
        connector.poll(None)


def test_app_not_enrolled_for_the_endpoint_is_unsupported(fake_x, make_x):
    fake_x.fail_next("403-enrollment")
    with pytest.raises(Unsupported, match="Client Forbidden"):
        make_x().poll(None)


def test_oauth1_signature_matches_the_published_example():
    from veille.sources.x.client import oauth1_authorization

    header = oauth1_authorization(
        "POST",
        "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
        consumer_key="xvz1evFS4wEEPTGEFPHBog",
        consumer_secret="kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        token="370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        token_secret="LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        timestamp=1318622958,
        body_params=[("status", "Hello Ladies + Gentlemen, a signed OAuth request!")],
    )
    assert 'oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D"' in header
