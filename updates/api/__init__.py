"""The staff JSON API: bearer tokens, JSON in and out, described by /api/openapi.json."""

from flask import Blueprint, request

from updates import limits
from updates.extensions import csrf

PREFIX = "/api"

blueprint = Blueprint("api", __name__, url_prefix=PREFIX)
csrf.exempt(blueprint)  # no cookies here: a bearer token cannot be forged by another site


@blueprint.before_request
def _limit_body() -> None:
    """A body over limits.API_BODY (256 KiB) answers 413 before any of it is read."""
    request.max_content_length = limits.API_BODY


from . import errors, openapi, views  # noqa: E402,F401
