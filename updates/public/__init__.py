"""The public sign-up form, the confirmation link, and the published updates."""

from flask import Blueprint

blueprint = Blueprint("public", __name__)

from . import archive, embed, views  # noqa: E402,F401
