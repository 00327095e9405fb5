"""The staff console: sign-in, roles, CSRF, and composing and sending a digest through it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.factories import create_subscriber
from tests.helpers import confirm, form_values, form_with_button, page, sign_in
from updates.extensions import db
from updates.models import AuditEvent, Digest, StaffUser, Suppression, Update

STAFF_PAGES = [
    "/admin/",
    "/admin/updates",
    "/admin/digests",
    "/admin/subscribers?q=reader",
    "/admin/digests/{digest}",
    "/admin/digests/{digest}/progress",
    "/admin/digests/{digest}/edit",
    "/admin/updates/{update}",
    "/admin/subscribers/{subscriber}",
]
ADMIN_PAGES = ["/admin/topics", "/admin/suppressions", "/admin/staff", "/admin/audit"]
ADMIN_POSTS = ["/admin/subscribers/{subscriber}/erase", "/admin/suppressions/{suppression}/remove"]


@pytest.mark.slow  # signs in once per page
def test_anonymous_requests_go_to_sign_in_and_return_after_it(many_sign_ins, app, people):
    for template in STAFF_PAGES + ADMIN_PAGES:
        path = template.format(**people)
        client = app.test_client()
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/login?next=")
        back = sign_in(
            client, "admin@example.org", next_path=response.headers["Location"].split("next=", 1)[1]
        )
        assert back.status_code == 302
        assert client.get(back.headers["Location"]).status_code == 200, path


def test_anonymous_posts_change_nothing(app, people):
    client = app.test_client()
    for template in ADMIN_POSTS:
        assert client.post(template.format(**people)).status_code in (302, 400)
    db.session.expire_all()
    assert db.session.get(Suppression, people["suppression"]) is not None


def test_an_editor_is_refused_wherever_only_an_admin_may_act(app, people):
    client = app.test_client()
    assert sign_in(client, "editor@example.org").status_code == 302
    for template in STAFF_PAGES:
        assert client.get(template.format(**people)).status_code == 200, template
    for template in ADMIN_PAGES:
        assert client.get(template.format(**people)).status_code == 403, template
    token = form_values(page(client.get("/admin/")).find("form", method="post"))["csrf_token"]
    for template in ADMIN_POSTS:
        response = client.post(template.format(**people), data={"csrf_token": token})
        assert response.status_code == 403, template
    db.session.expire_all()
    assert db.session.get(Suppression, people["suppression"]) is not None
    assert db.session.scalar(select(StaffUser.role).where(StaffUser.email.like("editor%"))) == (
        "editor"
    )


def test_an_admin_may_do_everything(app, people):
    client = app.test_client()
    sign_in(client, "admin@example.org")
    for template in STAFF_PAGES + ADMIN_PAGES:
        assert client.get(template.format(**people)).status_code == 200, template


def test_every_console_form_refuses_a_missing_csrf_token(app, people):
    client = app.test_client()
    sign_in(client, "admin@example.org")
    for path in [
        "/admin/topics",
        "/admin/updates",
        "/admin/digests",
        "/admin/suppressions",
        "/admin/staff",
        f"/admin/digests/{people['digest']}/send",
        f"/admin/digests/{people['digest']}/cancel",
        "/admin/logout",
        *[t.format(**people) for t in ADMIN_POSTS],
    ]:
        assert client.post(path, data={"slug": "x", "name": "X"}).status_code == 400, path
    db.session.expire_all()
    assert db.session.get(Digest, people["digest"]).status == "draft"


@pytest.mark.slow  # signs in eight times
def test_wrong_passwords_slow_down_that_address_from_that_ip_only(app, people):
    guesser = app.test_client()
    for _ in range(5):
        assert sign_in(guesser, "editor@example.org", "wrong password").status_code == 401
    assert sign_in(guesser, "editor@example.org").status_code == 429  # waits, even if right
    assert sign_in(guesser, "admin@example.org").status_code == 302  # other addresses do not
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "192.0.2.10"
    assert sign_in(owner, "editor@example.org").status_code == 302  # nor the owner elsewhere


@pytest.fixture
def strict_login_limit(app_config):
    app_config["LOGIN_LIMIT_PER_IP"] = "3/minute"


def test_sign_in_attempts_from_one_address_are_rate_limited(strict_login_limit, app, people):
    client = app.test_client()
    answers = [sign_in(client, "nobody@example.org", "guess").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]


def test_an_editor_writes_composes_and_sends_and_staff_can_watch_it_finish(
    app, people, run_jobs, mail_server
):
    create_subscriber("both@example.org", ["lps", "care"])
    client = app.test_client()
    sign_in(client, "editor@example.org")

    form = form_values(form_with_button(page(client.get("/admin/updates")), "Publish"))
    assert form.pop("announce") == ["y"]  # on unless unticked; here the digest carries it
    form.update(title="Care funding announced", body="Councils get **more**.", topics=["care"])
    assert client.post("/admin/updates", data=form).status_code == 303

    compose = form_with_button(page(client.get("/admin/digests")), "Save draft")
    values = form_values(compose)
    care_update = next(
        box["value"]
        for box in compose.find_all("input", attrs={"name": "updates"})
        if "Care funding" in box.find_next("label").get_text()
    )
    values.update(
        subject="December news",
        intro="Two stories.",
        kind="digest",
        topics=["lps", "care"],
        updates=[care_update],
    )
    created = client.post("/admin/digests", data=values)
    assert created.status_code == 303
    detail_path = created.headers["Location"]

    send = form_with_button(page(client.get(detail_path)), "Send")
    asked = client.post(send["action"], data=form_values(send))
    # Only both@ gets an email: the reader follows lps, and the digest has no lps update.
    assert page(asked).h1.get_text() == "Send to 1 subscriber now?"
    assert confirm(client, asked).status_code == 303
    run_jobs()

    [message] = mail_server.messages_to("both@example.org")
    assert message["Subject"] == "December news"
    # The reader follows lps only and the digest has no lps update: skipped, not sent empty.
    assert mail_server.messages_to("reader@example.org") == []
    progress = client.get(detail_path + "/progress").get_json()
    assert progress.items() >= {
        "status": "sent",
        "recipients": 2,
        "sent": 1,
        "failed": 0,
        "skipped": 1,
        "already_sent": 0,
        "pending": 0,
    }.items()
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["update published", "digest composed", "digest sending"]


def test_an_update_is_previewed_as_readers_will_see_it_and_nothing_is_saved(app, people):
    client = app.test_client()
    sign_in(client, "editor@example.org")
    form = form_values(form_with_button(page(client.get("/admin/updates")), "Preview"))
    body = "Councils get **more**.\n\n<script>alert(1)</script>\n\n[Read](javascript:alert(2))"
    form.update(title="", body=body, action="preview")
    response = client.post("/admin/updates", data=form)
    assert response.status_code == 200
    shown = page(response)
    rendered = shown.select_one(".preview .rendered")
    assert rendered.find("strong").get_text() == "more"
    assert rendered.find("script") is None
    assert [a for a in rendered.find_all("a") if "javascript" in a.get("href", "")] == []
    assert shown.find("textarea", attrs={"name": "body"}).get_text().strip() == body
    assert shown.select(".error-message") == []
    assert db.session.scalars(select(Update).where(Update.title == "")).all() == []
    assert db.session.scalars(select(AuditEvent)).all() == []

    form.update(body="")
    assert client.post("/admin/updates", data=form).status_code == 400


def test_preview_shows_what_a_chosen_subscriber_receives(app, people):
    create_subscriber("carer@example.org", ["care"])
    client = app.test_client()
    sign_in(client, "editor@example.org")
    preview = f"/admin/digests/{people['digest']}/preview"

    mine = page(client.get(preview, query_string={"as": "reader@example.org"}))
    assert "Budgets" in mine.find("pre").get_text()
    assert "reader@example.org" in mine.find("pre").get_text()
    assert "Budgets" in mine.find("iframe")["srcdoc"]
    theirs = page(client.get(preview, query_string={"as": "carer@example.org"}))
    assert "skipped, not sent an empty email" in theirs.get_text()
    assert client.get(preview, query_string={"as": "stranger@example.org"}).status_code == 404


def test_a_test_copy_goes_to_the_staff_member_only(app, people, run_jobs, mail_server):
    client = app.test_client()
    sign_in(client, "editor@example.org")
    detail = page(client.get(f"/admin/digests/{people['digest']}"))
    form = form_with_button(detail, "Send me a test copy")
    assert client.post(form["action"], data=form_values(form)).status_code == 303
    run_jobs()
    [copy] = mail_server.messages_to("editor@example.org")
    assert copy["Subject"] == "[Test] Programme news"
    assert copy["Message-ID"].startswith("<test-")
    assert mail_server.messages_to("reader@example.org") == []
    db.session.expire_all()
    assert db.session.get(Digest, people["digest"]).status == "draft"


def test_admins_export_subscribers_and_the_consent_trail_as_csv(app, people, client):
    import csv
    import io

    from tests.helpers import sign_up

    sign_up(client, "visitor@example.org", ["lps"])
    staff = app.test_client()
    sign_in(staff, "admin@example.org")
    subscribers = staff.get("/admin/exports/subscribers.csv?topic=lps")
    assert subscribers.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(subscribers.get_data(as_text=True))))
    assert [(r["email"], r["topic"], r["status"]) for r in rows] == [
        ("reader@example.org", "lps", "active")
    ]
    consent = list(
        csv.DictReader(io.StringIO(staff.get("/admin/exports/consent.csv").get_data(as_text=True)))
    )
    assert [(r["email"], r["action"], r["source"]) for r in consent] == [
        ("visitor@example.org", "requested", "form")
    ]
    assert consent[0]["statement"].startswith("I agree")

    editor = app.test_client()
    sign_in(editor, "editor@example.org")
    assert editor.get("/admin/exports/subscribers.csv").status_code == 403
    assert editor.get("/admin/exports/consent.csv").status_code == 403
    dashboard = page(staff.get("/admin/")).get_text()
    assert "Workers alive" in dashboard
