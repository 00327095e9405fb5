"""The dashboard, writing updates and composing digests."""

from __future__ import annotations

from typing import Any

from flask import abort, redirect, render_template, request, url_for

from updates import limits, queues
from updates.models import (
    Update,
)
from updates.news import digests, events
from updates.news.announcements import announce
from updates.news.finding import find_digests, find_updates, offerable_updates
from updates.news.publishing import ContentError, create_update, render_markdown
from updates.news.topics import active_subscriber_counts, all_topics
from updates.transaction import transaction

from . import blueprint
from .access import audit, done, staff_only
from .charts import dashboard_charts
from .forms import DigestFilterForm, DigestForm, UpdateFilterForm, UpdateForm


@blueprint.url_value_preprocessor
def _ids_in_range(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An id too large for its column names nothing: 404, rather than PostgreSQL's refusal."""
    if values and any(isinstance(v, int) and v > limits.MAX_ID for v in values.values()):
        abort(404)


@blueprint.route("/")
@staff_only
def dashboard():
    recent = digests.recent_digests(10)
    return render_template(
        "console/dashboard.html",
        topics=all_topics(),
        counts=active_subscriber_counts(),
        digests=[(d, digests.progress(d.id)) for d in recent],
        charts=dashboard_charts(),
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
            return _render_updates(form, status=400)
        try:
            event = form.event_values()
            details = events.details_from(event) if event is not None else None
        except ContentError as error:
            form.is_event.errors = [f"The event: {error}."]
            return _render_updates(form, status=400)
        try:
            with transaction():
                update = create_update(form.title.data, form.body.data, form.topics.data)
                events.set_event(update, details)
                announcement = announce(update) if form.announce.data else None
                announced = f" (announced: digest {announcement.id})" if announcement else ""
                audit("update published", f"{update.id}: {update.title}{announced}")
        except ContentError as error:
            form.body.errors = [str(error)]
            return _render_updates(form, status=400)
        announcing = ", and announcing it now" if announcement is not None else ""
        return done(f"Published “{update.title}”{announcing}.", ".updates")
    return _render_updates(form)


def _preview_update(form: UpdateForm) -> tuple[str, int]:
    """The body as subscribers will read it, beside the form still filled in; nothing is saved."""
    form.validate()
    if form.csrf_token.errors or form.body.errors:
        return _render_updates(form, status=400)
    form.title.errors = form.topics.errors = []  # these can wait until publishing
    return _render_updates(form, preview=render_markdown(form.body.data))


def _render_updates(
    form: UpdateForm, preview: str | None = None, status: int = 200
) -> tuple[str, int]:
    """The page: the form to write an update, and the updates its query string asks for."""
    filters = UpdateFilterForm(request.args)
    filters.topic.choices = _any_topic()
    found = None
    if filters.validate():
        text = (filters.q.data or "").strip()
        found = find_updates(text, filters.topic.data, filters.state.data, filters.page_number)
    page = render_template(
        "console/updates.html", form=form, filters=filters, found=found, preview=preview
    )
    return page, status if found is not None else 400


def _any_topic() -> dict[str, str]:
    """A list filter's topics: any, or one of them, archived ones included."""
    return {"": "Any topic", **{t.slug: t.name for t in all_topics()}}


@blueprint.route("/digests", methods=["GET", "POST"])
@staff_only
def digest_list():
    form = DigestForm()
    published = composer_choices(form)
    if request.method == "GET":
        form.updates.data = digests.unsent_updates(published)
    elif request.form.get("action") == "find":
        return _render_digests(form, published, status=200 if form.find.validate(form) else 400)
    else:
        if not form.validate() or not updates_fit_topics(form, published):
            return _render_digests(form, published, status=400)
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
            return _render_digests(form, published, status=400)
        return redirect(url_for(".digest_detail", digest_id=digest.id), code=303)
    return _render_digests(form, published)


def composer_choices(form: DigestForm) -> list[Update]:
    """Fill the composer's choices: topics not archived, and the published updates it offers.

    Those are the latest, or those whose title holds what was asked for, and those already
    chosen: an older update found once stays on offer while the digest is composed.
    """
    form.topics.choices = {
        t.slug: t.name + ("" if t.public else " (hidden)") for t in all_topics() if not t.archived
    }
    chosen = [i for i in form.updates.data or [] if isinstance(i, int) and 0 < i <= limits.MAX_ID]
    text = (form.find.data or "").strip()[: limits.UPDATE_TITLE]
    published = offerable_updates(text, chosen)
    form.updates.choices = {u.id: u.title for u in published}
    return published


def updates_fit_topics(form: DigestForm, published: list[Update]) -> bool:
    """Every update chosen is for one of the topics chosen; else say which are not."""
    chosen = set(form.topics.data or [])
    stray = [
        u.title
        for u in published
        if u.id in (form.updates.data or []) and not chosen & {t.slug for t in u.topics}
    ]
    if stray:
        form.updates.errors = [
            f"Not for any of the topics chosen, so nobody would see it: {'; '.join(stray)}."
        ]
    return not stray


def _render_digests(
    form: DigestForm, published: list[Update], status: int = 200
) -> tuple[str, int]:
    """The page: the composer, and the digests its query string asks for."""
    filters = DigestFilterForm(request.args)
    filters.topic.choices = _any_topic()
    found = None
    if filters.validate():
        text = (filters.q.data or "").strip()
        found = find_digests(text, filters.topic.data, filters.status.data, filters.page_number)
    page = render_template(
        "console/digests.html",
        form=form,
        filters=filters,
        found=found,
        updates=published,
        unsent=set(digests.unsent_updates(published)),
    )
    return page, status if found is not None else 400
