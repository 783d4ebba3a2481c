"""What a person sees: log in, watch a demo post arrive live, find it with search."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_log_in_see_a_post_arrive_live_and_search_it(desk, page):
    log_in(page, desk)
    page.wait_for_url(desk.url + "/stream/")
    page.wait_for_selector("#stream-status.live")
    before = page.locator("#stream article.post").count()
    # The demo source keeps posting: a new post must appear without reloading the page. (One
    # may already have arrived before the count: wait for the count itself to grow.)
    page.locator("#stream article.post").nth(before).wait_for(timeout=30_000)
    assert page.locator("#stream article.post.fresh").count() >= 1
    assert int(page.inner_text("#new-count")) >= 1
    fresh = page.locator("#stream article.post.fresh").first
    text = fresh.locator(".text").inner_text()
    # Words as the index splits them ("Hello," and "third-party" hold words too).
    words = re.findall(r"[^\W\d_]{5,}", text)[:2]
    assert words, f"no searchable word in {text!r}"
    page.fill(".search-inline input[name=q]", " ".join(words))
    page.press(".search-inline input[name=q]", "Enter")
    page.wait_for_url("**/search/?q=*")
    results = page.locator("#search-results article.post")
    assert results.count() >= 1
    assert any(" ".join(words).lower() in results.nth(i).inner_text().lower() or all(w.lower() in results.nth(i).inner_text().lower() for w in words)
               for i in range(results.count()))


def test_wrong_password_is_refused_and_pages_need_login(desk, page):
    page.goto(desk.url + "/stream/")
    assert "/login/" in page.url
    log_in(page, desk, password="wrong password here")
    assert page.locator(".error").count() == 1
    assert "/login/" in page.url
