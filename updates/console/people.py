"""Subscribers: find them, add one by hand, revoke their links, erase them."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import consent
from ..addresses import address_key
from ..consent import Action, Evidence, Source
from ..extensions import db
from ..models import (
    ConsentEvent,
    Subscriber,
    SubscriberStatus,
    Subscription,
    Topic,
    utcnow,
)
from ..subscribers import find_or_create, is_suppressed
from ..subscriptions import erase, revoke_links
from ..topics import all_topics
from ..transaction import autocommit
from . import blueprint
from .access import admin_only, audit, staff_only
from .forms import AddSubscriberForm, ButtonForm, SubscriberFilterForm

SHOWN = 100

# -- data ------------------------------------------------------------------------------------
# These belong with updates/subscribers.py and updates/subscriptions.py; they are here while
# those modules are being changed by others.


@dataclass(frozen=True)
class Found:
    subscribers: list[Subscriber]
    total: int


def find_subscribers(text: str = "", topic_slug: str = "", status: str = "") -> Found:
    """Subscribers whose address contains `text`, following the topic, in the status; any if ''."""
    where = []
    if text:
        where.append(Subscriber.email_key.contains(address_key(text), autoescape=True))
    if topic_slug:
        followers = (
            select(Subscription.subscriber_id)
            .join(Topic, Topic.id == Subscription.topic_id)
            .where(Topic.slug == topic_slug)
        )
        where.append(Subscriber.id.in_(followers))
    if status:
        where.append(Subscriber.status == status)
    total = db.session.scalar(select(func.count()).select_from(Subscriber).where(*where))
    shown = db.session.scalars(
        select(Subscriber)
        .where(*where)
        .options(selectinload(Subscriber.subscriptions).selectinload(Subscription.topic))
        .order_by(Subscriber.id)
        .limit(SHOWN)
    )
    return Found(list(shown), total or 0)


class NotAddable(ValueError):
    """The address cannot be subscribed by hand."""


@dataclass(frozen=True)
class Added:
    subscriber: Subscriber
    topics: list[Topic]  # newly followed
    activated: bool  # was not active before

    @property
    def changed(self) -> bool:
        return bool(self.topics) or self.activated


def subscribe_by_hand(address: str, topic_slugs: list[str], basis: str) -> Added:
    """Make the address an active subscriber of these live topics, on the consent `basis`.

    Anything that changes is a consent event from staff whose statement is the basis.
    """
    try:
        return _subscribe_by_hand(address, topic_slugs, basis)
    except IntegrityError:  # a concurrent twin added the same subscription first
        return _subscribe_by_hand(address, topic_slugs, basis)


@autocommit
def _subscribe_by_hand(address: str, topic_slugs: list[str], basis: str) -> Added:
    basis = basis.strip()
    if not basis:
        raise NotAddable("Say on what basis this person agreed to be emailed.")
    if is_suppressed(address):
        raise NotAddable(
            "That address is on the suppression list (it bounced, complained, was erased or an "
            "admin suppressed it), so it cannot be subscribed."
        )
    wanted = set(topic_slugs)
    topics = [t for t in all_topics() if t.slug in wanted and not t.archived]
    if not topics or len(topics) != len(wanted):
        raise NotAddable("Choose one or more topics that exist and are not archived.")
    subscriber = find_or_create(address)
    followed = {s.topic_id for s in subscriber.subscriptions}
    added = [t for t in topics if t.id not in followed]
    for topic in added:
        subscriber.subscriptions.append(Subscription(topic=topic))
    activated = subscriber.status != SubscriberStatus.ACTIVE
    if activated:
        subscriber.status = SubscriberStatus.ACTIVE
        subscriber.confirmed_at = subscriber.confirmed_at or utcnow()
    if added or activated:
        consent.record(
            subscriber,
            Action.IMPORTED,
            Evidence(source=Source.STAFF),
            [t.slug for t in topics],
            consent.statement_for(basis),
        )
    db.session.flush()
    return Added(subscriber, added, activated)


# -- views -----------------------------------------------------------------------------------


@blueprint.route("/subscribers")
@staff_only
def subscribers():
    form = SubscriberFilterForm(request.args)
    form.topic.choices = {"": "Any topic", **{t.slug: t.name for t in all_topics()}}
    if not form.validate():
        return render_template("console/subscribers.html", form=form, found=None), 400
    found = find_subscribers((form.q.data or "").strip(), form.topic.data, form.status.data)
    return render_template("console/subscribers.html", form=form, found=found, shown=SHOWN)


def _person(subscriber_id: int) -> Subscriber:
    return db.session.get(Subscriber, subscriber_id) or abort(404)


@blueprint.route("/subscribers/<int:subscriber_id>")
@staff_only
def subscriber(subscriber_id: int):
    person = _person(subscriber_id)
    events = db.session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber_id)
        .order_by(ConsentEvent.id)
    ).all()
    return render_template(
        "console/subscriber.html", subscriber=person, events=events, button=ButtonForm()
    )


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
            result = subscribe_by_hand(form.email.data, form.topics.data, form.basis.data)
        except NotAddable as error:
            form.email.errors = [str(error)]
            return render_template("console/subscriber_add.html", form=form), 400
        person = result.subscriber
        if result.changed:
            # The id, not the address: the audit log outlives an erasure.
            audit("subscriber added", f"{person.id}: {', '.join(form.topics.data)}")
            db.session.commit()
            flash(f"{person.email} is an active subscriber of the topics chosen.")
        else:
            flash(f"{person.email} already follows those topics; nothing was changed.")
        return redirect(url_for(".subscriber", subscriber_id=person.id), code=303)
    return render_template("console/subscriber_add.html", form=form)


@blueprint.route("/subscribers/<int:subscriber_id>/revoke-links", methods=["POST"])
@staff_only
def revoke_subscriber_links(subscriber_id: int):
    person = _person(subscriber_id)
    if not ButtonForm().validate():
        abort(400)
    if person.status != SubscriberStatus.ERASED:  # erasure already revoked them
        revoke_links(person)
        audit("subscriber links revoked", str(subscriber_id))
        db.session.commit()
    flash(
        "Every link emailed to this subscriber so far has stopped working. "
        "They can ask for a new one on the manage page."
    )
    return redirect(url_for(".subscriber", subscriber_id=subscriber_id), code=303)


@blueprint.route("/subscribers/<int:subscriber_id>/erase", methods=["POST"])
@admin_only
def erase_subscriber(subscriber_id: int):
    person = _person(subscriber_id)
    if not ButtonForm().validate():
        abort(400)
    if person.status != SubscriberStatus.ERASED:
        erase(person, Evidence(source=Source.STAFF))
        audit("subscriber erased", str(subscriber_id))
        db.session.commit()
    flash("The subscriber's personal data has been erased.")
    return redirect(url_for(".subscriber", subscriber_id=subscriber_id), code=303)
