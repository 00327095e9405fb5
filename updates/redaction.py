"""Log lines without the tokens that links carry: whoever reads a log must not get a link."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from flask import Flask

REDACTED = "[redacted]"
# The segment after a path that takes a token, whatever the token's form…
_TOKEN_PATH = re.compile(r"(/(?:confirm|manage|unsubscribe|admin/reset)/)[^/?#\s\"]+")
# …and a signed token (payload.timestamp.signature, an HMAC-SHA1 of 27 characters) wherever
# else it appears; a dotted job name such as updates.worker.outbound.hand_off_owed_emails is not.
_SIGNED_TOKEN = re.compile(r"[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{27,}")


def redact(text: str) -> str:
    """The text with every token a link carries replaced by [redacted]."""
    return _SIGNED_TOKEN.sub(REDACTED, _TOKEN_PATH.sub(rf"\g<1>{REDACTED}", text))


def _redacted(value: object) -> object:
    return redact(value) if isinstance(value, str) else value


class RedactTokens(logging.Filter):
    """Redacts a record's message and its string arguments before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redacted(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _redacted(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redacted(value) for value in record.args)
        return True


def register(app: Flask) -> None:
    """Keep tokens out of the app's log and the development server's request log."""
    for logger in (app.logger, logging.getLogger("werkzeug")):
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
