"""Staff correct a published update and see it in the archive, then withdraw it; and try to send
a digest that would reach nobody before sending a real one once they have seen whom it reaches."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.factories import create_news, create_subscriber, create_test_digest
from tests.helpers import PASSWORD, snapshot
from updates.staff.accounts import add_staff

WIDTHS = (1280, 375)


def both_widths(page: Page, folder: Path, name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        snapshot(page, folder, f"{name}-{width}")
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def sign_in(page: Page, live_server: str, path: str) -> None:
    add_staff("editor@example.org", "editor", PASSWORD)
    page.goto(f"{live_server}{path}")
    page.get_by_label("Email address").fill("editor@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_staff_correct_an_update_see_it_in_the_archive_then_withdraw_it(
    browser_page, live_server, topics, tmp_path
):
    update = create_news("Care guidance published", ["social-care"], "Out on **Monday**.")
    page = browser_page
    sign_in(page, live_server, "/admin/updates")

    row = page.locator("#published tr", has_text="Care guidance published")
    row.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Care guidance published")
    page.get_by_label("Title").fill("Care guidance published on Tuesday")
    page.get_by_label("Body (Markdown)").fill("Out on **Tuesday**, not Monday.")
    page.get_by_role("button", name="Save the correction").click()
    expect(page.get_by_role("status")).to_contain_text("Corrected")
    expect(page.locator("#history tbody tr")).to_have_count(2)
    both_widths(page, tmp_path, "1-history")

    page.goto(f"{live_server}/updates")
    expect(page.locator("main")).to_contain_text("Care guidance published on Tuesday")
    expect(page.locator("main")).to_contain_text("corrected")
    both_widths(page, tmp_path, "2-archive")

    page.goto(f"{live_server}/admin/updates/{update.id}")
    page.get_by_role("button", name="Withdraw").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Withdraw “Care guidance published on Tuesday”?"
    )
    both_widths(page, tmp_path, "3-confirm-withdraw")
    page.get_by_role("button", name="Yes, withdraw it").click()
    expect(page.get_by_role("status")).to_contain_text("Withdrew")

    answer = page.goto(f"{live_server}/updates/{update.id}")
    assert answer is not None and answer.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This update was withdrawn")
    both_widths(page, tmp_path, "4-gone")
    page.goto(f"{live_server}/updates")
    expect(page.locator("main")).not_to_contain_text("Care guidance")


def test_staff_are_refused_an_empty_send_then_send_a_real_one_after_confirming_the_count(
    browser_page, live_server, topics, run_jobs, mail_server, tmp_path
):
    for n in range(3):
        create_subscriber(f"carer{n}@example.org", ["social-care"])
    create_subscriber("events@example.org", ["events"])
    care = create_news("Care guidance published", ["social-care"])
    create_news("Summit dates announced", ["events"])
    nobody = create_test_digest([care], ["local-public-services"], subject="Nobody's news")
    page = browser_page
    sign_in(page, live_server, f"/admin/digests/{nobody.id}")

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(
        "Nothing was sent: none of its updates is for any of its topics. The digest stays a draft."
    )
    expect(page.locator("#stage")).to_have_text("Draft")
    both_widths(page, tmp_path, "1-refused")

    page.get_by_role("link", name="Digests", exact=True).click()
    choices = page.locator("#update-choices")
    expect(choices.get_by_label("Care guidance published")).to_be_hidden()
    page.get_by_label("Subject").fill("Care news")
    page.get_by_label("Social Care Working Group").check()
    # Only the update for the topic ticked is offered, and ticked since it was never sent.
    expect(choices.get_by_label("Care guidance published")).to_be_checked()
    expect(choices.get_by_label("Summit dates announced")).to_be_hidden()
    both_widths(page, tmp_path, "2-compose")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Care news")
    expect(page.locator("#reach")).to_have_text("It reaches 3 subscribers.")

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Send to 3 subscribers now?")
    both_widths(page, tmp_path, "3-confirm-send")
    page.get_by_role("button", name="Yes, send to 3 subscribers now").click()
    expect(page.get_by_role("status")).to_contain_text("Sending to 3 subscribers now.")
    run_jobs()
    expect(page.locator("#stage")).to_have_text("Sent", timeout=15_000)
    expect(page.locator('[data-field="sent"]')).to_have_text("3")
    assert {r for m in mail_server.received for r in m.recipients} == {
        f"carer{n}@example.org" for n in range(3)
    }
