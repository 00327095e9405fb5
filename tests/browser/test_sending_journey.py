"""An editor sends a test copy of a digest and finds its links inactive, then sends the digest
and watches its progress bar reach 100 % without reloading; the finished page offers nothing
that no longer applies. Screenshots of the progress page, wide and narrow, go to the docs."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.factories import create_news, create_subscriber, create_test_digest
from tests.helpers import PASSWORD, links_in, snapshot
from updates import ROOT
from updates.staff.accounts import add_staff

SCREENSHOTS = ROOT / "docs" / "screenshots"


def test_an_editor_sends_a_test_copy_then_watches_the_digest_go_out(
    browser_page, live_server, topics, run_jobs, mail_server
):
    add_staff("editor@example.org", "editor", PASSWORD)
    for n in range(3):
        create_subscriber(f"reader{n}@example.org", ["social-care"])
    news = create_news("Care guidance published", ["social-care"])
    digest = create_test_digest([news], ["social-care"], subject="December round-up")
    page = browser_page

    page.goto(f"{live_server}/admin/digests/{digest.id}")
    page.get_by_label("Email address").fill("editor@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#stage")).to_have_text("Draft")
    expect(page.get_by_role("button", name="Pause sending")).to_have_count(0)

    page.get_by_role("button", name="Send me a test copy").click()
    expect(page.get_by_role("status")).to_have_text(
        "A test copy is on its way to editor@example.org."
    )
    run_jobs()
    [copy] = mail_server.messages_to("editor@example.org")
    assert copy["Subject"] == "[Test] December round-up"
    [manage] = [link for link in links_in(copy) if "/test-copy/manage" in link]
    page.goto(manage)
    expect(page.get_by_role("heading", level=1)).to_have_text("Links are inactive in a test copy")
    page.go_back()

    page.get_by_role("button", name="Send", exact=True).click()
    page.get_by_role("button", name="Yes, send to 3 subscribers now").click()
    expect(page.get_by_role("status")).to_have_text("Sending to 3 subscribers now.")
    expect(page.locator("#stage")).to_have_text("Starting")
    expect(page.get_by_role("button", name="Pause sending")).to_be_visible()
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    run_jobs()
    expect(page.locator("#stage")).to_have_text("Sent", timeout=15_000)
    expect(page.locator('[data-field="percent"]')).to_have_text("100")
    bar = page.locator("#progress-bar")
    assert bar.evaluate("bar => [bar.value, bar.max]") == [3, 3]
    expect(page.locator('[data-field="sent"]')).to_have_text("3")
    expect(page.locator('[data-field="rate"]')).to_contain_text("messages/s")
    expect(page.locator('[data-field="time_left"]')).to_have_text("0 s")
    for action in ("Pause sending", "Resume sending", "Cancel"):
        expect(page.get_by_role("button", name=action, exact=True)).to_be_hidden()
    expect(page.get_by_role("button", name="Send", exact=True)).to_have_count(0)
    expect(page.locator("#failures-note")).to_be_hidden()
    expect(page.get_by_role("heading", name="Who it reaches")).to_be_hidden()  # sent: see above
    assert page.evaluate("window.sameDocument") is True
    assert len(mail_server.messages_to("reader0@example.org")) == 1

    SCREENSHOTS.mkdir(exist_ok=True)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        snapshot(page, SCREENSHOTS, f"digest-progress-{width}")
