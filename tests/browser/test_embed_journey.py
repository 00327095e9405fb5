"""The sign-up form framed by another site: shown only where an admin allows it, and working
there without the session cookie a cross-site frame never gets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from flask import Flask
from playwright.sync_api import Frame, Page, expect

from tests.helpers import PASSWORD, links_in, signed_in, snapshot, subscriber
from tests.helpers import page as parsed
from updates.dev.embedded_redis import free_port
from updates.news.embeds import allow_origin
from updates.staff.accounts import add_staff


@pytest.fixture
def snippet(app: Flask, live_server: str, topics) -> str:
    """The snippet the console gives staff for two topics, as they would copy it."""
    add_staff("editor@example.org", "editor", PASSWORD)
    console = parsed(signed_in(app, "editor").get("/admin/embed?topics=events&topics=social-care"))
    return console.find("textarea", id="snippet").get_text()


@pytest.fixture
def other_site(snippet: str) -> Iterator[str]:
    """An organisation's page on another site (localhost, not 127.0.0.1) that frames the form
    with the console's snippet."""
    pages = {
        "/": (
            "<!doctype html><meta name=viewport content='width=device-width'>"
            f"<title>Our programme</title><h1>Our programme</h1>{snippet}<p>Our footer.</p>"
        ).encode(),
        # A page of this site's own that, loaded in the frame, claims to be a 3 px tall form.
        "/liar": (
            b"<!doctype html><title>Not the form</title>"
            b"<script>parent.postMessage({updatesFrameHeight: 3}, '*')</script>"
        ),
    }

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            html = pages.get(self.path, pages["/"])
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
    frame = page.frame_locator("iframe")
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


# In the framed form: the frame is as tall as the form, so nothing in it needs scrolling.
FITS = """() => {
  const form = Math.ceil(document.documentElement.getBoundingClientRect().height);
  return Math.abs(innerHeight - form) <= 1;
}"""
BUTTON_IN_VIEW = """() => {
  const button = [...document.querySelectorAll("button")].find((b) => b.textContent === "Sign up");
  const box = button.getBoundingClientRect();
  return box.top >= 0 && box.bottom <= innerHeight && document.scrollingElement.scrollTop === 0;
}"""


def framed_form(page: Page, live_server: str) -> Frame:
    return next(frame for frame in page.frames if frame.url.startswith(f"{live_server}/embed"))


@pytest.mark.parametrize("width", [1280, 375])
def test_the_frame_grows_to_the_form_so_its_button_is_in_view(
    browser_page, live_server, other_site, width, tmp_path
):
    allow_origin(other_site)
    page = browser_page
    page.set_viewport_size({"width": width, "height": 1200})
    page.goto(other_site)
    expect(page.frame_locator("iframe").get_by_role("button", name="Sign up")).to_be_visible()
    form = framed_form(page, live_server)
    form.wait_for_function(FITS)
    assert form.evaluate(BUTTON_IN_VIEW)
    snapshot(page, tmp_path, f"framed-form-{width}")

    # A refused submission adds an error summary and messages: the frame grows again.
    before = form.evaluate("() => innerHeight")
    form.get_by_role("button", name="Sign up").click()
    expect(form.locator(".error-summary")).to_be_focused()  # the same frame, its next page
    form.wait_for_function(FITS)
    assert form.evaluate("() => innerHeight") > before
    assert form.evaluate(BUTTON_IN_VIEW)
    snapshot(page, tmp_path, f"framed-form-errors-{width}")


def test_the_frame_heeds_only_heights_from_the_service_itself(
    browser_page, live_server, other_site
):
    """Another origin's page in the same frame (the message's source) cannot resize it."""
    allow_origin(other_site)
    page = browser_page
    page.goto(other_site)
    form = page.frame_locator("iframe").get_by_role("button", name="Sign up")
    expect(form).to_be_visible()
    framed_form(page, live_server).wait_for_function(FITS)
    height = page.locator("iframe").evaluate("(frame) => frame.style.height")
    assert height.endswith("px") and int(height[:-2]) > 300

    # Listeners run in the order added: this one hears the lie after embed.js has.
    page.evaluate(
        """() => addEventListener("message", (event) => {
          if (event.data && event.data.updatesFrameHeight === 3) window.lieHeard = true;
        })"""
    )
    page.locator("iframe").evaluate("(frame, url) => { frame.src = url; }", f"{other_site}/liar")
    page.wait_for_function("() => window.lieHeard === true")
    assert page.locator("iframe").evaluate("(frame) => frame.style.height") == height
