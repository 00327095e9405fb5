"""Fixtures of the mail tests: relays that offer SMTPUTF8 or do not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

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
