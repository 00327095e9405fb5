"""The public sign-up form and the confirmation link."""

from flask import Blueprint

blueprint = Blueprint("public", __name__)

from . import views  # noqa: E402,F401
