"""Events: an update that says when and where something happens, and its iCalendar form.

Staff give the start and end as wall-clock times in the event's own time zone; they are stored
in UTC beside that zone. A time that does not exist there (the hour skipped when the clocks go
forward) is refused; one that happens twice (the hour repeated when they go back) is taken as the
first. Every change bumps the event's SEQUENCE and keeps its UID, so a calendar that opens the new
`.ics` updates the entry it has instead of adding a second one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from flask import current_app
from icalendar import Calendar, vCalAddress
from icalendar import Event as CalendarEvent
from sqlalchemy import select

from updates import limits
from updates.extensions import db
from updates.mail.messages import message_domain
from updates.models import Event, Topic, Update, update_topics, utcnow
from updates.news.corrections import WithdrawnError
from updates.news.publishing import ContentError, check_text
from updates.transaction import autocommit


class NotAnEvent(ValueError):
    """The update is not an event, so there is no event to cancel (HTTP 409)."""


EARLIEST, LATEST = datetime(2000, 1, 1), datetime(2100, 1, 1)
RECENT = timedelta(days=30)  # how long a past event stays in the calendar feeds


@dataclass(frozen=True)
class EventDetails:
    """An event as staff describe it: wall-clock times in `timezone`."""

    start: datetime
    end: datetime
    timezone: str
    place: str | None = None
    online_url: str | None = None
    booking_url: str | None = None


def zone(name: object) -> ZoneInfo:
    """The IANA time zone of that name; ContentError for any other."""
    if not isinstance(name, str) or len(name) > limits.TIMEZONE_NAME:
        raise ContentError("timezone must be an IANA time zone name, such as Europe/London")
    if name not in _zone_names():
        raise ContentError(f"unknown time zone: {name[:64]!r}; use a name such as Europe/London")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ContentError(f"unknown time zone: {name!r}") from None


def _zone_names() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    return _ZONES


_ZONES: set[str] | None = None


def wall_time(value: object, name: str) -> datetime:
    """A date and time without an offset, as a `datetime-local` field or ISO 8601 gives it."""
    if not isinstance(value, str) or len(value) > 32:
        raise ContentError(f"{name} must be a date and time such as 2026-03-03T10:00")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ContentError(f"{name} must be a date and time such as 2026-03-03T10:00") from None
    if moment.tzinfo is not None:
        raise ContentError(f"{name} is a wall-clock time: give the zone as timezone, no offset")
    if not EARLIEST <= moment < LATEST:
        raise ContentError(f"{name} must be between the years 2000 and 2099")
    return moment.replace(second=0, microsecond=0)


def to_utc(local: datetime, where: ZoneInfo, name: str) -> datetime:
    """The UTC moment a wall-clock time names; a time the zone skips is refused."""
    first = local.replace(tzinfo=where, fold=0)
    back = first.astimezone(UTC).astimezone(where).replace(tzinfo=None)
    if back != local:
        raise ContentError(
            f"{name} {local:%H:%M} does not exist in {where.key} on {local:%d %B %Y}: "
            "the clocks go forward then; choose another time"
        )
    return first.astimezone(UTC).replace(tzinfo=None)  # a repeated hour: its first occurrence


def _link(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    link = check_text(name, value, limits.EVENT_URL)
    parts = urlsplit(link)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c in link for c in " <>"):
        raise ContentError(f"{name} must be a full http or https link")
    return link


def details_from(data: Mapping[str, object]) -> EventDetails:
    """An event from API or form values: start, end, timezone, place?, online_url?, booking_url?"""
    where = zone(data.get("timezone"))
    start, end = wall_time(data.get("start"), "start"), wall_time(data.get("end"), "end")
    place = data.get("place")
    details = EventDetails(
        start=start,
        end=end,
        timezone=where.key,
        place=(check_text("place", place, limits.EVENT_PLACE, False) or None) if place else None,
        online_url=_link(data.get("online_url"), "online_url"),
        booking_url=_link(data.get("booking_url"), "booking_url"),
    )
    check(details)
    return details


def check(details: EventDetails) -> tuple[datetime, datetime]:
    """The event's start and end in UTC, once they make sense; ContentError otherwise."""
    where = zone(details.timezone)
    starts, ends = to_utc(details.start, where, "start"), to_utc(details.end, where, "end")
    if ends <= starts:
        raise ContentError("the event must end after it starts")
    if ends - starts > timedelta(days=limits.EVENT_DAYS):
        raise ContentError(f"an event may last at most {limits.EVENT_DAYS} days")
    return starts, ends


@autocommit
def set_event(update: Update, details: EventDetails | None) -> Event | None:
    """Make the update an event, change its event, or (None) stop it being one."""
    if details is None:
        if update.event is not None:
            db.session.delete(update.event)
            update.event = None
        return None
    starts, ends = check(details)
    event = update.event or Event(update=update, sequence=0)
    changed = event.update_id is not None
    event.starts_at, event.ends_at, event.timezone = starts, ends, details.timezone
    event.place, event.online_url = details.place, details.online_url
    event.booking_url = details.booking_url
    if changed:
        event.sequence = (event.sequence or 0) + 1
        event.updated_at = utcnow()
    db.session.add(event)
    return event


@autocommit
def change_event(update: Update, details: EventDetails | None) -> bool:
    """Set, change or (None) stop the update's event; False, and nothing written, when nothing
    would change."""
    if update.withdrawn_at is not None:
        raise WithdrawnError("a withdrawn update cannot be edited")
    if _described(details) == _described_event(update.event):
        return False
    set_event(update, details)
    return True


def _described(details: EventDetails | None) -> tuple[object, ...] | None:
    if details is None:
        return None
    starts, ends = check(details)
    fields = (details.timezone, details.place, details.online_url, details.booking_url)
    return (starts, ends, *fields)


def _described_event(event: Event | None) -> tuple[object, ...] | None:
    if event is None:
        return None
    fields = (event.timezone, event.place, event.online_url, event.booking_url)
    return (event.starts_at, event.ends_at, *fields)


@autocommit
def cancel_event(update: Update) -> bool:
    """Mark the event cancelled (its `.ics` then cancels the calendar entry, and the next digest
    for its topics tells those who were sent it); False if it already was."""
    event = update.event
    if update.withdrawn_at is not None:
        raise WithdrawnError(f"update {update.id} was withdrawn: its event is off already")
    if event is None:
        raise NotAnEvent(f"update {update.id} is not an event")
    if event.cancelled_at is not None:
        return False
    event.cancelled_at = utcnow()
    event.sequence += 1
    return True


def event_json(event: Event | None) -> dict[str, object] | None:
    """The event as the API shows it: wall-clock times in its own zone."""
    if event is None:
        return None
    where = ZoneInfo(event.timezone)
    return {
        "start": event.starts_at.replace(tzinfo=UTC).astimezone(where).strftime("%Y-%m-%dT%H:%M"),
        "end": event.ends_at.replace(tzinfo=UTC).astimezone(where).strftime("%Y-%m-%dT%H:%M"),
        "timezone": event.timezone,
        "place": event.place,
        "online_url": event.online_url,
        "booking_url": event.booking_url,
        "cancelled": event.cancelled_at is not None,
    }


def public_events(
    topic: Topic | None = None, since: datetime | None = None, limit: int = 200
) -> list[Event]:
    """Published events in a public topic (or in `topic`) ending after `since`, soonest first."""
    public = (
        select(update_topics.c.update_id)
        .join(Topic, Topic.id == update_topics.c.topic_id)
        .where(Topic.public.is_(True), Topic.archived.is_(False))
    )
    if topic is not None:
        public = public.where(Topic.id == topic.id)
    now = utcnow()
    query = (
        select(Event)
        .join(Update, Update.id == Event.update_id)
        .where(
            Update.published_at.is_not(None),
            Update.published_at <= now,
            Update.withdrawn_at.is_(None),
            Update.id.in_(public),
            Event.ends_at >= (since or now),
        )
        .order_by(Event.starts_at, Event.update_id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def calendar(events: Iterable[Event], name: str, page_url: str, method: str = "PUBLISH") -> bytes:
    """An RFC 5545 calendar of these events (VTIMEZONEs included)."""
    cal = Calendar()
    cal.add("prodid", f"-//{current_app.config['ORG_NAME']}//updates//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    cal.add("x-wr-calname", name)
    for event in events:
        cal.add_component(_vevent(event, page_url.format(update_id=event.update_id)))
    cal.add_missing_timezones()
    return cal.to_ical()


def calendar_of(event: Event, page_url: str) -> bytes:
    """One event's `.ics`: a cancelled one, or one whose update was withdrawn, is sent as
    METHOD:CANCEL, so a calendar that has it drops it."""
    method = "CANCEL" if is_off(event) else "PUBLISH"
    return calendar([event], event.update.title, page_url, method)


def is_off(event: Event) -> bool:
    return event.cancelled_at is not None or event.update.withdrawn_at is not None


def uid(event: Event) -> str:
    return f"event-{event.update_id}@{message_domain()}"


def _vevent(event: Event, url: str) -> CalendarEvent:
    where = ZoneInfo(event.timezone)
    item = CalendarEvent()
    item.add("uid", uid(event))
    item.add("dtstamp", event.updated_at.replace(tzinfo=UTC))
    item.add("sequence", event.sequence)
    item.add("dtstart", event.starts_at.replace(tzinfo=UTC).astimezone(where))
    item.add("dtend", event.ends_at.replace(tzinfo=UTC).astimezone(where))
    item.add("summary", event.update.title)
    item.add("description", event.update.body_markdown[:4000])
    item.add("url", url)
    location = event.place or event.online_url
    if location:
        item.add("location", location)
    item.add("status", "CANCELLED" if is_off(event) else "CONFIRMED")
    organizer = vCalAddress(f"mailto:updates@{message_domain()}")
    organizer.params["cn"] = current_app.config["ORG_NAME"]
    item.add("organizer", organizer)
    return item
