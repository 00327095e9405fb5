"""Fixtures of the mail tests: relays that offer SMTPUTF8 or do not, and relays over TLS."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.certificates import loopback_tls_files
from tests.mailserver import MailServer, _Handler


class _RecordingHandler(_Handler):
    async def handle_DATA(self, server, session, envelope):
        self.server.mail_options.append(list(envelope.mail_options))
        return await super().handle_DATA(server, session, envelope)


class RelayServer(MailServer):
    """The test server, offering SMTPUTF8 (RFC 6531) or not, noting each message's MAIL options."""

    def __init__(self, smtputf8: bool) -> None:
        super().__init__()
        self.mail_options: list[list[str]] = []
        self._controller = Controller(
            _RecordingHandler(self), hostname=self.host, port=self.port, enable_SMTPUTF8=smtputf8
        )


def relay_server(app_config, smtputf8: bool) -> Iterator[RelayServer]:
    server = RelayServer(smtputf8)
    server.start()
    app_config.update(SMTP_HOST=server.host, SMTP_PORT=server.port)
    yield server
    server.stop()


@pytest.fixture
def plain_relay(app_config) -> Iterator[RelayServer]:
    """A relay that does not offer SMTPUTF8, as many do not."""
    yield from relay_server(app_config, smtputf8=False)


@pytest.fixture
def utf8_relay(app_config) -> Iterator[RelayServer]:
    yield from relay_server(app_config, smtputf8=True)


class TLSRelayServer(MailServer):
    """The test server over TLS: from the first byte (`ssl`), or after STARTTLS, which it
    requires before anything else (`starttls`); its certificate is self-signed, in `ca_file`."""

    def __init__(self, folder: Path, mode: str) -> None:
        super().__init__()
        certificate, key = loopback_tls_files(folder)
        self.ca_file = str(certificate)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificate, key)
        tls = {"ssl_context": context} if mode == "ssl" else {"tls_context": context}
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, require_starttls=True, **tls
        )


@pytest.fixture(params=["ssl", "starttls"])
def tls_relay(request, app_config, tmp_path, monkeypatch) -> Iterator[TLSRelayServer]:
    """A relay over TLS whose certificate this process trusts (SSL_CERT_FILE)."""
    server = TLSRelayServer(tmp_path, request.param)
    server.start()
    monkeypatch.setenv("SSL_CERT_FILE", server.ca_file)
    app_config.update(SMTP_HOST=server.host, SMTP_PORT=server.port, SMTP_TLS=request.param)
    yield server
    server.stop()
