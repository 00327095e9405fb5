"""Signed links: one salt per purpose, keys rotate (first signs, all verify)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

CONFIRM = "confirm"
MANAGE = "manage"
UNSUBSCRIBE = "unsubscribe"

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
    return URLSafeTimedSerializer(key, salt=f"updates.{purpose}")


def make_token(purpose: str, payload: Any) -> str:
    return _serializer(purpose).dumps(payload)


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
