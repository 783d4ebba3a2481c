"""Post text is hostile: a <script> in a post is shown as text and never runs."""

from __future__ import annotations

import json

import pytest

from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\"> bonjour"


def test_script_in_a_post_does_not_run(desk, page, tmp_path):
    post = {
        "id": "hostile-1", "text": HOSTILE, "created_at": "2026-11-22T09:00:00+00:00",
        "author": {"id": "evil", "handle": "<b>evil</b>", "name": "<i>Evil</i>", "followers": 1},
        "in_reply_to": None, "outbound": False, "kind": "post", "url": "javascript:alert(1)", "lang": "fr",
    }
    data = tmp_path / "hostile.ndjson"
    data.write_text(json.dumps(post) + "\n")
    log_in(page, desk)
    page.wait_for_url(desk.url + "/stream/")
    page.wait_for_selector("#stream-status.live")
    desk.veille("import", str(data), "--source", "Hostile", "--format", "ndjson")
    # Arrives live through server-sent events...
    # (Our Content-Security-Policy forbids eval, so waits use locators, not page functions.)
    page.locator("#stream .post .text", has_text="window.__pwned = 1").first.wait_for(timeout=20_000)
    assert page.evaluate("window.__pwned") is None
    # ...and on a full page load.
    page.goto(desk.url + "/stream/")
    assert "<script>window.__pwned = 1</script>" in page.inner_text("#stream")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#stream script").count() == 0
    assert page.locator("#stream img").count() == 0
    # A javascript: link from a payload is not made clickable as such.
    assert page.locator("#stream a[href^='javascript:']").count() == 0

