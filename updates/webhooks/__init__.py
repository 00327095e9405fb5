"""Webhooks that tell us of bounces and complaints: the relay's raw messages (`relay`), Amazon
SES through SNS (`ses`, signatures checked by `sns`), and Mailgun's events (`mailgun`).

Each answers 404 until its own setting is configured.
"""

from __future__ import annotations

from contextlib import suppress

from flask import Blueprint, Response, jsonify
from redis.exceptions import RedisError

from updates.extensions import csrf
from updates.queues import redis_connection
from updates.subscribers.provider_events import ProviderEvent, apply_events

blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(blueprint)  # no cookies here: each caller proves itself by a token or a signature


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A JSON error answer, as every webhook gives."""
    response = jsonify(error=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def apply_once(delivery_id: str, events: list[ProviderEvent]) -> Response:
    """Apply a post's events the first time its id is seen (for a day); answer what they did.

    Providers send an event again when they missed our answer; a second soft bounce counted
    for it would be wrong. With Redis away, every event is applied.
    """
    key = f"updates:webhook-event:{delivery_id}"
    try:
        first = redis_connection().set(key, 1, nx=True, ex=86400)
    except RedisError:
        first = True
    if not first:
        return jsonify(events=len(events), ours=0, repeated=True)
    try:
        return jsonify(events=len(events), ours=apply_events(events))
    except Exception:
        with suppress(RedisError):
            redis_connection().delete(key)  # not applied: the provider's next try should be
        raise


from updates.webhooks import mailgun, relay, ses  # noqa: E402,F401  (their views join the blueprint)
