"""The dashboard, writing updates and composing digests."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from sqlalchemy import select

from updates import limits, queues
from updates.extensions import db
from updates.models import (
    Digest,
    Update,
)
from updates.news import digests
from updates.news.publishing import ContentError, create_update, render_markdown
from updates.news.topics import active_subscriber_counts, all_topics
from updates.transaction import transaction

from . import blueprint
from .access import audit, done, staff_only
from .forms import DigestForm, UpdateForm


@blueprint.url_value_preprocessor
def _ids_in_range(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An id too large for its column names nothing: 404, rather than PostgreSQL's refusal."""
    if values and any(isinstance(v, int) and v > limits.MAX_ID for v in values.values()):
        abort(404)


@blueprint.route("/")
@staff_only
def dashboard():
    recent = db.session.scalars(select(Digest).order_by(Digest.id.desc()).limit(10)).all()
    return render_template(
        "console/dashboard.html",
        topics=all_topics(),
        counts=active_subscriber_counts(),
        digests=[(d, digests.progress(d.id)) for d in recent],
        health=queues.health(),
    )


@blueprint.route("/updates", methods=["GET", "POST"])
@staff_only
def updates():
    form = UpdateForm()
    form.topics.choices = {t.slug: t.name for t in all_topics() if not t.archived}
    if request.method == "POST" and request.form.get("action") == "preview":
        return _preview_update(form)
    if request.method == "POST":
        if not form.validate():
            return _render_updates(form), 400
        try:
            with transaction():
                update = create_update(form.title.data, form.body.data, form.topics.data)
                audit("update published", f"{update.id}: {update.title}")
        except ContentError as error:
            form.body.errors = [str(error)]
            return _render_updates(form), 400
        return done(f"Published “{update.title}”.", ".updates")
    return _render_updates(form)


def _preview_update(form: UpdateForm) -> tuple[str, int]:
    """The body as subscribers will read it, beside the form still filled in; nothing is saved."""
    form.validate()
    if form.csrf_token.errors or form.body.errors:
        return _render_updates(form), 400
    form.title.errors = form.topics.errors = []  # these can wait until publishing
    return _render_updates(form, preview=render_markdown(form.body.data)), 200


def _render_updates(form: UpdateForm, preview: str | None = None) -> str:
    recent = db.session.scalars(select(Update).order_by(Update.id.desc()).limit(50)).all()
    return render_template("console/updates.html", form=form, updates=recent, preview=preview)


@blueprint.route("/digests", methods=["GET", "POST"])
@staff_only
def digest_list():
    form = DigestForm()
    form.topics.choices = {
        t.slug: t.name + ("" if t.public else " (hidden)") for t in all_topics() if not t.archived
    }
    recent_updates = list(
        db.session.scalars(
            select(Update)
            .where(Update.published_at.is_not(None))
            .order_by(Update.id.desc())
            .limit(50)
        )
    )
    form.updates.choices = {u.id: u.title for u in recent_updates}
    if request.method == "GET":
        form.updates.data = digests.unsent_updates(recent_updates)
    if request.method == "POST":
        if not form.validate():
            return _render_digests(form, recent_updates), 400
        try:
            with transaction():
                digest = digests.create_digest(
                    form.subject.data,
                    form.intro.data or "",
                    form.updates.data,
                    form.topics.data,
                    form.kind.data,
                )
                audit("digest composed", f"{digest.id}: {digest.subject}")
        except ContentError as error:
            form.subject.errors = [str(error)]
            return _render_digests(form, recent_updates), 400
        return redirect(url_for(".digest_detail", digest_id=digest.id), code=303)
    return _render_digests(form, recent_updates)


def _render_digests(form: DigestForm, recent_updates: list[Update]) -> str:
    recent = db.session.scalars(select(Digest).order_by(Digest.id.desc()).limit(50)).all()
    return render_template(
        "console/digests.html", form=form, digests=recent, updates=recent_updates
    )
