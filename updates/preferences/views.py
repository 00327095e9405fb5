"""Manage preferences."""

from __future__ import annotations

from flask import current_app, render_template

from .. import tokens
from ..errors import page_abort
from ..extensions import db
from ..models import Subscriber
from . import blueprint


def subscriber_from_manage_token(token: str) -> Subscriber:
    try:
        subscriber_id, version = tokens.read_token(
            tokens.MANAGE, token, current_app.config["MANAGE_MAX_AGE_DAYS"]
        )
    except (tokens.InvalidToken, ValueError, TypeError):
        page_abort("link_invalid.html", 400)
    except tokens.ExpiredToken:
        page_abort("link_invalid.html", 410)
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.token_version != version:
        page_abort("link_invalid.html", 400)
    return subscriber


@blueprint.route("/manage/<token>", methods=["GET", "POST"])
def manage(token: str):
    subscriber = subscriber_from_manage_token(token)
    return render_template("manage.html", subscriber=subscriber)
