"""An editor publishes an event; a visitor finds it under /events and takes it into a calendar."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar
from playwright.sync_api import expect

from tests.helpers import PASSWORD, snapshot
from updates.staff.accounts import add_staff

NEXT_YEAR = datetime.now().year + 1


def test_an_editor_publishes_an_event_and_a_visitor_adds_it_to_their_calendar(
    browser_page, live_server, topics, tmp_path
):
    add_staff("editor@example.org", "editor", PASSWORD)
    page = browser_page
    page.goto(f"{live_server}/admin/updates")
    page.get_by_label("Email address").fill("editor@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_label("Title").fill("Local Public Services Summit")
    page.get_by_label("Body (Markdown)").fill("A day of talks on **procurement**.")
    page.locator("label", has_text="Events and Summits").click()
    page.get_by_label("This update is an event").check()
    page.get_by_label("Starts").fill(f"{NEXT_YEAR}-06-18T09:30")
    page.get_by_label("Ends").fill(f"{NEXT_YEAR}-06-18T16:00")
    page.get_by_label("Place").fill("Guildhall, London")
    page.get_by_label("Booking link").fill("https://example.org/book")
    snapshot(page, tmp_path, "1-event-form")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_contain_text("Local Public Services Summit")

    page.goto(f"{live_server}/events")
    event = page.get_by_role("article").filter(has_text="Local Public Services Summit")
    when = f"18 June {NEXT_YEAR}, 09:30\N{EN DASH}16:00 (BST, Europe/London)"
    expect(event).to_contain_text(when)
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 800})
        snapshot(page, tmp_path, f"2-events-{width}")
        assert page.evaluate("document.documentElement.scrollWidth") <= width

    event.get_by_role("link", name="Local Public Services Summit").click()
    expect(page.locator("dl.event")).to_contain_text("Guildhall, London")
    snapshot(page, tmp_path, "3-event-page-375")
    with page.expect_download() as download:
        page.get_by_role("link", name="Add to calendar (.ics)").click()
    calendar = Calendar.from_ical(download.value.path().read_bytes())
    [entry] = calendar.walk("VEVENT")
    assert str(entry["summary"]) == "Local Public Services Summit"
    assert entry["dtstart"].dt.isoformat() == f"{NEXT_YEAR}-06-18T09:30:00+01:00"
