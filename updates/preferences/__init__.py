"""Pages a subscriber reaches through the signed links in every email."""

from flask import Blueprint

blueprint = Blueprint("preferences", __name__)

from . import views  # noqa: E402,F401
