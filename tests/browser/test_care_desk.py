"""The care desk as people use it: an agent handles a conversation end to end with the keyboard,
a held reply is approved by the community manager, and two agents race to take one conversation."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest

from tests.browser.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PASSWORD = "a-long-test-password"
HOSTILE = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">"


def _user(desk, name: str, role: str) -> str:
    desk.veille("createuser", name, "--role", role, "--password", PASSWORD)
    return name


def _customer_post(desk, tmp_path, text: str) -> str:
    """Bring in one post mentioning the brand through the real pipeline; returns its marker."""
    marker = uuid.uuid4().hex[:10]
    post = {"id": f"care-{marker}", "text": f"@alpina {text} {marker}", "created_at": "2026-11-22T09:00:00+00:00",
            "author": {"id": f"u-{marker}", "handle": f"client_{marker}", "name": "Client", "followers": 3},
            "in_reply_to": None, "outbound": False, "kind": "post", "url": "", "lang": "en"}
    data = tmp_path / f"{marker}.ndjson"
    data.write_text(json.dumps(post) + "\n")
    env = {**desk.env, "VEILLE_ENRICH": "false"}  # routing needs no sentiment model
    result = subprocess.run([sys.executable, "-m", "veille.cli", "import", str(data), "--source", "Care browser tests",
                             "--format", "ndjson", "--account", "alpina"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return marker


def _manage(desk, code: str) -> None:
    result = subprocess.run([sys.executable, "-m", "veille.cli", "manage", "shell", "-c", code], env=desk.env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def _open_from_queue(page, desk, marker: str, queue: str = "unassigned") -> None:
    page.goto(f"{desk.url}/care/?queue={queue}&q={marker}")
    page.wait_for_selector("#queue-rows tr.conv-row")
    assert page.locator("#queue-rows tr.conv-row").count() == 1


def test_agent_handles_a_conversation_end_to_end(desk, page, tmp_path):
    agent = _user(desk, f"agent_{uuid.uuid4().hex[:6]}", "agent")
    marker = _customer_post(desk, tmp_path, f"my box is broken {HOSTILE}")
    log_in(page, desk, agent, PASSWORD)
    page.wait_for_url(desk.url + "/stream/")
    _open_from_queue(page, desk, marker)
    assert HOSTILE.split(">")[0] in page.inner_text("#queue-rows")  # shown as text
    page.keyboard.press("j")
    page.keyboard.press("a")  # take it: lands on the conversation
    page.wait_for_url("**/care/c/*/")
    assert agent in page.inner_text("#assignee")
    page.keyboard.press("r")
    assert page.evaluate("document.activeElement.id") == "reply-text"
    page.keyboard.type("Sorry about that! We are restarting your line now.")
    page.click("#reply-send")
    page.wait_for_selector("#replies li.reply.state-queued")
    assert "restarting your line" in page.inner_text("#replies")
    page.keyboard.press("e")  # resolve
    # (Locator waits: the page's Content-Security-Policy forbids evaluating strings.)
    page.locator("#conv-status", has_text="Resolved").wait_for()
    assert page.evaluate("window.__pwned") is None
    page.goto(f"{desk.url}/care/?queue=closed&q={marker}")
    assert page.locator("#queue-rows tr.conv-row").count() == 1


def test_held_reply_is_approved_by_the_community_manager(desk, browser, tmp_path):
    agent = _user(desk, f"new_{uuid.uuid4().hex[:6]}", "agent")
    _manage(desk, "from veille.accounts.models import User, Workspace; from veille.care import actions; "
                  f"u = User.objects.get(username='{agent}'); w = u.memberships.get().workspace; "
                  "actions.update_agent(w, None, u.pk, approval_policy='all')")
    marker = _customer_post(desk, tmp_path, "my invoice is wrong")
    agent_context, cm_context = browser.new_context(locale="en-GB"), browser.new_context(locale="en-GB")
    try:
        agent_page, cm_page = agent_context.new_page(), cm_context.new_page()
        for p in (agent_page, cm_page):
            p.set_default_timeout(20_000)
        log_in(agent_page, desk, agent, PASSWORD)
        agent_page.wait_for_url(desk.url + "/stream/")
        _open_from_queue(agent_page, desk, marker)
        agent_page.click("#queue-rows tr.conv-row .open-link")
        agent_page.click("#claim-button")
        agent_page.fill("#reply-text", "We will refund you.")
        agent_page.click("#reply-send")
        agent_page.wait_for_selector("#replies li.reply.state-awaiting_approval")
        log_in(cm_page, desk)
        cm_page.wait_for_url(desk.url + "/stream/")
        cm_page.goto(desk.url + "/care/approvals/")
        card = cm_page.locator("article.approval", has_text="We will refund you.")
        card.locator("textarea[name=text]").fill("We will refund you within 5 days.")
        card.locator(".approve-form input[name=note]").fill("Always give a delay")
        card.locator("button.approve").click()
        cm_page.wait_for_load_state()
        assert cm_page.locator("article.approval", has_text="refund you within").count() == 0
        agent_page.reload()
        agent_page.wait_for_selector("#replies li.reply.state-queued")
        text = agent_page.inner_text("#replies")
        assert "within 5 days" in text and "Always give a delay" in text
    finally:
        agent_context.close()
        cm_context.close()


def test_two_agents_race_to_take_one_conversation(desk, browser, tmp_path):
    names = [_user(desk, f"racer_{uuid.uuid4().hex[:6]}", "agent") for _ in range(2)]
    marker = _customer_post(desk, tmp_path, "no signal at all")
    contexts = [browser.new_context(locale="en-GB") for _ in names]
    try:
        pages = [context.new_page() for context in contexts]
        for p, name in zip(pages, names, strict=True):
            p.set_default_timeout(20_000)
            log_in(p, desk, name, PASSWORD)
            p.wait_for_url(desk.url + "/stream/")
            _open_from_queue(p, desk, marker)
            p.click("#queue-rows tr.conv-row .open-link")
            p.wait_for_selector("#claim-button")
        # Both submit at once; the server decides.
        for p in pages:
            p.evaluate("document.getElementById('claim-form').requestSubmit()")
        for p in pages:
            p.wait_for_selector(".messages li")
        outcomes = [p.inner_text(".messages") for p in pages]
        assert sum("You took this conversation" in o for o in outcomes) == 1, outcomes
        assert sum("Someone else already took" in o for o in outcomes) == 1, outcomes
        for p in pages:
            p.reload()
        owners = {p.inner_text("#assignee") for p in pages}
        assert len(owners) == 1
        winner = names[0] if "You took" in outcomes[0] else names[1]
        assert winner in owners.pop()
    finally:
        for context in contexts:
            context.close()


def test_care_pages_send_no_inline_script(desk, page):
    log_in(page, desk)
    page.wait_for_url(desk.url + "/stream/")
    for path in ("/care/", "/care/approvals/", "/care/sla/", "/care/incidents/"):
        response = page.goto(desk.url + path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers.get("content-security-policy", "")
        assert page.evaluate("[...document.scripts].every(s => s.src)"), path


