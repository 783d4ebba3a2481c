"""Graph errors → connector errors."""

from __future__ import annotations

import httpx
import pytest

from veille.sources.connector import (
    ConnectorError,
    NeedsReconnection,
    RateLimited,
    TransientError,
    Unsupported,
)
from veille.sources.facebook.client import rate_limit_wait


def test_expired_page_token_needs_reconnection(fake_fb, make_fb):
    fake_fb.fail_next("190")
    with pytest.raises(NeedsReconnection, match="expired"):
        make_fb().poll(None)


def test_wrong_token_needs_reconnection(make_fb):
    with pytest.raises(NeedsReconnection):
        make_fb(credentials={"page_access_token": "nope"}).poll(None)


def test_page_throttling_waits_for_graphs_estimate(fake_fb, make_fb):
    fake_fb.fail_next("throttle-32")
    with pytest.raises(RateLimited) as caught:
        make_fb().poll(None)
    assert caught.value.retry_after_s == 7 * 60


def test_app_throttling_without_estimate_waits_a_few_minutes(fake_fb, make_fb):
    fake_fb.fail_next("throttle-4")
    with pytest.raises(RateLimited) as caught:
        make_fb().poll(None)
    assert caught.value.retry_after_s == 300


@pytest.mark.parametrize("code", [17, 613, 80001])
def test_other_throttling_codes(code):
    from veille.sources.facebook.client import GraphClient

    def answer(request):
        return httpx.Response(
            400,
            json={
                "error": {
                    "message": "slow down",
                    "type": "OAuthException",
                    "code": code,
                    "fbtrace_id": "x",
                }
            },
        )

    client = GraphClient(
        {"page_access_token": "t"},
        base_url="http://127.0.0.1:9",
        http=httpx.Client(transport=httpx.MockTransport(answer)),
    )
    with pytest.raises(RateLimited):
        client.request("GET", "/me")


def test_rate_limit_wait_reads_the_largest_estimate():
    headers = httpx.Headers(
        {
            "x-business-use-case-usage": '{"1": [{"type": "pages", "estimated_time_to_regain_access": 3}],'
            ' "2": [{"type": "messenger", "estimated_time_to_regain_access": 12}]}'
        }
    )
    assert rate_limit_wait(headers, 80006) == 720
    assert rate_limit_wait(httpx.Headers({"x-business-use-case-usage": "not json"}), 613) == 60


@pytest.mark.parametrize("failure", ["500", "transient-2", "malformed", "drop"])
def test_transient_failures(fake_fb, make_fb, failure):
    fake_fb.add_post("Post")
    connector = make_fb()
    fake_fb.fail_next(failure)
    with pytest.raises(TransientError):
        connector.poll(None)
    assert len(connector.poll(None).records) == 1


def test_permission_error_is_unsupported_and_bad_request_is_an_error():
    from veille.sources.facebook.client import GraphClient

    answers = iter(
        [
            {
                "error": {
                    "message": "(#200) Requires pages_manage_engagement",
                    "type": "OAuthException",
                    "code": 200,
                }
            },
            {
                "error": {
                    "message": "(#100) Invalid parameter",
                    "type": "OAuthException",
                    "code": 100,
                }
            },
        ]
    )
    client = GraphClient(
        {"page_access_token": "t"},
        base_url="http://127.0.0.1:9",
        http=httpx.Client(
            transport=httpx.MockTransport(lambda request: httpx.Response(400, json=next(answers)))
        ),
    )
    with pytest.raises(Unsupported, match="pages_manage_engagement"):
        client.request("POST", "/1_2", json_body={"is_hidden": True})
    with pytest.raises(ConnectorError, match="Invalid parameter"):
        client.request("GET", "/1_2")


def test_appsecret_proof_is_sent_when_the_app_secret_is_known(fake_fb, make_fb):
    make_fb(credentials={"page_access_token": "page-token", "app_secret": "s3cret"}).poll(None)
    import hashlib
    import hmac

    expected = hmac.new(b"s3cret", b"page-token", hashlib.sha256).hexdigest()
    assert fake_fb.requests[-1]["query"]["appsecret_proof"] == expected
