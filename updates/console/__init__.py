"""The staff console under /admin/: sign-in, news, digests, subscribers and the lists."""

from flask import Blueprint

blueprint = Blueprint("console", __name__, url_prefix="/admin")

from . import admin, auth, charts, content, imports, lists, people, sending  # noqa: E402,F401
