"""Browser fixtures: the app served over real HTTP, and a headless Debian chromium to drive it.

Chromium comes from the distribution (`apt-get install -y chromium`), never from
`playwright install`. Without it these tests are skipped, unless UPDATES_REQUIRE_BROWSER=1
(set it in CI), in which case they fail.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import BaseWSGIServer, make_server

from tests.browser.axe import AXE_SCRIPT, INSTALL, script_text
from tests.helpers import missing_part
from updates.dev.embedded_redis import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000
HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # marked before `-m` selects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every browser test is slow: `-m "not slow"` leaves them out."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def live_port() -> int:
    return free_port()


@pytest.fixture
def live_url(live_port: int) -> str:
    return f"http://127.0.0.1:{live_port}"


@pytest.fixture
def app_config(app_config: dict[str, object], live_url: str) -> dict[str, object]:
    """The shared settings, with emailed links pointing at the live server."""
    app_config["BASE_URL"] = live_url
    return app_config


@pytest.fixture
def live_server(app: Flask, live_port: int, live_url: str) -> Iterator[str]:
    """The `app` fixture's app served over HTTP in a background thread; yields its base URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", live_port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield live_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if CHROMIUM.exists():
        return str(CHROMIUM)
    reason = f"browser tests need {CHROMIUM}: install it with `apt-get install -y chromium`"
    missing_part(reason, "UPDATES_REQUIRE_BROWSER")


@pytest.fixture(scope="session")
def axe(chromium_path: str) -> str:
    """axe-core's script; missing, the accessibility tests are skipped, or fail in CI."""
    script = script_text()
    if script is not None:
        return script
    reason = f"the accessibility tests need axe-core at {AXE_SCRIPT}: run `{INSTALL}`"
    missing_part(reason, "UPDATES_REQUIRE_BROWSER")


# Runs in every document, frames included, before the page's own scripts; a policy does not
# apply to it. Chromium also logs each refusal to the console, which is caught the same way.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


@pytest.fixture
def csp_violations() -> list[str]:
    """What the content security policy refused on the pages visited; empty when a test ends."""
    return []


@pytest.fixture
def browser_page(chromium_path: str, csp_violations: list[str]) -> Iterator[Page]:
    """A page in a fresh headless chromium; the browser is closed after the test."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context()
            context.set_default_timeout(TIMEOUT_MS)
            context.add_init_script(REPORT_VIOLATIONS)
            page = context.new_page()
            page.on("console", lambda message: _note_violation(message.text, csp_violations))
            yield page
        finally:
            browser.close()
    assert csp_violations == [], "the content security policy refused something on a page"


def _note_violation(text: str, violations: list[str]) -> None:
    if "CSP violation" in text or "Content Security Policy" in text:
        violations.append(text)
