"""Bounces and complaints posted by the relay: the address is suppressed, the delivery failed."""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import only_link, path_of, sign_up, submit_only_form, subscriber
from tests.subscribers.bounce_samples import (
    arf_abuse_report,
    deliver_digest,
    delivery_of,
    exim_bounce,
    junk_bounce,
    out_of_office,
    postfix_delayed_notice,
    postfix_hard_bounce,
    status_of,
    suppressions,
)
from updates.extensions import db
from updates.mail.verp import read_verp, verp_sender
from updates.models import Suppression
from updates.news import digests
from updates.subscribers import bounces
from updates.subscribers.soft_bounces import record_soft_bounce, soft_bounce_count
from updates.subscribers.suppression import suppress
from updates.webhooks.relay import MAX_MESSAGE_BYTES

TOKEN = "relay-shared-secret"
VERP_RETURN_PATH = "bounces+{token}@example.org"


@pytest.fixture
def app_config(app_config):
    app_config.update(BOUNCE_WEBHOOK_TOKEN=TOKEN, VERP_RETURN_PATH=VERP_RETURN_PATH)
    return app_config


@pytest.fixture
def unconfigured(app_config):
    app_config.update(BOUNCE_WEBHOOK_TOKEN="", VERP_RETURN_PATH="")


@pytest.fixture
def relay(app):
    """Post a raw message to the webhook as the relay does."""
    client = app.test_client(use_cookies=False)

    def post(raw: bytes | str, token: str | None = TOKEN, to: str | None = None, headers=None):
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return client.post(
            "/webhooks/bounces",
            data=raw.encode() if isinstance(raw, str) else raw,
            headers=headers,
            query_string={"to": to} if to else None,
            content_type="message/rfc822",
        )

    return post


@pytest.fixture
def sent(app, run_jobs, mail_server):
    """A digest delivered to nobody@ and ok@, so that its Message-IDs exist."""
    return deliver_digest(run_jobs, mail_server)


def send_another(sent, run_jobs) -> None:
    """A later digest, of news nobody has had yet."""
    more = create_news("Later news", ["lps"])
    digests.send(create_test_digest([more], ["lps"], subject="More news"))
    run_jobs()


def test_a_5_1_1_dsn_suppresses_the_address_fails_its_delivery_and_later_digests_skip_it(
    sent, relay, run_jobs, mail_server
):
    response = relay(postfix_hard_bounce(sent.returned))

    assert response.status_code == 200
    assert response.json == {"hard": 1, "soft": 0, "complaints": 0}
    assert suppressions() == [("nobody@example.net", "bounce")]
    assert status_of("nobody@example.net") == "bounced"
    assert status_of("ok@example.net") == "active"
    bounced = delivery_of(sent.digest, sent.nobody)
    assert (bounced.status, bounced.last_error) == ("failed", "bounced: 5.1.1")
    assert delivery_of(sent.digest, sent.ok).status == "sent"

    assert relay(postfix_hard_bounce(sent.returned)).json["hard"] == 1  # a repeat is harmless
    assert db.session.scalar(select(func.count()).select_from(Suppression)) == 1

    send_another(sent, run_jobs)
    assert len(mail_server.messages_to("nobody@example.net")) == 1
    assert len(mail_server.messages_to("ok@example.net")) == 2


def test_a_delayed_mailbox_full_notice_counts_one_soft_bounce_and_suppresses_nobody(sent, relay):
    response = relay(postfix_delayed_notice(sent.returned))

    assert response.status_code == 200
    assert response.json == {"hard": 0, "soft": 1, "complaints": 0}
    assert soft_bounce_count(sent.nobody) == 1
    assert suppressions() == []
    assert status_of("nobody@example.net") == "active"
    assert delivery_of(sent.digest, sent.nobody).status == "sent"


def test_an_abuse_complaint_suppresses_the_address_and_later_digests_skip_it(
    sent, relay, run_jobs, mail_server
):
    response = relay(arf_abuse_report(sent.returned, "nobody@example.net"))

    assert response.json == {"hard": 0, "soft": 0, "complaints": 1}
    assert suppressions() == [("nobody@example.net", "complaint")]
    assert status_of("nobody@example.net") == "complained"
    assert delivery_of(sent.digest, sent.nobody).status == "sent"  # it was delivered

    send_another(sent, run_jobs)
    assert len(mail_server.messages_to("nobody@example.net")) == 1


def test_a_complaint_with_the_recipient_redacted_is_traced_by_our_message_id(sent, relay):
    redacted = sent.returned.replace("To: nobody@example.net", "To: redacted", 1)
    assert "To: redacted" in redacted

    response = relay(arf_abuse_report(redacted, None))

    assert response.json == {"hard": 0, "soft": 0, "complaints": 1}
    assert suppressions() == [("nobody@example.net", "complaint")]


def test_without_original_rcpt_to_the_complaint_names_the_returned_messages_to(app):
    returned = "From: someone@elsewhere.example\nTo: Carol <carol@example.com>\n\nHello\n"
    report = bounces.read(arf_abuse_report(returned, None).encode())
    assert report.complaints == ["carol@example.com"]
    assert report.subscriber_id is None


def test_an_exim_bounce_is_read_by_flufl_and_traced_by_the_quoted_message_id(sent, relay):
    report = bounces.read(exim_bounce(sent.returned).encode())
    assert (report.digest_id, report.subscriber_id) == (sent.digest, sent.nobody)

    response = relay(exim_bounce(sent.returned))

    assert response.json == {"hard": 1, "soft": 0, "complaints": 0}
    assert suppressions() == [("nobody@example.net", "bounce")]
    assert status_of("nobody@example.net") == "bounced"
    failed = delivery_of(sent.digest, sent.nobody)
    assert (failed.status, failed.last_error) == ("failed", "bounced: 5.0.0")


@pytest.mark.parametrize("envelope", ["query", "header", "message"])
def test_a_bounce_to_a_verp_address_finds_the_delivery_though_its_body_is_junk(
    sent, relay, envelope
):
    verp = verp_sender(sent.digest, sent.nobody)
    assert bounces.read(junk_bounce("<updates@example.org>").encode()).hard == []  # unreadable
    message = junk_bounce(verp if envelope == "message" else "<updates@example.org>")

    response = relay(
        message,
        to=verp if envelope == "query" else None,
        headers={"X-Original-To": verp} if envelope == "header" else None,
    )

    assert response.json == {"hard": 1, "soft": 0, "complaints": 0}
    assert suppressions() == [("nobody@example.net", "bounce")]
    assert status_of("nobody@example.net") == "bounced"
    assert delivery_of(sent.digest, sent.nobody).status == "failed"
    assert delivery_of(sent.digest, sent.ok).status == "sent"


def test_an_out_of_office_reply_to_a_verp_address_is_not_a_bounce(sent, relay):
    verp = verp_sender(sent.digest, sent.nobody)
    response = relay(out_of_office(verp), to=verp)
    assert response.json == {"hard": 0, "soft": 0, "complaints": 0}
    assert status_of("nobody@example.net") == "active"


def test_a_not_spam_report_to_a_verp_address_is_neither_complaint_nor_bounce(sent, relay):
    verp = verp_sender(sent.digest, sent.nobody)
    response = relay(arf_abuse_report(sent.returned, "nobody@example.net", "not-spam"), to=verp)
    assert response.json == {"hard": 0, "soft": 0, "complaints": 0}
    assert status_of("nobody@example.net") == "active"


def test_a_junk_bounce_that_names_no_delivery_changes_nothing(sent, relay):
    response = relay(junk_bounce("<updates@example.org>"), to="updates@example.org")
    assert response.json == {"hard": 0, "soft": 0, "complaints": 0}
    assert suppressions() == []


# -- VERP -----------------------------------------------------------------------------------


def test_a_verp_address_names_its_delivery_and_cannot_be_forged(app):
    verp = verp_sender(12, 3456789)
    local, _, domain = verp.partition("@")
    assert local.startswith("bounces+") and domain == "example.org"
    assert len(local) <= 64  # RFC 5321's limit on a local part
    assert read_verp(verp) == (12, 3456789)
    assert read_verp(f"Bounces <{verp}>") == (12, 3456789)

    token = local.removeprefix("bounces+")
    forged = f"bounces+{token[:-2]}xx@example.org"
    assert read_verp(forged) is None
    assert read_verp(f"other+{token}@example.org") is None
    assert read_verp("bounces+@example.org") is None
    assert read_verp("updates@example.org") is None


def test_without_verp_configured_the_plain_sender_is_used(unconfigured, app):
    assert verp_sender(1, 2) is None
    assert read_verp("bounces+anything@example.org") is None


# -- the webhook itself ---------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN + "x"])
def test_the_webhook_refuses_a_missing_or_wrong_token(sent, relay, token):
    response = relay(postfix_hard_bounce(sent.returned), token=token)
    assert response.status_code == 401
    assert response.json["error"]
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert status_of("nobody@example.net") == "active"
    assert suppressions() == []


def test_the_webhook_is_not_there_unless_a_token_is_configured(unconfigured, relay):
    assert relay(b"From: x@example.com\n\nhi\n", token="").status_code == 404
    assert relay(b"From: x@example.com\n\nhi\n", token="anything").status_code == 404


@pytest.mark.parametrize(
    "body", [b"", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b'{"type": "bounce"}', b"just words"]
)
def test_a_body_that_is_not_an_email_is_a_400(app, relay, body):
    response = relay(body)
    assert response.status_code == 400
    assert response.json["error"]


def test_a_message_larger_than_the_apps_limit_is_read_up_to_1_mb(sent, relay):
    padding = "X-Padding: " + "a" * 900 + "\n"
    big = postfix_hard_bounce(sent.returned).replace("Return-Path: <>\n", padding * 200, 1)
    assert 64 * 1024 < len(big) < MAX_MESSAGE_BYTES
    assert relay(big).json == {"hard": 1, "soft": 0, "complaints": 0}

    too_big = "From: x@example.com\n\n" + "a" * MAX_MESSAGE_BYTES
    response = relay(too_big)
    assert response.status_code == 413
    assert response.json["error"]


@pytest.mark.parametrize("tag", [None, "0123456789abcdef"])
def test_a_forged_bounce_naming_a_guessed_message_id_changes_nothing(sent, relay, tag):
    """The Message-ID's tag is what ties a report to our mail: a guessed one ties it to none."""
    real = re.search(r"^Message-ID: (<[^>]+>)$", sent.returned, re.MULTILINE | re.IGNORECASE)
    guessed = f"digest-{sent.digest}.{sent.ok}" + (f".{tag}" if tag else "")
    forged = sent.returned.replace(real.group(1), f"<{guessed}@example.org>")
    response = relay(postfix_hard_bounce(forged))
    assert response.status_code == 200
    assert suppressions() == []
    assert status_of("ok@example.net") == status_of("nobody@example.net") == "active"
    assert delivery_of(sent.digest, sent.ok).status == "sent"


def test_a_report_tied_to_no_delivery_of_ours_suppresses_nobody_it_names(sent, relay):
    untraced = re.sub(
        r"(?im)^Message-ID: .*$", "Message-ID: <other@elsewhere.example>", sent.returned
    )
    assert relay(postfix_hard_bounce(untraced)).status_code == 200
    assert relay(arf_abuse_report(untraced, "nobody@example.net", "abuse")).status_code == 200
    assert suppressions() == []
    assert status_of("nobody@example.net") == "active"


def test_a_bounced_confirmation_email_is_traced_by_its_tagged_message_id(
    app, relay, run_jobs, mail_server
):
    from tests.helpers import form_values, page

    create_topics("lps")
    client = app.test_client()
    form = form_values(page(client.get("/")).find("form", method="post"))
    client.post("/", data={**form, "email": "typo@example.net", "topics": ["lps"]})
    run_jobs()
    [raw] = [r.raw for r in mail_server.received if "typo@example.net" in r.recipients]
    returned = raw.decode().replace("\r\n", "\n")
    assert re.search(r"^Message-ID: <email-\d+\.[0-9a-f]{16}@example\.org>$", returned, re.M)

    forged = re.sub(r"(<email-\d+\.)[0-9a-f]{16}", r"\g<1>0123456789abcdef", returned)
    relay(postfix_hard_bounce(forged))
    assert suppressions() == []

    response = relay(postfix_hard_bounce(returned))
    assert response.json["hard"] == 1
    assert suppressions() == [("typo@example.net", "bounce")]
    assert status_of("typo@example.net") == "bounced"


# -- soft bounces ---------------------------------------------------------------------------


def test_the_fifth_soft_bounce_within_the_window_suppresses_the_address(
    sent, relay, run_jobs, mail_server
):
    for count in range(1, 5):
        assert relay(postfix_delayed_notice(sent.returned)).json["soft"] == 1
        assert soft_bounce_count(sent.nobody) == count
        assert status_of("nobody@example.net") == "active"
    assert suppressions() == []

    relay(postfix_delayed_notice(sent.returned))

    assert suppressions() == [("nobody@example.net", "bounce")]
    assert status_of("nobody@example.net") == "bounced"
    assert soft_bounce_count(sent.nobody) == 0
    assert status_of("ok@example.net") == "active"
    send_another(sent, run_jobs)
    assert len(mail_server.messages_to("nobody@example.net")) == 1


def test_a_soft_bounce_after_the_window_starts_a_new_count(sent):
    start = datetime(2026, 1, 1)
    for day in range(4):
        record_soft_bounce(sent.nobody, "nobody@example.net", start + timedelta(days=day))
    db.session.commit()
    assert soft_bounce_count(sent.nobody) == 4
    assert not record_soft_bounce(sent.nobody, "nobody@example.net", start + timedelta(days=31))
    db.session.commit()
    assert soft_bounce_count(sent.nobody) == 1
    assert status_of("nobody@example.net") == "active"


def test_the_limit_and_window_are_configurable(sent, app, relay):
    app.config.update(SOFT_BOUNCE_LIMIT=2)
    relay(postfix_delayed_notice(sent.returned))
    assert status_of("nobody@example.net") == "active"
    relay(postfix_delayed_notice(sent.returned))
    assert status_of("nobody@example.net") == "bounced"


def test_confirming_clears_the_soft_bounces_of_a_confirmation_email(
    app, relay, run_jobs, mail_server
):
    create_topics("lps")
    client = app.test_client()
    sign_up(client, "slow@example.net", ["lps"])
    run_jobs()
    [message] = mail_server.messages_to("slow@example.net")
    raw = next(r.raw for r in mail_server.received if "slow@example.net" in r.recipients)
    assert relay(postfix_delayed_notice(raw.decode().replace("\r\n", "\n"))).json["soft"] == 1
    pending = subscriber("slow@example.net")
    assert soft_bounce_count(pending.id) == 1

    submit_only_form(client, path_of(only_link(message)))

    assert status_of("slow@example.net") == "active"
    assert soft_bounce_count(pending.id) == 0


def test_two_reports_suppressing_one_new_address_at_once_both_land(app, topics):
    """PostgreSQL: the second waits on the first's row, then finds it there instead of failing."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite allows one writer at a time; the second would wait its turn")
    create_subscriber("ada@example.org", ["events"])
    first_written, release, failures = threading.Event(), threading.Event(), []

    def report(reason: str, hold: bool) -> None:
        with app.app_context():
            try:
                suppress("ada@example.org", reason)
                if hold:
                    first_written.set()
                    release.wait(30)
                db.session.commit()
            except Exception as error:
                failures.append(error)

    first = threading.Thread(target=report, args=("bounce", True))
    second = threading.Thread(target=report, args=("complaint", False))
    first.start()
    assert first_written.wait(30)
    second.start()
    deadline = time.monotonic() + 30
    while not db.session.scalar(
        text(
            "SELECT count(*) FROM pg_locks JOIN pg_stat_activity USING (pid)"
            " WHERE NOT granted AND datname = current_database()"
        )
    ):
        assert time.monotonic() < deadline and second.is_alive(), "the second never waited"
        db.session.rollback()
        time.sleep(0.05)
    release.set()
    first.join(30)
    second.join(30)
    assert failures == []
    db.session.rollback()
    [row] = db.session.scalars(select(Suppression)).all()
    assert row.reason == "bounce"  # the first stands; the second made it newer
    assert subscriber("ada@example.org").status == "complained"
