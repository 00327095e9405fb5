"""The console as staff use it all day, on a desktop and on a phone: the navigation stays put
while the page scrolls, and nothing needs sideways scrolling. The dashboard and the digest
composer are photographed at both widths; with UPDATES_SCREENSHOTS=docs/screenshots the pictures
in the docs are made afresh."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.factories import create_test_digest
from tests.helpers import PASSWORD
from updates.dev.demo import TOPICS, load_demo
from updates.extensions import db
from updates.models import Delivery, Subscriber, Subscription, Topic, Update, utcnow
from updates.staff.accounts import add_staff

NOW = utcnow()
READERS = 160


@pytest.fixture
def busy_list(app) -> None:
    """The demo topics and updates, twelve weeks of sign-ups, and two digests sent."""
    load_demo(lambda _: None)
    topics = {topic.slug: topic.id for topic in db.session.scalars(select(Topic))}
    slugs = [slug for slug, _, _ in TOPICS]
    for n in range(READERS):
        since = NOW - timedelta(weeks=11 - n * 12 // READERS, hours=n % 7)
        reader = Subscriber(
            email=f"reader{n}@example.org",
            email_key=f"reader{n}@example.org",
            status="active",
            created_at=since,
            confirmed_at=since,
            updated_at=since,
        )
        db.session.add(reader)
        db.session.flush()
        for slug in {slugs[n % 4], slugs[n % 3]}:
            db.session.add(
                Subscription(subscriber_id=reader.id, topic_id=topics[slug], created_at=since)
            )
    db.session.commit()

    updates = list(db.session.scalars(select(Update).order_by(Update.id)))
    readers = list(db.session.scalars(select(Subscriber.id).order_by(Subscriber.id)))
    for weeks_ago, subject, chosen, slugs_sent in (
        (1, "November round-up", updates[:2], ["local-public-services", "innovators-network"]),
        (5, "Summit special", updates[2:], ["events", "social-care"]),
    ):
        digest = create_test_digest(chosen, slugs_sent, subject=subject)
        digest.status = "sent"
        for reader_id in readers[: READERS - 12 * weeks_ago]:
            db.session.add(
                Delivery(
                    digest_id=digest.id,
                    subscriber_id=reader_id,
                    status="sent",
                    sent_at=NOW - timedelta(weeks=weeks_ago),
                )
            )
    db.session.commit()
    add_staff("admin@example.org", "admin", PASSWORD)


def photograph(page: Page, name: str, folder: Path) -> None:
    page.evaluate("() => window.scrollTo(0, 0)")
    page.screenshot(path=folder / f"{name}.png", full_page=True)


@pytest.mark.parametrize("width", [1280, 375])
def test_the_console_keeps_its_navigation_in_view_and_fits_the_screen(
    browser_page, live_server, busy_list, width, tmp_path
):
    folder = Path(os.environ.get("UPDATES_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server}/admin/")
    page.get_by_label("Email address").fill("admin@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    expect(page.locator("figure.chart svg").first).to_be_visible()
    photograph(page, f"dashboard-{width}", folder)

    navigation = page.get_by_role("navigation", name="Staff console")
    page.mouse.wheel(0, 5000)
    page.wait_for_function("() => window.scrollY > 0")
    expect(navigation.get_by_role("link", name="Dashboard")).to_be_in_viewport()
    assert navigation.get_by_role("link", name="Dashboard").get_attribute("aria-current") == "page"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width

    navigation.get_by_role("link", name="Digests").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Digests")
    page.get_by_label("Subject").fill("December round-up")
    page.get_by_label("Introduction (Markdown)").fill(
        "Three stories from the programme this month."
    )
    page.get_by_label("Local Public Services", exact=True).check()
    page.get_by_label("Events and Summits", exact=True).check()
    expect(navigation.get_by_role("link", name="Digests")).to_be_in_viewport(ratio=1)
    assert navigation.get_by_role("link", name="Digests").get_attribute("aria-current") == "page"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width
    photograph(page, f"digest-composer-{width}", folder)

    # The last page in the list: on a phone its link is scrolled into the bar's view.
    navigation.get_by_role("link", name="Your account").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("account")
    expect(navigation.get_by_role("link", name="Your account")).to_be_in_viewport(ratio=1)
