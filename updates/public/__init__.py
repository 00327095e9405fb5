"""The public sign-up form, the confirmation link, the published updates and events."""

from flask import Blueprint

blueprint = Blueprint("public", __name__)

from . import archive, embed, events, views  # noqa: E402,F401
