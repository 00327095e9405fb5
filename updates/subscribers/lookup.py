"""Subscribers by address: find one, or create it pending; and who left without coming back."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from updates.addresses import address_key
from updates.extensions import db
from updates.models import ConsentEvent, Subscriber, SubscriberStatus
from updates.subscribers.consent import Action


def find_by_address(address: str) -> Subscriber | None:
    query = select(Subscriber).where(Subscriber.email_key == address_key(address))
    return db.session.scalar(query)


def find_or_create(address: str) -> Subscriber:
    """The subscriber for this address, created pending if new; safe against a concurrent twin."""
    subscriber = find_by_address(address)
    if subscriber is not None:
        return subscriber
    try:
        with db.session.begin_nested():
            subscriber = Subscriber(
                email=address, email_key=address_key(address), status=SubscriberStatus.PENDING
            )
            db.session.add(subscriber)
    except IntegrityError:
        subscriber = find_by_address(address)
        assert subscriber is not None
    return subscriber


def followed_topic_ids(subscriber: Subscriber) -> set[int]:
    return {subscription.topic_id for subscription in subscriber.subscriptions}


def left_without_confirming_since() -> ColumnElement[bool]:
    """True for a subscriber whose trail has them unsubscribing and not confirming since.

    It finds those whom an unconfirmed sign-up once turned from unsubscribed to pending: their
    status says pending, their trail says they left.
    """
    left, since = aliased(ConsentEvent), aliased(ConsentEvent)
    confirmed_since = select(since.id).where(
        since.subscriber_id == left.subscriber_id,
        since.action == Action.CONFIRMED,
        since.id > left.id,
    )
    return (
        select(left.id)
        .where(
            left.subscriber_id == Subscriber.id,
            left.action == Action.UNSUBSCRIBED,
            ~confirmed_since.exists(),
        )
        .exists()
    )
