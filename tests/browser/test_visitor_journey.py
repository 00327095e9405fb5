"""A visitor signs up in a real browser, confirms through the emailed link, and is subscribed."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.helpers import links_in, snapshot, subscriber

ADDRESS = "ada@example.org"
CHOSEN = ["Social Care Working Group", "Events and Summits"]  # in display order


def test_a_visitor_signs_up_in_a_browser_confirms_from_the_email_and_is_subscribed(
    browser_page, live_server, topics, run_jobs, mail_server, tmp_path
):
    page = browser_page
    page.goto(f"{live_server}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign up for updates")

    # The honeypot is in the form for bots, but a person can neither see nor reach it.
    honeypot = page.locator("input[name=website]")
    expect(honeypot).to_have_count(1)
    expect(honeypot).not_to_be_in_viewport()
    box = honeypot.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 0, box  # left of the page, where no scrolling reaches
    expect(honeypot).to_have_attribute("tabindex", "-1")
    expect(page.get_by_role("textbox", name="Leave this field empty")).to_have_count(0)
    snapshot(page, tmp_path, "1-sign-up-form")

    page.get_by_label("Email address").fill(ADDRESS)
    for name in CHOSEN:
        page.locator("label", has_text=name).click()
        expect(page.get_by_role("checkbox", name=name)).to_be_checked()
    expect(page.get_by_role("checkbox", name="Local Public Services")).not_to_be_checked()
    expect(page.get_by_role("checkbox", name="Board papers")).to_have_count(0)
    snapshot(page, tmp_path, "2-sign-up-filled-in")

    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    expect(page.locator("main")).to_contain_text(ADDRESS)
    snapshot(page, tmp_path, "3-check-your-email")
    assert subscriber(ADDRESS).status == "pending"

    run_jobs()
    [message] = mail_server.messages_to(ADDRESS)
    [link] = [link for link in links_in(message) if "/confirm/" in link]
    assert link.startswith(f"{live_server}/confirm/")

    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    expect(page.locator("main li")).to_have_text(CHOSEN)
    snapshot(page, tmp_path, "4-confirm")
    assert subscriber(ADDRESS).status == "pending"  # opening the link never confirms

    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you, you are subscribed")
    expect(page.locator("main li")).to_have_text(CHOSEN)
    snapshot(page, tmp_path, "5-subscribed")

    found = subscriber(ADDRESS)
    assert found.status == "active"
    assert {s.topic.slug for s in found.subscriptions} == {"social-care", "events"}
