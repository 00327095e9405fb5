"""Bounces and complaints posted by the relay: the address is suppressed, the delivery failed."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from updates import webhooks
from updates.extensions import db
from updates.mail.verp import read_verp, verp_sender
from updates.models import Delivery, Subscriber, Suppression
from updates.news import digests
from updates.subscribers import bounces

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
    if "webhooks" not in app.blueprints:  # until create_app registers it
        app.register_blueprint(webhooks.blueprint)
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
    create_topics("lps")
    news = create_news("Council budgets", ["lps"])
    nobody = create_subscriber("nobody@example.net", ["lps"])
    ok = create_subscriber("ok@example.net", ["lps"])
    digest = create_test_digest([news], ["lps"])
    digests.send(digest)
    run_jobs()
    [raw] = [r.raw for r in mail_server.received if "nobody@example.net" in r.recipients]
    return SimpleNamespace(
        digest=digest.id,
        nobody=nobody.id,
        ok=ok.id,
        news=news,
        returned=raw.decode().replace("\r\n", "\n"),  # the message as sent, returned to us
    )


def headers_of(message: str) -> str:
    return message.split("\n\n", 1)[0] + "\n"


# -- the samples, as relays forward them ----------------------------------------------------


def postfix_hard_bounce(returned: str) -> str:
    return f"""\
Return-Path: <>
X-Original-To: updates@example.org
Delivered-To: updates@example.org
Received: by mail.example.org (Postfix)
\tid 3F2A81C0042; Tue,  4 Mar 2025 10:15:02 +0000 (UTC)
Date: Tue,  4 Mar 2025 10:15:02 +0000 (UTC)
From: MAILER-DAEMON@mail.example.org (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: updates@example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="3F2A81C0042.1741083302/mail.example.org"
Content-Transfer-Encoding: 8bit
Message-Id: <20250304101502.3F2A81C0042@mail.example.org>

This is a MIME-encapsulated message.

--3F2A81C0042.1741083302/mail.example.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<nobody@example.net>: host mx.example.net[203.0.113.25] said: 550 5.1.1
    <nobody@example.net>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--3F2A81C0042.1741083302/mail.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org
X-Postfix-Queue-ID: 3F2A81C0042
X-Postfix-Sender: rfc822; updates@example.org
Arrival-Date: Tue,  4 Mar 2025 10:15:01 +0000 (UTC)

Final-Recipient: rfc822; nobody@example.net
Original-Recipient: rfc822;nobody@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.net>: Recipient address
    rejected: User unknown in virtual mailbox table

--3F2A81C0042.1741083302/mail.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

{headers_of(returned)}
--3F2A81C0042.1741083302/mail.example.org--
"""


def postfix_delayed_notice(returned: str) -> str:
    return f"""\
Return-Path: <>
Received: by mail.example.org (Postfix)
\tid 9B7D21C0077; Tue,  4 Mar 2025 14:15:10 +0000 (UTC)
Date: Tue,  4 Mar 2025 14:15:10 +0000 (UTC)
From: MAILER-DAEMON@mail.example.org (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: updates@example.org
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="9B7D21C0077.1741097710/mail.example.org"
Content-Transfer-Encoding: 8bit
Message-Id: <20250304141510.9B7D21C0077@mail.example.org>

This is a MIME-encapsulated message.

--9B7D21C0077.1741097710/mail.example.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mail.example.org.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 5 day(s) old.

                   The mail system

<nobody@example.net>: host mx.example.net[203.0.113.25] said: 452 4.2.2
    <nobody@example.net>: Mailbox full (in reply to RCPT TO command)

--9B7D21C0077.1741097710/mail.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.org
X-Postfix-Queue-ID: 9B7D21C0077
X-Postfix-Sender: rfc822; updates@example.org
Arrival-Date: Tue,  4 Mar 2025 10:15:01 +0000 (UTC)

Final-Recipient: rfc822; nobody@example.net
Original-Recipient: rfc822;nobody@example.net
Action: delayed
Status: 4.2.2
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 452 4.2.2 <nobody@example.net>: Mailbox full
Will-Retry-Until: Sun,  9 Mar 2025 10:15:01 +0000 (UTC)

--9B7D21C0077.1741097710/mail.example.org
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

{headers_of(returned)}
--9B7D21C0077.1741097710/mail.example.org--
"""


def arf_abuse_report(returned: str, original_rcpt_to: str | None, kind: str = "abuse") -> str:
    rcpt_to = f"Original-Rcpt-To: <{original_rcpt_to}>\n" if original_rcpt_to else ""
    return f"""\
Return-Path: <fbl@mail.example.com>
From: <fbl@mail.example.com>
Date: Thu, 6 Mar 2025 09:01:13 +0000
Subject: Abuse report: Programme news
To: <abuse@example.org>
MIME-Version: 1.0
Message-ID: <fbl-20250306090113.4711@mail.example.com>
Content-Type: multipart/report; report-type=feedback-report;
\tboundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.10 on Thu, 6 Mar 2025 08:58:40 +0000.
For more information about this format please see
https://www.rfc-editor.org/rfc/rfc5965.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: {kind}
User-Agent: ExampleFBL/2.1
Version: 1
Original-Mail-From: <updates@example.org>
{rcpt_to}Arrival-Date: Thu, 6 Mar 2025 08:58:40 +0000
Reporting-MTA: dns; mail.example.com
Source-IP: 192.0.2.10
Authentication-Results: mail.example.com; spf=pass smtp.mailfrom=updates@example.org
Reported-Domain: example.org

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

{returned}
--part1_13d.2e68ed54_boundary--
"""


def exim_bounce(returned: str) -> str:
    """Exim's classic bounce: plain text, the failed address in X-Failed-Recipients."""
    return f"""\
Return-path: <>
Envelope-to: updates@example.org
Delivery-date: Tue, 04 Mar 2025 10:16:40 +0000
Received: from mail by mx.example.com with local (Exim 4.96)
\tid 1tq2Xa-0004Qz-2b
\tfor updates@example.org; Tue, 04 Mar 2025 10:16:40 +0000
X-Failed-Recipients: nobody@example.net
Auto-Submitted: auto-replied
From: Mail Delivery System <Mailer-Daemon@mx.example.com>
To: updates@example.org
Content-Type: text/plain; charset=us-ascii
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1tq2Xa-0004Qz-2b@mx.example.com>
Date: Tue, 04 Mar 2025 10:16:40 +0000

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  nobody@example.net
    Unrouteable address

------ This is a copy of the message, including all the headers. ------

{returned}
"""


def junk_bounce(to: str) -> str:
    """A gateway's notice that nothing can parse; only the envelope says whose mail it was."""
    return f"""\
Return-Path: <>
Received: from legacy.example.com (legacy.example.com [198.51.100.7])
\tby mx.example.org with ESMTP id 8C1F2; Tue, 4 Mar 2025 10:20:00 +0000
From: "Legacy Gateway" <gateway@legacy.example.com>
To: {to}
Subject: Returned
Date: Tue, 4 Mar 2025 10:20:00 +0000
Content-Type: text/plain; charset=utf-8

#@!~ GW-FAULT 0x1F :: ref 77f0a2 :: seq 3 of 3
~~~~~ 2025-03-04T10:19:58Z ~~~~~ q=0 r=4 ~~~~~
"""


def out_of_office(to: str) -> str:
    return f"""\
Return-Path: <>
From: Nobody <nobody@example.net>
To: {to}
Subject: Out of office: Programme news
Date: Tue, 4 Mar 2025 10:21:00 +0000
Auto-Submitted: auto-replied
Content-Type: text/plain; charset=utf-8

I am away until Monday with no access to email.
"""


# -- what a bounce does ---------------------------------------------------------------------


def delivery_of(digest_id: int, subscriber_id: int) -> Delivery:
    db.session.expire_all()
    return db.session.scalar(
        select(Delivery).where(
            Delivery.digest_id == digest_id, Delivery.subscriber_id == subscriber_id
        )
    )


def status_of(address: str) -> str:
    db.session.expire_all()
    return db.session.scalar(select(Subscriber.status).where(Subscriber.email == address))


def suppressions() -> list[tuple[str | None, str]]:
    return [tuple(row) for row in db.session.execute(select(Suppression.email, Suppression.reason))]


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


def test_a_delayed_mailbox_full_notice_is_reported_and_changes_nothing(sent, relay):
    response = relay(postfix_delayed_notice(sent.returned))

    assert response.status_code == 200
    assert response.json == {"hard": 0, "soft": 1, "complaints": 0}
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
    assert 64 * 1024 < len(big) < webhooks.MAX_MESSAGE_BYTES
    assert relay(big).json == {"hard": 1, "soft": 0, "complaints": 0}

    too_big = "From: x@example.com\n\n" + "a" * webhooks.MAX_MESSAGE_BYTES
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
