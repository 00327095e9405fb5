"""The public archive of published updates, a page for each, and Atom feeds."""

from __future__ import annotations

from datetime import UTC

from feedgen.feed import FeedGenerator
from flask import Response, abort, current_app, render_template, request, url_for

from updates import limits
from updates.edge import without_xml_errors as xml_text
from updates.errors import page_abort
from updates.extensions import db
from updates.models import Topic, Update, utcnow
from updates.news.finding import archive_page
from updates.news.publishing import published_updates
from updates.news.topics import public_topic, public_topics

from . import blueprint
from .forms import ArchiveForm


def _public_topic(slug: str | None) -> Topic | None:
    if not slug:
        return None
    return public_topic(slug) or abort(404)


@blueprint.get("/updates")
def archive():
    topic = _public_topic(request.args.get("topic"))
    form = ArchiveForm(request.args)
    shown = {"form": form, "topic": topic, "topics": public_topics()}
    if not form.validate():
        return render_template("archive.html", found=None, **shown), 400
    found = archive_page(topic, (form.q.data or "").strip(), form.page_number)
    return render_template("archive.html", found=found, **shown)


@blueprint.get(f"/updates/<int(max={limits.MAX_ID}):update_id>")
def show_update(update_id: int):
    update = db.session.get(Update, update_id)
    if update is None or not is_public(update):
        abort(404)
    if update.withdrawn_at is not None:
        page_abort("withdrawn.html", 410)
    return render_template("update.html", update=update)


def is_public(update: Update) -> bool:
    """Published, and in a public topic: news for hidden topics only is for their followers."""
    if update.published_at is None or update.published_at > utcnow():
        return False
    return any(topic.public and not topic.archived for topic in update.topics)


@blueprint.get("/updates.atom", defaults={"slug": None})
@blueprint.get("/topics/<slug>/updates.atom")
def feed(slug: str | None):
    topic = _public_topic(slug)
    base = current_app.config["BASE_URL"]
    name = current_app.config["ORG_NAME"]
    generator = FeedGenerator()
    self_url = base + request.path
    generator.id(self_url)
    generator.title(xml_text(f"{name}: {topic.name}" if topic else f"{name} updates"))
    generator.link(href=self_url, rel="self")
    generator.link(
        href=base + url_for(".archive", topic=topic.slug if topic else None), rel="alternate"
    )
    updates = published_updates(topic)
    generator.updated((updates[0].published_at if updates else utcnow()).replace(tzinfo=UTC))
    for update in reversed(updates):
        entry = generator.add_entry()
        link = base + url_for(".show_update", update_id=update.id)
        entry.id(link)
        # Text stored before the edge refused control characters would break the whole feed.
        entry.title(xml_text(update.title))
        entry.link(href=link)
        entry.published(update.published_at.replace(tzinfo=UTC))
        entry.updated((update.revised_at or update.published_at).replace(tzinfo=UTC))
        entry.content(xml_text(update.body_html), type="html")
        for item in update.topics:
            entry.category(term=item.slug, label=xml_text(item.name))
    return Response(generator.atom_str(pretty=True), mimetype="application/atom+xml")
