"""Schedules in the console, as an editor uses them: add, see the next run, edit, pause,
preview for a reader, run now, delete after confirming; each change audited with it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from tests.factories import create_news, create_subscriber
from tests.helpers import audit_actions, errors_on, form_with_button, page, press, signed_in
from updates.extensions import db
from updates.models import Digest, Schedule, utcnow
from updates.news import digests


def schedules() -> list[Schedule]:
    db.session.expire_all()
    return list(db.session.scalars(select(Schedule)))


def add_weekly(editor, **changes):
    values = {
        "name": "Weekly round-up",
        "topics": ["lps"],
        "cadence": "weekly",
        "weekday": "monday",
        "time": "09:00",
        "timezone": "Europe/London",
        **changes,
    }
    return press(editor, "/admin/schedules", "Add schedule", **values)


def test_an_editor_adds_a_schedule_and_sees_its_next_run(app, people):
    editor = signed_in(app, "editor")
    assert add_weekly(editor).status_code == 303
    [schedule] = schedules()
    assert (schedule.cadence, schedule.weekday, schedule.time) == ("weekly", 0, "09:00")
    assert schedule.subject_template == "{org} updates, {date}"
    local = schedule.next_run.replace(tzinfo=None)
    assert local > utcnow() and local - utcnow() <= timedelta(days=7)

    listed = page(editor.get("/admin/schedules")).find(id="schedules")
    row = [td.get_text(" ", strip=True) for td in listed.find("tbody").find_all("td")]
    assert row[0] == "Weekly round-up Mondays at 09:00 (Europe/London) Lps"
    assert row[1] == schedule.next_run.strftime("%d %b %Y %H:%M") + " 09:00 Europe/London"
    assert row[2] == "none yet"
    assert audit_actions()[-1] == "schedule added"


def test_a_schedule_that_cannot_be_says_why_on_its_field(app, people):
    editor = signed_in(app, "editor")
    refused = add_weekly(editor, timezone="Europe/Atlantis")
    assert refused.status_code == 400
    assert "unknown time zone" in errors_on(refused)
    assert page(refused).select_one(".field-error #timezone") is not None
    assert "HH:MM" in errors_on(add_weekly(editor, time="25:00"))
    assert "1 to 31" in errors_on(add_weekly(editor, cadence="monthly", day="40"))
    assert "lone {" in errors_on(add_weekly(editor, subject="{org news"))
    assert schedules() == []


def test_edit_pause_resume_preview_run_and_delete(app, people, run_jobs, mail_server):
    editor = signed_in(app, "editor")
    add_weekly(editor)
    [schedule] = schedules()
    path = f"/admin/schedules/{schedule.id}"

    changes = {"cadence": "monthly", "weekday": "monday", "day": "31", "time": "07:30"}
    saved = press(editor, path, "Save schedule", **changes)
    assert saved.status_code == 303
    [schedule] = schedules()
    assert (schedule.cadence, schedule.day, schedule.weekday, schedule.time) == (
        "monthly",
        31,
        None,
        "07:30",
    )

    assert press(editor, path, "Pause").status_code == 303
    assert schedules()[0].active is False
    assert "paused" in page(editor.get(path)).find(id="schedule").get_text()
    assert press(editor, path, "Resume").status_code == 303
    assert schedules()[0].active is True

    # ada was announced "Council budgets"; the next run would leave it out for her.
    create_subscriber("ada@example.org", {"lps": "all"})
    budgets = create_news("Council budgets", ["lps"])
    create_news("Road works", ["lps"])
    announcement = digests.create_digest("Now", "", [budgets.id], ["lps"], "announcement")
    digests.send(announcement)
    run_jobs()
    preview = page(editor.get(f"{path}/preview?as=ada@example.org"))
    assert "Left out, as they were already sent: Council budgets." in preview.get_text()
    assert "Road works" in preview.find("pre").get_text()
    assert "Council budgets" not in preview.find("pre").get_text()
    assert editor.get(f"{path}/preview?as=nobody@example.org").status_code == 404

    mail_server.reset()
    ran = press(editor, path, "Run now")
    assert ran.status_code == 303
    run_jobs()
    [message] = mail_server.messages_to("ada@example.org")
    assert "Road works" in message.get_body(("plain",)).get_content()
    assert "Council budgets" not in message.get_body(("plain",)).get_content()
    again = press(editor, path, "Run now")
    assert again.status_code == 303 and "/admin/schedules/" in again.headers["Location"]

    confirm = editor.get(f"{path}/delete")
    assert confirm.status_code == 200 and schedules()  # asking deletes nothing
    form = form_with_button(page(confirm), "Delete schedule")
    assert form is not None
    assert press(editor, f"{path}/delete", "Delete schedule").status_code == 303
    assert schedules() == []
    made = select(func.count()).select_from(Digest).where(Digest.schedule_id.is_not(None))
    assert db.session.scalar(made) == 0  # its digest stays, no longer pointing at it
    assert db.session.scalar(select(func.count()).select_from(Digest)) == 3
    assert audit_actions() == [
        "schedule added",
        "schedule changed",
        "schedule pause",
        "schedule resume",
        "schedule run",
        "schedule run",
        "schedule deleted",
    ]


def test_a_missed_run_is_held_with_a_note_staff_see(app, people):
    from updates.news.cadence import when
    from updates.news.schedules import create_schedule, run_due

    create_schedule("Daily", ["lps"], when("daily", "09:00", "UTC"), now=datetime(2027, 1, 1))
    news = create_news("Council budgets", ["lps"])
    news.published_at = datetime(2027, 1, 1, 8)
    db.session.commit()
    [digest] = run_due(now=datetime(2027, 1, 5, 9))
    editor = signed_in(app, "editor")
    shown = page(editor.get(f"/admin/digests/{digest.id}")).get_text()
    assert "missed its time by" in shown and "resume to send" in shown


def test_a_digest_preview_as_a_reader_leaves_out_what_other_digests_sent_them(
    app, people, run_jobs
):
    create_subscriber("ada@example.org", {"lps": "all"})
    budgets = create_news("Council budgets", ["lps"])
    roads = create_news("Road works", ["lps"])
    digests.send(digests.create_digest("Now", "", [budgets.id], ["lps"], "announcement"))
    run_jobs()
    later = digests.create_digest("Round-up", "", [budgets.id, roads.id], ["lps"])
    editor = signed_in(app, "editor")

    shown = page(editor.get(f"/admin/digests/{later.id}/preview?as=ada@example.org"))
    assert "Road works" in shown.find("pre").get_text()
    assert "Council budgets" not in shown.find("pre").get_text()
    everything = page(editor.get(f"/admin/digests/{later.id}/preview"))
    assert "Council budgets" in everything.find("pre").get_text()  # any subscriber: all of it

    only_budgets = digests.create_digest("Again", "", [budgets.id], ["lps"])
    again = page(editor.get(f"/admin/digests/{only_budgets.id}/preview?as=ada@example.org"))
    assert "already sent this subscriber every update" in again.get_text()
