"""Listening in a real browser: build a board of two columns, watch a post arrive live in the
right one, run an event view, export a CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect


def log_in(page, desk, username: str = "cm", password: str = "a-long-test-password") -> None:
    # Like tests.browser.conftest.log_in, but clicks the login form's own button (the header's
    # language buttons are submit buttons too, and come first).
    page.goto(desk.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

def create_search(page, desk, name: str, query: str) -> None:
    page.goto(desk.url + "/listening/searches/new/")
    page.fill("#id_name", name)
    page.fill("#id_query", query)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(re.compile(r".*/listening/searches/\d+/$"))


def test_board_event_and_export(desk, page):
    log_in(page, desk)
    page.wait_for_url(desk.url + "/stream/")
    # A malformed query is refused with its position.
    page.goto(desk.url + "/listening/searches/new/")
    page.fill("#id_name", "Broken")
    page.fill("#id_query", "(alpina OR")
    page.click("form.stacked button[type=submit]")
    assert "Position 11" in page.inner_text(".has-error")

    create_search(page, desk, "Brand", "alpina*")
    brand_url = page.url
    create_search(page, desk, "Not brand", "NOT alpina*")

    page.goto(desk.url + "/listening/board/")
    for label in ("Brand", "Not brand"):
        if page.locator("details.add-column[open]").count() == 0:
            page.click("details.add-column summary")
        page.select_option("#add-search", label=label)
        page.click("form:has(#add-search) button[type=submit]")
        page.wait_for_url(desk.url + "/listening/board/")
    columns = page.locator(".board .column")
    assert columns.count() == 2
    assert [columns.nth(i).locator("h2").inner_text() for i in range(2)] == ["Brand", "Not brand"]
    page.wait_for_selector("#board-status.live")
    # The demo source keeps posting: each new post lands live in the column whose query it matches.
    page.wait_for_selector(".column .column-post.fresh", timeout=40_000)
    for i, wants_brand in ((0, True), (1, False)):
        fresh = columns.nth(i).locator(".column-post.fresh")
        for k in range(fresh.count()):
            text = fresh.nth(k).locator(".text").inner_text().lower()
            assert bool(re.search(r"(?<![\w])alpina", text)) == wants_brand, text
    assert sum(int(columns.nth(i).locator(".unread").inner_text().rstrip("+")) for i in range(2)) >= 1

    # Event mode on the brand search: the counter goes up while the event runs.
    page.goto(brand_url)
    page.click("text=Start an event")
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(re.compile(r".*/listening/events/\d+/$"))
    assert page.locator("#event-chart svg.chart").count() == 1
    first = int(page.inner_text("#event-total"))
    # (No wait_for_function: the page's CSP forbids evaluating strings.)
    expect(page.locator("#event-total")).not_to_have_text(str(first), timeout=40_000)
    assert int(page.inner_text("#event-total")) > first

    # CSV export of the matching posts.
    page.goto(brand_url + "?days=1")
    with page.expect_download() as info:
        page.click("text=Export matching posts (CSV)")
    body = open(info.value.path(), encoding="utf-8-sig").read()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:3] == ["id", "created_at", "platform"]
    assert len(rows) > 1 and all("alpina" in row[8].lower() for row in rows[1:])
