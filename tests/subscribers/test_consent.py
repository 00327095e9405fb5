"""Consent that lasts: a subscriber's state is what they themselves confirmed.

An unconfirmed sign-up never changes a record that unsubscribed, bounced, complained or was
suppressed; an import or a staff member never brings back someone who left; the purge forgets
only what was never confirmed; a suppression stops every email but the confirmation of a newer
request; and a confirm link dies with the subscriber's other links.
"""

from __future__ import annotations

import io
import time

import pytest
from flask import current_app
from itsdangerous.timed import TimestampSigner
from redis import Redis
from sqlalchemy import select, update

from tests.factories import create_news, create_test_digest
from tests.helpers import (
    PASSWORD,
    errors_on,
    followed,
    form_values,
    form_with_button,
    links_in,
    only_link,
    page,
    path_of,
    press,
    sign_up,
    signed_in,
    submit_only_form,
    subscriber,
)
from updates import tokens
from updates.extensions import db
from updates.mail.transactional import compose
from updates.models import (
    ConsentEvent,
    EmailKind,
    OutboundEmail,
    SignupRequest,
    Subscriber,
    Suppression,
)
from updates.news.digests import send
from updates.staff.accounts import add_staff
from updates.subscribers.suppression import suppress
from updates.worker.periodic import PERIODIC_JOBS, tick

ADDRESS = "x@example.org"
CONSENT = "Delegate list, Local Public Services Summit 2026, opted in on the booking form"


@pytest.fixture
def staff(app, topics) -> None:
    add_staff("admin@example.org", "admin", PASSWORD)
    add_staff("editor@example.org", "editor", PASSWORD)


@pytest.fixture
def forgetful(app_config) -> None:
    """Unconfirmed sign-ups are forgotten at the next purge, however new."""
    app_config["PENDING_RETENTION_DAYS"] = 0


@pytest.fixture
def uploads(app, tmp_path, monkeypatch):
    """Console uploads land in a folder of the test's own, for the app and the worker alike."""
    for each in (app, current_app._get_current_object()):
        monkeypatch.setattr(each, "instance_path", str(tmp_path))


def confirmed(client, run_jobs, mail_server, address: str = ADDRESS, topics=("events",)):
    """Sign up on the form, confirm by the emailed link; the welcome email."""
    sign_up(client, address, list(topics))
    run_jobs()
    submit_only_form(client, only_link(mail_server.messages_to(address)[-1]))
    run_jobs()
    welcome = mail_server.messages_to(address)[-1]
    assert "You are subscribed" in welcome["Subject"]
    return welcome


def unsubscribe_everything(client, welcome) -> None:
    link = next(link for link in links_in(welcome) if "/unsubscribe/" in link)
    assert submit_only_form(client, link).status_code == 200


def a_stranger_signs_up(app, run_jobs, address: str = ADDRESS, topics=("events",)) -> None:
    """Someone else types the address into the public form, and never confirms."""
    assert sign_up(app.test_client(), address, list(topics)).status_code == 200
    run_jobs()


def cli_import(app, tmp_path, *addresses: str):
    csv = tmp_path / "people.csv"
    csv.write_text("email\n" + "".join(f"{address}\n" for address in addresses))
    result = app.test_cli_runner().invoke(
        args=["subscribers", "import", str(csv), "--topics", "events", "--consent", CONSENT]
    )
    assert result.exit_code == 0, result.output
    return result.output


def console_import(app, run_jobs, *addresses: str) -> dict[str, str]:
    """An admin uploads a CSV in the console; the report's rows once a worker has run it."""
    admin = signed_in(app, "admin")
    form = form_with_button(page(admin.get("/admin/import")), "Import")
    values = form_values(form)
    rows = "email\n" + "".join(f"{address}\n" for address in addresses)
    values.update(topics=["events"], consent=CONSENT, file=(io.BytesIO(rows.encode()), "p.csv"))
    response = admin.post("/admin/import", data=values, content_type="multipart/form-data")
    assert response.status_code == 303
    run_jobs()
    report = page(admin.get(response.headers["Location"]))
    return {
        row.th.get_text(strip=True): row.td.get_text(strip=True)
        for row in report.select("#import-report tr")
        if row.th and row.td
    }


def purge(redis_url: str, run_jobs) -> None:
    """The hour comes round: the ticker enqueues the purge and a worker runs it."""
    [purging] = [job for job in PERIODIC_JOBS if job.name == "purge-unconfirmed"]
    assert tick(Redis.from_url(redis_url), (purging,)) == [purging.name]
    run_jobs()


def trail(address: str) -> list[tuple[str, str]]:
    query = select(ConsentEvent).where(ConsentEvent.subscriber_id == subscriber(address).id)
    return [(e.action, e.source) for e in db.session.scalars(query.order_by(ConsentEvent.id))]


def requests_of(address: str) -> list[SignupRequest]:
    query = select(SignupRequest).where(SignupRequest.subscriber_id == subscriber(address).id)
    return list(db.session.scalars(query.order_by(SignupRequest.id)))


def subjects(mail_server, address: str = ADDRESS) -> list[str]:
    return [message["Subject"] for message in mail_server.messages_to(address)]


def admin_suppresses(app, address: str, reason: str = "asked by phone") -> None:
    admin = signed_in(app, "admin")
    response = press(admin, "/admin/suppressions", "Suppress", email=address, reason=reason)
    assert response.status_code == 303


def revoke_every_link(app) -> None:
    editor = signed_in(app, "editor")
    path = f"/admin/subscribers/{subscriber(ADDRESS).id}"
    assert press(editor, path, "Revoke their links").status_code == 303


# -- the sequence from the issue ------------------------------------------------------------------


def test_after_unsubscribing_a_strangers_sign_up_an_import_and_the_purge_leave_them_unsubscribed(
    forgetful, app, client, staff, uploads, run_jobs, mail_server, redis_url, tmp_path
):
    welcome = confirmed(client, run_jobs, mail_server)
    unsubscribe_everything(client, welcome)
    assert subscriber(ADDRESS).status == "unsubscribed"

    a_stranger_signs_up(app, run_jobs)
    assert subscriber(ADDRESS).status == "unsubscribed"  # the request waits beside the record
    assert [r.confirmed_at is None for r in requests_of(ADDRESS)] == [False, True]
    assert "Confirm" in subjects(mail_server)[-1]  # only the owner of the address can act on it

    output = cli_import(app, tmp_path, ADDRESS, "new@example.org".upper())
    assert "imported 1" in output and "1 unsubscribed" in output
    assert subscriber(ADDRESS).status == "unsubscribed"
    report = console_import(app, run_jobs, ADDRESS)
    assert report["Skipped: unsubscribed before"] == "1"
    assert (subscriber(ADDRESS).status, followed(ADDRESS)) == ("unsubscribed", set())

    purge(redis_url, run_jobs)
    assert subscriber(ADDRESS).status == "unsubscribed"
    assert trail(ADDRESS) == [
        ("requested", "form"),
        ("confirmed", "link"),
        ("unsubscribed", "link"),
        ("requested", "form"),
    ]
    [kept] = requests_of(ADDRESS)  # only the stranger's stale request went
    assert kept.confirmed_at is not None
    assert subscriber("new@example.org").status == "active"  # the purge leaves imports alone


def test_confirming_a_new_request_is_what_brings_an_unsubscribed_person_back(
    app, client, topics, run_jobs, mail_server
):
    unsubscribe_everything(client, confirmed(client, run_jobs, mail_server))
    sign_up(client, ADDRESS, ["social-care"])
    run_jobs()
    assert subscriber(ADDRESS).status == "unsubscribed"
    assert submit_only_form(client, only_link(mail_server.messages_to(ADDRESS)[-1])).status_code
    assert (subscriber(ADDRESS).status, followed(ADDRESS)) == ("active", {"social-care"})


def test_the_purge_forgets_a_sign_up_that_was_never_confirmed_and_all_it_wrote(
    forgetful, app, client, topics, run_jobs, redis_url
):
    a_stranger_signs_up(app, run_jobs, "never@example.org")
    a_stranger_signs_up(app, run_jobs, "never@example.org", ("social-care",))
    purge(redis_url, run_jobs)
    assert subscriber("never@example.org") is None
    assert db.session.scalars(select(ConsentEvent)).all() == []


def test_an_old_sign_up_made_pending_is_skipped_by_import_and_put_back_by_the_purge(
    forgetful, app, client, topics, run_jobs, mail_server, redis_url, tmp_path
):
    unsubscribe_everything(client, confirmed(client, run_jobs, mail_server))
    a_stranger_signs_up(app, run_jobs)
    # What an unconfirmed sign-up did to such a record before it was refused.
    db.session.execute(update(Subscriber).values(status="pending"))
    db.session.commit()

    assert "1 unsubscribed" in cli_import(app, tmp_path, ADDRESS)
    assert subscriber(ADDRESS).status == "pending"
    purge(redis_url, run_jobs)
    assert subscriber(ADDRESS).status == "unsubscribed"
    assert [action for action, _ in trail(ADDRESS)] == [
        "requested",
        "confirmed",
        "unsubscribed",
        "requested",
    ]


def test_staff_cannot_add_back_by_hand_someone_who_unsubscribed(
    app, client, staff, run_jobs, mail_server
):
    unsubscribe_everything(client, confirmed(client, run_jobs, mail_server))
    editor = signed_in(app, "editor")
    response = press(
        editor,
        "/admin/subscribers/add",
        "Add subscriber",
        email=ADDRESS,
        topics=["events"],
        basis="Asked at our stand",
    )
    assert response.status_code == 400
    assert "unsubscribed" in errors_on(response)
    assert (subscriber(ADDRESS).status, followed(ADDRESS)) == ("unsubscribed", set())


def test_staff_cannot_add_back_by_hand_someone_who_complained_though_an_admin_lifted_it(app, staff):
    db.session.add(Subscriber(email=ADDRESS, email_key=ADDRESS, status="complained"))
    db.session.commit()  # and no suppression: an admin lifted it
    response = press(
        signed_in(app, "editor"),
        "/admin/subscribers/add",
        "Add subscriber",
        email=ADDRESS,
        topics=["events"],
        basis="Asked at our stand",
    )
    assert response.status_code == 400
    assert subscriber(ADDRESS).status == "complained"


# -- suppressed records -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "status"),
    [("bounce", "bounced"), ("complaint", "complained"), ("asked by phone", "active")],
)
def test_a_suppressed_person_who_signs_up_again_gets_one_confirmation_and_confirming_lifts_it(
    app, client, topics, run_jobs, mail_server, reason, status
):
    confirmed(client, run_jobs, mail_server, topics=("events",))
    suppress(ADDRESS, reason)
    db.session.commit()
    time.sleep(0.01)  # the new request comes after the suppression

    for _ in range(3):  # a stranger asking again and again brings one email at most
        a_stranger_signs_up(app, run_jobs, topics=("social-care",))
    assert subjects(mail_server)[2:] == [subjects(mail_server)[0]]  # one more confirmation
    assert (subscriber(ADDRESS).status, followed(ADDRESS)) == (status, {"events"})

    link = only_link(mail_server.messages_to(ADDRESS)[-1])
    assert submit_only_form(client, link).status_code == 200
    assert subscriber(ADDRESS).status == "active"
    assert followed(ADDRESS) == {"events", "social-care"}
    assert db.session.scalars(select(Suppression)).all() == []
    run_jobs()
    assert "You are subscribed" in subjects(mail_server)[-1]


def test_a_suppressed_address_never_seen_before_can_sign_up_and_confirm(
    app, client, topics, run_jobs, mail_server
):
    suppress(ADDRESS, "asked by phone")
    db.session.commit()
    time.sleep(0.01)
    sign_up(client, ADDRESS, ["events"])
    run_jobs()
    assert subscriber(ADDRESS).status == "pending"
    assert submit_only_form(client, only_link(mail_server.messages_to(ADDRESS)[0])).status_code
    assert subscriber(ADDRESS).status == "active"
    assert db.session.scalars(select(Suppression)).all() == []


def test_an_admin_suppression_stops_a_confirmation_already_owed(
    app, client, staff, run_jobs, mail_server
):
    sign_up(client, ADDRESS, ["events"])  # owed, not sent yet
    admin_suppresses(app, ADDRESS)
    run_jobs()
    assert mail_server.messages_to(ADDRESS) == []
    [owed] = db.session.scalars(select(OutboundEmail)).all()
    assert owed.state == "cancelled"


def test_an_admin_suppression_stops_a_welcome_already_owed(
    app, client, staff, run_jobs, mail_server
):
    sign_up(client, ADDRESS, ["events"])
    run_jobs()
    assert submit_only_form(client, only_link(mail_server.messages_to(ADDRESS)[0])).status_code
    admin_suppresses(app, ADDRESS)  # before a worker sends the welcome
    run_jobs()
    assert len(mail_server.messages_to(ADDRESS)) == 1
    welcome = db.session.scalar(select(OutboundEmail).where(OutboundEmail.kind == "welcome"))
    assert welcome.state == "cancelled"


def test_an_admin_suppression_stops_the_confirmation_of_an_older_request_and_its_welcome(
    app, client, staff, run_jobs, mail_server
):
    sign_up(client, ADDRESS, ["events"])
    run_jobs()
    link = only_link(mail_server.messages_to(ADDRESS)[0])
    admin_suppresses(app, ADDRESS)
    refused = submit_only_form(client, link)
    assert refused.status_code == 400
    run_jobs()
    assert (subscriber(ADDRESS).status, followed(ADDRESS)) == ("pending", set())
    assert len(mail_server.messages_to(ADDRESS)) == 1


def test_an_admin_suppression_stops_manage_links_and_newsletters(
    app, client, staff, run_jobs, mail_server, monkeypatch
):
    welcome = confirmed(client, run_jobs, mail_server)
    manage = path_of(next(link for link in links_in(welcome) if "/manage/" in link))
    admin_suppresses(app, ADDRESS)
    before = len(mail_server.messages_to(ADDRESS))

    form = form_values(page(client.get("/manage")).find("form", method="post"))
    assert client.post("/manage", data={**form, "email": ADDRESS}).status_code == 200
    later = int(time.time()) + 31 * 24 * 3600
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
        renew = page(client.get(manage)).find("form", method="post")
        assert client.post(renew["action"], data=form_values(renew)).status_code == 200
    digest = create_test_digest([create_news("Summit dates", ["events"])], ["events"])
    send(digest)
    run_jobs()
    assert len(mail_server.messages_to(ADDRESS)) == before
    cancelled = db.session.scalars(
        select(OutboundEmail.kind).where(OutboundEmail.state == "cancelled")
    ).all()
    assert cancelled == [EmailKind.MANAGE_LINK]


def test_an_erased_address_gets_nothing_and_is_not_stored_though_it_signs_up_again(
    app, client, topics, run_jobs, mail_server
):
    suppress(ADDRESS, "erased")
    db.session.commit()
    time.sleep(0.01)
    sign_up(client, ADDRESS, ["events"])
    run_jobs()
    assert mail_server.messages_to(ADDRESS) == []
    assert subscriber(ADDRESS) is None


# -- confirm links and the token version --------------------------------------------------------


def test_revoking_every_link_kills_a_pending_confirm_link(
    app, client, staff, run_jobs, mail_server
):
    sign_up(client, ADDRESS, ["events"])
    run_jobs()
    link = path_of(only_link(mail_server.messages_to(ADDRESS)[0]))
    revoke_every_link(app)
    assert client.get(link).status_code == 400
    csrf = form_values(page(client.get("/")).find("form", method="post"))["csrf_token"]
    assert client.post(link, data={"csrf_token": csrf}).status_code == 400
    assert (subscriber(ADDRESS).status, followed(ADDRESS)) == ("pending", set())


def test_an_old_confirm_link_after_revoking_every_link_shows_no_fresh_manage_link(
    app, client, staff, run_jobs, mail_server
):
    sign_up(client, ADDRESS, ["events"])
    run_jobs()
    link = only_link(mail_server.messages_to(ADDRESS)[0])
    assert submit_only_form(client, link).status_code == 200
    revoke_every_link(app)
    csrf = form_values(page(client.get("/")).find("form", method="post"))["csrf_token"]
    again = client.post(path_of(link), data={"csrf_token": csrf})
    assert again.status_code == 400
    assert "/manage/" not in again.get_data(as_text=True)


def test_a_revoked_confirm_link_that_expired_brings_no_fresh_one(
    app, client, staff, run_jobs, mail_server, monkeypatch
):
    sign_up(client, ADDRESS, ["events"])
    run_jobs()
    link = path_of(only_link(mail_server.messages_to(ADDRESS)[0]))
    revoke_every_link(app)
    later = int(time.time()) + 8 * 24 * 3600
    with monkeypatch.context() as patch:
        patch.setattr(TimestampSigner, "get_timestamp", lambda self: later)
        renew = page(client.get(link)).find("form", method="post")
        assert client.post(renew["action"], data=form_values(renew)).status_code == 200
    run_jobs()
    assert len(mail_server.messages_to(ADDRESS)) == 1


def confirm_link_without_a_version(request_id: int) -> str:
    """A confirm link as emailed before links named a token version."""
    return f"/confirm/{tokens.make_token(tokens.CONFIRM, request_id)}"


def test_a_confirm_link_emailed_before_links_named_a_version_works_until_links_are_revoked(
    app, client, topics, run_jobs, mail_server
):
    sign_up(client, ADDRESS, ["events"])
    sign_up(client, "revoked@example.org", ["events"])
    [kept] = requests_of(ADDRESS)
    [dead] = requests_of("revoked@example.org")
    db.session.execute(
        update(Subscriber)
        .where(Subscriber.email_key == "revoked@example.org")
        .values(token_version=2)
    )
    db.session.commit()
    assert client.get(confirm_link_without_a_version(dead.id)).status_code == 400
    assert submit_only_form(client, confirm_link_without_a_version(kept.id)).status_code == 200
    assert subscriber(ADDRESS).status == "active"
    assert subscriber("revoked@example.org").status == "pending"


def test_the_confirm_link_names_the_request_and_the_token_version(app, client, topics):
    sign_up(client, ADDRESS, ["events"])
    db.session.execute(update(Subscriber).values(token_version=5))
    db.session.commit()
    [owed] = db.session.scalars(select(OutboundEmail)).all()
    [request] = requests_of(ADDRESS)
    link = only_link(compose(owed, []))
    assert tokens.read_token(tokens.CONFIRM, link.rsplit("/", 1)[1]) == [request.id, 5]


def test_a_complaint_about_the_new_confirmation_outranks_its_request(
    app, client, topics, run_jobs, mail_server
):
    confirmed(client, run_jobs, mail_server)
    suppress(ADDRESS, "complaint")
    db.session.commit()
    time.sleep(0.01)
    a_stranger_signs_up(app, run_jobs)
    link = only_link(mail_server.messages_to(ADDRESS)[-1])
    suppress(ADDRESS, "complaint")  # what the bounce reader does with a complaint about it
    db.session.commit()
    assert submit_only_form(client, link).status_code == 400
    assert (subscriber(ADDRESS).status, followed(ADDRESS)) == ("complained", {"events"})
