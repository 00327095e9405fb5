"""Every page, as the person it is for: axe-core finds nothing wrong with it, and on a 375 px
phone it needs no sideways scrolling. The pages come from the app's own routes, so a new page
cannot be forgotten."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyotp
import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from werkzeug.exceptions import HTTPException

from tests.browser.axe import violations
from tests.factories import create_news, create_subscriber, create_test_digest
from tests.helpers import PASSWORD, links_in, subscriber
from updates.extensions import db
from updates.links import manage_token, unsubscribe_token
from updates.news.cadence import when
from updates.news.corrections import withdraw_update
from updates.news.embeds import allow_origin
from updates.news.schedules import create_schedule
from updates.staff.accounts import add_staff, find_staff
from updates.staff.twofactor import confirm_enrolment, pending_secret, start_enrolment
from updates.subscribers.suppression import suppress

PHONE, DESKTOP = 375, 1280

# GET routes that answer something other than a page: data, feeds, files, and JSON for scripts.
NOT_PAGES = {
    "static",
    "public.feed",
    "public.events_feed",
    "public.event_ics",
    "preferences.download",
    "console.export_consent",
    "console.export_subscribers",
    "console.digest_progress",
    "console.import_progress",
}
NOT_PAGE_BLUEPRINTS = {"api", "monitoring"}  # JSON and plain text for programs and operators


@dataclass(frozen=True)
class Visit:
    who: str  # "anyone" or "admin"
    path: str


def html_endpoints(app: Flask) -> set[str]:
    """Every endpoint a person reaches with GET that answers a page."""
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods
        and rule.endpoint not in NOT_PAGES
        and rule.endpoint.split(".")[0] not in NOT_PAGE_BLUEPRINTS
    }


def endpoint_of(app: Flask, path: str) -> str | None:
    try:
        return app.url_map.bind("localhost").match(path.split("?")[0], method="GET")[0]
    except HTTPException:  # an address that answers 404 on purpose
        return None


@pytest.fixture
def site(app: Flask, topics) -> dict[str, object]:
    """A row for each page that names one: a reader, an event, a digest, a schedule, staff."""
    add_staff("admin@example.org", "admin", PASSWORD)
    editor = add_staff("editor@example.org", "editor", PASSWORD)
    reader = create_subscriber("reader@example.org", ["social-care", "events"])
    update = create_news("Care guidance published", ["social-care"])
    create_news("Winter summit", ["events"], body="Join us in **Leeds**.")
    withdrawn = create_news("Cancelled webinar", ["events"])
    withdraw_update(withdrawn)
    digest = create_test_digest([update], ["social-care"])
    schedule = create_schedule("Weekly round-up", ["events"], when("weekly", "09:00", "UTC", 0))
    allow_origin("https://www.example.org")
    suppress("gone@example.org", "manual")
    start_enrolment(editor)
    confirm_enrolment(editor, pyotp.TOTP(pending_secret(editor)).now())
    db.session.commit()
    return {
        "reader": reader.id,
        "update": update.id,
        "withdrawn": withdrawn.id,
        "digest": digest.id,
        "schedule": schedule.id,
        "staff": editor.id,
        "topic": reader.subscriptions[0].topic_id,
        "manage": manage_token(reader),
        "unsubscribe": unsubscribe_token(reader, [reader.subscriptions[0].topic_id]),
    }


def visits(site: dict[str, object]) -> list[Visit]:
    anyone = [
        "/",
        "/embed",
        "/updates",
        f"/updates/{site['update']}",
        f"/updates/{site['withdrawn']}",
        "/events",
        "/manage",
        f"/manage/{site['manage']}",
        f"/manage/{site['manage']}/erase",
        f"/unsubscribe/{site['unsubscribe']}",
        "/manage/not-a-link",
        "/test-copy/manage",
        "/no-such-page",
        "/admin/login",
        "/admin/forgot",
    ]
    admin = [
        "/admin/",
        "/admin/account",
        "/admin/account/two-factor",
        "/admin/audit",
        "/admin/digests",
        f"/admin/digests/{site['digest']}",
        f"/admin/digests/{site['digest']}/edit",
        f"/admin/digests/{site['digest']}/preview",
        "/admin/embed",
        "/admin/import",
        "/admin/schedules",
        f"/admin/schedules/{site['schedule']}",
        f"/admin/schedules/{site['schedule']}/delete",
        f"/admin/schedules/{site['schedule']}/preview",
        "/admin/staff",
        f"/admin/staff/{site['staff']}/password",
        f"/admin/staff/{site['staff']}/two-factor/off",
        "/admin/subscribers",
        f"/admin/subscribers/{site['reader']}",
        "/admin/subscribers/add",
        "/admin/suppressions",
        "/admin/suppressions?q=example",  # a search shows its table
        "/admin/subscribers?q=reader",
        "/admin/updates?q=care",
        "/admin/digests?q=news",
        "/admin/tokens",
        "/admin/topics",
        f"/admin/topics/{site['topic']}",
        "/admin/updates",
        f"/admin/updates/{site['update']}",
    ]
    return [Visit("anyone", path) for path in anyone] + [Visit("admin", path) for path in admin]


# Pages reached along the way rather than by address: a link from an email, a form's answer.
REACHED_ON_THE_WAY = {
    "public.confirm",
    "console.reset_password",
    "console.second_factor",
    "console.import_page",
}


def test_every_page_is_visited(app, site):
    visited = {endpoint_of(app, visit.path) for visit in visits(site)} | REACHED_ON_THE_WAY
    missing = html_endpoints(app) - visited
    assert not missing, (
        f"visit these pages in the accessibility test (or, if they answer no page, list them in"
        f" NOT_PAGES): {sorted(missing)}"
    )


# Two frames after a resize: the page's own resize observers have run.
SETTLED = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"
PAST_THE_EDGE = """() => {
  const clips = (e) => ["auto", "scroll", "hidden"].includes(getComputedStyle(e).overflowX);
  const scrolls = (e) => e && e !== document.body && (clips(e) || scrolls(e.parentElement));
  return [...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > innerWidth && !scrolls(e.parentElement))
    .slice(-3).map((e) => e.outerHTML.slice(0, 160));
}"""


def check(page: Page, axe: str, problems: list[str]) -> None:
    """axe at a desktop's width and a phone's, and no sideways scrolling on the phone."""
    where = page.url
    for width in (DESKTOP, PHONE):
        page.set_viewport_size({"width": width, "height": 800})
        page.evaluate(SETTLED)
        for found in violations(page, axe):
            problems.append(f"{where} at {width} px: {found}")
    scroll_width = page.evaluate("() => document.documentElement.scrollWidth")
    if scroll_width > PHONE:
        problems.append(
            f"{where} scrolls sideways on a phone: {scroll_width} px wide,"
            f" past the edge: {page.evaluate(PAST_THE_EDGE)}"
        )
    page.set_viewport_size({"width": DESKTOP, "height": 800})


def current_code(address: str) -> str:
    """What the authenticator app shows now for the secret the account is setting up."""
    db.session.expire_all()
    return pyotp.TOTP(pending_secret(find_staff(address))).now()


def sign_in(page: Page, base: str, address: str) -> None:
    page.goto(f"{base}/admin/login")
    page.get_by_label("Email address").fill(address)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_every_page_is_accessible_and_fits_a_phone(
    browser_page, live_server, site, axe, run_jobs, mail_server, tmp_path
):
    page, problems = browser_page, []
    for visit in visits(site):
        if visit.who == "anyone":
            page.goto(live_server + visit.path)
            check(page, axe, problems)

    # Pages reached along the way: a form's errors and its answer, the links in emails.
    page.goto(f"{live_server}/manage/{site['manage']}")
    page.get_by_role("button", name="Save my preferences").click()
    check(page, axe, problems)
    page.goto(f"{live_server}/unsubscribe/{site['unsubscribe']}")
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("nsubscribed")
    check(page, axe, problems)

    page.goto(f"{live_server}/")
    page.get_by_role("button", name="Sign up").click()
    expect(page.locator(".error-summary")).to_be_visible()
    check(page, axe, problems)
    page.get_by_label("Email address").fill("new@example.org")
    page.get_by_label("Events and Summits").check()
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your email")
    check(page, axe, problems)
    run_jobs()
    [message] = mail_server.messages_to("new@example.org")
    page.goto(next(link for link in links_in(message) if "/confirm/" in link))
    check(page, axe, problems)
    page.get_by_role("button", name="Confirm").click()
    check(page, axe, problems)
    assert subscriber("new@example.org").status == "active"

    page.goto(f"{live_server}/admin/forgot")
    page.get_by_label("Email address").fill("admin@example.org")
    page.get_by_role("button").last.click()
    check(page, axe, problems)
    run_jobs()
    [message] = mail_server.messages_to("admin@example.org")
    page.goto(next(link for link in links_in(message) if "/admin/reset/" in link))
    check(page, axe, problems)

    sign_in(page, live_server, "editor@example.org")
    expect(page).to_have_url(f"{live_server}/admin/login/code")
    check(page, axe, problems)

    sign_in(page, live_server, "admin@example.org")
    expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
    for visit in visits(site):
        if visit.who == "admin":
            page.goto(live_server + visit.path)
            check(page, axe, problems)
    page.goto(f"{live_server}/admin/account/two-factor")
    page.get_by_label("Your current password").fill(PASSWORD)
    page.get_by_role("button", name="Set up two-factor").click()
    expect(page.locator("svg")).to_be_visible()  # the QR code to scan
    check(page, axe, problems)
    page.get_by_label("Six-digit code from your app").fill(current_code("admin@example.org"))
    page.get_by_role("button", name="Turn on two-factor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    check(page, axe, problems)

    page.goto(f"{live_server}/admin/import")
    csv = tmp_path / "people.csv"
    csv.write_text("email\nimported@example.org\n")
    page.get_by_label("CSV file").set_input_files(csv)
    page.get_by_label("Events and Summits").check()
    page.get_by_label("Basis of consent").fill("Delegate list, Summit 2026")
    page.get_by_role("button", name="Import").click()
    expect(page).to_have_url(re.compile(r"/admin/import/[0-9a-f]{32}$"))
    check(page, axe, problems)

    assert problems == [], "\n".join(problems)


def follow_error_summary(page: Page) -> list[str]:
    """After a refused form: focus is on the summary, and each of its links focuses its field."""
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    links = summary.get_by_role("link")
    targets = []
    for index in range(links.count()):
        target = links.nth(index).get_attribute("href").removeprefix("#")
        links.nth(index).click()
        expect(page.locator(f"[id='{target}']")).to_be_focused()
        targets.append(target)
    return targets


def test_a_refused_form_focuses_its_errors_and_each_leads_to_its_field(
    browser_page, live_server, site
):
    page = browser_page
    for path, first_topic in (
        ("/", "local-public-services"),
        ("/embed?topics=events,social-care", "social-care"),
    ):
        page.goto(live_server + path)
        page.get_by_role("button", name="Sign up").click()
        assert follow_error_summary(page) == ["email", f"topic-{first_topic}"]

    sign_in(page, live_server, "admin@example.org")
    page.goto(f"{live_server}/admin/import")
    page.get_by_role("button", name="Import").click()
    assert len(follow_error_summary(page)) == 3

    # A console form without a summary: focus goes to the first field in error, which names it.
    page.goto(f"{live_server}/admin/subscribers/add")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Add subscriber").click()
    field = page.get_by_label("Email address")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(re.compile(".+"))
