"""Bounces as relays and mailbox providers return them, built around a message we really sent."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from updates.extensions import db
from updates.models import Delivery, Subscriber, Suppression
from updates.news import digests


def deliver_digest(run_jobs, mail_server) -> SimpleNamespace:
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
