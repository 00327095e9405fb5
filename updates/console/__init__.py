"""The staff console under /admin/: sign-in, news, digests, subscribers and the lists."""

from flask import Blueprint

blueprint = Blueprint("console", __name__, url_prefix="/admin")

from . import (  # noqa: E402,F401
    account,
    admin,
    auth,
    charts,
    content,
    corrections,
    drafts,
    embed,
    imports,
    lists,
    people,
    schedules,
    sending,
)
