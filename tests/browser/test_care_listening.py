"""Listening and care wired together, in a real browser: "Send to care" on a post in a board
column opens a conversation and shows its link, a care-queue column on the same board shows
that conversation live, and the care queue page updates by server-sent events.

The live checks wait less than the queue page's 15-second fallback refresh (which is off while
the stream is up), so they pass only through the stream."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in as log_in_form

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "a-long-test-password"


def log_in(page, desk, username: str = "cm") -> None:
    """Log in and wait for the desk's first page."""
    log_in_form(page, desk, username, PASSWORD)
    page.wait_for_url(desk.url + "/stream/")


def _import(desk, tmp_path, text: str, marker: str) -> None:
    """One customer post through the real pipeline, in another process (as ``veille import``)."""
    post = {"id": f"wiring-{marker}", "text": text, "created_at": "2026-11-22T09:00:00+00:00",
            "author": {"id": f"u-{marker}", "handle": f"client_{marker}", "name": "Client", "followers": 3},
            "in_reply_to": None, "outbound": False, "kind": "post", "url": "", "lang": "en"}
    data = tmp_path / f"{marker}.ndjson"
    data.write_text(json.dumps(post) + "\n")
    env = {**desk.env, "VEILLE_ENRICH": "false"}  # no complaint score: nothing routes it by itself
    result = subprocess.run([sys.executable, "-m", "veille.cli", "import", str(data), "--source", "Care browser tests",
                             "--format", "ndjson", "--account", "alpina"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _manage(desk, code: str) -> None:
    result = subprocess.run([sys.executable, "-m", "veille.cli", "manage", "shell", "-c", code], env=desk.env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _add_column(page, desk, select: str, label: str) -> None:
    if page.locator("details.add-column[open]").count() == 0:
        page.click("details.add-column summary")
    page.select_option(select, label=label)
    page.click(f"form:has({select}) button[type=submit]")
    page.wait_for_url(desk.url + "/listening/board/")


def test_send_to_care_from_a_column_and_see_it_in_a_care_column(desk, page, tmp_path):
    marker = "m" + uuid.uuid4().hex[:10]
    # A team whose queue only this test's conversation reaches (routing rule on the marker).
    _manage(desk, "from veille.accounts.models import Workspace; from veille.care.models import RoutingRule, Team; "
                  "w = Workspace.objects.order_by('id').first(); "
                  f"t = Team.objects.create(workspace=w, name='{marker}'); "
                  f"RoutingRule.objects.create(workspace=w, name='{marker}', conditions={{'text_contains': ['{marker}']}}, set_team=t)")
    # A user of its own: the shared "cm" keeps an empty board for the other browser tests.
    manager = f"cm_{marker}"
    desk.veille("createuser", manager, "--role", "community_manager", "--password", PASSWORD)
    log_in(page, desk, manager)
    page.goto(desk.url + "/listening/searches/new/")
    page.fill("#id_name", f"Watch {marker}")
    page.fill("#id_query", marker)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(re.compile(r".*/listening/searches/\d+/$"))
    page.goto(desk.url + "/listening/board/")
    _add_column(page, desk, "#add-search", f"Watch {marker}")
    _add_column(page, desk, "#add-care", f"Team {marker}")
    posts_column = page.locator(".board .column", has=page.locator("h2", has_text=f"Watch {marker}"))
    care_column = page.locator(".board .column-care", has=page.locator("h2", has_text=marker))
    expect(care_column.locator(".column-empty")).to_be_visible()
    page.wait_for_selector("#board-status.live")

    _import(desk, tmp_path, f"my box is slow since this morning {marker}", marker)
    post = posts_column.locator(".column-post", has_text=marker)
    expect(post).to_have_count(1, timeout=30_000)  # arrives live in its column
    post.locator(".send-to-care-form button").click()
    link = post.locator("a.care-link")
    expect(link).to_have_text(re.compile(r"In care: #\d+"))
    conversation_id = link.inner_text().rsplit("#", 1)[1]
    # The care column shows the new conversation without a reload.
    item = care_column.locator(f".care-item[data-conversation-id='{conversation_id}']")
    expect(item).to_contain_text(marker, timeout=10_000)

    # After a reload the post still shows its link, and the link opens the conversation.
    page.reload()
    post = page.locator(".board .column .column-post", has_text=marker).first
    expect(post.locator("a.care-link")).to_have_text(f"In care: #{conversation_id}")
    post.locator("a.care-link").click()
    page.wait_for_url(f"**/care/c/{conversation_id}/")
    assert marker in page.inner_text("main")
    assert page.locator(".column-post .send-to-care-form").count() == 0


def test_care_queue_updates_live(desk, browser, tmp_path):
    agent = f"live_{uuid.uuid4().hex[:6]}"
    desk.veille("createuser", agent, "--role", "agent", "--password", PASSWORD)
    marker = "q" + uuid.uuid4().hex[:10]
    agent_context, cm_context = browser.new_context(locale="en-GB"), browser.new_context(locale="en-GB")
    try:
        agent_page, cm_page = agent_context.new_page(), cm_context.new_page()
        for p in (agent_page, cm_page):
            p.set_default_timeout(20_000)
        log_in(agent_page, desk, agent)
        agent_page.goto(f"{desk.url}/care/?queue=all&q={marker}")
        expect(agent_page.locator("#queue-empty")).to_be_visible()
        expect(agent_page.locator("#queue[data-live='true']")).to_have_count(1)
        # A conversation opened by another process (an import) shows up without a reload.
        _import(desk, tmp_path, f"@alpina no signal at all {marker}", marker)
        row = agent_page.locator("#queue-rows tr.conv-row", has_text=marker)
        expect(row).to_have_count(1, timeout=12_000)
        expect(row.locator(".assignee")).to_have_text("Nobody")
        # A colleague takes it: the agent's queue shows the new owner at once.
        log_in(cm_page, desk)
        cm_page.goto(f"{desk.url}/care/?queue=all&q={marker}")
        cm_page.locator("#queue-rows tr.conv-row", has_text=marker).locator(".claim-form button").click()
        cm_page.wait_for_url("**/care/c/*/")
        expect(row.locator(".assignee")).to_have_text("cm", timeout=8_000)
        assert agent_page.locator("#queue-rows tr.conv-row").count() == 1
    finally:
        agent_context.close()
        cm_context.close()
