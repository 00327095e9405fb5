"""A subscriber follows the links in the welcome email: changes topics, then unsubscribes."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.helpers import links_in, sign_up, snapshot, submit_only_form, subscriber

ADDRESS = "grace@example.org"


def test_a_subscriber_changes_topics_and_unsubscribes_from_the_welcome_email(
    browser_page,
    live_server,
    app,
    client,
    topics,
    run_jobs,
    mail_server,
    tmp_path,
):
    sign_up(client, ADDRESS, ["social-care"])
    run_jobs()
    submit_only_form(
        client, next(u for u in links_in(mail_server.messages_to(ADDRESS)[0]) if "/confirm/" in u)
    )
    run_jobs()
    welcome = mail_server.messages_to(ADDRESS)[-1]
    assert "You are subscribed" in welcome["Subject"]
    manage = next(u for u in links_in(welcome) if "/manage/" in u)
    assert manage.startswith(f"{live_server}/manage/")

    page = browser_page
    page.goto(manage)
    expect(page.get_by_role("heading", level=1)).to_have_text("Manage your preferences")
    expect(page.get_by_role("checkbox", name="Social Care Working Group")).to_be_checked()
    page.locator("label", has_text="Events and Summits").click()
    page.get_by_label("How often").nth(2).select_option("digest")  # Events: digests only
    snapshot(page, tmp_path, "1-manage")
    page.get_by_role("button", name="Save my preferences").click()
    expect(page.get_by_role("status")).to_contain_text("Your preferences have been saved")
    expect(page.get_by_role("checkbox", name="Events and Summits")).to_be_checked()
    found = subscriber(ADDRESS)
    assert {s.topic.slug: s.frequency for s in found.subscriptions} == {
        "social-care": "all",
        "events": "digest",
    }

    page.get_by_role("link", name="Unsubscribe from everything").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Unsubscribe")
    assert subscriber(ADDRESS).status == "active"  # the page alone changes nothing
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("You are unsubscribed")
    snapshot(page, tmp_path, "2-unsubscribed")
    gone = subscriber(ADDRESS)
    assert (gone.status, gone.subscriptions) == ("unsubscribed", [])
