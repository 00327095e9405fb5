"""Dashboard charts, week by week: active subscribers per topic, and emails sent, drawn as
SVG on the server from the list's history (`updates.subscribers.history`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

from updates.models import utcnow
from updates.news.topics import all_topics
from updates.subscribers.history import WEEKS, Weeks, emails_sent_by_week, follows_by_week

# The Okabe-Ito colours, told apart with colour blindness; after seven topics, dashes too.
COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
DASHES = ("", "8 4", "2 4")


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


def subscribers_chart(weeks: Weeks) -> Chart:
    """Active subscribers of each live topic at the end of each week (this week: now)."""
    topics = [t for t in all_topics() if not t.archived]
    found = follows_by_week(weeks, {t.slug: t.id for t in topics})
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
    counts = emails_sent_by_week(weeks)
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
