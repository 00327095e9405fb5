"""The relay: domains go in ASCII, SMTPUTF8 only for an international local part; TLS checked."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.helpers import BASE_URL
from updates.mail.relay import PermanentFailure, Relay, TransientFailure

MESSAGE = b"From: updates@example.org\r\nSubject: Hello\r\n\r\nHello.\r\n"


def send(recipient: str, sender: str = "updates@example.org") -> None:
    with Relay() as relay:
        relay.send(sender, recipient, MESSAGE)


def test_an_international_domain_goes_as_punycode_to_a_relay_without_smtputf8(plain_relay, app):
    send("ada@bücher.de")
    [received] = plain_relay.received
    assert received.recipients == ["ada@xn--bcher-kva.de"]


def test_an_international_sender_domain_goes_as_punycode_too(plain_relay, app):
    send("ada@example.org", sender="bounces@bücher.de")
    assert plain_relay.received[0].sender == "bounces@xn--bcher-kva.de"


def test_an_international_local_part_is_refused_for_good_by_a_relay_without_smtputf8(
    plain_relay, app
):
    with pytest.raises(PermanentFailure) as refused:
        send("josé@bücher.de")
    assert "josé@xn--bcher-kva.de" in str(refused.value)
    assert "SMTPUTF8" in str(refused.value)
    assert not refused.value.unknown_mailbox  # the address is not suppressed for it
    assert plain_relay.received == []


def test_smtputf8_is_asked_for_only_when_a_local_part_needs_it(utf8_relay, app):
    send("ada@bücher.de")
    send("josé@bücher.de")
    assert [r.recipients for r in utf8_relay.received] == [
        ["ada@xn--bcher-kva.de"],
        ["josé@xn--bcher-kva.de"],
    ]
    assert ["SMTPUTF8" in options for options in utf8_relay.mail_options] == [False, True]


def test_an_address_no_relay_can_take_is_refused_for_good_not_a_crash(utf8_relay, app):
    with pytest.raises(PermanentFailure, match="unusable address"):
        send("\udce9@example.org")  # a lone surrogate, as a mis-decoded environment gives
    send("ada@example.org")
    assert [r.recipients for r in utf8_relay.received] == [["ada@example.org"]]


def test_the_relay_is_greeted_with_base_urls_host_not_the_machines_name(plain_relay, app):
    send("ada@example.org")
    assert plain_relay.received[0].helo == urlsplit(BASE_URL).hostname


def test_a_relay_over_tls_takes_the_mail(tls_relay, app):
    send("ada@example.org")
    assert [r.recipients for r in tls_relay.received] == [["ada@example.org"]]


def test_a_relay_whose_certificate_is_not_trusted_gets_nothing(tls_relay, app, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")
    with pytest.raises(TransientFailure, match="CERTIFICATE_VERIFY_FAILED"):
        send("ada@example.org")
    assert tls_relay.received == []
