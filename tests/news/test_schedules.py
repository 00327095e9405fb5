"""Schedules on a driven clock: local times across DST, one run per slot, missed runs, news."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from flask import current_app
from sqlalchemy import func, select

from tests.factories import create_news, create_subscriber, create_topics
from tests.helpers import text_part
from updates.extensions import db
from updates.models import Digest, Schedule, Update
from updates.news import digests
from updates.news.cadence import CadenceError, when
from updates.news.schedules import (
    change_schedule,
    create_schedule,
    due,
    run_due,
    run_now,
    run_slot,
)

MONDAYS_9_LONDON = when("weekly", "09:00", "Europe/London", weekday="monday")


def published_at(title: str, topics: list[str], moment: datetime) -> Update:
    """An update published at a moment of the driven clock."""
    update = create_news(title, topics)
    update.published_at = moment
    db.session.commit()
    return update


def reload(schedule: Schedule) -> Schedule:
    db.session.expire_all()
    return db.session.get(Schedule, schedule.id)


def digest_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Digest))


# -- the clock ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (datetime(2027, 3, 20, 12), datetime(2027, 3, 22, 9)),  # GMT: 09:00 is 09:00 UTC
        (datetime(2027, 3, 22, 9), datetime(2027, 3, 29, 8)),  # BST from 28 March: 08:00 UTC
        (datetime(2027, 10, 25, 8), datetime(2027, 11, 1, 9)),  # GMT again from 31 October
        (datetime(2027, 3, 22, 8, 59), datetime(2027, 3, 22, 9)),
    ],
)
def test_a_weekly_slot_is_09_00_london_time_in_winter_and_summer(after, expected):
    assert MONDAYS_9_LONDON.next_after(after) == expected


def test_a_time_the_clocks_skip_runs_as_much_later_and_one_they_repeat_runs_once():
    skipped = when("daily", "01:30", "Europe/London")
    # 28 March 2027: 01:00 GMT becomes 02:00 BST; 01:30 does not exist, so 02:30 BST.
    assert skipped.next_after(datetime(2027, 3, 27, 12)) == datetime(2027, 3, 28, 1, 30)
    # 31 October 2027: 01:30 happens twice; the first, in BST, is 00:30 UTC; no run at 01:30 UTC.
    first = skipped.next_after(datetime(2027, 10, 30, 12))
    assert first == datetime(2027, 10, 31, 0, 30)
    assert skipped.next_after(first) == datetime(2027, 11, 1, 1, 30)


def test_the_31st_runs_on_the_last_day_of_a_shorter_month():
    monthly = when("monthly", "09:00", "UTC", day=31)
    assert monthly.next_after(datetime(2027, 4, 1)) == datetime(2027, 4, 30, 9)
    assert monthly.next_after(datetime(2027, 2, 1)) == datetime(2027, 2, 28, 9)
    assert monthly.next_after(datetime(2028, 2, 1)) == datetime(2028, 2, 29, 9)
    assert monthly.next_after(datetime(2027, 5, 1)) == datetime(2027, 5, 31, 9)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("daily", "09:00", "Mars/Olympus_Mons"), "unknown time zone"),
        (("daily", "09:00", "../../etc/passwd"), "unknown time zone"),
        (("weekly", "09:00", "Europe/London"), "needs a weekday"),
        (("daily", "24:00", "UTC"), "HH:MM"),
        (("daily", "9am", "UTC"), "HH:MM"),
        (("hourly", "09:00", "UTC"), "cadence must be one of"),
        (("monthly", "09:00", "UTC", None, 32), "1 to 31"),
        (("monthly", "09:00", "UTC"), "needs a day"),
        (("daily", "09:00", "UTC", "monday"), "only for a weekly"),
        (("weekly", "09:00", "UTC", "someday"), "weekday must be"),
        (("weekly", "09:00", "UTC", 7), "weekday must be"),
    ],
)
def test_a_cadence_that_cannot_be_is_refused_with_a_reason(args, message):
    with pytest.raises(CadenceError, match=message):
        when(*args)


# -- running ------------------------------------------------------------------------------


@pytest.fixture
def readers(app):
    create_topics("lps", "care")
    create_subscriber("ada@example.org", {"lps": "digest"})
    create_subscriber("bob@example.org", {"care": "all"})


def test_a_weekly_schedule_runs_at_09_00_local_across_the_change_to_summer_time(
    readers, run_jobs, mail_server
):
    schedule = create_schedule(
        "Weekly",
        ["lps", "care"],
        MONDAYS_9_LONDON,
        subject="{org} updates, week of {date}",
        now=datetime(2027, 3, 20, 12),
    )
    assert schedule.next_run == datetime(2027, 3, 22, 9)
    published_at("Council budgets", ["lps"], datetime(2027, 3, 21, 10))

    assert run_due(now=datetime(2027, 3, 22, 8, 59)) == []
    [first] = run_due(now=datetime(2027, 3, 22, 9, 0, 5))
    run_jobs()
    assert [m.recipients for m in mail_server.received] == [["ada@example.org"]]
    message = mail_server.received[0].message
    assert message["Subject"] == "Example Trade Body updates, week of 22 March 2027"
    assert "Council budgets" in text_part(message)
    assert first.schedule_id == schedule.id
    assert reload(schedule).next_run == datetime(2027, 3, 29, 8)  # 09:00 BST

    published_at("Care guidance", ["care"], datetime(2027, 3, 25, 10))
    assert run_due(now=datetime(2027, 3, 29, 7, 59)) == []
    [second] = run_due(now=datetime(2027, 3, 29, 8, 0, 5))
    run_jobs()
    assert [second.items[0].update.title] == ["Care guidance"]  # only what is new since
    assert mail_server.received[-1].recipients == ["bob@example.org"]
    assert len(mail_server.received) == 2
    assert reload(schedule).next_run == datetime(2027, 4, 5, 8)


def test_when_nothing_is_new_nothing_is_composed_or_sent(readers, run_jobs, mail_server):
    schedule = create_schedule(
        "Daily", ["lps"], when("daily", "09:00", "UTC"), now=datetime(2027, 1, 1)
    )
    assert run_due(now=datetime(2027, 1, 1, 9)) == []
    run_jobs()
    assert mail_server.received == [] and digest_count() == 0
    assert reload(schedule).next_run == datetime(2027, 1, 2, 9)
    assert run_now(reload(schedule), now=datetime(2027, 1, 1, 10)) is None


def test_two_workers_at_one_slot_run_it_once(readers, app_config):
    schedule = create_schedule(
        "Daily", ["lps"], when("daily", "09:00", "UTC"), now=datetime(2027, 1, 1)
    )
    published_at("Council budgets", ["lps"], datetime(2027, 1, 1, 8))
    now = datetime(2027, 1, 1, 9, 0, 1)
    # Both workers saw the slot due before either claimed it.
    [(schedule_id, slot)] = due(now)
    assert run_slot(schedule_id, slot, now) is not None
    assert run_slot(schedule_id, slot, now) is None  # the second one's claim finds it moved on
    assert digest_count() == 1

    # And at the same moment, in two threads with sessions of their own.
    published_at("Care news", ["lps"], datetime(2027, 1, 2, 8))
    now = datetime(2027, 1, 2, 9, 0, 1)
    start = threading.Barrier(2)
    made: list[int] = []
    app = current_app._get_current_object()

    def worker() -> None:
        with app.app_context():
            start.wait()
            made.extend(d.id for d in run_due(now=now))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(made) == 1
    assert digest_count() == 2
    assert reload(schedule).next_run == datetime(2027, 1, 3, 9)


def test_a_service_down_for_weeks_runs_once_and_a_late_run_waits_for_staff(readers):
    schedule = create_schedule("Weekly", ["lps"], MONDAYS_9_LONDON, now=datetime(2027, 1, 2))
    published_at("Council budgets", ["lps"], datetime(2027, 1, 3))
    assert schedule.next_run == datetime(2027, 1, 4, 9)

    back = datetime(2027, 1, 25, 12)  # three slots missed
    [digest] = run_due(now=back)
    assert run_due(now=back) == []
    assert digest_count() == 1
    assert reload(schedule).next_run == datetime(2027, 2, 1, 9)
    db.session.expire_all()
    held = db.session.get(Digest, digest.id)
    assert held.status == "paused"
    assert "missed its time" in held.note and "resume" in held.note
    digests.resume(held)
    assert held.status == "scheduled"

    published_at("Care news", ["lps"], datetime(2027, 1, 30))
    minutes = current_app.config["SEND_LATE_MINUTES"]
    [on_time] = run_due(now=datetime(2027, 2, 1, 9) + timedelta(minutes=minutes - 1))
    db.session.expire_all()
    assert db.session.get(Digest, on_time.id).status == "scheduled"  # within the window: it goes


def test_a_paused_schedule_does_not_run_and_resumes_from_the_next_slot(readers):
    schedule = create_schedule(
        "Daily", ["lps"], when("daily", "09:00", "UTC"), now=datetime(2027, 1, 1)
    )
    published_at("Council budgets", ["lps"], datetime(2027, 1, 1, 8))
    change_schedule(schedule, active=False, now=datetime(2027, 1, 1, 8))
    assert run_due(now=datetime(2027, 1, 3, 10)) == []
    change_schedule(reload(schedule), active=True, now=datetime(2027, 1, 3, 10))
    assert reload(schedule).next_run == datetime(2027, 1, 4, 9)
    assert len(run_due(now=datetime(2027, 1, 4, 9))) == 1


def test_a_new_schedules_first_run_takes_news_from_one_period_before_it_was_made(readers):
    made = datetime(2027, 1, 10, 12)
    published_at("Last week's news", ["lps"], made - timedelta(days=6))
    published_at("Older news", ["lps"], made - timedelta(days=8))
    schedule = create_schedule("Weekly", ["lps"], MONDAYS_9_LONDON, now=made)
    [digest] = run_due(now=schedule.next_run)
    assert [item.update.title for item in digest.items] == ["Last week's news"]
