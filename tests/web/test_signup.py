"""A visitor signs up on the form, confirms through the emailed link, and is subscribed."""

from __future__ import annotations

import re
import time

import pytest
from flask import current_app
from itsdangerous.timed import TimestampSigner
from sqlalchemy import func, insert, select

from tests.helpers import (
    BASE_URL,
    followed,
    form_values,
    html_part,
    links_in,
    only_link,
    page,
    path_of,
    row_counts,
    sign_up,
    submit_only_form,
    subscriber,
    text_part,
)
from updates.addresses import address_hash
from updates.extensions import db
from updates.models import (
    ConsentEvent,
    DeferredSignup,
    OutboundEmail,
    SignupRequest,
    Suppression,
    Topic,
)
from updates.news.topics import add_topic, set_archived
from updates.queues import Jobs
from updates.subscribers.consent import Action, Source


def test_signup_page_offers_each_public_topic_as_a_checkbox(client, topics):
    response = client.get("/")
    assert response.status_code == 200
    form = page(response).find("form", method="post")
    boxes = form.find_all("input", attrs={"type": "checkbox", "name": "topics"})
    assert [box["value"] for box in boxes] == ["local-public-services", "social-care", "events"]
    assert form.find("input", attrs={"name": "email"}) is not None
    assert form.find("input", attrs={"name": "csrf_token", "type": "hidden"})["value"]
    assert "Example Trade Body" in response.get_data(as_text=True)
    assert "Councils and suppliers." in response.get_data(as_text=True)


def test_visitor_signs_up_confirms_and_is_active_with_a_consent_trail(
    client, topics, run_jobs, mail_server
):
    response = sign_up(
        client,
        "Ada@Example.org",
        ["social-care", "events"],
    )
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    assert subscriber("ada@example.org").status == "pending"
    assert followed("ada@example.org") == set()

    run_jobs()
    [message] = mail_server.messages_to("Ada@example.org")
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == "Example Updates <updates@example.org>"
    assert "Confirm" in message["Subject"]
    link = only_link(message)
    assert link.startswith(f"{BASE_URL}/confirm/")
    assert link in html_part(message)
    assert "Social Care Working Group" in text_part(message)

    visitor = client.application.test_client()  # the link opens in a fresh browser
    confirm_page = visitor.get(path_of(link))
    assert confirm_page.status_code == 200
    assert len(page(confirm_page).find_all("form")) == 1
    assert subscriber("ada@example.org").status == "pending"

    thanks = submit_only_form(visitor, link)
    assert thanks.status_code == 200
    assert "you are subscribed" in thanks.get_data(as_text=True).lower()
    assert subscriber("ada@example.org").status == "active"
    assert followed("ada@example.org") == {"social-care", "events"}

    events = db.session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber("ada@example.org").id)
        .order_by(ConsentEvent.id)
    ).all()
    assert [(e.action, e.source) for e in events] == [
        (Action.REQUESTED, Source.FORM),
        (Action.CONFIRMED, Source.LINK),
    ]
    assert events[1].topics == ["events", "social-care"]
    assert "I agree to receive email updates from Example Trade Body" in events[0].statement.text
    assert events[1].statement_id == events[0].statement_id
    assert events[0].ip == "127.0.0.0"
    assert events[0].user_agent


def test_the_check_inbox_page_is_the_same_whoever_the_address_belongs_to(
    client, topics, run_jobs, mail_server
):
    def answer(address: str) -> str:
        html = sign_up(client, address, ["events"]).get_data(as_text=True)
        return html.replace(address, "ADDRESS")

    new = answer("new@example.org")
    sign_up(client, "pending@example.org", ["events"])
    pending = answer("pending@example.org")
    sign_up(client, "active@example.org", ["events"])
    run_jobs()
    submit_only_form(client, only_link(mail_server.messages_to("active@example.org")[0]))
    active = answer("active@example.org")
    db.session.add(Suppression(email_hash=address_hash("gone@example.org"), reason="complaint"))
    db.session.commit()
    suppressed = answer("gone@example.org")

    assert new == pending == active == suppressed


def test_a_suppressed_address_is_neither_stored_nor_mailed(client, topics, run_jobs, mail_server):
    db.session.add(Suppression(email_hash=address_hash("gone@example.org"), reason="erased"))
    db.session.commit()
    assert sign_up(client, "Gone@Example.org", ["events"]).status_code == 200
    run_jobs()
    assert subscriber("gone@example.org") is None
    assert mail_server.messages_to("gone@example.org") == []


def test_opening_the_confirm_link_without_pressing_confirm_changes_nothing(
    client, topics, run_jobs, mail_server
):
    sign_up(client, "scanner@example.org", ["events"])
    run_jobs()
    link = only_link(mail_server.messages_to("scanner@example.org")[0])
    for _ in range(3):
        assert client.get(path_of(link)).status_code == 200
        assert client.head(path_of(link)).status_code == 200
    assert subscriber("scanner@example.org").status == "pending"
    assert followed("scanner@example.org") == set()


def test_confirming_twice_is_a_success_and_records_one_confirmation(
    client, topics, run_jobs, mail_server
):
    sign_up(client, "twice@example.org", ["events"])
    run_jobs()
    link = only_link(mail_server.messages_to("twice@example.org")[0])
    assert submit_only_form(client, link).status_code == 200
    again = submit_only_form(client, link)
    assert again.status_code == 200
    assert "you are subscribed" in again.get_data(as_text=True).lower()
    confirmations = db.session.scalar(
        select(func.count()).select_from(ConsentEvent).where(ConsentEvent.action == "confirmed")
    )
    assert confirmations == 1
    assert followed("twice@example.org") == {"events"}


def test_a_tampered_confirm_link_gets_a_clear_page_and_changes_nothing(
    client, topics, run_jobs, mail_server
):
    sign_up(client, "tamper@example.org", ["events"])
    run_jobs()
    link = only_link(mail_server.messages_to("tamper@example.org")[0])
    token = link.rsplit("/", 1)[1]
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    for bad in (forged, "not-a-token", "x" * 500):
        response = client.get(f"/confirm/{bad}")
        assert response.status_code == 400
        assert "This link does not work" in response.get_data(as_text=True)
        form = page(client.get("/")).find("form", method="post")
        response = client.post(f"/confirm/{bad}", data=form_values(form))
        assert response.status_code == 400
    assert subscriber("tamper@example.org").status == "pending"


def test_an_expired_confirm_link_offers_a_fresh_one(
    client, topics, run_jobs, mail_server, monkeypatch
):
    sign_up(client, "late@example.org", ["events"])
    run_jobs()
    link = only_link(mail_server.messages_to("late@example.org")[0])

    eight_days_later = int(time.time()) + 8 * 24 * 3600
    with monkeypatch.context() as later:
        later.setattr(TimestampSigner, "get_timestamp", lambda self: eight_days_later)
        expired = client.get(path_of(link))
        assert expired.status_code == 410
        assert "expired" in expired.get_data(as_text=True)
        form = page(expired).find("form", method="post")
        refused = client.post(path_of(link), data=form_values(form))
        assert refused.status_code == 410
        assert subscriber("late@example.org").status == "pending"
        renewed = client.post(form["action"], data=form_values(form))
        assert renewed.status_code == 200
    run_jobs()
    _first, second = mail_server.messages_to("late@example.org")
    assert "Confirm" in second["Subject"]
    fresh = only_link(second)
    assert submit_only_form(client, fresh).status_code == 200
    assert followed("late@example.org") == {"events"}


def test_an_active_subscriber_gets_an_already_subscribed_email_and_adds_topics_only_by_link(
    client, topics, run_jobs, mail_server
):
    sign_up(client, "member@example.org", ["events"])
    run_jobs()
    submit_only_form(client, only_link(mail_server.messages_to("member@example.org")[0]))

    sign_up(client, "member@example.org", ["events", "social-care"])
    run_jobs()
    assert followed("member@example.org") == {"events"}
    [notice] = [
        m
        for m in mail_server.messages_to("member@example.org")
        if "already subscribed" in m["Subject"]
    ]
    assert "Social Care Working Group" in text_part(notice)
    assert any("/manage/" in link for link in links_in(notice))

    assert submit_only_form(client, only_link(notice)).status_code == 200
    assert followed("member@example.org") == {"events", "social-care"}


def test_a_form_without_its_csrf_token_is_refused_and_stores_nothing(client, topics):
    response = client.post("/", data={"email": "nocsrf@example.org", "topics": ["events"]})
    assert response.status_code == 400
    assert "nothing was changed" in response.get_data(as_text=True)
    assert row_counts() == {
        "Subscriber": 0,
        "SignupRequest": 0,
        "ConsentEvent": 0,
        "OutboundEmail": 0,
    }


@pytest.mark.parametrize(
    ("email", "topics_sent", "expected_status"),
    [
        ("not-an-address", ["events"], 400),
        ("", ["events"], 400),
        ("two@@example.org", ["events"], 400),
        ("victim@example.org\r\nBcc: everyone@example.org", ["events"], 400),
        ("victim@example.org\nSubject: hi", ["events"], 400),
        ("Name <person@example.org>", ["events"], 400),
        ("a" * 250 + "@example.org", ["events"], 400),
        ("person@" + "b" * 70 + ".org", ["events"], 400),
        ("someone@example.org", ["no-such-topic"], 400),
        ("someone@example.org", ["board-only"], 400),
        ("someone@example.org", [], 400),
        ("someone@example.org", ["events", "x" * 10_000], 400),
        ("someone@example.org", ["events"] * 5 + ["y" * 300_000], 413),
    ],
)
def test_bad_input_is_refused_with_a_4xx_and_stores_nothing(
    client, topics, email, topics_sent, expected_status
):
    response = sign_up(client, email, topics_sent)
    assert response.status_code == expected_status
    assert row_counts() == {
        "Subscriber": 0,
        "SignupRequest": 0,
        "ConsentEvent": 0,
        "OutboundEmail": 0,
    }


def test_an_invalid_submission_shows_the_form_again_with_the_problem(client, topics):
    response = sign_up(client, "not-an-address", [])
    html = page(response)
    summary = html.find(class_="error-summary")
    assert summary is not None
    assert "valid email address" in summary.get_text()
    assert "Choose at least one topic" in summary.get_text()
    assert html.find("input", attrs={"name": "email"})["value"] == "not-an-address"


def test_a_bot_filling_the_honeypot_sees_the_usual_page_but_nothing_is_stored(
    client, topics, run_jobs, mail_server
):
    response = sign_up(client, "bot@example.org", ["events"], website="http://spam.example")
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    run_jobs()
    assert subscriber("bot@example.org") is None
    assert mail_server.received == []


def test_confirmation_emails_to_one_address_are_rate_limited(client, topics, run_jobs, mail_server):
    answers = [sign_up(client, "Often@example.org", ["events"]).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]
    assert sign_up(client, "often@EXAMPLE.org", ["events"]).status_code == 429
    assert sign_up(client, "other@example.org", ["events"]).status_code == 200
    run_jobs()
    assert len(mail_server.messages_to("often@example.org")) == 4


@pytest.fixture
def strict_ip_limit(app_config):
    app_config["SIGNUP_LIMIT_PER_IP"] = "3/minute"


def test_sign_ups_from_one_ip_are_rate_limited(strict_ip_limit, client, topics):
    answers = [sign_up(client, f"p{n}@example.org", ["events"]).status_code for n in range(4)]
    assert answers == [200, 200, 200, 429]
    assert "Too many attempts" in sign_up(client, "p9@example.org", ["events"]).get_data(
        as_text=True
    )


@pytest.fixture
def queue_and_limiter_redis_down(app_config):
    """Neither the job queue's Redis nor the rate limiter's answers."""
    app_config["REDIS_URL"] = "redis://127.0.0.1:1/0"
    app_config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:1/0"


def test_a_sign_up_while_redis_is_down_is_saved_and_sent_once_it_is_back(
    queue_and_limiter_redis_down, client, topics, app, redis_url, run_jobs, mail_server
):
    response = sign_up(client, "patient@example.org", ["events"])
    assert response.status_code == 200
    [owed] = db.session.scalars(select(OutboundEmail)).all()
    assert owed.state == "pending"

    current_app.config["REDIS_URL"] = redis_url  # Redis is back
    current_app.extensions.pop("updates.redis", None)
    from updates.worker.outbound import sweep_outbound_emails

    assert sweep_outbound_emails() == 1
    run_jobs()
    [message] = mail_server.messages_to("patient@example.org")
    assert submit_only_form(client, only_link(message)).status_code == 200
    assert followed("patient@example.org") == {"events"}

    assert sweep_outbound_emails() == 1  # the welcome email, owed while Redis was still down
    run_jobs()
    assert "You are subscribed" in mail_server.messages_to("patient@example.org")[-1]["Subject"]
    assert sweep_outbound_emails() == 0


def test_a_known_address_signing_up_while_redis_is_down_is_decided_once_it_is_back(
    queue_and_limiter_redis_down, client, topics, redis_url, run_jobs, mail_server
):
    from tests.factories import create_subscriber
    from updates.worker.outbound import sweep_outbound_emails

    create_subscriber("known@example.org", ["events"])
    assert sign_up(client, "known@example.org", ["social-care"]).status_code == 200
    assert db.session.scalar(select(func.count()).select_from(DeferredSignup)) == 1

    current_app.config["REDIS_URL"] = redis_url  # Redis is back
    current_app.extensions.pop("updates.redis", None)
    sweep_outbound_emails()
    run_jobs()
    [message] = mail_server.messages_to("known@example.org")
    assert message["Subject"].startswith("You are already subscribed")
    assert db.session.scalar(select(func.count()).select_from(DeferredSignup)) == 0


def test_topic_names_are_escaped_on_the_page(client, app):
    add_topic("xss", "<script>alert(1)</script>")
    html = client.get("/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_hidden_and_archived_topics_are_not_confirmed(client, topics, run_jobs, mail_server):
    sign_up(client, "arch@example.org", ["events", "social-care"])
    run_jobs()
    db.session.scalar(select(Topic).where(Topic.slug == "social-care")).archived = True
    db.session.commit()
    submit_only_form(client, only_link(mail_server.messages_to("arch@example.org")[0]))
    assert followed("arch@example.org") == {"events"}


def test_every_link_in_the_confirmation_email_is_under_base_url(
    client, topics, run_jobs, mail_server
):
    sign_up(client, "links@example.org", ["events"])
    run_jobs()
    [message] = mail_server.messages_to("links@example.org")
    hrefs = re.findall(r'href="([^"]+)"', html_part(message))
    assert hrefs
    assert all(href.startswith(BASE_URL + "/") for href in hrefs + links_in(message))


def rows_of(address: str) -> dict[str, list]:
    """Everything a sign-up wrote for this address, in the order written."""
    found = subscriber(address)
    assert found is not None

    def owned(model):
        query = select(model).where(model.subscriber_id == found.id).order_by(model.id)
        return db.session.scalars(query).all()

    return {
        "requests": owned(SignupRequest),
        "events": owned(ConsentEvent),
        "emails": owned(OutboundEmail),
    }


def test_a_new_address_gets_exactly_one_request_consent_event_and_confirmation_email(
    client, topics
):
    assert sign_up(client, "First@Example.org", ["events", "local-public-services"]).status_code
    new = subscriber("first@example.org")
    assert (new.email, new.status, new.token_version) == ("First@example.org", "pending", 1)
    assert new.created_at == new.updated_at and new.confirmed_at is None
    rows = rows_of("first@example.org")
    [request] = rows["requests"]
    ids = {t.slug: t.id for t in db.session.scalars(select(Topic))}
    assert request.topic_ids == [ids["local-public-services"], ids["events"]]  # display order
    assert request.confirmed_at is None
    [event] = rows["events"]
    assert (event.action, event.source, event.topics) == (
        Action.REQUESTED,
        Source.FORM,
        ["events", "local-public-services"],
    )
    assert event.statement_id == request.statement_id
    assert event.statement.text.startswith("I agree to receive email updates")
    assert (event.ip, event.user_agent) == ("127.0.0.0", "Werkzeug/" + werkzeug_version())
    [email] = rows["emails"]
    assert (email.kind, email.state, email.attempts) == ("confirm", "pending", 0)
    assert email.signup_request_id == request.id
    assert email.claimed_until is None and email.sent_at is None


def werkzeug_version() -> str:
    from importlib.metadata import version

    return version("werkzeug")


def test_signing_up_again_while_pending_adds_a_request_and_restarts_the_clock(
    client, topics, run_jobs, mail_server
):
    sign_up(client, "again@example.org", ["events"])
    first = subscriber("again@example.org")
    created, updated = first.created_at, first.updated_at
    time.sleep(0.01)
    sign_up(client, "again@example.org", ["social-care"])
    assert (
        subscriber("again@example.org").updated_at == updated
    )  # a worker decides, not the request
    assert db.session.scalar(select(func.count()).select_from(DeferredSignup)) == 1
    run_jobs()
    assert db.session.scalar(select(func.count()).select_from(DeferredSignup)) == 0
    again = subscriber("again@example.org")
    assert again.id == first.id and again.created_at == created
    assert again.updated_at > updated
    rows = rows_of("again@example.org")
    assert [r.topic_ids for r in rows["requests"]] == [
        [db.session.scalar(select(Topic.id).where(Topic.slug == slug))]
        for slug in ("events", "social-care")
    ]
    assert [(e.action, e.topics) for e in rows["events"]] == [
        (Action.REQUESTED, ["events"]),
        (Action.REQUESTED, ["social-care"]),
    ]
    assert len({e.statement_id for e in rows["events"]}) == 1
    assert [(m.kind, m.signup_request_id) for m in rows["emails"]] == [
        ("confirm", r.id) for r in rows["requests"]
    ]
    run_jobs()
    second_link = only_link(mail_server.messages_to("again@example.org")[1])
    assert submit_only_form(client, second_link).status_code == 200
    assert followed("again@example.org") == {"social-care"}


def test_a_known_or_suppressed_address_is_written_as_sent_for_a_worker_to_decide(
    client, topics, run_jobs, mail_server
):
    from updates.news.topics import offered_topics
    from updates.subscribers.consent import Evidence
    from updates.subscribers.signup import decide_deferred
    from updates.subscribers.signup_sql import Written, write_signup

    sign_up(client, "known@example.org", ["events"])
    # Erased: the one suppression a new sign-up's confirmation never answers (test_consent.py).
    db.session.add(Suppression(email_hash=address_hash("gone@example.org"), reason="erased"))
    db.session.commit()
    before = row_counts()
    statement_id = rows_of("known@example.org")["requests"][0].statement_id
    chosen = list(offered_topics())[:1]
    evidence = Evidence(source=Source.FORM, ip="127.0.0.0")
    known = write_signup("KNOWN@example.org", chosen, evidence, statement_id)
    gone = write_signup("gone@example.org", chosen, evidence, statement_id)
    assert known.email_id is None and gone.email_id is None
    assert row_counts() == before
    deferred = db.session.scalars(select(DeferredSignup).order_by(DeferredSignup.id)).all()
    assert [(d.id, d.email, d.topic_ids) for d in deferred] == [
        (known.deferred_id, "KNOWN@example.org", [chosen[0].id]),
        (gone.deferred_id, "gone@example.org", [chosen[0].id]),
    ]
    asked_at = deferred[0].created_at
    fresh = write_signup("fresh@example.org", chosen, evidence, statement_id)
    assert fresh == Written(email_id=db.session.scalar(select(func.max(OutboundEmail.id))))
    assert row_counts() == {name: count + 1 for name, count in before.items()}

    assert decide_deferred(gone.deferred_id) is None
    assert decide_deferred(gone.deferred_id) is None  # decided once only
    email_id = decide_deferred(known.deferred_id)
    assert email_id == db.session.scalar(select(func.max(OutboundEmail.id)))
    assert db.session.scalar(select(func.count()).select_from(DeferredSignup)) == 0
    request_event = rows_of("known@example.org")["events"][-1]
    assert request_event.created_at == asked_at  # when the visitor asked, not when decided


def test_the_request_does_the_same_work_whoever_the_address_belongs_to(client, topics):
    from sqlalchemy import event

    sign_up(client, "known@example.org", ["events"])
    form = form_values(page(client.get("/")).find("form", method="post"))
    with client.application.app_context():
        engine = db.engine  # the serving app's, not this test's

    def statements_for(address: str) -> list[str]:
        seen: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            seen.append(statement.split()[0].upper())

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.post("/", data={**form, "email": address, "topics": ["events"]})
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200
        return seen

    new, known = statements_for("new@example.org"), statements_for("known@example.org")
    assert "SELECT" not in known  # nothing is looked up about the address while it waits
    if engine.dialect.name == "postgresql":
        assert new == known == ["WITH"]
    else:
        assert len(known) <= len(new) and known[0] == new[0] == "INSERT"


def test_a_changed_consent_wording_is_stored_and_each_request_keeps_the_one_shown(
    app, client, topics, run_jobs
):
    sign_up(client, "before@example.org", ["events"])
    app.config["CONSENT_STATEMENT"] = "New wording from {org}: updates on the topics I chose."
    sign_up(client, "after@example.org", ["events"])
    sign_up(client, "before@example.org", ["social-care"])
    run_jobs()
    shown = {
        address: [e.statement.text for e in rows_of(address)["events"]]
        for address in ("before@example.org", "after@example.org")
    }
    assert shown["after@example.org"] == [
        "New wording from Example Trade Body: updates on the topics I chose."
    ]
    assert shown["before@example.org"][0].startswith("I agree to receive")
    assert shown["before@example.org"][1] == shown["after@example.org"][0]
    requests = rows_of("before@example.org")["requests"]
    assert requests[1].statement.text == shown["after@example.org"][0]


def offered_slugs(client) -> list[str]:
    form = page(client.get("/")).find("form", method="post")
    return [box["value"] for box in form.find_all("input", attrs={"name": "topics"})]


@pytest.fixture
def short_topic_cache(app_config):
    app_config["TOPIC_CACHE_SECONDS"] = 2  # long enough for a busy machine to check within it


def test_a_topic_added_by_another_process_reaches_the_form_when_the_cache_expires(
    short_topic_cache, client, topics
):
    assert offered_slugs(client) == ["local-public-services", "social-care", "events"]
    # Written straight to the database, as another server process would: this one is not told.
    db.session.execute(insert(Topic).values(slug="awards", name="Awards", position=99))
    db.session.commit()
    assert offered_slugs(client) == ["local-public-services", "social-care", "events"]
    assert sign_up(client, "early@example.org", ["awards"]).status_code == 400
    time.sleep(2.1)
    assert offered_slugs(client)[-1] == "awards"
    assert sign_up(client, "later@example.org", ["awards"]).status_code == 200


def test_a_topic_changed_in_this_process_reaches_the_form_at_once(app_config, client, topics):
    assert current_app.config["TOPIC_CACHE_SECONDS"] >= 5
    assert offered_slugs(client) == ["local-public-services", "social-care", "events"]
    add_topic("awards", "Awards")
    assert offered_slugs(client)[-1] == "awards"
    set_archived(db.session.scalar(select(Topic).where(Topic.slug == "events")), True)
    assert "events" not in offered_slugs(client)
    assert sign_up(client, "late@example.org", ["events"]).status_code == 400


def test_the_per_address_limit_still_holds_while_redis_is_down(
    queue_and_limiter_redis_down, client, topics
):
    answers = [sign_up(client, "Often@example.org", ["events"]).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]
    assert sign_up(client, "other@example.org", ["events"]).status_code == 200


def test_sign_ups_reach_the_mail_queue_through_one_hand_off_job(
    client, topics, redis_url, run_jobs, mail_server
):
    from redis import Redis
    from rq import Queue

    from updates import queues
    from updates.mail import outbox

    addresses = [f"burst{n}@example.org" for n in range(3)]
    for address in addresses:
        assert sign_up(client, address, ["events"]).status_code == 200
    connection = Redis.from_url(redis_url)
    items = [item.decode() for item in connection.lrange(outbox.OWED_IDS, 0, -1)]
    owed = [int(item.partition(outbox.REQUEST)[0]) for item in items]  # each with its request id
    assert sorted(owed) == sorted(db.session.scalars(select(OutboundEmail.id)))
    [handoff] = Queue(queues.MAIL, connection=connection).get_jobs()
    assert handoff.func_name == Jobs.HAND_OFF_EMAILS
    run_jobs()
    assert connection.llen(outbox.OWED_IDS) == 0
    assert [len(mail_server.messages_to(address)) for address in addresses] == [1, 1, 1]
    assert {e.state for e in db.session.scalars(select(OutboundEmail))} == {"sent"}


def test_an_email_whose_hand_off_redis_lost_is_sent_by_the_sweeper(
    client, topics, redis_url, run_jobs, mail_server
):
    from redis import Redis

    from updates.worker.outbound import sweep_outbound_emails

    sign_up(client, "lost@example.org", ["events"])
    Redis.from_url(redis_url).flushdb()  # the owed id and the hand-off job are gone
    run_jobs()
    assert mail_server.messages_to("lost@example.org") == []
    assert sweep_outbound_emails() == 1
    run_jobs()
    assert len(mail_server.messages_to("lost@example.org")) == 1
    assert sweep_outbound_emails() == 0
