"""Subscribers and the suppression list."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .addresses import address_hash, address_key
from .extensions import db
from .models import Subscriber, SubscriberStatus, Suppression


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


def is_suppressed(address: str) -> bool:
    query = select(Suppression.id).where(Suppression.email_hash == address_hash(address))
    return db.session.scalar(query) is not None


def followed_topic_ids(subscriber: Subscriber) -> set[int]:
    return {subscription.topic_id for subscription in subscriber.subscriptions}
