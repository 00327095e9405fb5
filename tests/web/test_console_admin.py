"""The console's admin pages (topics, staff, API tokens) and its subscriber and retry tools."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.factories import create_news, create_subscriber, create_test_digest
from tests.helpers import (
    PASSWORD,
    audit_actions,
    errors_on,
    form_values,
    form_with_button,
    page,
    path_of,
    press,
    press_and_confirm,
    sign_in,
    signed_in,
)
from updates.extensions import db
from updates.links import manage_url
from updates.models import (
    ApiToken,
    AuditEvent,
    ConsentEvent,
    Delivery,
    Digest,
    EmbedOrigin,
    StaffUser,
    Subscriber,
    Suppression,
    Topic,
)
from updates.news.embeds import allow_origin
from updates.staff.accounts import find_staff, issue_api_token
from updates.subscribers.suppression import suppress

NEW_PASSWORD = "a much longer new password"


@pytest.fixture
def ids(people):
    """The `people` fixture's, with the ids the new routes take, and an editor's token."""
    editor = find_staff("editor@example.org")
    row, token = issue_api_token(editor)
    return {
        **people,
        "origin": allow_origin("https://listed.example").id,
        "topic": db.session.scalar(select(Topic.id).where(Topic.slug == "lps")),
        "admin": find_staff("admin@example.org").id,
        "editor": editor.id,
        "token": row.id,
        "token_value": token,
    }


def csrf_token(client, path: str = "/admin/login") -> str:
    return form_values(page(client.get(path)).find("form", method="post"))["csrf_token"]


def offered_on(client, path: str) -> list[str]:
    """The topic slugs a visitor can tick on the page."""
    boxes = page(client.get(path)).find_all("input", attrs={"name": "topics"})
    return [box["value"] for box in boxes]


ADMIN_GETS = ["/admin/topics/{topic}", "/admin/staff/{editor}/password", "/admin/tokens"]
STAFF_GETS = [
    "/admin/subscribers?topic=lps&status=active",
    "/admin/subscribers/add",
    "/admin/embed?topics=lps",
]
ADMIN_POSTS = [
    "/admin/topics/{topic}",
    "/admin/topics/{topic}/hide",
    "/admin/topics/{topic}/show",
    "/admin/topics/{topic}/archive",
    "/admin/topics/{topic}/unarchive",
    "/admin/staff/{editor}/deactivate",
    "/admin/staff/{editor}/reactivate",
    "/admin/staff/{editor}/password",
    "/admin/tokens",
    "/admin/tokens/{token}/revoke",
    "/admin/embed/origins",
    "/admin/embed/origins/{origin}/remove",
]
STAFF_POSTS = [
    "/admin/subscribers/add",
    "/admin/subscribers/{subscriber}/revoke-links",
    "/admin/digests/{digest}/retry",
]
# What the forms would change, were the guards not there.
POST_DATA = {
    "name": "Renamed",
    "description": "Changed",
    "password": NEW_PASSWORD,
    "confirm": NEW_PASSWORD,
    "staff_id": "1",
    "email": "someone@example.org",
    "topics": "lps",
    "basis": "Asked at the stand",
    "origin": "https://elsewhere.example",
}


def assert_nothing_changed(ids) -> None:
    db.session.expire_all()
    topic = db.session.get(Topic, ids["topic"])
    assert (topic.name, topic.public, topic.archived) == ("Lps", True, False)
    editor = db.session.get(StaffUser, ids["editor"])
    assert editor.active
    assert db.session.get(ApiToken, ids["token"]).revoked_at is None
    assert db.session.get(Subscriber, ids["subscriber"]).token_version == 1
    assert (
        db.session.scalar(select(Subscriber).where(Subscriber.email == "someone@example.org"))
        is None
    )
    assert db.session.get(Digest, ids["digest"]).status == "draft"
    assert list(db.session.scalars(select(EmbedOrigin.origin))) == ["https://listed.example"]
    assert audit_actions() == []


# -- who may do what ---------------------------------------------------------------------------


@pytest.mark.slow  # signs in once per page
def test_anonymous_requests_to_the_new_pages_go_to_sign_in_and_return_after_it(
    many_sign_ins, app, ids
):
    for template in ADMIN_GETS + STAFF_GETS:
        path = template.format(**ids)
        client = app.test_client()
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/admin/login?next=")
        back = sign_in(
            client, "admin@example.org", next_path=response.headers["Location"].split("next=", 1)[1]
        )
        assert client.get(back.headers["Location"]).status_code == 200, path


def test_anonymous_posts_to_the_new_forms_go_to_sign_in_and_change_nothing(app, ids):
    client = app.test_client()
    token = csrf_token(client)
    for template in ADMIN_POSTS + STAFF_POSTS:
        response = client.post(template.format(**ids), data={**POST_DATA, "csrf_token": token})
        assert response.status_code == 302, template
        assert response.headers["Location"].startswith("/admin/login?next="), template
    assert_nothing_changed(ids)


def test_an_editor_is_refused_the_admin_pages_and_forms_but_not_the_subscriber_tools(app, ids):
    client = signed_in(app, "editor")
    for template in ADMIN_GETS:
        assert client.get(template.format(**ids)).status_code == 403, template
    token = csrf_token(client, "/admin/")
    for template in ADMIN_POSTS:
        response = client.post(template.format(**ids), data={**POST_DATA, "csrf_token": token})
        assert response.status_code == 403, template
    for template in STAFF_GETS:
        assert client.get(template.format(**ids)).status_code == 200, template
    assert "API tokens" not in page(client.get("/admin/")).find("nav").get_text()
    assert_nothing_changed(ids)


def test_an_admin_may_open_every_new_page(app, ids):
    client = signed_in(app, "admin")
    for template in ADMIN_GETS + STAFF_GETS:
        assert client.get(template.format(**ids)).status_code == 200, template
    assert "API tokens" in page(client.get("/admin/")).find("nav").get_text()


def test_every_new_form_refuses_a_missing_csrf_token(app, ids):
    client = signed_in(app, "admin")
    for template in ADMIN_POSTS + STAFF_POSTS:
        assert client.post(template.format(**ids), data=POST_DATA).status_code == 400, template
    assert_nothing_changed(ids)


def test_unknown_ids_are_404_and_bad_values_400_never_5xx(app, ids):
    client = signed_in(app, "admin")
    too_big = "9" * 20  # more than the id columns hold: PostgreSQL would refuse the query
    for path in [
        "/admin/topics/999999",
        "/admin/staff/999999/password",
        f"/admin/topics/{too_big}",
        f"/admin/staff/{too_big}/password",
        f"/admin/subscribers/{too_big}",
        f"/admin/digests/{too_big}",
    ]:
        assert client.get(path).status_code == 404, path
    token = csrf_token(client, "/admin/")
    for path in [
        "/admin/topics/999999/archive",
        "/admin/staff/999999/deactivate",
        "/admin/tokens/999999/revoke",
        "/admin/subscribers/999999/revoke-links",
        "/admin/digests/999999/retry",
        f"/admin/tokens/{too_big}/revoke",
        f"/admin/digests/{too_big}/retry",
    ]:
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    for staff_id in ["abc", "999999", too_big, ""]:
        response = client.post("/admin/tokens", data={"csrf_token": token, "staff_id": staff_id})
        assert response.status_code == 400, staff_id
        assert errors_on(response)
    for query in ["status=nonsense", "topic=no-such-topic", "q=%00", f"q={'x' * 400}"]:
        response = client.get(f"/admin/subscribers?{query}")
        assert response.status_code == 400, query
        assert errors_on(response), query
    assert_nothing_changed(ids)


# -- topics ------------------------------------------------------------------------------------


def test_an_admin_renames_a_topic_and_the_sign_up_page_shows_the_new_name(app, ids, client):
    admin = signed_in(app, "admin")
    path = f"/admin/topics/{ids['topic']}"
    saved = press(admin, path, "Save", name="Local public services", description="Councils.")
    assert saved.status_code == 303
    label = page(client.get("/")).find("input", attrs={"value": "lps"}).find_next("label")
    assert "Local public services" in label.get_text()
    db.session.expire_all()
    topic = db.session.get(Topic, ids["topic"])
    assert (topic.slug, topic.name, topic.description) == (
        "lps",
        "Local public services",
        "Councils.",
    )
    assert audit_actions() == ["topic edited"]
    # Saving it unchanged is no edit.
    assert press(admin, path, "Save").status_code == 303
    assert audit_actions() == ["topic edited"]


@pytest.mark.parametrize(
    ("name", "description", "problem"),
    [
        ("", "", "This field is required"),
        ("   ", "", "name must be between 1 and 200 characters"),
        ("x" * 201, "", "Field cannot be longer than 200 characters"),
        ("Fine", "x" * 2001, "Field cannot be longer than 2000 characters"),
        ("Nul\x00name", "", "NUL"),
    ],
)
def test_a_bad_topic_edit_is_a_400_that_says_why(app, ids, name, description, problem):
    admin = signed_in(app, "admin")
    path = f"/admin/topics/{ids['topic']}"
    response = press(admin, path, "Save", name=name, description=description)
    assert response.status_code == 400
    assert problem in errors_on(response)
    assert_nothing_changed(ids)


def test_a_hidden_topic_leaves_the_sign_up_page_and_showing_it_brings_it_back(app, ids, client):
    admin = signed_in(app, "admin")
    path = f"/admin/topics/{ids['topic']}"
    assert offered_on(client, "/") == ["lps", "care"]
    assert press(admin, path, "Hide from the public form").status_code == 303
    assert offered_on(client, "/") == ["care"]
    assert "hidden" in page(admin.get("/admin/topics")).find("tbody").get_text()
    assert press(admin, path, "Show on the public form").status_code == 303
    assert offered_on(client, "/") == ["lps", "care"]
    assert audit_actions() == ["topic hidden", "topic shown"]


def test_an_archived_topic_leaves_every_page_but_keeps_its_subscribers(app, ids, client):
    reader = db.session.get(Subscriber, ids["subscriber"])
    manage = path_of(manage_url(reader))
    admin = signed_in(app, "admin")
    path = f"/admin/topics/{ids['topic']}"
    assert press(admin, path, "Archive").status_code == 303

    assert offered_on(client, "/") == ["care"]
    assert offered_on(client, manage) == ["care"]
    assert offered_on(admin, "/admin/updates") == ["care"]
    assert offered_on(admin, "/admin/digests") == ["care"]
    # Saving the manage page without the archived topic does not take the reader off it.
    form = form_with_button(page(client.get(manage)), "Save my preferences")
    assert client.post(manage, data=form_values(form)).status_code == 303
    db.session.expire_all()
    reader = db.session.get(Subscriber, ids["subscriber"])
    assert [s.topic.slug for s in reader.subscriptions] == ["lps"]
    assert reader.status == "active"

    assert press(admin, path, "Unarchive").status_code == 303
    assert offered_on(client, "/") == ["lps", "care"]
    assert offered_on(client, manage) == ["lps", "care"]
    assert audit_actions() == ["topic archived", "topic unarchived"]


# -- staff accounts ----------------------------------------------------------------------------


def test_a_deactivated_account_is_signed_out_cannot_sign_in_and_its_tokens_stop(app, ids, client):
    editor = signed_in(app, "editor")
    bearer = {"Authorization": f"Bearer {ids['token_value']}"}
    assert client.get("/api/topics", headers=bearer).status_code == 200
    admin = signed_in(app, "admin")

    staff_page = page(admin.get("/admin/staff"))
    form = next(
        f
        for f in staff_page.find_all("form", method="post")
        if f.get("action") == f"/admin/staff/{ids['editor']}/deactivate"
    )
    assert admin.post(form["action"], data=form_values(form)).status_code == 303

    assert editor.get("/admin/").headers["Location"].startswith("/admin/login")
    assert sign_in(app.test_client(), "editor@example.org").status_code == 401
    assert client.get("/api/topics", headers=bearer).status_code == 401

    reactivate = form_with_button(page(admin.get("/admin/staff")), "Reactivate")
    assert admin.post(reactivate["action"], data=form_values(reactivate)).status_code == 303
    assert sign_in(app.test_client(), "editor@example.org").status_code == 302
    assert client.get("/api/topics", headers=bearer).status_code == 200
    assert audit_actions() == ["staff deactivated", "staff reactivated"]


def test_an_admin_cannot_deactivate_themselves(app, ids):
    admin = signed_in(app, "admin")
    staff_page = page(admin.get("/admin/staff"))
    actions = [f.get("action") for f in staff_page.find_all("form", method="post")]
    assert f"/admin/staff/{ids['admin']}/deactivate" not in actions  # no button for oneself
    response = admin.post(
        f"/admin/staff/{ids['admin']}/deactivate", data={"csrf_token": csrf_token(admin, "/admin/")}
    )
    assert response.status_code == 400
    assert "You cannot deactivate your own account" in errors_on(response)
    db.session.expire_all()
    assert db.session.get(StaffUser, ids["admin"]).active
    assert admin.get("/admin/").status_code == 200
    assert audit_actions() == []


def test_an_admin_resets_another_accounts_password(app, ids):
    admin = signed_in(app, "admin")
    path = f"/admin/staff/{ids['editor']}/password"
    response = press(
        admin, path, "Set the new password", password=NEW_PASSWORD, confirm=NEW_PASSWORD
    )
    assert response.status_code == 303
    assert sign_in(app.test_client(), "editor@example.org", PASSWORD).status_code == 401
    assert sign_in(app.test_client(), "editor@example.org", NEW_PASSWORD).status_code == 302
    assert audit_actions() == ["staff password reset"]
    detail = db.session.scalars(select(AuditEvent.detail)).one()
    assert detail == "editor@example.org" and NEW_PASSWORD not in detail


def test_a_password_reset_ends_the_accounts_open_sessions(app, ids):
    editor = signed_in(app, "editor")
    assert editor.get("/admin/").status_code == 200
    admin = signed_in(app, "admin")
    path = f"/admin/staff/{ids['editor']}/password"
    press(admin, path, "Set the new password", password=NEW_PASSWORD, confirm=NEW_PASSWORD)
    response = editor.get("/admin/")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert admin.get("/admin/").status_code == 200


def test_an_admin_who_resets_their_own_password_stays_signed_in_there_only(app, ids):
    elsewhere = signed_in(app, "admin")
    admin = signed_in(app, "admin")
    path = f"/admin/staff/{ids['admin']}/password"
    response = press(
        admin, path, "Set the new password", password=NEW_PASSWORD, confirm=NEW_PASSWORD
    )
    assert response.status_code == 303
    assert admin.get("/admin/staff").status_code == 200
    assert elsewhere.get("/admin/staff").status_code == 302


def test_a_session_naming_an_old_or_malformed_version_signs_nobody_in(app, ids):
    client = app.test_client()
    for forged in (f"{ids['admin']}", f"{ids['admin']}.7", f"{ids['admin']}.x", "."):
        with client.session_transaction() as session:
            session["_user_id"] = forged
            session["_fresh"] = True
        assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize(
    ("password", "confirm", "problem"),
    [
        ("eleven char", "eleven char", "Field must be between 12 and 1024 characters long."),
        (NEW_PASSWORD, NEW_PASSWORD + "!", "The two passwords are not the same."),
        ("", "", "This field is required."),
    ],
)
def test_a_bad_new_password_is_a_400_that_says_why(app, ids, password, confirm, problem):
    admin = signed_in(app, "admin")
    path = f"/admin/staff/{ids['editor']}/password"
    response = press(admin, path, "Set the new password", password=password, confirm=confirm)
    assert response.status_code == 400
    assert problem in errors_on(response)
    assert sign_in(app.test_client(), "editor@example.org", PASSWORD).status_code == 302
    assert audit_actions() == []


# -- API tokens --------------------------------------------------------------------------------


def token_rows(client) -> list[list[str]]:
    body = page(client.get("/admin/tokens")).find("tbody")
    return [[td.get_text().strip() for td in tr.find_all("td")][:5] for tr in body.find_all("tr")]


def test_an_admin_creates_a_token_for_anyone_sees_it_once_and_revokes_it(app, ids, client):
    admin = signed_in(app, "admin")
    [existing] = token_rows(admin)
    assert existing[0:2] == [str(ids["token"]), "editor@example.org"]
    assert existing[3:] == ["never", "no"]

    form = form_with_button(page(admin.get("/admin/tokens")), "Create token")
    values = {**form_values(form), "staff_id": str(ids["editor"])}
    created = admin.post(form["action"], data=values)
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    token = page(created).find(id="new-token").get_text()
    assert (
        client.get("/api/topics", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    assert token not in admin.get("/admin/tokens").get_data(as_text=True)  # shown once only

    rows = token_rows(admin)
    new_id = db.session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc()).limit(1))
    assert rows[0][0:2] == [str(new_id), "editor@example.org"]
    assert rows[0][3] != "never"  # just used

    revoke = next(
        f
        for f in page(admin.get("/admin/tokens")).find_all("form", method="post")
        if f.get("action") == f"/admin/tokens/{new_id}/revoke"
    )
    assert admin.post(revoke["action"], data=form_values(revoke)).status_code == 303
    assert (
        client.get("/api/topics", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    revoked = next(r for r in token_rows(admin) if r[0] == str(new_id))
    assert revoked[4] != "no"
    assert audit_actions() == ["api token created", "api token revoked"]


def test_no_token_is_made_for_a_deactivated_account(app, ids):
    editor = db.session.get(StaffUser, ids["editor"])
    editor.active = False
    db.session.commit()
    admin = signed_in(app, "admin")
    form = form_with_button(page(admin.get("/admin/tokens")), "Create token")
    offered = [o["value"] for o in form.find_all("option")]
    assert offered == [str(ids["admin"])]
    values = {**form_values(form), "staff_id": str(ids["editor"])}
    response = admin.post(form["action"], data=values)
    assert response.status_code == 400
    assert "Not a valid choice" in errors_on(response)
    assert db.session.scalar(select(ApiToken.id).where(ApiToken.id != ids["token"])) is None


# -- subscribers -------------------------------------------------------------------------------


def listed(client, query: str) -> list[str]:
    response = client.get(f"/admin/subscribers?{query}")
    assert response.status_code == 200
    cells = page(response).select("tbody tr td:first-child a")
    return [a.get_text() for a in cells]


def test_staff_filter_subscribers_by_topic_and_status(app, ids):
    create_subscriber("carer@example.org", ["care"])
    create_subscriber("both@example.org", ["lps", "care"])
    create_subscriber("waiting@example.org", ["lps"], status="pending")
    create_subscriber("gone@example.org", [], status="unsubscribed")
    editor = signed_in(app, "editor")
    everyone = ["both@example.org", "carer@example.org", "reader@example.org"]  # newest first
    assert listed(editor, "") == ["gone@example.org", "waiting@example.org", *everyone]
    assert listed(editor, "topic=care") == ["both@example.org", "carer@example.org"]
    assert listed(editor, "status=pending") == ["waiting@example.org"]
    assert listed(editor, "topic=lps&status=active") == ["both@example.org", "reader@example.org"]
    assert listed(editor, "q=CARER&topic=care&status=active") == ["carer@example.org"]
    assert listed(editor, "q=%25") == []  # a LIKE wildcard is only a character
    assert listed(editor, "topic=care&status=unsubscribed") == []
    text = page(editor.get("/admin/subscribers?topic=care")).get_text()
    assert "2 subscribers match" in text


def test_staff_add_a_subscriber_by_hand_with_the_basis_of_their_consent(app, ids):
    editor = signed_in(app, "editor")
    basis = "Asked at our stand, Local Government Summit, 3 December 2026; form 117."
    response = press(
        editor,
        "/admin/subscribers/add",
        "Add subscriber",
        email="New.Person@Example.org",
        topics=["lps", "care"],
        basis=basis,
    )
    assert response.status_code == 303
    detail = page(editor.get(response.headers["Location"])).get_text()
    assert basis in detail and "New.Person@example.org" in detail

    person = db.session.scalar(
        select(Subscriber).where(Subscriber.email_key == "new.person@example.org")
    )
    assert person.status == "active" and person.confirmed_at is not None
    assert sorted(s.topic.slug for s in person.subscriptions) == ["care", "lps"]
    [event] = db.session.scalars(
        select(ConsentEvent).where(ConsentEvent.subscriber_id == person.id)
    )
    assert (event.action, event.source, event.topics, event.statement.text) == (
        "added",
        "staff",
        ["care", "lps"],
        basis,
    )
    assert event.ip is None and event.user_agent is None
    assert audit_actions() == ["subscriber added"]
    assert "new.person" not in db.session.scalars(select(AuditEvent.detail)).one().lower()
    # Adding them again changes nothing and records nothing.
    again = press(
        editor,
        "/admin/subscribers/add",
        "Add subscriber",
        email="new.person@example.org",
        topics=["lps"],
        basis=basis,
    )
    assert again.status_code == 303
    assert audit_actions() == ["subscriber added"]


def test_adding_by_hand_activates_a_pending_subscriber(app, ids):
    create_subscriber("waiting@example.org", [], status="pending")
    editor = signed_in(app, "editor")
    response = press(
        editor,
        "/admin/subscribers/add",
        "Add subscriber",
        email="waiting@example.org",
        topics=["care"],
        basis="Phoned us on 2 December.",
    )
    assert response.status_code == 303
    db.session.expire_all()
    person = db.session.scalar(select(Subscriber).where(Subscriber.email == "waiting@example.org"))
    assert person.status == "active"
    assert [s.topic.slug for s in person.subscriptions] == ["care"]


@pytest.mark.parametrize(
    ("email", "topics", "basis", "problem"),
    [
        ("blocked@example.org", ["lps"], "Asked", "is on the suppression list"),
        ("not an address", ["lps"], "Asked", "Enter a valid email address"),
        ("fine@example.org", [], "Asked", "Choose at least one topic."),
        ("fine@example.org", ["lps"], "", "Say on what basis"),
        ("fine@example.org", ["lps"], "   ", "Say on what basis"),
        ("fine@example.org", ["nope"], "Asked", "not a valid choice"),
        ("fine@example.org", ["lps"], "x" * 2001, "Field cannot be longer than 2000"),
        ("fine@example.org", ["lps"], "nul\x00", "NUL"),
    ],
)
def test_a_subscriber_who_cannot_be_added_is_a_400_that_says_why(
    app, ids, email, topics, basis, problem
):
    suppress("blocked@example.org", "complaint")
    db.session.commit()
    editor = signed_in(app, "editor")
    response = press(
        editor, "/admin/subscribers/add", "Add subscriber", email=email, topics=topics, basis=basis
    )
    assert response.status_code == 400
    assert problem.lower() in errors_on(response).lower()
    assert db.session.scalar(select(Subscriber).where(Subscriber.email_key == email)) is None
    assert audit_actions() == []


def test_staff_revoke_a_subscribers_links(app, ids, client):
    reader = db.session.get(Subscriber, ids["subscriber"])
    manage = path_of(manage_url(reader))
    assert client.get(manage).status_code == 200
    editor = signed_in(app, "editor")
    path = f"/admin/subscribers/{ids['subscriber']}"
    assert press(editor, path, "Revoke their links").status_code == 303
    assert client.get(manage).status_code == 400
    db.session.expire_all()
    reader = db.session.get(Subscriber, ids["subscriber"])
    assert reader.token_version == 2
    assert client.get(path_of(manage_url(reader))).status_code == 200  # a new link works
    assert audit_actions() == ["subscriber links revoked"]


# -- digests -----------------------------------------------------------------------------------


def progress_of(client, digest_id: int) -> dict:
    return client.get(f"/admin/digests/{digest_id}/progress").get_json()


def delivered_to(client, subscriber_id: int) -> list[list[str]]:
    """The subscriber page's digests: subject, status, when sent and attempts of each."""
    html = page(client.get(f"/admin/subscribers/{subscriber_id}"))
    table = html.find("h2", string="Digests sent to them").find_next("table")
    rows = [
        [td.get_text() for td in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")
    ]
    return [row[:4] for row in rows]


def test_a_subscribers_digests_are_listed_a_page_at_a_time_newest_first(app, ids):
    update = create_news("Budgets", ["lps"])
    for n in range(30):
        digest = create_test_digest([update], ["lps"], subject=f"Weekly {n:02d}")
        db.session.add(Delivery(digest_id=digest.id, subscriber_id=ids["subscriber"]))
    db.session.commit()
    editor = signed_in(app, "editor")
    path = f"/admin/subscribers/{ids['subscriber']}"

    first = delivered_to(editor, ids["subscriber"])
    assert [row[0] for row in first][:2] == ["Weekly 29", "Weekly 28"]
    assert len(first) == 25
    html = page(editor.get(path))
    assert "1 to 25 shown" in html.find("p", class_="count").get_text()
    older = html.find("a", rel="next")["href"]
    rest = page(editor.get(older)).find("h2", string="Digests sent to them").find_next("table")
    subjects = [tr.find("td").get_text() for tr in rest.find("tbody").find_all("tr")]
    assert subjects == ["Weekly 04", "Weekly 03", "Weekly 02", "Weekly 01", "Weekly 00"]
    assert editor.get(f"{path}?page=abc").status_code == 400
    assert editor.get(f"{path}?page=0").status_code == 400


def test_failed_deliveries_are_listed_and_retried_once_the_cause_is_gone(
    app, ids, run_jobs, mail_server
):
    create_subscriber("fine@example.org", ["lps"])
    mail_server.refuse("reader@example.org", "550 5.7.1 Rejected by policy")
    editor = signed_in(app, "editor")
    path = f"/admin/digests/{ids['digest']}"
    assert press_and_confirm(editor, path, "Send").status_code == 303
    run_jobs()
    assert len(mail_server.messages_to("fine@example.org")) == 1
    assert mail_server.messages_to("reader@example.org") == []
    assert progress_of(editor, ids["digest"])["status"] == "sent"
    assert progress_of(editor, ids["digest"])["failed"] == 1

    report = page(editor.get(path)).find(id="failures")
    cells = [td.get_text() for td in report.find("tbody").find_all("td")]
    assert cells[0] == "reader@example.org"
    assert "550" in cells[1] and "Rejected by policy" in cells[1]
    assert delivered_to(editor, ids["subscriber"]) == [["Programme news", "failed", "", "1"]]

    assert press(editor, path, "Retry failed").status_code == 303
    db.session.expire_all()
    assert db.session.get(Digest, ids["digest"]).status == "sending"
    run_jobs()
    [message] = mail_server.messages_to("reader@example.org")
    assert message["Subject"] == "Programme news"
    assert len(mail_server.messages_to("fine@example.org")) == 1  # not sent twice
    assert progress_of(editor, ids["digest"]).items() >= {
        "status": "sent",
        "recipients": 2,
        "sent": 2,
        "failed": 0,
        "skipped": 0,
        "already_sent": 0,
        "pending": 0,
    }.items()
    delivery = db.session.scalar(
        select(Delivery).where(Delivery.subscriber_id == ids["subscriber"])
    )
    assert delivery.last_error is None
    [[subject, status, sent_at, attempts]] = delivered_to(editor, ids["subscriber"])
    assert (subject, status, attempts) == ("Programme news", "sent", "1")
    assert sent_at.startswith(str(delivery.sent_at.year))
    assert page(editor.get(path)).find(id="failures") is None
    assert audit_actions() == ["digest sending", "digest retried"]


def test_only_a_sent_digest_with_failures_can_be_retried(app, ids, run_jobs):
    editor = signed_in(app, "editor")
    token = csrf_token(editor, "/admin/")
    retry = f"/admin/digests/{ids['digest']}/retry"
    refused = editor.post(retry, data={"csrf_token": token}, follow_redirects=True)
    assert "A draft digest cannot be retried." in page(refused).get_text()
    assert "Retry failed" not in page(editor.get(f"/admin/digests/{ids['digest']}")).get_text()

    assert press_and_confirm(editor, f"/admin/digests/{ids['digest']}", "Send").status_code == 303
    run_jobs()
    assert progress_of(editor, ids["digest"])["status"] == "sent"
    nothing = editor.post(retry, data={"csrf_token": token}, follow_redirects=True)
    assert "The digest has no failed deliveries to retry." in page(nothing).get_text()
    db.session.expire_all()
    assert db.session.get(Digest, ids["digest"]).status == "sent"
    assert audit_actions() == ["digest sending"]


def test_compose_ticks_the_updates_published_since_the_last_digest_to_their_topics(app, ids):
    before_lps = create_news("Older council news", ["lps"])
    before_care = create_news("Care news nobody has had", ["care"])
    before_both = create_news("Joint news", ["lps", "care"])
    sent = create_test_digest([before_lps], ["lps"], subject="Last month")
    announced = create_test_digest([before_care], ["care"], kind="announcement")
    sent.status = announced.status = "sent"
    db.session.commit()
    after_lps = create_news("New council news", ["lps"])
    create_test_digest([after_lps], ["care"], subject="An unsent draft")

    editor = signed_in(app, "editor")
    compose = form_with_button(page(editor.get("/admin/digests")), "Save draft")
    ticked = {int(v) for v in form_values(compose)["updates"]}
    # Budgets (people) and the two published before the last lps digest are not ticked; the
    # announcement to care does not count, as digest-only subscribers never received it.
    assert ticked == {after_lps.id, before_care.id}
    assert before_both.id not in ticked


def test_an_admin_lifts_a_suppression_only_with_a_reason_and_never_for_the_erased(app, ids):
    admin = signed_in(app, "admin")
    form = form_with_button(page(admin.get("/admin/suppressions")), "Remove")
    path = form["action"]
    assert admin.post(path, data={**form_values(form), "reason": ""}).status_code == 400
    assert "This field is required." in errors_on(admin.post(path, data=form_values(form)))
    assert db.session.get(Suppression, ids["suppression"]) is not None

    reason = "Asked by phone to be emailed again"
    assert admin.post(path, data={**form_values(form), "reason": reason}).status_code == 303
    db.session.expire_all()
    assert db.session.get(Suppression, ids["suppression"]) is None
    assert audit_actions() == ["suppression removed"]
    assert db.session.scalars(select(AuditEvent.detail)).one() == f"old@example.org: {reason}"

    suppress("erased@example.org", "erased")
    db.session.commit()
    erased = db.session.scalar(select(Suppression).where(Suppression.reason == "erased"))
    response = admin.post(
        f"/admin/suppressions/{erased.id}/remove",
        data={"csrf_token": csrf_token(admin, "/admin/suppressions"), "reason": reason},
    )
    assert response.status_code == 303
    assert db.session.get(Suppression, erased.id) is not None
