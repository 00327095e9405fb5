"""Staff sign in, write two updates, compose a digest for two topics, preview it as two
subscribers, send it and watch it finish."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.factories import create_subscriber
from tests.helpers import PASSWORD, snapshot
from updates.staff.accounts import add_staff


def test_staff_write_compose_send_and_watch_a_digest_finish(
    browser_page, live_server, topics, run_jobs, mail_server, tmp_path
):
    add_staff("editor@example.org", "editor", PASSWORD)
    create_subscriber("care@example.org", ["social-care"])
    create_subscriber("both@example.org", ["social-care", "events"])
    page = browser_page

    page.goto(f"{live_server}/admin/digests")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Email address").fill("editor@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Digests")  # back where we were

    # The charts and the framed form's preview, drawn under the content security policy.
    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.locator("figure.chart svg").first).to_be_visible()
    snapshot(page, tmp_path, "0-dashboard")
    page.get_by_role("link", name="Sign-up form", exact=True).click()
    preview = page.frame_locator("iframe[title='Preview of the sign-up form']")
    expect(preview.get_by_label("Email address")).to_be_visible()
    snapshot(page, tmp_path, "0-embed")

    page.get_by_role("link", name="Updates", exact=True).click()
    for title, topic in (
        ("Care guidance published", "Social Care Working Group"),
        ("Summit dates announced", "Events and Summits"),
    ):
        page.get_by_label("Title").fill(title)
        page.get_by_label("Body (Markdown)").fill(f"All about **{title.lower()}**.")
        page.locator("label", has_text=topic).click()
        page.get_by_label("Announce it now").uncheck()  # these wait for the digest
        page.get_by_role("button", name="Preview").click()
        preview = page.get_by_role("region", name=f"Preview: {title}")
        expect(preview.locator("strong")).to_have_text(title.lower())
        page.get_by_role("button", name="Publish", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text(title)

    page.get_by_role("link", name="Digests", exact=True).click()
    page.get_by_label("Subject").fill("December round-up")
    page.get_by_label("Introduction (Markdown)").fill("Two stories this month.")
    for label in (
        "Social Care Working Group",
        "Events and Summits",
        "Care guidance published",
        "Summit dates announced",
    ):
        page.get_by_label(label).check()
    snapshot(page, tmp_path, "1-compose")
    page.get_by_label("Find older updates by title").press("Enter")  # finds, keeping all else
    expect(page.get_by_label("Subject")).to_have_value("December round-up")
    expect(page.get_by_label("Summit dates announced")).to_be_checked()
    page.get_by_label("Subject").press("Enter")  # saves the draft, as the button does
    expect(page.get_by_role("heading", level=1)).to_have_text("December round-up")
    expect(page.locator("#stage")).to_have_text("Draft")

    page.get_by_role("link", name="Preview").click()
    for address, shown, hidden in (
        ("both@example.org", "Summit dates announced", None),
        ("care@example.org", "Care guidance published", "Summit dates announced"),
    ):
        page.get_by_label("Preview as a subscriber").fill(address)
        page.get_by_role("button", name="Show their email").click()
        expect(page.locator("main")).to_contain_text(f"Showing the email for {address}")
        email = page.frame_locator("iframe[title='HTML version']")
        expect(email.locator("body")).to_contain_text(shown)
        expect(email.locator("body")).to_contain_text("Care guidance published")
        if hidden:
            expect(email.locator("body")).not_to_contain_text(hidden)
            expect(page.locator("pre")).not_to_contain_text(hidden)
        expect(page.locator("pre")).to_contain_text(shown)
    snapshot(page, tmp_path, "2-preview")
    page.get_by_role("link", name="Back to the digest").click()

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Send to 2 subscribers now?")
    page.get_by_role("button", name="Yes, send to 2 subscribers now").click()
    expect(page.get_by_role("status")).to_contain_text("Sending to 2 subscribers now.")
    run_jobs()
    # The page polls for progress: no reload needed to see it finish.
    expect(page.locator("#stage")).to_have_text("Sent", timeout=15_000)
    expect(page.locator('[data-field="sent"]')).to_have_text("2")
    snapshot(page, tmp_path, "3-sent")

    [both] = mail_server.messages_to("both@example.org")
    [care] = mail_server.messages_to("care@example.org")
    assert both["Subject"] == care["Subject"] == "December round-up"
    assert "Summit dates announced" in both.get_body(("plain",)).get_content()
    assert "Summit dates announced" not in care.get_body(("plain",)).get_content()

    # Finding a subscriber: the search keeps its filters in the address, so it can be shared.
    page.get_by_role("link", name="Subscribers", exact=True).click()
    page.get_by_label("Address contains").fill("BOTH")
    page.get_by_label("Topic").select_option(label="Events and Summits")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("p.count")).to_have_text("1 subscriber matches.")
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr a")).to_have_text("both@example.org")
    assert "q=BOTH" in page.url and "topic=events" in page.url
