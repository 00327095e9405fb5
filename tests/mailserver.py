"""A real SMTP server in-process (aiosmtpd) that keeps what it receives and can refuse on cue."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from updates.dev.embedded_redis import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes
    helo: str = ""  # the name the client greeted the server with

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.server._reply_for(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.server.delay:
            await asyncio.sleep(self.server.delay)
        with self.server._lock:
            self.server.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                    session.host_name or "",
                )
            )
        return "250 Message accepted"


class MailServer:
    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.received: list[Received] = []
        self.delay = 0.0  # seconds before answering each message, to make a slow relay
        self._replies: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.delay = 0.0
            self._replies.clear()

    def refuse(self, address: str, reply: str, times: int = 1) -> None:
        """Answer RCPT TO for this address with `reply` the next `times` times."""
        with self._lock:
            self._replies.setdefault(address.lower(), []).extend([reply] * times)

    def _reply_for(self, address: str) -> str | None:
        with self._lock:
            queued = self._replies.get(address.lower())
            return queued.pop(0) if queued else None

    def messages_to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            received = list(self.received)
        return [r.message for r in received if address.lower() in (a.lower() for a in r.recipients)]


class PipeliningMailServer(MailServer):
    """The same server advertising PIPELINING (RFC 2920), as production relays do.

    `before_accepting`, if set, runs at each message's final dot, before the server answers.
    """

    def __init__(self) -> None:
        super().__init__()
        self.before_accepting: Callable[[], None] | None = None
        self._controller = Controller(_PipeliningHandler(self), hostname=self.host, port=self.port)


class _PipeliningHandler(_Handler):
    server: PipeliningMailServer

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server, session, envelope):
        if self.server.before_accepting is not None:
            self.server.before_accepting()
        return await super().handle_DATA(server, session, envelope)
