"""Schedules and announcements through the API, sent by real workers: each update reaches each
reader at most once, whichever announcements, digests and schedules carry it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import text_part
from tests.web.test_api import Api, assert_error, new_token
from updates.extensions import db
from updates.models import Delivery, Digest, Schedule
from updates.news import digests

WEEKLY = {
    "name": "Weekly round-up",
    "topics": ["lps", "care"],
    "cadence": "weekly",
    "weekday": "monday",
    "time": "09:00",
    "timezone": "Europe/London",
    "subject": "{org} updates, week of {date}",
}


@pytest.fixture
def api(app, client) -> Api:
    return Api(client, new_token(app))  # an editor's: schedules are editors' work


@pytest.fixture
def readers(app):
    """ada wants every announcement of lps; bob reads lps in digests only; cy follows care."""
    create_topics("lps", "care")
    create_subscriber("ada@example.org", {"lps": "all"})
    create_subscriber("bob@example.org", {"lps": "digest"})
    create_subscriber("cy@example.org", {"care": "all"})


def received_by(mail_server, address: str) -> list:
    return [m.message for m in mail_server.received if address in m.recipients]


def test_a_reader_announced_an_update_is_not_sent_it_again_by_the_schedule(
    api, readers, run_jobs, mail_server
):
    made = api.post("/api/schedules", WEEKLY)
    assert made.status_code == 201, made.get_json()
    schedule_id = made.get_json()["id"]
    assert made.get_json()["next_run"].endswith("+00:00")

    news = api.post(
        "/api/updates",
        {"title": "Council budgets", "body": "B", "topics": ["lps"], "announce": True},
    )
    assert news.status_code == 201
    announcement = news.get_json()["announcement"]
    run_jobs()
    assert [m["Subject"] for m in received_by(mail_server, "ada@example.org")] == [
        "Council budgets"
    ]
    assert received_by(mail_server, "bob@example.org") == []  # digests only
    assert db.session.get(Digest, announcement).kind == "announcement"

    run = api.post(f"/api/schedules/{schedule_id}/run")
    assert run.status_code == 202
    digest_id = run.get_json()["digest"]
    assert digest_id is not None
    run_jobs()
    assert len(received_by(mail_server, "ada@example.org")) == 1  # not a second time
    [bobs] = received_by(mail_server, "bob@example.org")
    assert "Council budgets" in text_part(bobs)
    assert bobs["Subject"].startswith("Example Trade Body updates, week of ")
    assert received_by(mail_server, "cy@example.org") == []

    shown = api.get(f"/api/digests/{digest_id}").get_json()
    # cy follows care, which has nothing new: skipped, but not for having it already.
    assert (shown["recipients"], shown["sent"], shown["already_sent"]) == (3, 1, 1)

    again = api.post(f"/api/schedules/{schedule_id}/run")
    assert again.status_code == 202 and again.get_json() == {"digest": None}
    run_jobs()
    assert len(mail_server.received) == 2

    listed = api.get("/api/schedules").get_json()
    assert [(s["id"], s["last_digest"], s["weekday"]) for s in listed] == [
        (schedule_id, digest_id, "monday")
    ]


def test_a_digest_leaves_out_of_each_copy_what_that_reader_was_already_sent(
    app, readers, run_jobs, mail_server
):
    budgets = create_news("Council budgets", ["lps"])
    guidance = create_news("Care guidance", ["lps", "care"])
    first = create_test_digest([budgets], ["lps"], kind="announcement")
    digests.send(first)
    run_jobs()
    mail_server.reset()

    later = create_test_digest([budgets, guidance], ["lps", "care"])
    digests.send(later)
    run_jobs()
    [ada] = received_by(mail_server, "ada@example.org")
    [bob] = received_by(mail_server, "bob@example.org")
    assert "Care guidance" in text_part(ada) and "Council budgets" not in text_part(ada)
    assert "Care guidance" in text_part(bob) and "Council budgets" in text_part(bob)
    assert digests.progress(later.id).already_sent == 0

    mail_server.reset()
    third = create_test_digest([budgets, guidance], ["lps", "care"])
    digests.send(third)
    run_jobs()
    assert mail_server.received == []  # everyone has both
    progress = digests.progress(third.id)
    assert (progress.skipped, progress.already_sent) == (3, 3)


def test_publishing_announces_only_when_asked(api, readers, run_jobs, mail_server):
    quiet = api.post("/api/updates", {"title": "Quiet", "body": "B", "topics": ["lps"]})
    assert quiet.status_code == 201 and quiet.get_json()["announcement"] is None
    off = {"title": "Off", "body": "B", "topics": ["lps"], "announce": False}
    assert api.post("/api/updates", off).get_json()["announcement"] is None
    care = {"title": "Care", "body": "B", "topics": ["care"], "announce": True}
    assert api.post("/api/updates", care).get_json()["announcement"] is not None  # cy's
    # A digest of the quiet one still reaches its every-announcement reader ada, and bob.
    made = api.post(
        "/api/digests", {"subject": "News", "updates": [quiet.get_json()["id"]], "topics": ["lps"]}
    )
    assert api.post(f"/api/digests/{made.get_json()['id']}/send").status_code == 202
    run_jobs()
    assert sorted(r for m in mail_server.received for r in m.recipients) == [
        "ada@example.org",
        "bob@example.org",
        "cy@example.org",
    ]
    assert (
        api.post(
            "/api/updates", {"title": "T", "body": "B", "topics": ["lps"], "announce": 1}
        ).status_code
        == 400
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Europe/Atlantis"}, "unknown time zone"),
        ({"timezone": 5}, "timezone"),
        ({"time": "25:00"}, "HH:MM"),
        ({"weekday": None}, "needs a weekday"),
        ({"cadence": "monthly", "weekday": None, "day": 32}, "1 to 31"),
        ({"cadence": "monthly"}, "only for a weekly"),
        ({"cadence": "fortnightly"}, "cadence must be one of"),
        ({"topics": ["nope"]}, "unknown topic"),
        ({"topics": []}, "at least one topic"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"subject": "{org} {unknown}"}, "may use {org}"),
        ({"subject": "{org"}, "lone {"),
        ({"subject": "A\nB"}, "one line"),
    ],
)
def test_a_schedule_that_cannot_be_is_refused_and_nothing_changes(api, readers, change, message):
    assert_error(api.post("/api/schedules", {**WEEKLY, **change}), 400, message)
    assert db.session.scalar(select(func.count()).select_from(Schedule)) == 0


def test_staff_change_pause_and_delete_a_schedule(api, readers, client):
    schedule_id = api.post("/api/schedules", WEEKLY).get_json()["id"]
    headers = api.headers

    monthly = client.patch(
        f"/api/schedules/{schedule_id}",
        json={"cadence": "monthly", "day": 31, "time": "07:30"},
        headers=headers,
    )
    assert monthly.status_code == 200, monthly.get_json()
    body = monthly.get_json()
    assert (body["cadence"], body["day"], body["weekday"], body["time"]) == (
        "monthly",
        31,
        None,
        "07:30",
    )
    bad = client.patch(f"/api/schedules/{schedule_id}", json={"day": 0}, headers=headers)
    assert_error(bad, 400, "1 to 31")
    assert api.get(f"/api/schedules/{schedule_id}").get_json()["day"] == 31

    paused = client.patch(f"/api/schedules/{schedule_id}", json={"active": False}, headers=headers)
    assert paused.get_json()["active"] is False and paused.get_json()["next_run"] is None
    resumed = client.patch(f"/api/schedules/{schedule_id}", json={"active": True}, headers=headers)
    assert resumed.get_json()["next_run"] is not None

    create_news("Council budgets", ["lps"])
    digest_id = api.post(f"/api/schedules/{schedule_id}/run").get_json()["digest"]
    gone = client.delete(f"/api/schedules/{schedule_id}", headers=headers)
    assert gone.status_code == 204
    assert_error(api.get(f"/api/schedules/{schedule_id}"), 404)
    assert_error(client.delete(f"/api/schedules/{schedule_id}", headers=headers), 404)
    db.session.expire_all()
    assert db.session.get(Digest, digest_id).schedule_id is None  # the digest stays
    assert_error(api.get("/api/schedules/99999999999"), 404)
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 0


def test_a_withdrawn_update_is_left_out_of_the_schedules_next_run(api, readers, run_jobs):
    schedule_id = api.post("/api/schedules", WEEKLY).get_json()["id"]
    news = api.post("/api/updates", {"title": "Typo", "body": "B", "topics": ["lps"]})
    withdrawn = api.client.delete(f"/api/updates/{news.get_json()['id']}", headers=api.headers)
    assert withdrawn.status_code == 204
    run = api.post(f"/api/schedules/{schedule_id}/run")
    assert run.status_code == 202 and run.get_json() == {"digest": None}
