"""Dashboard charts, week by week: active subscribers per topic, and emails sent.

Weeks run Monday to Sunday, UTC. Queries bucket rows into weeks with a CASE over the week
boundaries, which SQLite and PostgreSQL read alike, and group inside a subquery so that
PostgreSQL sees one expression to group by.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select

from updates.extensions import db
from updates.models import (
    ConsentEvent,
    Delivery,
    DeliveryStatus,
    Subscriber,
    SubscriberStatus,
    Subscription,
    utcnow,
)
from updates.news.topics import all_topics
from updates.subscribers.consent import Action

from . import blueprint

WEEKS = 12
# The Okabe-Ito colours, told apart with colour blindness; after seven topics, dashes too.
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
DASHES = ("", "8 4", "2 4")
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


@dataclass
class Series:
    name: str
    values: list[int]
    colour: str = COLOURS[0]
    dash: str = ""


@dataclass
class Chart:
    """A chart's data and the geometry of its SVG (a 640 by 280 viewBox)."""

    id: str
    title: str
    description: str
    y_label: str
    weeks: list[date]
    series: list[Series] = field(default_factory=list)
    kind: str = "line"  # or "bar"
    width: int = 640
    height: int = 280
    left: int = 64
    right: int = 16
    top: int = 16
    bottom: int = 56

    @property
    def y_ticks(self) -> list[int]:
        highest = max((v for s in self.series for v in s.values), default=0)
        step = _nice_step(highest)
        return list(range(0, max(step, math.ceil(highest / step) * step) + 1, step))

    @property
    def plot_width(self) -> int:
        return self.width - self.left - self.right

    @property
    def baseline(self) -> int:
        return self.height - self.bottom

    def x(self, i: int) -> float:
        """The centre of week i."""
        return round(self.left + (i + 0.5) * self.plot_width / len(self.weeks), 1)

    def y(self, value: int) -> float:
        span = self.baseline - self.top
        return round(self.baseline - value * span / self.y_ticks[-1], 1)

    def points(self, series: Series) -> str:
        return " ".join(f"{self.x(i)},{self.y(v)}" for i, v in enumerate(series.values))

    @property
    def bar_width(self) -> float:
        return round(self.plot_width / len(self.weeks) * 0.7, 1)


def _nice_step(highest: int) -> int:
    """A step of 1, 2 or 5 times a power of ten, giving at most five gridlines above zero."""
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            if highest <= 5 * step:
                return step
        magnitude *= 10


def _follows(weeks: Weeks, topic_ids: dict[str, int]) -> dict[int, dict[tuple[int, int], int]]:
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


def subscribers_chart(weeks: Weeks) -> Chart:
    """Active subscribers of each live topic at the end of each week (this week: now)."""
    topics = [t for t in all_topics() if not t.archived]
    found = _follows(weeks, {t.slug: t.id for t in topics})
    chart = Chart(
        "chart-subscribers",
        "Active subscribers per topic",
        f"Line chart of each topic's active subscribers at the end of each of the last {WEEKS} "
        "weeks. The table below it gives the same numbers.",
        "Active subscribers",
        [start.date() for start in weeks.starts],
    )
    for n, topic in enumerate(topics):
        spans = found.get(topic.id, {})
        values = [
            sum(count for (first, last), count in spans.items() if first <= k < last)
            for k in range(WEEKS)
        ]
        colour, dash = COLOURS[n % len(COLOURS)], DASHES[n // len(COLOURS) % len(DASHES)]
        chart.series.append(Series(topic.name, values, colour, dash))
    return chart


def emails_chart(weeks: Weeks) -> Chart:
    """Newsletter emails sent in each week."""
    sent = (
        select(weeks.bucket(Delivery.sent_at).label("week"))
        .where(Delivery.status == DeliveryStatus.SENT, Delivery.sent_at >= weeks.starts[0])
        .subquery()
    )
    grouped = select(sent.c.week, func.count()).group_by(sent.c.week)
    counts = dict(db.session.execute(grouped).all())
    return Chart(
        "chart-emails",
        "Emails sent per week",
        f"Bar chart of the newsletter emails sent in each of the last {WEEKS} weeks. "
        "The table below it gives the same numbers.",
        "Emails sent",
        [start.date() for start in weeks.starts],
        [Series("Emails sent", [counts.get(k, 0) for k in range(WEEKS)])],
        kind="bar",
    )


def dashboard_charts(now: datetime | None = None) -> list[Chart]:
    weeks = Weeks.ending(now or utcnow())
    return [subscribers_chart(weeks), emails_chart(weeks)]


@blueprint.context_processor
def _charts() -> dict[str, object]:
    # A function, not the charts: only the template that includes them runs the queries.
    return {"dashboard_charts": dashboard_charts}
