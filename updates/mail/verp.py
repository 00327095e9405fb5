"""VERP return paths: each newsletter's envelope sender names its delivery, signed.

A bounce sent to such an address says whose mail it was even when the report itself is unreadable.
"""

from __future__ import annotations

from email.utils import parseaddr

from flask import current_app

from updates import tokens

VERP = "verp"


def _verp_template() -> tuple[str, str] | None:
    template = current_app.config.get("VERP_RETURN_PATH", "")
    if "{token}" not in template:
        return None
    prefix, _, suffix = template.partition("{token}")
    return prefix, suffix


def verp_sender(digest_id: int, subscriber_id: int) -> str | None:
    """The return path that names this delivery, when VERP_RETURN_PATH is configured."""
    template = _verp_template()
    if template is None:
        return None
    return template[0] + tokens.make_token(VERP, [digest_id, subscriber_id]) + template[1]


def read_verp(address: str) -> tuple[int, int] | None:
    """(digest_id, subscriber_id) from one of our VERP return paths, else None."""
    template = _verp_template()
    address = parseaddr(address)[1]
    if template is None or len(address) <= len(template[0]) + len(template[1]):
        return None
    prefix, suffix = template
    if not address.lower().startswith(prefix.lower()) or not address.lower().endswith(
        suffix.lower()
    ):
        return None
    try:
        payload = tokens.read_token(VERP, address[len(prefix) : len(address) - len(suffix)])
    except tokens.InvalidToken:
        return None
    if isinstance(payload, list) and len(payload) == 2 and all(type(n) is int for n in payload):
        return payload[0], payload[1]
    return None
