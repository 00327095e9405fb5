"""The list's history, week by week: follows per topic, and newsletter emails sent.

Weeks run Monday to Sunday, UTC. Queries bucket rows into weeks with a CASE over the week
boundaries, which SQLite and PostgreSQL read alike, and group inside a subquery so that
PostgreSQL sees one expression to group by.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select

from updates.extensions import db
from updates.models import (
    ConsentEvent,
    Delivery,
    DeliveryStatus,
    Subscriber,
    SubscriberStatus,
    Subscription,
)
from updates.subscribers.consent import Action

WEEKS = 12
STOPPED = (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)


@dataclass(frozen=True)
class Weeks:
    """The last WEEKS weeks, this one included: their Mondays, oldest first."""

    starts: tuple[datetime, ...]

    @classmethod
    def ending(cls, now: datetime) -> Weeks:
        monday = datetime.combine(now.date() - timedelta(days=now.weekday()), datetime.min.time())
        return cls(tuple(monday - timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)))

    @property
    def edges(self) -> tuple[datetime, ...]:
        return (*self.starts, self.starts[-1] + timedelta(weeks=1))

    def index(self, moment: datetime) -> int:
        """-1 before the first week, then 0 … WEEKS-1, WEEKS after the last."""
        return bisect_right(self.edges, moment) - 1

    def bucket(self, column: ColumnElement[datetime]) -> ColumnElement[int]:
        """The same as `index`, in SQL."""
        return case(*((column < edge, i - 1) for i, edge in enumerate(self.edges)), else_=WEEKS)


def follows_by_week(
    weeks: Weeks, topic_ids: dict[str, int]
) -> dict[int, dict[tuple[int, int], int]]:
    """Per topic id: (week begun, week ended) → how many follows; WEEKS for "not ended"."""
    week = weeks.bucket
    current = (
        select(
            Subscription.topic_id,
            week(Subscription.created_at).label("first_week"),
            case(
                (Subscriber.status == SubscriberStatus.ACTIVE, WEEKS),
                else_=week(Subscriber.updated_at),  # when they bounced or complained, roughly
            ).label("last_week"),
        )
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(Subscriber.status.in_([SubscriberStatus.ACTIVE, *STOPPED]))
        .subquery()
    )
    spans = [current.c.topic_id, current.c.first_week, current.c.last_week]
    found: dict[int, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    for topic_id, first, last, count in db.session.execute(
        select(*spans, func.count()).group_by(*spans)
    ):
        found[topic_id][(first, last)] += count

    # A follow that ended is gone from subscriptions; its "unsubscribed" event brings it back,
    # counted from the person's first confirmation (when they began the topic is not kept).
    left = (
        select(
            ConsentEvent.subscriber_id,
            ConsentEvent.topics,
            ConsentEvent.created_at,
            func.coalesce(Subscriber.confirmed_at, Subscriber.created_at),
        )
        .join(Subscriber, Subscriber.id == ConsentEvent.subscriber_id)
        .where(
            ConsentEvent.action == Action.UNSUBSCRIBED,
            ConsentEvent.created_at >= weeks.edges[1],  # earlier ones change no point
        )
    )
    ended: dict[tuple[int, int], tuple[int, int]] = {}
    for subscriber_id, slugs, at, since in db.session.execute(left):
        first, last = weeks.index(since), weeks.index(at)
        for key in ((subscriber_id, topic_ids[s]) for s in slugs or [] if s in topic_ids):
            ended[key] = (first, max(last, ended.get(key, (first, last))[1]))
    for (_, topic_id), span in ended.items():
        found[topic_id][span] += 1
    return found


def emails_sent_by_week(weeks: Weeks) -> dict[int, int]:
    """Week index → newsletter emails sent in it."""
    sent = (
        select(weeks.bucket(Delivery.sent_at).label("week"))
        .where(Delivery.status == DeliveryStatus.SENT, Delivery.sent_at >= weeks.starts[0])
        .subquery()
    )
    grouped = select(sent.c.week, func.count()).group_by(sent.c.week)
    return dict(db.session.execute(grouped).all())
