"""VERP return paths: each newsletter's envelope sender names its delivery, signed.

A bounce sent to such an address says whose mail it was even when the report itself is unreadable.
The token is `<digest>-<subscriber>-<tag>`: the ids in base 36 and a 64-bit MAC in hex, all
lower case, so it survives a relay that folds the case of local parts and, with the largest ids,
is 30 characters: the local part keeps well within RFC 5321's 64 octets.
"""

from __future__ import annotations

import re
from email.utils import parseaddr

from flask import current_app

from updates import tokens

VERP = "verp"
TOKEN = re.compile(r"([0-9a-z]{1,13})-([0-9a-z]{1,13})-([0-9a-f]{16})")
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _verp_template() -> tuple[str, str] | None:
    template = current_app.config.get("VERP_RETURN_PATH", "")
    if "{token}" not in template:
        return None
    prefix, _, suffix = template.partition("{token}")
    return prefix, suffix


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, digit = divmod(number, 36)
        digits = DIGITS[digit] + digits
        if not number:
            return digits


def verp_token(digest_id: int, subscriber_id: int) -> str:
    """The signed, compact name of one delivery."""
    ids = f"{_base36(digest_id)}-{_base36(subscriber_id)}"
    return f"{ids}-{tokens.tag(VERP, ids)}"


def verp_sender(digest_id: int, subscriber_id: int) -> str | None:
    """The return path that names this delivery, when VERP_RETURN_PATH is configured."""
    template = _verp_template()
    if template is None:
        return None
    return template[0] + verp_token(digest_id, subscriber_id) + template[1]


def read_verp(address: str) -> tuple[int, int] | None:
    """(digest_id, subscriber_id) from one of our VERP return paths, else None."""
    template = _verp_template()
    address = parseaddr(address)[1]
    if template is None or len(address) <= len(template[0]) + len(template[1]):
        return None
    prefix, suffix = template
    lowered = address.lower()
    if not lowered.startswith(prefix.lower()) or not lowered.endswith(suffix.lower()):
        return None
    token = address[len(prefix) : len(address) - len(suffix)]
    return _read_token(token.lower()) or _read_earlier_token(token)


def _read_token(token: str) -> tuple[int, int] | None:
    match = TOKEN.fullmatch(token)
    if match is None or not tokens.tag_matches(VERP, f"{match[1]}-{match[2]}", match[3]):
        return None
    return int(match[1], 36), int(match[2], 36)


def _read_earlier_token(token: str) -> tuple[int, int] | None:
    """The longer itsdangerous token return paths carried before, for bounces still on their way
    (it goes after one release)."""
    try:
        payload = tokens.read_token(VERP, token)
    except tokens.InvalidToken:
        return None
    if isinstance(payload, list) and len(payload) == 2 and all(type(n) is int for n in payload):
        return payload[0], payload[1]
    return None
