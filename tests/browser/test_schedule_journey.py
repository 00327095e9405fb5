"""An editor sets up a weekly schedule, sees when it runs next, previews its next run for a
reader, and runs it now; the reader gets only what they were not already sent."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.factories import create_news, create_subscriber
from tests.helpers import PASSWORD, snapshot
from updates.news import digests
from updates.staff.accounts import add_staff


def both_widths(page: Page, folder: Path, name: str) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    snapshot(page, folder, f"{name}-1280")
    page.set_viewport_size({"width": 375, "height": 800})
    snapshot(page, folder, f"{name}-375")
    page.set_viewport_size({"width": 1280, "height": 800})


def test_an_editor_creates_a_schedule_previews_and_runs_it(
    browser_page, live_server, topics, run_jobs, mail_server, tmp_path
):
    add_staff("editor@example.org", "editor", PASSWORD)
    create_subscriber("care@example.org", ["social-care"])
    page = browser_page

    page.goto(f"{live_server}/admin/schedules")
    page.get_by_label("Email address").fill("editor@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Schedules")

    page.get_by_label("Name", exact=True).fill("Weekly care round-up")
    page.locator("label", has_text="Social Care Working Group").click()
    page.get_by_label("How often").select_option("weekly")
    page.get_by_label("Weekday (weekly)").select_option("monday")
    page.get_by_label("Local time (HH:MM)").fill("09:00")
    expect(page.get_by_label("Time zone")).to_have_value("Europe/London")
    page.get_by_label("Subject").fill("{org} care updates, week of {date}")
    both_widths(page, tmp_path, "1-schedule-form")
    page.get_by_role("button", name="Add schedule").click()

    expect(page.get_by_role("status")).to_contain_text("Weekly care round-up")
    row = page.locator("#schedules tbody tr").first
    expect(row).to_contain_text("Mondays at 09:00 (Europe/London)")
    expect(row).to_contain_text("none yet")
    both_widths(page, tmp_path, "2-schedule-list")

    # The reader was already sent one of the two updates, in an announcement.
    sent = create_news("Care guidance published", ["social-care"])
    create_news("Care funding announced", ["social-care"])
    digests.send(digests.create_digest("Now", "", [sent.id], ["social-care"], "announcement"))
    run_jobs()
    mail_server.reset()

    page.get_by_role("link", name="Weekly care round-up").click()
    page.get_by_label("Preview the next run for a reader").fill("care@example.org")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("main")).to_contain_text(
        "Left out, as they were already sent: Care guidance published."
    )
    email = page.frame_locator("iframe[title='HTML version']")
    expect(email.locator("body")).to_contain_text("Care funding announced")
    expect(email.locator("body")).not_to_contain_text("Care guidance published")
    both_widths(page, tmp_path, "3-schedule-preview")

    page.get_by_role("link", name="Back to the schedule").click()
    page.get_by_role("button", name="Run now").click()
    expect(page.get_by_role("status")).to_contain_text("Sending its digest now")
    run_jobs()
    expect(page.locator("#stage")).to_have_text("Sent", timeout=15_000)
    [message] = mail_server.messages_to("care@example.org")
    assert message["Subject"].startswith("Example Trade Body care updates, week of ")
    text = message.get_body(("plain",)).get_content()
    assert "Care funding announced" in text and "Care guidance published" not in text
    both_widths(page, tmp_path, "4-schedule-digest")
