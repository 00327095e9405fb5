"""Subscribers: find them, add one by hand, revoke their links, erase them."""

from __future__ import annotations

from flask import abort, render_template, request, url_for

from updates.extensions import db
from updates.forms import ButtonForm, PagedForm
from updates.models import (
    Subscriber,
    SubscriberStatus,
)
from updates.news.topics import all_topics
from updates.subscribers.consent import Evidence, Source
from updates.subscribers.directory import (
    NotAddable,
    consent_trail,
    deliveries_to,
    find_subscribers,
    subscribe_by_hand,
)
from updates.subscribers.preferences import erase, revoke_links
from updates.transaction import transaction

from . import blueprint
from .access import admin_only, audit, done, staff_only
from .confirm import ask, confirmed
from .forms import AddSubscriberForm, SubscriberFilterForm


@blueprint.route("/subscribers")
@staff_only
def subscribers():
    form = SubscriberFilterForm(request.args)
    form.topic.choices = {"": "Any topic", **{t.slug: t.name for t in all_topics()}}
    if not form.validate():
        return render_template("console/subscribers.html", form=form, found=None), 400
    found = find_subscribers(
        (form.q.data or "").strip(), form.topic.data, form.status.data, form.page_number
    )
    return render_template("console/subscribers.html", form=form, found=found)


def _person(subscriber_id: int) -> Subscriber:
    return db.session.get(Subscriber, subscriber_id) or abort(404)


@blueprint.route("/subscribers/<int:subscriber_id>")
@staff_only
def subscriber(subscriber_id: int):
    paging = PagedForm(request.args)
    valid = paging.validate()
    page = render_template(
        "console/subscriber.html",
        subscriber=_person(subscriber_id),
        events=consent_trail(subscriber_id),
        deliveries=deliveries_to(subscriber_id, paging.page_number if valid else 1),
        paging=paging,
        button=ButtonForm(),
    )
    return page, 200 if valid else 400


def _add_form() -> AddSubscriberForm:
    form = AddSubscriberForm()
    form.topics.choices = {
        t.slug: t.name + ("" if t.public else " (hidden)") for t in all_topics() if not t.archived
    }
    return form


@blueprint.route("/subscribers/add", methods=["GET", "POST"])
@staff_only
def add_subscriber():
    form = _add_form()
    if request.method == "POST":
        if not form.validate():
            return render_template("console/subscriber_add.html", form=form), 400
        try:
            with transaction():
                result = subscribe_by_hand(form.email.data, form.topics.data, form.basis.data)
                person = result.subscriber
                if result.changed:
                    # The id, not the address: the audit log outlives an erasure.
                    audit("subscriber added", f"{person.id}: {', '.join(form.topics.data)}")
        except NotAddable as error:
            form.email.errors = [str(error)]
            return render_template("console/subscriber_add.html", form=form), 400
        if result.changed:
            message = f"{person.email} is an active subscriber of the topics chosen."
        else:
            message = f"{person.email} already follows those topics; nothing was changed."
        return done(message, ".subscriber", subscriber_id=person.id)
    return render_template("console/subscriber_add.html", form=form)


@blueprint.route("/subscribers/<int:subscriber_id>/revoke-links", methods=["POST"])
@staff_only
def revoke_subscriber_links(subscriber_id: int):
    person = _person(subscriber_id)
    with transaction():
        if person.status != SubscriberStatus.ERASED:  # erasure already revoked them
            revoke_links(person)
            audit("subscriber links revoked", str(subscriber_id))
    return done(
        "Every link emailed to this subscriber so far has stopped working. "
        "They can ask for a new one on the manage page.",
        ".subscriber",
        subscriber_id=subscriber_id,
    )


@blueprint.route("/subscribers/<int:subscriber_id>/erase", methods=["POST"])
@admin_only
def erase_subscriber(subscriber_id: int):
    person = _person(subscriber_id)
    if person.status != SubscriberStatus.ERASED and not confirmed():
        return ask(
            f"Erase {person.email}'s personal data?",
            "Yes, erase it",
            url_for(".subscriber", subscriber_id=subscriber_id),
            details=(
                "Their address goes for good, their subscriptions end and no email will ever "
                "reach them again; only a keyed hash stays on the suppression list.",
                "This cannot be undone.",
            ),
            danger=True,
        )
    with transaction():
        if person.status != SubscriberStatus.ERASED:
            erase(person, Evidence(source=Source.STAFF))
            audit("subscriber erased", str(subscriber_id))
    message = "The subscriber's personal data has been erased."
    return done(message, ".subscriber", subscriber_id=subscriber_id)
