"""A real desk (``veille run`` in its own process, real HTTP) and the system Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed: run `make install-test` (scripts/ensure-chromium.sh)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Desk:
    def __init__(self, url: str, var_dir: Path, env: dict[str, str]) -> None:
        self.url = url
        self.var_dir = var_dir
        self.env = env

    def veille(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "veille.cli", *args], env=self.env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout


@pytest.fixture(scope="session")
def desk(tmp_path_factory) -> Iterator[Desk]:
    var_dir = tmp_path_factory.mktemp("desk")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "VEILLE_DATABASE_URL"}
    env.update(VEILLE_VAR_DIR=str(var_dir), VEILLE_DEMO_RATE_PER_MIN="120", VEILLE_LANGUAGE="en", VEILLE_LOG_LEVEL="WARNING")
    # The desk's output goes to a file: an unread pipe fills up and blocks the server.
    log_file = open(var_dir / "desk.log", "w")  # noqa: SIM115 - closed at teardown
    process = subprocess.Popen([sys.executable, "-m", "veille.cli", "run", "--port", str(port)], env=env,
                               stdout=log_file, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url + "/login/", timeout=2)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = (var_dir / "desk.log").read_text()
                pytest.fail(f"veille run did not start:\n{output}")
            time.sleep(0.3)
    desk = Desk(url, var_dir, env)
    desk.veille("createuser", "cm", "--role", "community_manager", "--password", "a-long-test-password")
    yield desk
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    log_file.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    context.close()


def log_in(page, desk: Desk, username: str = "cm", password: str = "a-long-test-password") -> None:
    page.goto(desk.url + "/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-form button[type=submit]")
