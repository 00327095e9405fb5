"""Messages: From and To are valid headers whatever the address's domain or local part."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import only_link, sign_up
from updates.addresses import normalise_address
from updates.extensions import db
from updates.mail.messages import RenderedEmail, build_message, message_bytes
from updates.models import EmailState, OutboundEmail
from updates.news import digests

RENDERED = RenderedEmail(subject="Your updates", text="Hello.\n", html="<p>Hello.</p>")


def headers_of(to: str) -> bytes:
    return message_bytes(build_message(RENDERED, to=to)).split(b"\r\n\r\n", 1)[0]


def test_an_international_domain_is_written_in_punycode(app):
    headers = headers_of("ada@bücher.de")
    assert b"\r\nTo: ada@xn--bcher-kva.de\r\n" in headers
    assert b"=?utf-8?" not in headers  # no encoded word inside an address: that is invalid
    assert headers.isascii()


def test_an_international_local_part_is_written_in_utf8(app):
    headers = headers_of("josé@bücher.de")
    assert "\r\nTo: josé@xn--bcher-kva.de\r\n".encode() in headers
    assert b"=?utf-8?" not in headers


@pytest.fixture
def sender_in_unicode(app_config):
    app_config["MAIL_FROM"] = "Example Updates <updates@bücher.de>"


def test_a_display_name_is_kept_beside_an_international_domain(sender_in_unicode, app):
    headers = headers_of("a@b.org")
    assert headers.startswith(b"From: Example Updates <updates@xn--bcher-kva.de>\r\n")
    assert headers.isascii()  # the Message-ID's domain too


def test_a_confirmation_reaches_an_international_domain_through_a_plain_relay(
    plain_relay, client, topics, run_jobs
):
    assert sign_up(client, "Ada@Bücher.de", ["events"]).status_code == 200
    run_jobs()
    [received] = plain_relay.received
    assert received.recipients == ["Ada@xn--bcher-kva.de"]
    assert received.message["To"] == "Ada@xn--bcher-kva.de"
    assert only_link(received.message)


def test_a_confirmation_a_plain_relay_cannot_take_fails_for_good_and_says_why(
    plain_relay, client, topics, run_jobs
):
    assert sign_up(client, "josé@bücher.de", ["events"]).status_code == 200
    run_jobs()
    [email] = db.session.scalars(select(OutboundEmail)).all()
    assert email.state == EmailState.FAILED
    assert "josé@xn--bcher-kva.de" in email.last_error and "SMTPUTF8" in email.last_error
    assert plain_relay.received == []


def test_a_newsletter_goes_with_smtputf8_only_to_an_international_local_part(
    utf8_relay, app, run_jobs
):
    create_topics("lps")
    create_subscriber(normalise_address("José@Bücher.de"), ["lps"])
    create_subscriber(normalise_address("ada@bücher.de"), ["lps"])
    digests.send(create_test_digest([create_news("Council budgets", ["lps"])], ["lps"]))
    run_jobs()
    smtputf8 = {
        received.recipients[0]: "SMTPUTF8" in options
        for received, options in zip(utf8_relay.received, utf8_relay.mail_options, strict=True)
    }
    assert smtputf8 == {"José@xn--bcher-kva.de": True, "ada@xn--bcher-kva.de": False}
    [josé] = utf8_relay.messages_to("José@xn--bcher-kva.de")
    assert josé["To"] == "José@xn--bcher-kva.de"
