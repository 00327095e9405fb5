"""The staff console under /admin/: sign-in, news, digests, subscribers and the lists."""

from flask import Blueprint

blueprint = Blueprint("console", __name__, url_prefix="/admin")

from . import auth, content, lists  # noqa: E402,F401
