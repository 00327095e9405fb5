"""Schedules: at its time a schedule composes a digest of what is new for its topics, and sends it.

What is new is what was published for its topics since it last ran and has not reached every
one of its readers (`news/sent`); each reader's copy then leaves out what they already have
(`worker/delivery`). A slot is claimed by one guarded UPDATE that moves `next_run` on, in the
same transaction as the digest it composes, so two workers never run one slot, and a crash
between the two runs neither. Every function takes `now`, so tests drive the clock.

A service that was down runs a missed schedule once when it is back, for the latest slot it
missed, not once per slot; if that slot is more than SEND_LATE_MINUTES past, the digest is
composed but waits, paused, for staff to resume it, as a late scheduled digest does.
"""

from __future__ import annotations

import string
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from updates import limits
from updates.extensions import db
from updates.models import (
    Cadence,
    Digest,
    DigestKind,
    DigestStatus,
    DigestUpdate,
    Event,
    Schedule,
    Update,
    update_topics,
    utcnow,
)
from updates.news.cadence import When
from updates.news.digests import create_digest, send
from updates.news.publishing import ContentError, check_text, render_markdown, topics_for_slugs
from updates.news.sent import lacking_someone
from updates.transaction import autocommit

DEFAULT_SUBJECT = "{org} updates, {date}"
FIRST_LOOK_BACK = {
    Cadence.DAILY: timedelta(days=1),
    Cadence.WEEKLY: timedelta(days=7),
    Cadence.MONTHLY: timedelta(days=31),
}
PLACEHOLDERS = ("org", "name", "date")


def when_of(schedule: Schedule) -> When:
    return When(schedule.cadence, schedule.weekday, schedule.day, schedule.time, schedule.timezone)


def check_subject(template: object) -> str:
    """A one-line subject that may name {org}, {name} and {date}."""
    template = check_text("subject", template, limits.DIGEST_SUBJECT)
    if "\r" in template or "\n" in template:
        raise ContentError("subject must be one line")
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(template)]
    except ValueError:
        raise ContentError("subject has a lone { or }; write {{ or }} for a brace") from None
    for name, spec, conversion in fields:
        if name is not None and (name not in PLACEHOLDERS or spec or conversion):
            raise ContentError("subject may use {org}, {name} and {date}, and no other {…}")
    return template


def _name(name: object) -> str:
    name = check_text("name", name, limits.SCHEDULE_NAME)
    if "\r" in name or "\n" in name:
        raise ContentError("name must be one line")
    return name


def _topics(slugs: list[str]):
    topics = topics_for_slugs(slugs)
    if not topics:
        raise ContentError("a schedule needs at least one topic")
    return topics


def _set_when(schedule: Schedule, when: When) -> None:
    schedule.cadence, schedule.weekday, schedule.day = when.cadence, when.weekday, when.day
    schedule.time, schedule.timezone = when.time, when.timezone


@autocommit
def create_schedule(
    name: str,
    topic_slugs: list[str],
    when: When,
    subject: str | None = None,
    intro: str = "",
    now: datetime | None = None,
) -> Schedule:
    now = now or utcnow()
    schedule = Schedule(
        name=_name(name),
        topics=_topics(topic_slugs),
        subject_template=check_subject(subject or DEFAULT_SUBJECT),
        intro_markdown=check_text("intro", intro or "", limits.DIGEST_INTRO, required=False),
        active=True,
        next_run=when.next_after(now),
        created_at=now,
    )
    _set_when(schedule, when)
    db.session.add(schedule)
    return schedule


@autocommit
def change_schedule(
    schedule: Schedule,
    *,
    name: str | None = None,
    topic_slugs: list[str] | None = None,
    when: When | None = None,
    subject: str | None = None,
    intro: str | None = None,
    active: bool | None = None,
    now: datetime | None = None,
) -> None:
    """Change what is given; a new cadence, or a resume, takes the next slot after `now`."""
    now = now or utcnow()
    if name is not None:
        schedule.name = _name(name)
    if topic_slugs is not None:
        schedule.topics = _topics(topic_slugs)
    if subject is not None:
        schedule.subject_template = check_subject(subject)
    if intro is not None:
        schedule.intro_markdown = check_text("intro", intro, limits.DIGEST_INTRO, required=False)
    resumed = active is True and not schedule.active
    if active is not None:
        schedule.active = active
    if when is not None:
        _set_when(schedule, when)
    if when is not None or resumed:
        # Slots passed while it was paused are not owed: it goes on from now.
        schedule.next_run = when_of(schedule).next_after(now)


@autocommit
def delete_schedule(schedule: Schedule) -> None:
    """Gone; the digests it composed stay, no longer pointing at it."""
    db.session.delete(schedule)


def all_schedules() -> list[Schedule]:
    return list(db.session.scalars(select(Schedule).order_by(Schedule.name, Schedule.id)))


def last_digests(schedule_ids: list[int]) -> dict[int, Digest]:
    """Each schedule's latest digest."""
    latest = (
        select(Digest.schedule_id, db.func.max(Digest.id))
        .where(Digest.schedule_id.in_(schedule_ids))
        .group_by(Digest.schedule_id)
    )
    ids = [digest_id for _, digest_id in db.session.execute(latest)]
    found = db.session.scalars(select(Digest).where(Digest.id.in_(ids)))
    return {digest.schedule_id: digest for digest in found}


def since(schedule: Schedule) -> datetime:
    """Where the next run's news starts: its last run; for its first, one period before it was
    made, so that news published just before it is not passed over (what readers already
    have is left out all the same)."""
    if schedule.last_run_at is not None:
        return schedule.last_run_at
    return schedule.created_at - FIRST_LOOK_BACK[schedule.cadence]


def news_for(schedule: Schedule, start: datetime, end: datetime) -> list[Update]:
    """Updates published for its topics after `start`, up to `end`, and earlier events
    cancelled in that time (their readers are told), oldest first; none that was withdrawn."""
    topic_ids = [topic.id for topic in schedule.topics]
    cancelled = select(Event.update_id).where(Event.cancelled_at > start, Event.cancelled_at <= end)
    query = (
        select(Update)
        .where(
            or_(Update.published_at > start, Update.id.in_(cancelled)),
            Update.published_at <= end,
            Update.withdrawn_at.is_(None),
            Update.id.in_(
                select(update_topics.c.update_id).where(update_topics.c.topic_id.in_(topic_ids))
            ),
        )
        .order_by(Update.published_at, Update.id)
    )
    return list(db.session.scalars(query))


def subject_for(schedule: Schedule, moment: datetime) -> str:
    local = when_of(schedule).local(moment)
    subject = schedule.subject_template.format(
        org=current_app.config["ORG_NAME"],
        name=schedule.name,
        date=f"{local.day} {local:%B %Y}",
    )
    return " ".join(subject.split())[: limits.DIGEST_SUBJECT]


def compose(schedule: Schedule, start: datetime, end: datetime, moment: datetime) -> Digest | None:
    """The digest of what is new between start and end that some reader lacks; None if none."""
    topic_ids = [topic.id for topic in schedule.topics]
    fresh = lacking_someone([u.id for u in news_for(schedule, start, end)], topic_ids)
    if not fresh:
        return None
    digest = create_digest(
        subject_for(schedule, moment),
        schedule.intro_markdown,
        fresh,
        [topic.slug for topic in schedule.topics],
        DigestKind.DIGEST,
    )
    digest.schedule_id = schedule.id
    return digest


def preview(schedule: Schedule, now: datetime | None = None) -> Digest:
    """What its next run would carry if it ran now, unsaved: for the console's preview."""
    now = now or utcnow()
    news = news_for(schedule, since(schedule), now)
    return Digest(
        id=None,
        subject=subject_for(schedule, schedule.next_run or now),
        intro_markdown=schedule.intro_markdown,
        intro_html=render_markdown(schedule.intro_markdown) if schedule.intro_markdown else "",
        kind=DigestKind.DIGEST,
        topics=list(schedule.topics),
        items=[DigestUpdate(update_id=u.id, update=u, position=n) for n, u in enumerate(news)],
    )


@autocommit
def run_now(schedule: Schedule, now: datetime | None = None) -> Digest | None:
    """Compose and send at once what is new; its next slot stays as it was."""
    now = now or utcnow()
    digest = compose(schedule, since(schedule), now, now)
    schedule.last_run_at = now
    if digest is not None:
        send(digest)
    return digest


def due(now: datetime) -> list[tuple[int, datetime]]:
    """(schedule id, slot) of every active schedule whose slot has come."""
    rows = db.session.execute(
        select(Schedule.id, Schedule.next_run)
        .where(Schedule.active.is_(True), Schedule.next_run <= now)
        .order_by(Schedule.next_run)
    )
    return [(schedule_id, slot) for schedule_id, slot in rows]


def run_due(now: datetime | None = None) -> list[Digest]:
    """Run every schedule whose slot has come, each in a transaction of its own."""
    now = now or utcnow()
    digests = []
    for schedule_id, slot in due(now):
        digest = run_slot(schedule_id, slot, now)
        if digest is not None:
            digests.append(digest)
    return digests


@autocommit
def run_slot(schedule_id: int, slot: datetime, now: datetime) -> Digest | None:
    """Claim the slot and, if this caller won it, compose and send (or hold) its digest."""
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None or not schedule.active:
        return None
    start = since(schedule)
    following = when_of(schedule).next_after(max(now, slot))  # missed slots are not owed
    won = db.session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id, Schedule.next_run == slot, Schedule.active.is_(True))
        .values(next_run=following, last_run_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        return None
    digest = compose(schedule, start, now, slot)
    db.session.expire(schedule)
    if digest is None:
        return None
    late = now - slot
    if late > timedelta(minutes=current_app.config["SEND_LATE_MINUTES"]):
        digest.status = DigestStatus.PAUSED
        digest.scheduled_at = slot
        digest.note = (
            f"missed its time by {int(late.total_seconds() // 60)} minutes; resume to send"
        )
    else:
        send(digest)
    return digest
