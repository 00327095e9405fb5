"""The relay's webhook: each bounce or complaint, posted as the raw message it received."""

from __future__ import annotations

import hmac

from flask import Response, abort, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from updates.subscribers import bounces
from updates.webhooks import blueprint
from updates.webhooks import error as _error

MAX_MESSAGE_BYTES = 1024 * 1024  # a returned message with its attachments; the app allows 64 KB


def _authorised(expected: str) -> bool:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), expected.encode()
    )


@blueprint.post("/bounces")
def receive_bounce() -> Response:
    """One bounce or complaint; `?to=` or `X-Original-To` may carry the envelope recipient."""
    expected = current_app.config.get("BOUNCE_WEBHOOK_TOKEN", "")
    if not expected:
        abort(404)
    if not _authorised(expected):
        return _error(
            401,
            "A valid token is required, sent as 'Authorization: Bearer TOKEN'.",
            {"WWW-Authenticate": "Bearer"},
        )
    request.max_content_length = MAX_MESSAGE_BYTES
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        return _error(413, "The message is larger than 1 MB.")
    envelope_to = request.args.get("to") or request.headers.get("X-Original-To")
    try:
        report = bounces.process(raw, envelope_to)
    except bounces.NotAnEmail as error:
        return _error(400, str(error))
    return jsonify(hard=len(report.hard), soft=len(report.soft), complaints=len(report.complaints))
