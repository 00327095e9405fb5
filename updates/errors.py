"""Error pages: every failure a visitor can cause is a clear 4xx page, never a 5xx."""

from __future__ import annotations

from flask import Flask, Response, abort, jsonify, make_response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from updates.edge import BadText, answers_json

MESSAGES = {
    400: "The request could not be understood. Go back, check what you entered and try again.",
    403: "You do not have permission to do that.",
    404: "There is no page at this address. Check the link, or start again from the home page.",
    405: "That action is not possible on this page.",
    410: "This link has expired.",
    413: "What you sent is too large.",
    429: "Too many attempts. Wait a minute and try again.",
}


def page_abort(template: str, code: int, **context: object) -> None:
    """Stop the request with this page and status."""
    abort(make_response(render_template(template, **context), code))


def _render(status: int, message: str) -> tuple[str, int]:
    return render_template("error.html", status=status, message=message), status


def _http_error(error: HTTPException) -> Response | tuple[str, int]:
    if error.response is not None:
        return error.response
    status = error.code or 500
    return _render(status, MESSAGES.get(status, error.description or "Something went wrong."))


def _csrf_error(error: CSRFError) -> tuple[str, int]:
    return _render(
        400,
        "This form had expired or was not sent from our site, so nothing was changed. "
        "Reload the page and try again.",
    )


def _bad_text(error: BadText) -> Response | tuple[str, int]:
    """Input refused at the edge: say which field and why, as JSON to the API's clients."""
    if answers_json():
        response = jsonify(error=error.description)
        response.status_code = 400
        return response
    message = error.description or MESSAGES[400]
    return render_template("error.html", status=400, message=message, refused=True), 400


def register(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(BadText, _bad_text)
    app.register_error_handler(HTTPException, _http_error)
