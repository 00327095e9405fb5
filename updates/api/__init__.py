"""The staff JSON API: bearer tokens, JSON in and out, described by /api/openapi.json."""

from flask import Blueprint

from updates.extensions import csrf

PREFIX = "/api"

blueprint = Blueprint("api", __name__, url_prefix=PREFIX)
csrf.exempt(blueprint)  # no cookies here: a bearer token cannot be forged by another site

from . import errors, openapi, views  # noqa: E402,F401
