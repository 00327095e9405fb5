"""Mailgun's event webhooks: failed (permanent or temporary), complained and delivered.

Each post carries a signature, the hex HMAC-SHA256 of its timestamp and token under
MAILGUN_WEBHOOK_SIGNING_KEY; one that does not match answers 403 and changes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from flask import Response, abort, current_app, request

from updates.subscribers.provider_events import COMPLAINT, DELIVERED, HARD, SOFT, ProviderEvent
from updates.webhooks import apply_once, blueprint, error


@blueprint.post("/mailgun")
def receive_mailgun() -> Response:
    """One Mailgun event, signed with the webhook signing key."""
    key = current_app.config.get("MAILGUN_WEBHOOK_SIGNING_KEY", "")
    if not key:
        abort(404)
    try:
        body = json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        body = None
    if not isinstance(body, dict):
        return error(400, "The body is not a Mailgun event (JSON).")
    if not signed(key, body.get("signature")):
        return error(403, "The signature does not match the webhook signing key.")
    try:
        events = mailgun_events(body["event-data"])
    except (KeyError, TypeError, AttributeError):
        return error(400, "The body is not a Mailgun event.")
    event_id = str(body["event-data"].get("id") or body["signature"]["token"])
    return apply_once(f"mailgun:{event_id}", events)


def signed(key: str, signature: object) -> bool:
    """Whether Mailgun's signature block matches the signing key."""
    if not isinstance(signature, dict):
        return False
    timestamp, token, given = (
        str(signature.get(name, "")) for name in ("timestamp", "token", "signature")
    )
    if not (timestamp and token and given):
        return False
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given.lower())


def mailgun_events(data: dict) -> list[ProviderEvent]:
    """The event, if it is one we act on."""
    kind, recipient = data.get("event"), str(data["recipient"])
    message_ids = (str(data["message"]["headers"].get("message-id", "")),)
    status = str((data.get("delivery-status") or {}).get("code", ""))
    if kind == "failed":
        hard = data.get("severity") == "permanent"
        return [ProviderEvent(HARD if hard else SOFT, recipient, message_ids, status)]
    if kind == "complained":
        return [ProviderEvent(COMPLAINT, recipient, message_ids)]
    if kind == "delivered":
        return [ProviderEvent(DELIVERED, recipient, message_ids)]
    return []
