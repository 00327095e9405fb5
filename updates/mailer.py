"""The one module that talks to the mail relay, and sorts its failures."""

from __future__ import annotations

import smtplib
import ssl
from email.utils import parseaddr
from types import TracebackType

from flask import current_app

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
    return parseaddr(current_app.config["MAIL_FROM"])[1]


def _failure(code: int, message: bytes | str) -> Exception:
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    if 400 <= code < 500:
        return TransientFailure(f"{code} {text}")
    return PermanentFailure(code, text)


class Relay:
    """One SMTP connection, reused for every message sent inside the `with` block."""

    def __init__(self) -> None:
        config = current_app.config
        self.host: str = config["SMTP_HOST"]
        self.port: int = config["SMTP_PORT"]
        self.tls: str = config["SMTP_TLS"]
        self.username: str = config["SMTP_USERNAME"]
        self.password: str = config["SMTP_PASSWORD"]
        self.timeout: float = config["SMTP_TIMEOUT"]
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> Relay:
        try:
            if self.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password)
        except smtplib.SMTPResponseException as error:
            raise TransientFailure(f"relay refused the session: {error}") from error
        except (OSError, smtplib.SMTPException) as error:
            raise TransientFailure(f"cannot reach the relay: {error}") from error
        self.smtp = smtp
        return self

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
        assert self.smtp is not None, "use Relay as a context manager"
        try:
            refused = self.smtp.sendmail(sender, [recipient], message)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = error.recipients[recipient]
            raise _failure(code, text) from error
        except smtplib.SMTPResponseException as error:
            raise _failure(error.smtp_code, error.smtp_error) from error
        except (OSError, smtplib.SMTPException) as error:
            self.smtp = None
            raise TransientFailure(f"connection lost: {error}") from error
        if refused:
            code, text = refused[recipient]
            raise _failure(code, text)
