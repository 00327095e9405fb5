"""Dashboard charts: active subscribers per topic and emails sent, week by week, as SVG."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import PASSWORD, page, sign_in
from updates.extensions import db
from updates.models import (
    ConsentEvent,
    Delivery,
    Subscriber,
    Subscription,
    Topic,
    utcnow,
)
from updates.staff.accounts import add_staff
from updates.subscribers.history import WEEKS, Weeks

NOW = utcnow()


def weeks_ago(n: int) -> datetime:
    """The same moment n weeks back: always in the chart's week WEEKS - 1 - n."""
    return NOW - timedelta(weeks=n)


def person(email: str, status: str, since: datetime, changed: datetime | None = None) -> int:
    subscriber = Subscriber(
        email=email,
        email_key=email,
        status=status,
        created_at=since,
        confirmed_at=since,
        updated_at=changed or since,
    )
    db.session.add(subscriber)
    db.session.flush()
    return subscriber.id


def following(subscriber_id: int, topic: Topic, since: datetime) -> None:
    db.session.add(Subscription(subscriber_id=subscriber_id, topic_id=topic.id, created_at=since))


def left(subscriber_id: int, slugs: list[str], at: datetime) -> None:
    db.session.add(
        ConsentEvent(
            subscriber_id=subscriber_id,
            action="unsubscribed",
            source="link",
            topics=slugs,
            created_at=at,
        )
    )


@pytest.fixture
def editor(app):
    add_staff("editor@example.org", "editor", PASSWORD)
    client = app.test_client()
    sign_in(client, "editor@example.org")
    return client


def chart_table(html, chart_id: str) -> dict[str, dict[str, int]]:
    """The chart's data table: week (ISO date of its Monday) → column → number."""
    table = html.find(id=chart_id).find("details").find("table")
    columns = [th.get_text(strip=True) for th in table.thead.find_all("th")][1:]
    return {
        row.th.time["datetime"]: {
            column: int(td.get_text())
            for column, td in zip(columns, row.find_all("td"), strict=True)
        }
        for row in table.tbody.find_all("tr")
    }


def test_active_subscribers_per_topic_week_by_week(editor):
    topics = create_topics("events", "care", "old")
    db.session.execute(update(Topic).where(Topic.slug == "old").values(archived=True))
    ada = person("ada@example.org", "active", weeks_ago(10))
    following(ada, topics["events"], weeks_ago(10))
    bob = person("bob@example.org", "active", weeks_ago(3))
    following(bob, topics["events"], weeks_ago(3))
    # Followed both since before the chart begins; left events five weeks ago, care two ago.
    cat = person("cat@example.org", "unsubscribed", weeks_ago(20))
    left(cat, ["events"], weeks_ago(5))
    left(cat, ["care"], weeks_ago(2))
    left(cat, ["old"], weeks_ago(2))
    # Bounced two weeks ago: counted until then.
    dan = person("dan@example.org", "bounced", weeks_ago(30), changed=weeks_ago(2))
    following(dan, topics["events"], weeks_ago(30))
    # Left events eight weeks ago, came back four weeks ago.
    eve = person("eve@example.org", "active", weeks_ago(11))
    left(eve, ["events"], weeks_ago(8))
    following(eve, topics["events"], weeks_ago(4))
    db.session.commit()
    create_subscriber("fay@example.org", ["care"])  # this week
    pending = person("gil@example.org", "pending", weeks_ago(6))
    following(pending, topics["care"], weeks_ago(6))
    db.session.commit()

    html = page(editor.get("/admin/"))
    weeks = Weeks.ending(NOW).starts
    expected_events = [
        (k >= 1) + (k >= 8) + (k <= 5) + (k <= 8) + (k < 3 or k >= 7) for k in range(WEEKS)
    ]
    expected_care = [(k <= 8) + (k == WEEKS - 1) for k in range(WEEKS)]
    assert chart_table(html, "chart-subscribers") == {
        week.date().isoformat(): {"Events": events, "Care": care}
        for week, events, care in zip(weeks, expected_events, expected_care, strict=True)
    }
    svg = html.find(id="chart-subscribers").find("svg")
    assert svg["role"] == "img"
    assert svg.title.get_text() == "Active subscribers per topic"
    assert "Week beginning (Monday)" in svg.get_text()
    assert "Active subscribers" in svg.get_text()
    assert len(svg.find_all("polyline")) == 2
    assert [li.get_text(strip=True) for li in html.select("#chart-subscribers li")] == [
        "Events",
        "Care",
    ]


def test_emails_sent_per_week(editor):
    create_topics("events")
    digest = create_test_digest([create_news("Budgets", ["events"])], ["events"])
    sent = [weeks_ago(0), weeks_ago(0), weeks_ago(4), weeks_ago(4), weeks_ago(4), weeks_ago(11)]
    for n, at in enumerate([*sent, weeks_ago(12), weeks_ago(4), None]):
        subscriber = person(f"p{n}@example.org", "active", weeks_ago(20))
        status = "sent" if n < len(sent) + 1 else ("failed" if at else "pending")
        db.session.add(
            Delivery(digest_id=digest.id, subscriber_id=subscriber, status=status, sent_at=at)
        )
    db.session.commit()

    html = page(editor.get("/admin/"))
    counts = {week: row["Emails sent"] for week, row in chart_table(html, "chart-emails").items()}
    weeks = [week.date().isoformat() for week in Weeks.ending(NOW).starts]
    assert counts == {week: {0: 1, 7: 3, 11: 2}.get(k, 0) for k, week in enumerate(weeks)}
    svg = html.find(id="chart-emails").find("svg")
    assert svg.title.get_text() == "Emails sent per week"
    assert len(svg.find_all("rect")) == WEEKS
    assert "Emails sent" in svg.get_text()


def test_weeks_begin_on_monday_and_end_with_this_one():
    weeks = Weeks.ending(datetime(2026, 3, 4, 15, 30))  # a Wednesday
    assert weeks.starts[-1] == datetime(2026, 3, 2)
    assert weeks.starts[0] == datetime(2025, 12, 15)
    assert weeks.index(datetime(2025, 12, 14, 23, 59)) == -1
    assert weeks.index(datetime(2025, 12, 15)) == 0
    assert weeks.index(datetime(2026, 3, 4, 15, 30)) == WEEKS - 1
