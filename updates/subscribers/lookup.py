"""Subscribers by address: find one, or create it pending."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from updates.addresses import address_key
from updates.extensions import db
from updates.models import Subscriber, SubscriberStatus


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
