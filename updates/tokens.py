"""Signed links: one salt per purpose, keys rotate (first signs, all verify).

Tokens are itsdangerous' URL-safe timed format and are read with itsdangerous. They are made
here, as itsdangerous makes them, but with the HMAC key derived once per purpose and key and
without trying zlib on the payload (a newsletter signs two links per recipient; deriving the key
and compressing cost more than the rest together). itsdangerous reads both forms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

CONFIRM = "confirm"
MANAGE = "manage"
UNSUBSCRIBE = "unsubscribe"
MESSAGE_ID = "message-id"

DAY = 24 * 60 * 60


class InvalidToken(Exception):
    """The token was not made by us for this purpose."""


class ExpiredToken(Exception):
    """The token is genuine but too old; payload says whose it was."""

    def __init__(self, payload: Any) -> None:
        super().__init__("expired")
        self.payload = payload


def _serializer(purpose: str, key: str | None = None) -> URLSafeTimedSerializer:
    return _cached_serializer(purpose, key or current_app.config["SECRET_KEYS"][0])


@lru_cache(maxsize=64)
def _cached_serializer(purpose: str, key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=_salt(purpose))


def _salt(purpose: str) -> str:
    return f"updates.{purpose}"


@lru_cache(maxsize=64)
def _signing_key(purpose: str, key: str) -> bytes:
    """itsdangerous' default derivation ("django-concat" over SHA-1)."""
    return hashlib.sha1(f"{_salt(purpose)}signer{key}".encode()).digest()


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # itsdangerous' JSON


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def make_token(purpose: str, payload: Any) -> str:
    """A token `read_token(purpose, …)` accepts, as `_serializer(purpose).dumps` would make it."""
    timestamp = int(time.time()).to_bytes(8, "big").lstrip(b"\x00")
    value = _b64(_json(payload).encode()) + b"." + _b64(timestamp)
    key = _signing_key(purpose, current_app.config["SECRET_KEYS"][0])
    return (value + b"." + _b64(hmac.digest(key, value, "sha1"))).decode()


def read_token(purpose: str, token: str, max_age_days: int | None = None) -> Any:
    """Return the payload, or raise InvalidToken / ExpiredToken."""
    max_age = None if max_age_days is None else max_age_days * DAY
    # Each key is tried on its own so that an expired link signed by any key reads as expired.
    for key in current_app.config["SECRET_KEYS"]:
        serializer = _serializer(purpose, key)
        try:
            return serializer.loads(token, max_age=max_age)
        except SignatureExpired as error:
            raise ExpiredToken(serializer.load_payload(error.payload)) from error
        except BadData:
            continue
    raise InvalidToken()


def tag(purpose: str, text: str) -> str:
    """A short MAC of `text` (16 hex digits) for places with no room for a token: Message-IDs."""
    key = _signing_key(purpose, current_app.config["SECRET_KEYS"][0])
    return hmac.digest(key, text.encode(), "sha256")[:8].hex()


def tag_matches(purpose: str, text: str, candidate: str) -> bool:
    """Whether `candidate` is `tag(purpose, text)` under any of the keys."""
    for key in current_app.config["SECRET_KEYS"]:
        expected = hmac.digest(_signing_key(purpose, key), text.encode(), "sha256")[:8].hex()
        if hmac.compare_digest(expected, candidate):
            return True
    return False
