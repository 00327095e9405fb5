"""The operators' endpoints: /healthz, /readyz and /metrics; no cookies, no CSRF, no limits."""

from flask import Blueprint

from updates.extensions import csrf

blueprint = Blueprint("monitoring", __name__)
csrf.exempt(blueprint)  # GET only, and no session: there is nothing a form could forge

from . import health, metrics  # noqa: E402,F401
