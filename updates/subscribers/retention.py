"""How long an address is kept once its owner has unsubscribed from everything.

After UNSUBSCRIBED_RETENTION_DAYS with nothing new from them, the address is reduced to its keyed
hash on the suppression list (reason `unsubscribed`): no sign-up they did not confirm and no
import can add them back, and their own confirmation of a new sign-up lifts it, as for any
suppression but an erasure. The row keeps no address (status `erased`), and its consent trail
stays, ending in a `forgotten` event, so the organisation can still show what was agreed to and
when it was withdrawn.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from updates.extensions import db
from updates.models import ConsentEvent, Subscriber, SubscriberStatus, SuppressionReason
from updates.subscribers import consent
from updates.subscribers.consent import Action, Evidence, Source
from updates.subscribers.preferences import keep_only_hash
from updates.transaction import autocommit

BATCH = 500  # people forgotten per transaction


@autocommit
def forget_unsubscribed(cutoff: datetime, limit: int = BATCH) -> int:
    """Reduce up to `limit` people unsubscribed with no word from them since `cutoff` to their
    address's hash; how many it did."""
    last_word = (
        select(func.max(ConsentEvent.created_at))
        .where(ConsentEvent.subscriber_id == Subscriber.id)
        .scalar_subquery()
    )
    stale = db.session.scalars(
        select(Subscriber)
        .where(
            Subscriber.status == SubscriberStatus.UNSUBSCRIBED,
            Subscriber.email.is_not(None),
            Subscriber.updated_at < cutoff,
            func.coalesce(last_word, Subscriber.updated_at) < cutoff,
        )
        .order_by(Subscriber.id)
        .limit(limit)
    ).all()
    for subscriber in stale:
        keep_only_hash(subscriber, SuppressionReason.UNSUBSCRIBED)
        subscriber.status = SubscriberStatus.ERASED
        consent.record(subscriber, Action.FORGOTTEN, Evidence(source=Source.RETENTION))
    return len(stale)
