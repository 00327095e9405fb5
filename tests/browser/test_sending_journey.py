"""An editor sends a test copy of a digest and finds its links inactive, then sends the digest
and watches its progress bar, fed by a real worker held to SEND_RATE, reach 100 % without
reloading; the finished page offers nothing that no longer applies. The progress page is
photographed wide and narrow; with UPDATES_SCREENSHOTS=docs/screenshots the docs' pictures are
made afresh."""

from __future__ import annotations

import os
import re
import threading
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import update

from tests.factories import create_news, create_subscriber, create_test_digest
from tests.helpers import PASSWORD, links_in, snapshot
from tests.workers import start_worker, stop
from updates.extensions import db
from updates.models import Delivery, utcnow
from updates.staff.accounts import add_staff

READERS, RATE = 16, 4  # four seconds of sending
PARTWAY = """() => {
  const percent = Number(document.querySelector('[data-field="percent"]').textContent);
  return percent > 0 && percent < 100;
}"""


def sign_in(page: Page, url: str) -> None:
    """Go to the console page at `url` as the editor, by its sign-in form."""
    page.goto(url)
    page.get_by_label("Email address").fill("editor@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_an_editor_sends_a_test_copy_then_watches_the_digest_go_out(
    browser_page, live_server, app_config, topics, run_jobs, mail_server, tmp_path
):
    add_staff("editor@example.org", "editor", PASSWORD)
    for n in range(READERS):
        create_subscriber(f"reader{n}@example.org", ["social-care"])
    news = create_news("Care guidance published", ["social-care"])
    digest = create_test_digest([news], ["social-care"], subject="December round-up")
    page = browser_page

    sign_in(page, f"{live_server}/admin/digests/{digest.id}")
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
    page.get_by_role("button", name=f"Yes, send to {READERS} subscribers now").click()
    expect(page.get_by_role("status")).to_have_text(f"Sending to {READERS} subscribers now.")
    expect(page.locator("#stage")).to_have_text("Starting")
    expect(page.get_by_role("button", name="Pause sending")).to_be_visible()
    page.evaluate("window.sameDocument = true")  # gone if the page reloads

    # A real worker held to SEND_RATE, so the page is seen partway through, with a rate.
    worker = start_worker(app_config, SEND_RATE=str(RATE))
    try:
        page.wait_for_function(PARTWAY, timeout=20_000)
        expect(page.locator("#stage")).to_have_text("Sending")
        expect(page.locator('[data-field="time_left"]')).to_have_text(re.compile(r"^\d+ s$"))
        folder = Path(os.environ.get("UPDATES_SCREENSHOTS") or tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        for width in (1280, 375):
            page.set_viewport_size({"width": width, "height": 900})
            snapshot(page, folder, f"digest-progress-{width}")
        page.set_viewport_size({"width": 1280, "height": 900})
        expect(page.locator("#stage")).to_have_text("Sent", timeout=30_000)
    finally:
        stop(worker)
    expect(page.locator('[data-field="percent"]')).to_have_text("100")
    bar = page.locator("#progress-bar")
    assert bar.evaluate("bar => [bar.value, bar.max]") == [READERS, READERS]
    expect(page.locator('[data-field="sent"]')).to_have_text(str(READERS))
    rate = float(page.locator('[data-field="rate"]').inner_text().split()[0])
    assert 0 < rate <= RATE * 1.5
    expect(page.locator('[data-field="time_left"]')).to_have_text("0 s")
    for action in ("Pause sending", "Resume sending", "Cancel"):
        expect(page.get_by_role("button", name=action, exact=True)).to_be_hidden()
    expect(page.get_by_role("button", name="Send", exact=True)).to_have_count(0)
    expect(page.locator("#failures-note")).to_be_hidden()
    expect(page.get_by_role("heading", name="Who it reaches")).to_be_hidden()  # sent: see above
    assert page.evaluate("window.sameDocument") is True
    assert len(mail_server.messages_to("reader0@example.org")) == 1


def test_rate_and_time_left_follow_the_last_seconds_not_the_whole_send(
    app, browser_page, live_server, topics
):
    """Ten idle minutes, then ten messages a second: the page says ten a second and seconds
    left, where the average since the start would say a fraction and half an hour."""
    add_staff("editor@example.org", "editor", PASSWORD)
    readers = [create_subscriber(f"reader{n}@example.org", ["events"]) for n in range(300)]
    digest = create_test_digest([create_news("Summit dates", ["events"])], ["events"])
    digest.status, digest.started_at = "sending", utcnow() - timedelta(minutes=10)
    db.session.add_all(Delivery(digest_id=digest.id, subscriber_id=r.id) for r in readers)
    db.session.commit()
    digest_id, pending = digest.id, [r.id for r in readers]
    page = browser_page
    sign_in(page, f"{live_server}/admin/digests/{digest_id}")
    expect(page.locator("#stage")).to_have_text("Sending")

    done = threading.Event()

    def deliver() -> None:  # as a worker at ten messages a second would mark them
        with app.app_context():
            for start in range(0, len(pending), 5):
                if done.wait(0.5):
                    return
                db.session.execute(
                    update(Delivery)
                    .where(
                        Delivery.digest_id == digest_id,
                        Delivery.subscriber_id.in_(pending[start : start + 5]),
                    )
                    .values(status="sent", sent_at=utcnow())
                )
                db.session.commit()

    worker = threading.Thread(target=deliver)
    worker.start()
    try:
        rate = page.locator('[data-field="rate"]')
        expect(rate).to_have_text(re.compile(r"^([2-9]|1\d)\.\d messages/s$"), timeout=20_000)
        expect(page.locator('[data-field="time_left"]')).to_have_text(re.compile(r"^\d+ s$"))
    finally:
        done.set()
        worker.join(10)
