"""The one module that talks to the mail relay, and sorts its failures."""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from email.utils import parseaddr
from types import TracebackType
from typing import Any, TypeVar

from flask import current_app

from updates.addresses import ascii_domain
from updates.config import helo_name
from updates.instruments import SMTP_SECONDS

T = TypeVar("T")
UNKNOWN_MAILBOX_MARKERS = ("5.1.1", "user unknown", "no such user", "mailbox unavailable")


class TransientFailure(Exception):
    """Try again later: a 4xx answer, a lost connection, a relay that is down."""


class PermanentFailure(Exception):
    """The relay refused this message for good (5xx)."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code = code
        self.text = text

    @property
    def unknown_mailbox(self) -> bool:
        lowered = self.text.lower()
        return self.code in (550, 551, 553) and any(m in lowered for m in UNKNOWN_MAILBOX_MARKERS)


def envelope_sender() -> str:
    """MAIL_FROM's address, for the envelope."""
    return parseaddr(current_app.config["MAIL_FROM"])[1]


def _failure(code: int, message: bytes | str) -> Exception:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    if 400 <= code < 500:
        return TransientFailure(f"{code} {text}")
    return PermanentFailure(code, text)


class ConnectionLost(TransientFailure):
    """The session ended before the relay answered: nothing is known about the message."""


class _ConnectTimeout:
    """A session whose TCP connection (and implicit TLS handshake) has a timeout of its own.

    A relay that silently drops packets answers nothing for as long as we wait, and the next
    relay is tried only after that: seconds, not the conversation's SMTP_TIMEOUT.
    """

    def __init__(self, *args: Any, connect_timeout: float, **kwargs: Any) -> None:
        self.connect_timeout = connect_timeout
        super().__init__(*args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, self.connect_timeout)  # type: ignore[misc]
        sock.settimeout(timeout)
        return sock


class _Session(_ConnectTimeout, smtplib.SMTP):
    """A plain session, or one that STARTTLS upgrades."""


class _TLSSession(_ConnectTimeout, smtplib.SMTP_SSL):
    """A session over TLS from the first byte: SMTP_SSL wraps the socket once it connects."""


def relays() -> list[tuple[str, int]]:
    """(host, port) of each relay, first preferred: SMTP_HOSTS, else SMTP_HOST and SMTP_PORT."""
    config = current_app.config
    return list(config.get("SMTP_HOSTS") or [(config["SMTP_HOST"], config["SMTP_PORT"])])


class Relay:
    """One SMTP session, reused for every message sent inside the `with` block.

    It opens with the first relay that answers, starting at `first` in `relays()` and going
    round the rest in order; `index` is then the one it opened with.
    """

    def __init__(self, first: int = 0) -> None:
        config = current_app.config
        self.hosts = relays()
        self.first = first % len(self.hosts)
        self.index = self.first
        self.tls: str = config["SMTP_TLS"]
        self.username: str = config["SMTP_USERNAME"]
        self.password: str = config["SMTP_PASSWORD"]
        self.timeout: float = config["SMTP_TIMEOUT"]
        self.connect_timeout: float = config["SMTP_CONNECT_TIMEOUT"]
        self.helo_name = helo_name(config["SMTP_HELO_NAME"], config["BASE_URL"])
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Relay:
        self.connect()
        return self

    def connect(self) -> None:
        """Open a session (unless one is open); TransientFailure if no relay will have one."""
        if self.smtp is not None:
            return
        failures = []
        for step in range(len(self.hosts)):
            index = (self.first + step) % len(self.hosts)
            try:
                self.smtp = self._open_session(*self.hosts[index])
            except TransientFailure as error:
                failures.append(str(error))
                continue
            self.index = index
            return
        raise TransientFailure("; ".join(failures))

    def _open_session(self, host: str, port: int) -> smtplib.SMTP:
        try:
            if self.tls == "ssl":
                smtp: smtplib.SMTP = _TLSSession(
                    host,
                    port,
                    local_hostname=self.helo_name,
                    timeout=self.timeout,
                    connect_timeout=self.connect_timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = _Session(
                    host,
                    port,
                    local_hostname=self.helo_name,
                    timeout=self.timeout,
                    connect_timeout=self.connect_timeout,
                )
            if self.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
            smtp.ehlo_or_helo_if_needed()  # learn the extensions (PIPELINING, SIZE, SMTPUTF8)
        except smtplib.SMTPResponseException as error:
            raise TransientFailure(f"{host}:{port} refused the session: {error}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise TransientFailure(f"cannot reach {host}:{port}: {error}") from error
        return smtp

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.smtp is None:
            return
        try:
            self.smtp.quit()
        except (OSError, smtplib.SMTPException):
            self.smtp.close()
        self.smtp = None

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        """Hand one message to the relay; raise TransientFailure or PermanentFailure."""
        for _, failure in self.send_many([(None, sender, recipient, message)]):
            if failure is not None:
                raise failure

    def send_many(
        self,
        messages: Iterable[tuple[T, str, str, bytes]],
        before_final_dot: Callable[[], None] | None = None,
    ) -> Iterator[tuple[T, TransientFailure | PermanentFailure | None]]:
        """Send (ref, sender, recipient, message) in turn; yield (ref, failure or None) for each.

        Messages have CRLF line endings. Each counts as sent only once the relay has answered
        250 to its final dot; `before_final_dot` runs just before each dot is written (if it
        raises, the session is dropped and the relay discards the unfinished message). When the
        relay offers PIPELINING (RFC 2920), a message's envelope goes in one write with the
        previous message's content, so a message costs one round trip instead of four. After
        a lost connection (ConnectionLost, or a 421) the iteration ends, and `smtp` is None.
        """
        pipelining = self.smtp is not None and self.smtp.has_extn("pipelining")
        upcoming = iter(messages)
        current, written = next(upcoming, None), False  # written: its envelope is on its way
        while current is not None:
            ref, sender, recipient, message = current
            # With PIPELINING the next message is made now, to go out behind this one's dot.
            following = next(upcoming, None) if pipelining else None
            ahead, failure = self._envelope_or_nothing(following), None
            try:
                if self.smtp is None:
                    raise OSError("no session")
                envelope = self._envelope(sender, recipient, len(message))
                refusal = self._open(envelope, written, pipelining)
                if refusal is None:
                    self._before_final_dot(before_final_dot)
                    with SMTP_SECONDS.time():
                        self.smtp.send(_dot_stuffed(message) + b".\r\n" + ahead)
                        code, text = self.smtp.getreply()
                    if code != 250:
                        refusal = (code, text)
                        self._reset_if_closing(code)
                else:
                    ahead = b""  # not written: the next envelope goes out on its own
                failure = None if refusal is None else _failure(*refusal)
            except PermanentFailure as refused:  # an address we cannot put on the wire
                failure, ahead = refused, b""
            except (OSError, smtplib.SMTPException) as error:
                self._drop()
                yield ref, ConnectionLost(f"connection lost: {error}")
                return
            yield ref, failure
            current, written = (
                (following, bool(ahead)) if pipelining else (next(upcoming, None), False)
            )

    def _envelope(self, sender: str, recipient: str, size: int) -> list[bytes]:
        """MAIL FROM, RCPT TO and DATA, as the bytes to write."""
        assert self.smtp is not None
        sender, recipient = ascii_domain(sender), ascii_domain(recipient)
        for address in (sender, recipient):
            if any(c in address for c in "<>\r\n"):
                raise PermanentFailure(501, f"5.1.3 unusable address {address!r}")
        options = f" SIZE={size}" if self.smtp.has_extn("size") else ""
        encoding = "ascii"
        # Domains go as punycode; only an international local part needs SMTPUTF8 (RFC 6531).
        if not (sender + recipient).isascii():
            if not self.smtp.has_extn("smtputf8"):
                international = recipient if not recipient.isascii() else sender
                raise PermanentFailure(
                    553,
                    f"5.6.7 {international} has a non-ASCII local part, which needs SMTPUTF8, "
                    "and the relay does not offer it",
                )
            options, encoding = options + " SMTPUTF8", "utf-8"
        try:
            return [
                f"MAIL FROM:<{sender}>{options}\r\n".encode(encoding),
                f"RCPT TO:<{recipient}>\r\n".encode(encoding),
                b"DATA\r\n",
            ]
        except UnicodeEncodeError as error:  # a lone surrogate: no relay can take it
            raise PermanentFailure(
                501, f"5.1.3 unusable address {sender!r} or {recipient!r}"
            ) from error

    def _envelope_or_nothing(self, item: tuple[T, str, str, bytes] | None) -> bytes:
        """The envelope to pipeline behind a message's content (none if it cannot be sent)."""
        if item is None or self.smtp is None:
            return b""
        try:
            return b"".join(self._envelope(item[1], item[2], len(item[3])))
        except PermanentFailure:
            return b""

    def _open(
        self, envelope: list[bytes], written: bool, pipelining: bool
    ) -> tuple[int, bytes] | None:
        """Write the envelope (unless already on its way) and read its answers up to DATA's 354.

        Return the first refusal, after resetting the transaction; None when the relay waits
        for the content.
        """
        assert self.smtp is not None
        if pipelining:
            if not written:
                self.smtp.send(b"".join(envelope))
            replies = [self.smtp.getreply() for _ in envelope]
        else:
            replies = []
            for command in envelope:
                self.smtp.send(command)
                replies.append(self.smtp.getreply())
                if replies[-1][0] >= 400:
                    break
        refusal = next((r for r in replies if r[0] not in (250, 251, 354)), None)
        if refusal is None:
            return None
        if replies[-1][0] == 354:  # a relay that took DATA without a recipient
            self.smtp.send(b".\r\n")
            self.smtp.getreply()
        if not self._reset_if_closing(refusal[0]):
            self.smtp.send(b"RSET\r\n")
            self.smtp.getreply()
        return refusal

    def _before_final_dot(self, hook: Callable[[], None] | None) -> None:
        if hook is None:
            return
        try:
            hook()
        except BaseException:
            self._drop()
            raise

    def _reset_if_closing(self, code: int) -> bool:
        """A 421 means the relay is closing the session: drop it too."""
        if code == 421:
            self._drop()
        return code == 421

    def _drop(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = None


def _dot_stuffed(message: bytes) -> bytes:
    """RFC 5321 transparency: a line starting with a dot gets a second one; end with CRLF."""
    stuffed = message.replace(b"\n.", b"\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed if stuffed.endswith(b"\r\n") else stuffed + b"\r\n"
