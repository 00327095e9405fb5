"""The subscriber list as staff use it: find subscribers, add one by hand."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from updates.addresses import address_key
from updates.extensions import db
from updates.models import (
    ConsentEvent,
    Delivery,
    Digest,
    Subscriber,
    SubscriberStatus,
    Subscription,
    Topic,
    utcnow,
)
from updates.news.topics import all_topics
from updates.paging import Page, paginate
from updates.subscribers import consent
from updates.subscribers.consent import Action, Evidence, Source
from updates.subscribers.lookup import find_or_create, left_without_confirming_since
from updates.subscribers.suppression import is_suppressed
from updates.transaction import autocommit

DELIVERIES_PER_PAGE = 25


def find_subscribers(text: str = "", topic_slug: str = "", status: str = "", page: int = 1) -> Page:
    """Subscribers whose address contains `text`, following the topic, in the status; any if ''.

    Newest first: ids grow with time, so the primary key's index orders them.
    """
    query = select(Subscriber)
    if text:
        query = query.where(Subscriber.email_key.contains(address_key(text), autoescape=True))
    if topic_slug:
        followers = (
            select(Subscription.subscriber_id)
            .join(Topic, Topic.id == Subscription.topic_id)
            .where(Topic.slug == topic_slug)
        )
        query = query.where(Subscriber.id.in_(followers))
    if status:
        query = query.where(Subscriber.status == status)
    query = query.options(
        selectinload(Subscriber.subscriptions).selectinload(Subscription.topic)
    ).order_by(Subscriber.id.desc())
    return paginate(query, page)


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

    Anything that changes is a consent event from staff whose statement is the basis. Like an
    import, it never brings back someone who unsubscribed, bounced or complained: only their own
    confirmation does.
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
            "That address is on the suppression list (it bounced, complained, unsubscribed long "
            "ago, was erased or an admin suppressed it), so it cannot be subscribed."
        )
    wanted = set(topic_slugs)
    topics = [t for t in all_topics() if t.slug in wanted and not t.archived]
    if not topics or len(topics) != len(wanted):
        raise NotAddable("Choose one or more topics that exist and are not archived.")
    subscriber = find_or_create(address)
    if _left(subscriber):
        raise NotAddable(
            "That person unsubscribed (or their mail bounced or they complained), so only they "
            "can come back: they can sign up again on the form and confirm."
        )
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
            Action.ADDED,
            Evidence(source=Source.STAFF),
            [t.slug for t in topics],
            consent.statement_for(basis),
        )
    db.session.flush()
    return Added(subscriber, added, activated)


def _left(subscriber: Subscriber) -> bool:
    """Whether the subscriber stopped and has not confirmed since, whatever the status says."""
    if subscriber.status == SubscriberStatus.PENDING:
        query = select(left_without_confirming_since()).where(Subscriber.id == subscriber.id)
        return bool(db.session.scalar(query))
    return subscriber.status not in (SubscriberStatus.PENDING, SubscriberStatus.ACTIVE)


def consent_trail(subscriber_id: int) -> list[ConsentEvent]:
    query = select(ConsentEvent).where(ConsentEvent.subscriber_id == subscriber_id)
    return list(db.session.scalars(query.order_by(ConsentEvent.id)))


@dataclass(frozen=True)
class Sent:
    digest_id: int
    subject: str
    status: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None


def deliveries_to(subscriber_id: int, page: int = 1) -> Page:
    """The digests addressed to the subscriber (as `Sent`), newest first, a page at a time."""
    query = (
        select(
            Delivery.digest_id,
            Digest.subject,
            Delivery.status,
            Delivery.attempts,
            Delivery.sent_at,
            Delivery.last_error,
        )
        .join(Digest, Digest.id == Delivery.digest_id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Delivery.id.desc())
    )
    found = paginate(query, page, DELIVERIES_PER_PAGE)
    return replace(found, items=[Sent(*row) for row in found.items])
