"""Upcoming events: a page, calendar feeds people can subscribe to, and one `.ics` per event."""

from __future__ import annotations

from flask import Response, abort, current_app, render_template, url_for

from updates import limits
from updates.extensions import db
from updates.models import Update, utcnow
from updates.news.events import RECENT, calendar, calendar_of, public_events
from updates.news.topics import public_topic

from . import blueprint
from .archive import is_public

ICS = "text/calendar; charset=utf-8"


def _page_url() -> str:
    """The public page of each event's update, with `{update_id}` to fill in."""
    base = current_app.config["BASE_URL"]
    return base + url_for(".show_update", update_id=0).removesuffix("0") + "{update_id}"


@blueprint.get("/events")
def events_page():
    return render_template("events.html", events=public_events())


@blueprint.get("/events.ics", defaults={"slug": None})
@blueprint.get("/topics/<slug>/events.ics")
def events_feed(slug: str | None):
    topic = None
    if slug is not None:
        topic = public_topic(slug) or abort(404)
    name = current_app.config["ORG_NAME"] + (f": {topic.name}" if topic else " events")
    # Recent past events stay a while, so a subscribed calendar keeps what its owner attended.
    body = calendar(public_events(topic, since=utcnow() - RECENT), name, _page_url())
    return Response(body, mimetype=ICS, headers={"Content-Disposition": "inline"})


@blueprint.get(f"/updates/<int(max={limits.MAX_ID}):update_id>/event.ics")
def event_ics(update_id: int):
    update = db.session.get(Update, update_id)
    if update is None or update.event is None or not is_public(update):
        abort(404)
    return Response(
        calendar_of(update.event, _page_url()),
        mimetype=ICS,
        headers={"Content-Disposition": f'attachment; filename="event-{update_id}.ics"'},
    )
