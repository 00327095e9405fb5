"""Announcing an update the moment it is published, to the readers who want every announcement.

The announcement is an ordinary digest of kind `announcement` carrying that one update, sent at
once, so the delivery engine does the work; later digests and schedules leave it out for those
it reached (`news/sent`).
"""

from __future__ import annotations

from sqlalchemy import exists, select

from updates.extensions import db
from updates.models import (
    Digest,
    DigestKind,
    Frequency,
    Subscriber,
    SubscriberStatus,
    Subscription,
    Update,
)
from updates.news.digests import create_digest, send
from updates.transaction import autocommit


def has_announcement_readers(topic_ids: list[int]) -> bool:
    """Does any active subscriber follow one of the topics for every announcement?"""
    readers = select(Subscription.subscriber_id).where(
        Subscription.topic_id.in_(topic_ids),
        Subscription.frequency == Frequency.EVERY_ANNOUNCEMENT,
    )
    found = exists().where(Subscriber.status == SubscriberStatus.ACTIVE, Subscriber.id.in_(readers))
    return bool(db.session.scalar(select(found)))


@autocommit
def announce(update: Update) -> Digest | None:
    """Send the published update to its topics' "every announcement" readers; None when there
    is nobody to tell, so no digest is made."""
    db.session.flush()  # the update has its id
    if not has_announcement_readers([topic.id for topic in update.topics]):
        return None
    slugs = [topic.slug for topic in update.topics]
    digest = create_digest(update.title, "", [update.id], slugs, DigestKind.ANNOUNCEMENT)
    send(digest)
    return digest
