"""Correcting a published update (its event too), with its history shown; cancelling its event
and withdrawing it (after asking)."""

from __future__ import annotations

from datetime import datetime

from flask import abort, render_template, request, url_for
from flask_login import current_user

from updates.extensions import db
from updates.models import Update
from updates.news import corrections, events
from updates.news.publishing import ContentError, render_markdown
from updates.news.topics import all_topics
from updates.transaction import transaction

from . import blueprint
from .access import audit, done, staff_only
from .confirm import ask, confirmed
from .forms import UpdateForm


def _update(update_id: int) -> Update:
    update = db.session.get(Update, update_id)
    if update is None:
        abort(404)
    return update


@blueprint.route("/updates/<int:update_id>", methods=["GET", "POST"])
@staff_only
def update_edit(update_id: int):
    update = _update(update_id)
    form = UpdateForm() if request.method == "POST" else _filled(update)
    form.topics.choices = {
        t.slug: t.name for t in all_topics() if not t.archived or t in update.topics
    }
    if request.method == "POST" and update.withdrawn_at is not None:
        return _render(update, form), 409
    if request.method == "POST" and request.form.get("action") == "preview":
        form.validate()
        return _render(update, form, preview=render_markdown(form.body.data or "")), 200
    if request.method == "POST":
        if not form.validate():
            return _render(update, form), 400
        try:
            event = _event_from(update, form)
        except ContentError as error:
            form.is_event.errors = [f"The event: {error}."]
            return _render(update, form), 400
        try:
            with transaction():
                changed = corrections.edit_update(
                    update, current_user.id, form.title.data, form.body.data, form.topics.data
                )
                if event is not _UNCHANGED:
                    changed = events.change_event(update, event) or changed
                if changed:
                    audit("update corrected", f"{update.id}: {update.title}")
        except ContentError as error:
            form.body.errors = [str(error)]
            return _render(update, form), 400
        message = f"Corrected “{update.title}”." if changed else "Nothing had changed."
        return done(message, ".update_edit", update_id=update.id)
    return _render(update, form)


_UNCHANGED = object()


def _event_from(update: Update, form: UpdateForm) -> object:
    """The event the form describes; a cancelled event's fields are not on the form."""
    if update.event is not None and update.event.cancelled_at is not None:
        return _UNCHANGED
    values = form.event_values()
    return events.details_from(values) if values is not None else None


def _filled(update: Update) -> UpdateForm:
    form = UpdateForm(formdata=None)
    form.title.data = update.title
    form.body.data = update.body_markdown
    form.topics.data = [topic.slug for topic in update.topics]
    if update.event is not None:
        local = events.event_json(update.event)
        form.is_event.data = True
        form.starts.data = datetime.fromisoformat(local["start"])
        form.ends.data = datetime.fromisoformat(local["end"])
        form.timezone.data = update.event.timezone
        form.place.data = update.event.place
        form.online_url.data = update.event.online_url
        form.booking_url.data = update.event.booking_url
    return form


def _render(update: Update, form: UpdateForm, preview: str | None = None) -> str:
    topics = {topic.id: topic.name for topic in all_topics()}
    return render_template(
        "console/update_edit.html",
        update=update,
        form=form,
        preview=preview,
        history=corrections.history(update),
        topic_names=topics,
    )


@blueprint.route("/updates/<int:update_id>/cancel-event", methods=["POST"])
@staff_only
def event_cancel(update_id: int):
    update = _update(update_id)
    if update.event is None or update.withdrawn_at is not None:
        abort(409)
    if not confirmed():
        return ask(
            f"Cancel the event “{update.title}”?",
            "Yes, cancel the event",
            url_for(".update_edit", update_id=update.id),
            details=(
                "Its page and the event lists will say it is cancelled, and calendars that "
                "have it drop it the next time they read its file or the feed.",
                "The next digest for its topics tells the readers who were sent it, once.",
            ),
            danger=True,
        )
    with transaction():
        if events.cancel_event(update):
            audit("event cancelled", f"{update.id}: {update.title}")
    return done(f"Cancelled the event “{update.title}”.", ".update_edit", update_id=update.id)


@blueprint.route("/updates/<int:update_id>/withdraw", methods=["POST"])
@staff_only
def update_withdraw(update_id: int):
    update = _update(update_id)
    if not confirmed():
        return ask(
            f"Withdraw “{update.title}”?",
            "Yes, withdraw it",
            url_for(".update_edit", update_id=update.id),
            details=(
                "Its public page will say it was withdrawn (410 Gone), and it leaves the "
                "archive and the feeds.",
                "Drafts and scheduled digests that carry it lose it; digests already sending or "
                "sent keep their copy.",
            ),
            danger=True,
        )
    with transaction():
        withdrawal = corrections.withdraw_update(update)
        if withdrawal is not None:
            audit("update withdrawn", withdrawn_detail(update, withdrawal))
    message = f"Withdrew “{update.title}”."
    if withdrawal and withdrawal.dropped_from:
        count = len(withdrawal.dropped_from)
        message += f" It was taken out of {count} digest{'' if count == 1 else 's'} not yet sent."
    if withdrawal and withdrawal.back_to_draft:
        message += " A scheduled digest left with no update went back to being a draft."
    return done(message, ".updates")


def withdrawn_detail(update: Update, withdrawal: corrections.Withdrawal) -> str:
    detail = f"{update.id}: {update.title}"
    if withdrawal.dropped_from:
        detail += "; taken out of digests " + ", ".join(map(str, withdrawal.dropped_from))
    return detail
