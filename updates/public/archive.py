"""The public page of each published update, which emails and the API link to."""

from __future__ import annotations

from flask import abort, render_template

from ..extensions import db
from ..models import Update, utcnow
from . import blueprint

MAX_ID = 2**31 - 1


@blueprint.get(f"/updates/<int(max={MAX_ID}):update_id>")
def show_update(update_id: int):
    update = db.session.get(Update, update_id)
    if update is None or update.published_at is None or update.published_at > utcnow():
        abort(404)
    if not any(topic.public and not topic.archived for topic in update.topics):
        abort(404)  # news for hidden topics only is for their followers, not the public archive
    return render_template("update.html", update=update)
