"""Who was sent which update, read from the ledger: deliveries and their digests' updates.

Nothing is written for it: a delivery recorded as sent, joined to its digest's updates, says
which updates reached that reader. The join starts from the few digests that carried the
updates in question (digest_updates is indexed by update), so it reads the unique
(digest, subscriber) index of the ledger and never a reader's whole history.

A delivery still pending in an earlier digest that is being sent counts as sent too: two
digests carrying one update at the same time must not both reach a reader, and the earlier one
goes first. If that one is then cancelled, the reader misses the update rather than getting it
twice: each update reaches each reader at most once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select

from updates.extensions import db
from updates.models import (
    Delivery,
    DeliveryStatus,
    Digest,
    DigestStatus,
    DigestUpdate,
    Frequency,
    Subscriber,
    SubscriberStatus,
    Subscription,
    update_topics,
)

IN_FLIGHT = (DigestStatus.SENDING, DigestStatus.PAUSED)


def carriers(update_ids: list[int], digest_id: int | None = None) -> tuple[list[int], list[int]]:
    """Other digests that carried any of the updates: all of them, and the earlier ones (than
    `digest_id`) still being sent, whose pending deliveries count as sent."""
    if not update_ids:
        return [], []
    rows = db.session.execute(
        select(Digest.id, Digest.status)
        .where(
            Digest.id.in_(
                select(DigestUpdate.digest_id).where(DigestUpdate.update_id.in_(update_ids))
            )
        )
        .where(Digest.id != (digest_id or 0))
    ).all()
    every = [row_id for row_id, _ in rows]
    earlier = [
        row_id
        for row_id, status in rows
        if status in IN_FLIGHT and (digest_id is None or row_id < digest_id)
    ]
    return every, earlier


def reached(delivery: Any, every: list[int], earlier: list[int]) -> ColumnElement[bool]:
    """A condition on Delivery (or an alias): sent, or owed by an earlier digest in flight."""
    sent = and_(delivery.digest_id.in_(every), delivery.status == DeliveryStatus.SENT)
    if not earlier:
        return sent
    owed = and_(delivery.digest_id.in_(earlier), delivery.status == DeliveryStatus.PENDING)
    return or_(sent, owed)


def sent_to(subscriber_id: int, update_ids: list[int]) -> set[int]:
    """Which of the updates that reader was sent (or is being sent)."""
    every, earlier = carriers(update_ids)
    if not every:
        return set()
    rows = db.session.scalars(
        select(DigestUpdate.update_id)
        .join(Delivery, Delivery.digest_id == DigestUpdate.digest_id)
        .where(
            Delivery.subscriber_id == subscriber_id,
            DigestUpdate.update_id.in_(update_ids),
            reached(Delivery, every, earlier),
        )
    )
    return set(rows)


def lacking_someone(
    update_ids: list[int], topic_ids: list[int], announcement_readers: bool = False
) -> list[int]:
    """Those of the updates that at least one active follower of `topic_ids` (who follows one
    of the update's topics) was not sent; in the order given."""
    if not update_ids or not topic_ids:
        return []
    every, earlier = carriers(update_ids)
    lacking = []
    for update_id in update_ids:
        its_topics = select(update_topics.c.topic_id).where(
            update_topics.c.update_id == update_id, update_topics.c.topic_id.in_(topic_ids)
        )
        follower = select(Subscription.subscriber_id).where(Subscription.topic_id.in_(its_topics))
        if announcement_readers:
            follower = follower.where(Subscription.frequency == Frequency.EVERY_ANNOUNCEMENT)
        had_it = (
            select(Delivery.subscriber_id)
            .join(DigestUpdate, DigestUpdate.digest_id == Delivery.digest_id)
            .where(DigestUpdate.update_id == update_id, reached(Delivery, every, earlier))
        )
        conditions = [Subscriber.status == SubscriberStatus.ACTIVE, Subscriber.id.in_(follower)]
        if every:
            conditions.append(~Subscriber.id.in_(had_it))
        someone = exists().where(*conditions)
        if db.session.scalar(select(someone)):
            lacking.append(update_id)
    return lacking
