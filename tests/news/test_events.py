"""Events: an update that happens somewhere at a time, on its page, in email and in calendars."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import (
    BASE_URL,
    PASSWORD,
    form_values,
    form_with_button,
    html_part,
    page,
    signed_in,
    text_part,
)
from tests.web.test_api import Api, assert_error, new_token
from updates.extensions import db
from updates.models import Event, Topic, Update
from updates.news.cadence import when
from updates.news.digests import send
from updates.news.events import EventDetails, cancel_event, set_event
from updates.news.schedules import create_schedule, run_now
from updates.news.sent import lacking_someone
from updates.news.topics import add_topic
from updates.staff.accounts import add_staff

NEXT_YEAR = datetime.now().year + 1
WINTER = f"{NEXT_YEAR}-01-13T09:00"  # GMT
SUMMER = f"{NEXT_YEAR}-07-14T09:00"  # BST
WINTER_DAY = f"13 January {NEXT_YEAR}, 09:00\N{EN DASH}17:30 (GMT, Europe/London)"


def summit(start: str = WINTER, end: str | None = None, **more: str) -> dict[str, str]:
    end = end or start.replace("T09:00", "T17:30")
    return {"start": start, "end": end, "timezone": "Europe/London", **more}


@pytest.fixture
def api(app, client) -> Api:
    create_topics("lps", "care")
    return Api(client, new_token(app, "editor@example.org", "editor"))


def publish(api: Api, event: object, topics: list[str] | None = None):
    body = {"title": "Local Public Services Summit", "body": "A day of talks.", "event": event}
    return api.post("/api/updates", {**body, "topics": topics or ["lps"]})


def parsed(response) -> Calendar:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/calendar"
    return Calendar.from_ical(response.get_data())


def vevents(calendar: Calendar) -> list:
    return [component for component in calendar.walk("VEVENT")]


def updates_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Update))


# -- making one ------------------------------------------------------------------------------------


def test_an_event_published_through_the_api_has_a_page_and_an_ics_with_a_stable_uid(api, client):
    made = publish(api, summit(place="Guildhall, London", booking_url="https://example.org/book"))
    assert made.status_code == 201, made.get_json()
    update_id = made.get_json()["id"]

    shown = page(client.get(f"/updates/{update_id}"))
    when = shown.select_one("dl.event").get_text(" ", strip=True)
    assert WINTER_DAY in when
    assert "Guildhall, London" in when
    ics_link = shown.find("a", string="Add to calendar (.ics)")["href"]
    assert ics_link == f"/updates/{update_id}/event.ics"

    [first] = vevents(parsed(client.get(ics_link)))
    assert str(first["uid"]).startswith(f"event-{update_id}@")
    assert first["dtstart"].dt.isoformat() == f"{NEXT_YEAR}-01-13T09:00:00+00:00"
    assert first["dtstart"].params["TZID"] == "Europe/London"
    assert (first["sequence"], str(first["status"])) == (0, "CONFIRMED")
    assert str(first["location"]) == "Guildhall, London"

    update = db.session.get(Update, update_id)
    moved_to = EventDetails(
        datetime.fromisoformat(SUMMER), datetime(NEXT_YEAR, 7, 14, 12), "Europe/London", "Online"
    )
    set_event(update, moved_to)
    [moved] = vevents(parsed(client.get(ics_link)))
    assert moved["uid"] == first["uid"]  # the reader's calendar updates the entry it has
    assert moved["sequence"] == 1
    assert moved["dtstart"].dt.utcoffset() == timedelta(hours=1)  # 09:00 BST is 08:00 UTC


def test_a_cancelled_event_is_sent_as_a_cancellation_of_the_same_entry(api, client):
    update_id = publish(api, summit()).get_json()["id"]
    assert cancel_event(db.session.get(Update, update_id))
    calendar = parsed(client.get(f"/updates/{update_id}/event.ics"))
    assert str(calendar["method"]) == "CANCEL"
    [cancelled] = vevents(calendar)
    assert (str(cancelled["status"]), cancelled["sequence"]) == ("CANCELLED", 1)
    assert str(cancelled["uid"]).startswith(f"event-{update_id}@")
    assert not cancel_event(db.session.get(Update, update_id))  # once is enough


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        (f"{NEXT_YEAR}-01-13T09:00", f"{NEXT_YEAR}-01-13 09:00:00"),  # GMT
        (f"{NEXT_YEAR}-07-14T09:00", f"{NEXT_YEAR}-07-14 08:00:00"),  # BST
    ],
)
def test_wall_clock_times_are_stored_in_utc_across_summer_time(api, local, utc):
    update_id = publish(api, summit(local, local.replace("T09", "T10"))).get_json()["id"]
    assert str(db.session.get(Event, update_id).starts_at) == utc


def test_an_hour_the_clocks_repeat_is_its_first_occurrence(api):
    # The last Sunday of October: 01:30 happens in BST, then again in GMT.
    october = datetime(NEXT_YEAR, 10, 31)
    last_sunday = october - timedelta(days=(october.weekday() + 1) % 7)
    day = last_sunday.strftime("%Y-%m-%d")
    update_id = publish(api, summit(f"{day}T01:30", f"{day}T03:00")).get_json()["id"]
    assert str(db.session.get(Event, update_id).starts_at) == f"{day} 00:30:00"


# -- bad input -------------------------------------------------------------------------------------


def last_sunday_of_march() -> str:
    march = datetime(NEXT_YEAR, 3, 31)
    return (march - timedelta(days=(march.weekday() + 1) % 7)).strftime("%Y-%m-%d")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (summit(timezone="Mars/Olympus_Mons"), "unknown time zone"),
        (summit(timezone="../../etc/passwd"), "unknown time zone"),
        (summit(WINTER, WINTER.replace("T09", "T08")), "end after it starts"),
        (summit(WINTER, f"{NEXT_YEAR}-03-20T09:00"), "at most 31 days"),
        (summit("13/01/2027 9am"), "date and time"),
        (summit("10000-01-01T09:00"), "date and time"),
        (summit("1999-12-31T09:00"), "between the years"),
        (summit(f"{NEXT_YEAR}-01-13T09:00+01:00"), "no offset"),
        (
            summit(f"{last_sunday_of_march()}T01:30", f"{last_sunday_of_march()}T03:00"),
            "does not exist",
        ),
        (summit(booking_url="javascript:alert(1)"), "http or https"),
        (summit(online_url="https://"), "http or https"),
        (summit(place="x" * 301), "longer than 300"),
        (summit(place="a\x00b"), "NUL character"),
        ({"start": WINTER}, "timezone"),
        ("tomorrow", "must be an object"),
        ([], "must be an object"),
    ],
)
def test_an_event_that_cannot_be_is_refused_and_nothing_is_published(api, event, message):
    before = updates_count()
    assert_error(publish(api, event), 400, message)
    assert updates_count() == before


def test_an_ics_for_an_update_that_is_no_event_or_not_public_is_not_found(app, client):
    create_topics("lps")
    plain = create_news("Budgets", ["lps"])
    assert client.get(f"/updates/{plain.id}/event.ics").status_code == 404
    assert client.get("/updates/2147483648/event.ics").status_code == 404
    assert client.get("/topics/no-such-topic/events.ics").status_code == 404


# -- lists and feeds -------------------------------------------------------------------------------


def test_the_events_page_and_feeds_list_upcoming_public_events_soonest_first(app, api, client):
    later = publish(api, summit(SUMMER)).get_json()["id"]
    sooner = publish(api, summit(WINTER), ["care"]).get_json()["id"]
    past = publish(api, summit("2001-05-01T09:00")).get_json()["id"]
    add_topic("board-only", "Board", public=False)  # its events stay off the public lists
    hidden = publish(api, summit(SUMMER), ["board-only"]).get_json()["id"]

    listed = page(client.get("/events"))
    links = [a["href"] for a in listed.select("article h2 a")]
    assert links == [f"/updates/{sooner}", f"/updates/{later}"]
    assert listed.find("link", rel="alternate", type="text/calendar")["href"] == "/events.ics"

    uids = [str(e["uid"]).split("@")[0] for e in vevents(parsed(client.get("/events.ics")))]
    assert uids == [f"event-{sooner}", f"event-{later}"]
    assert f"event-{past}" not in uids and f"event-{hidden}" not in uids
    care = vevents(parsed(client.get("/topics/care/events.ics")))
    assert [str(e["uid"]).split("@")[0] for e in care] == [f"event-{sooner}"]


# -- in email and the console ----------------------------------------------------------------------


def test_the_email_section_says_when_and_links_to_the_calendar_file(
    app, api, run_jobs, mail_server
):
    update_id = publish(api, summit(booking_url="https://example.org/book")).get_json()["id"]
    create_subscriber("reader@example.org", ["lps"])
    digest = create_test_digest([db.session.get(Update, update_id)], ["lps"])
    send(digest)
    run_jobs()
    [message] = mail_server.messages_to("reader@example.org")
    ics = f"{BASE_URL}/updates/{update_id}/event.ics"
    for part in (text_part(message), html_part(message)):
        assert WINTER_DAY in part
        assert ics in part
        assert "https://example.org/book" in part


def test_staff_make_an_event_on_the_update_form(app, api):
    add_staff("writer@example.org", "editor", PASSWORD)
    editor = signed_in(app, "writer")
    form = form_with_button(page(editor.get("/admin/updates")), "Publish")
    values = form_values(form)
    values.update(
        title="Social care roundtable",
        body="Join us.",
        topics=["care"],
        is_event="y",
        starts=f"{NEXT_YEAR}-02-10T14:00",
        ends=f"{NEXT_YEAR}-02-10T15:30",
        timezone="Europe/London",
        online_url="https://meet.example.org/roundtable",
        action="publish",
    )
    assert editor.post("/admin/updates", data=values).status_code == 303
    made = db.session.scalar(select(Update).where(Update.title == "Social care roundtable"))
    assert str(made.event.starts_at) == f"{NEXT_YEAR}-02-10 14:00:00"
    assert made.event.online_url == "https://meet.example.org/roundtable"

    values.update(title="Another", ends=f"{NEXT_YEAR}-02-10T13:00")
    refused = editor.post("/admin/updates", data=values)
    assert refused.status_code == 400
    assert "end after it starts" in page(refused).get_text()
    assert db.session.scalar(select(Update).where(Update.title == "Another")) is None


def test_a_withdrawn_events_file_cancels_it_and_the_lists_leave_it_out(api, client):
    update_id = publish(api, summit()).get_json()["id"]
    assert api.client.delete(f"/api/updates/{update_id}", headers=api.headers).status_code == 204
    calendar = parsed(client.get(f"/updates/{update_id}/event.ics"))
    assert str(calendar["method"]) == "CANCEL"
    [withdrawn] = vevents(calendar)
    assert str(withdrawn["status"]) == "CANCELLED"
    assert client.get(f"/updates/{update_id}").status_code == 410
    assert vevents(parsed(client.get("/events.ics"))) == []
    assert page(client.get("/events")).select("article") == []


# -- cancelling --------------------------------------------------------------------------------


def test_a_cancelled_event_reaches_those_who_had_it_once_in_the_next_scheduled_digest(
    api, client, run_jobs, mail_server
):
    update_id = publish(api, summit()).get_json()["id"]
    create_subscriber("reader@example.org", {"lps": "digest"})
    send(create_test_digest([db.session.get(Update, update_id)], ["lps"]))
    run_jobs()
    assert len(mail_server.messages_to("reader@example.org")) == 1
    lps = [db.session.scalar(select(Topic.id).where(Topic.slug == "lps"))]
    assert lacking_someone([update_id], lps) == []  # had it: no digest would carry it again

    cancelled = api.post(f"/api/updates/{update_id}/event/cancel")
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["event"]["cancelled"] is True
    assert lacking_someone([update_id], lps) == [update_id]  # the cancellation is news

    schedule = create_schedule("Daily", ["lps"], when("daily", "09:00", "Europe/London"))
    digest = run_now(schedule)
    assert digest is not None and [item.update_id for item in digest.items] == [update_id]
    run_jobs()
    _, notice = mail_server.messages_to("reader@example.org")
    ics = f"{BASE_URL}/updates/{update_id}/event.ics"
    for part in (text_part(notice), html_part(notice)):
        assert "Cancelled: " in part and WINTER_DAY in part
        assert "Remove it from your calendar" in part and ics in part
    assert str(parsed(client.get(ics.removeprefix(BASE_URL)))["method"]) == "CANCEL"

    assert lacking_someone([update_id], lps) == []  # told once; never again
    assert run_now(schedule) is None


def test_the_api_moves_an_event_keeping_its_uid_and_cancels_only_an_event(api, client):
    update_id = publish(api, summit()).get_json()["id"]
    moved = api.client.patch(
        f"/api/updates/{update_id}", json={"event": summit(SUMMER)}, headers=api.headers
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["event"]["start"] == SUMMER
    [entry] = vevents(parsed(client.get(f"/updates/{update_id}/event.ics")))
    assert entry["sequence"] == 1 and str(entry["uid"]).startswith(f"event-{update_id}@")
    same = api.client.patch(
        f"/api/updates/{update_id}", json={"event": summit(SUMMER)}, headers=api.headers
    )
    assert same.status_code == 200
    assert vevents(parsed(client.get(f"/updates/{update_id}/event.ics")))[0]["sequence"] == 1

    backwards = summit(SUMMER, end=SUMMER.replace("T09:00", "T08:00"))
    refused = api.client.patch(
        f"/api/updates/{update_id}", json={"event": backwards}, headers=api.headers
    )
    assert_error(refused, 400, "end after it starts")

    plain = api.post("/api/updates", {"title": "News", "body": "Text.", "topics": ["lps"]})
    assert_error(
        api.post(f"/api/updates/{plain.get_json()['id']}/event/cancel"), 409, "not an event"
    )
    assert api.post("/api/updates/999999/event/cancel").status_code == 404
    assert api.post(f"/api/updates/{update_id}/event/cancel").status_code == 200
    assert api.post(f"/api/updates/{update_id}/event/cancel").status_code == 200  # once is enough
    assert api.client.delete(f"/api/updates/{update_id}", headers=api.headers).status_code == 204
    assert_error(api.post(f"/api/updates/{update_id}/event/cancel"), 409, "withdrawn")


def test_staff_move_an_event_then_cancel_it_after_confirming(app, api, client):
    update_id = publish(api, summit()).get_json()["id"]
    add_staff("writer@example.org", "editor", PASSWORD)
    editor = signed_in(app, "writer")
    edit = f"/admin/updates/{update_id}"
    form = form_with_button(page(editor.get(edit)), "Save the correction")
    values = form_values(form)
    assert values["starts"] == WINTER and values["timezone"] == "Europe/London"
    values.update(
        body=form.find("textarea").get_text(),
        starts=f"{NEXT_YEAR}-01-20T10:00",
        ends=f"{NEXT_YEAR}-01-20T12:00",
        action="save",
    )
    saved = editor.post(edit, data=values)
    assert saved.status_code == 303, page(saved).select(".error-message")
    db.session.expire_all()
    assert str(db.session.get(Event, update_id).starts_at) == f"{NEXT_YEAR}-01-20 10:00:00"

    ask = form_with_button(page(editor.get(edit)), "Cancel the event")
    asked = editor.post(ask["action"], data=form_values(ask))
    assert asked.status_code == 200 and "Cancel the event" in page(asked).get_text()
    db.session.expire_all()
    assert db.session.get(Event, update_id).cancelled_at is None  # nothing until confirmed
    confirm = form_with_button(page(asked), "Yes, cancel the event")
    assert editor.post(confirm["action"], data=form_values(confirm)).status_code == 303
    db.session.expire_all()
    assert db.session.get(Event, update_id).cancelled_at is not None
    shown = page(editor.get(edit))
    assert shown.select_one("#event-cancelled") is not None
    assert "Cancelled" in page(client.get(f"/updates/{update_id}")).get_text()
