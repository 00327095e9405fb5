"""Webhooks that tell us of bounces and complaints: the relay's raw messages (`relay`), Amazon
SES through SNS (`ses`, signatures checked by `sns`), and Mailgun's events (`mailgun`).

Each answers 404 until its own setting is configured.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from updates.extensions import csrf

blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")
csrf.exempt(blueprint)  # no cookies here: each caller proves itself by a token or a signature


def error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """A JSON error answer, as every webhook gives."""
    response = jsonify(error=message)
    response.status_code = status
    response.headers.update(headers or {})
    return response


from updates.webhooks import mailgun, relay, ses  # noqa: E402,F401  (their views join the blueprint)
