"""The sign-up form framed by another site: shown only where an admin allows it, and working
there without the session cookie a cross-site frame never gets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from tests.helpers import links_in, snapshot, subscriber
from updates.dev.embedded_redis import free_port
from updates.news.embeds import allow_origin


@pytest.fixture
def other_site(live_server: str) -> Iterator[str]:
    """An organisation's page on another site (localhost, not 127.0.0.1) that frames the form."""
    html = (
        "<!doctype html><title>Our programme</title><h1>Our programme</h1>"
        f'<iframe src="{live_server}/embed?topics=events,social-care" title="Sign up"'
        ' style="width:100%;height:40rem;border:0"></iframe>'
    ).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args: object) -> None:
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Page)
    thread = threading.Thread(target=server.serve_forever, name="other-site", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_framed_form_shows_only_on_a_listed_site_and_signs_a_visitor_up_there(
    browser_page, live_server, other_site, topics, run_jobs, mail_server, tmp_path, csp_violations
):
    page = browser_page
    page.goto(other_site)
    expect(page.get_by_role("heading", level=1)).to_have_text("Our programme")
    frame = page.frame_locator("iframe[title='Sign up']")
    expect(frame.get_by_label("Email address")).to_have_count(0)  # the browser refused it
    assert any("frame-ancestors" in text for text in csp_violations)
    csp_violations.clear()  # that refusal was the policy at work; none may follow

    allow_origin(other_site)
    page.reload()
    frame.get_by_label("Email address").fill("framed@example.org")
    frame.locator("label", has_text="Events and Summits").click()
    expect(frame.get_by_role("checkbox", name="Local Public Services")).to_have_count(0)
    snapshot(page, tmp_path, "1-framed-form")
    frame.get_by_role("button", name="Sign up").click()
    expect(frame.get_by_role("heading", level=1)).to_have_text("Check your email")
    expect(page).to_have_url(other_site + "/")  # the visitor never left the site
    snapshot(page, tmp_path, "2-framed-check-your-email")
    assert subscriber("framed@example.org").status == "pending"

    run_jobs()
    [message] = mail_server.messages_to("framed@example.org")
    [link] = [link for link in links_in(message) if "/confirm/" in link]
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("subscribed")
    assert subscriber("framed@example.org").status == "active"
    assert {s.topic.slug for s in subscriber("framed@example.org").subscriptions} == {"events"}
