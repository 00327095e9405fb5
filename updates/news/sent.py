"""Who was sent which update, read from the ledger: each sent delivery names its variant, and a
variant lists the updates it held (a reader's copy holds only their topics' sections, less what
they had). A delivery sent before variants were recorded counts as holding every update of its
digest. Nothing is written per update per reader.

The reads start from the few digests that carried the updates in question (digest_updates is
indexed by update), so they use the unique (digest, subscriber) index of the ledger and never
read a reader's whole history.

A delivery still pending in another digest that is being sent, and started sending first, counts
as sent too: two digests carrying one update at the same time must not both reach a reader, and
the one that started first goes first. If that one is then cancelled, the reader misses the
update rather than getting it twice: each update reaches each reader at most once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, literal, or_, select, union_all

from updates.extensions import db
from updates.models import (
    Delivery,
    DeliveryStatus,
    Digest,
    DigestStatus,
    DigestUpdate,
    Event,
    Frequency,
    Subscriber,
    SubscriberStatus,
    Subscription,
    update_topics,
    variant_updates,
)

IN_FLIGHT = (DigestStatus.SENDING, DigestStatus.PAUSED)


def carriers(update_ids: list[int], digest_id: int | None = None) -> tuple[list[int], list[int]]:
    """Other digests that carried any of the updates: all of them, and those still being sent
    that started before `digest_id` did (all of them when it is None), whose pending deliveries
    count as sent."""
    if not update_ids:
        return [], []
    carrying = select(DigestUpdate.digest_id).where(DigestUpdate.update_id.in_(update_ids))
    rows = db.session.execute(
        select(Digest.id, Digest.status, Digest.started_at).where(
            Digest.id.in_(carrying), Digest.id != (digest_id or 0)
        )
    ).all()
    mine = db.session.scalar(select(Digest.started_at).where(Digest.id == digest_id))
    ours = (mine or datetime.max, digest_id or 0)
    every = [row_id for row_id, _, _ in rows]
    earlier = [
        row_id
        for row_id, status, started in rows
        if status in IN_FLIGHT and (digest_id is None or (started or datetime.max, row_id) < ours)
    ]
    return every, earlier


def reached(delivery: Any, every: list[int], earlier: list[int]) -> ColumnElement[bool]:
    """A condition on Delivery: sent, or owed by a digest in flight that started first."""
    sent = and_(delivery.digest_id.in_(every), delivery.status == DeliveryStatus.SENT)
    if not earlier:
        return sent
    owed = and_(delivery.digest_id.in_(earlier), delivery.status == DeliveryStatus.PENDING)
    return or_(sent, owed)


def _since_any_cancellation(delivery: Any, update_id: Any) -> ColumnElement[bool]:
    """A condition on a delivery of an update: not an event cancelled after it was sent."""
    cancelled_after = exists().where(
        Event.update_id == update_id,
        Event.cancelled_at.is_not(None),
        or_(delivery.sent_at.is_(None), delivery.sent_at < Event.cancelled_at),
        delivery.status == DeliveryStatus.SENT,
    )
    return ~cancelled_after


def received(
    update_ids: list[int], every: list[int], earlier: list[int], readers: Select | None = None
) -> Select:
    """(subscriber_id, update_id) for each of the updates a reader was sent, or is owed by a
    digest in flight that started first; only for `readers` (a select of ids), if given."""
    by_variant = (
        select(Delivery.subscriber_id, variant_updates.c.update_id)
        .join(variant_updates, variant_updates.c.variant_id == Delivery.variant_id)
        .where(
            Delivery.digest_id.in_(every),
            Delivery.status == DeliveryStatus.SENT,
            variant_updates.c.update_id.in_(update_ids),
            _since_any_cancellation(Delivery, variant_updates.c.update_id),
        )
    )
    by_digest = (
        select(Delivery.subscriber_id, DigestUpdate.update_id)
        .join(DigestUpdate, DigestUpdate.digest_id == Delivery.digest_id)
        .where(
            Delivery.variant_id.is_(None),
            DigestUpdate.update_id.in_(update_ids),
            reached(Delivery, every, earlier),
            _since_any_cancellation(Delivery, DigestUpdate.update_id),
        )
    )
    if readers is not None:
        by_variant = by_variant.where(Delivery.subscriber_id.in_(readers))
        by_digest = by_digest.where(Delivery.subscriber_id.in_(readers))
    return union_all(by_variant, by_digest)


def sent_to(subscriber_id: int, update_ids: list[int], digest_id: int | None = None) -> set[int]:
    """Which of the updates that reader was sent (or is being sent), by digests other than
    `digest_id`."""
    every, earlier = carriers(update_ids, digest_id)
    if not every:
        return set()
    had = received(update_ids, every, earlier, select(literal(subscriber_id))).subquery()
    return set(db.session.scalars(select(had.c.update_id)))


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
        conditions = [Subscriber.status == SubscriberStatus.ACTIVE, Subscriber.id.in_(follower)]
        if every:
            had = received([update_id], every, earlier).subquery()
            conditions.append(~Subscriber.id.in_(select(had.c.subscriber_id)))
        if db.session.scalar(select(exists().where(*conditions))):
            lacking.append(update_id)
    return lacking
