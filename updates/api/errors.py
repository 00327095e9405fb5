"""Every API error is JSON `{"error": message}` with a 4xx status (5xx only for our own bugs)."""

from __future__ import annotations

from flask import Response, jsonify, request
from werkzeug.exceptions import BadRequest, Conflict, HTTPException
from werkzeug.routing import RequestRedirect

from updates.news.cadence import CadenceError
from updates.news.corrections import WithdrawnError
from updates.news.digests import DigestStateError
from updates.news.events import NotAnEvent
from updates.news.publishing import ContentError
from updates.news.topics import TopicError

from . import PREFIX, blueprint


def json_error(error: HTTPException) -> Response:
    response = jsonify(error=error.description or error.name)
    response.status_code = error.code or 500
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value  # Allow on a 405, WWW-Authenticate on a 401
    return response


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return json_error(error)


@blueprint.errorhandler(CadenceError)
@blueprint.errorhandler(ContentError)
@blueprint.errorhandler(TopicError)
def _invalid(error: ValueError) -> Response:
    return json_error(BadRequest(str(error)))


@blueprint.errorhandler(DigestStateError)
@blueprint.errorhandler(NotAnEvent)
@blueprint.errorhandler(WithdrawnError)
def _wrong_state(error: ValueError) -> Response:
    return json_error(Conflict(str(error)))


@blueprint.before_app_request
def _routing_error() -> Response | None:
    """An unknown path or method under the prefix matches no view, so the blueprint's handlers
    never see it (Flask hands routing errors to the app's): answer it here, as JSON."""
    error = request.routing_exception
    under_prefix = request.path == PREFIX or request.path.startswith(PREFIX + "/")
    if under_prefix and isinstance(error, HTTPException) and not isinstance(error, RequestRedirect):
        return json_error(error)
    return None
