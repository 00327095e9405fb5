"""The API's calls: read the body, make one call into the domain, answer JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import g, request, url_for
from werkzeug.exceptions import BadRequest, Conflict, NotFound

from updates import limits
from updates.addresses import InvalidAddress, normalise_address
from updates.extensions import db
from updates.links import external_url
from updates.models import Digest, DigestKind, Schedule, Subscriber, Topic, Update
from updates.news import corrections, digests, drafts, events, publishing, schedules
from updates.news.announcements import announce
from updates.news.cadence import FIELDS, WEEKDAYS, when
from updates.news.publishing import ContentError, topics_for_slugs
from updates.news.topics import TopicError, active_subscriber_counts, add_topic, all_topics
from updates.subscribers.lookup import find_by_address
from updates.transaction import transaction

from . import blueprint
from .auth import admin_required, audit, token_required
from .body import field, ids, json_body, known_fields, moment, optional_text, text

DIGEST = f"/digests/<int(max={limits.MAX_ID}):digest_id>"  # larger ids overflow the column: 404
SCHEDULE = f"/schedules/<int(max={limits.MAX_ID}):schedule_id>"
UPDATE = f"/updates/<int(max={limits.MAX_ID}):update_id>"
DIGEST_ACTIONS = {"pause": digests.pause, "resume": digests.resume, "cancel": digests.cancel}


def topic_json(topic: Topic, subscribers: int) -> dict[str, Any]:
    return {
        "slug": topic.slug,
        "name": topic.name,
        "description": topic.description,
        "public": topic.public,
        "subscribers": subscribers,
    }


def subscriber_json(subscriber: Subscriber) -> dict[str, Any]:
    followed = sorted(subscriber.subscriptions, key=lambda s: (s.topic.position, s.topic.slug))
    return {
        "email": subscriber.email,
        "status": subscriber.status,
        "topics": [subscription.topic.slug for subscription in followed],
    }


def digest_state(digest: Digest) -> dict[str, Any]:
    return {"id": digest.id, "status": digest.status}


def update_json(update: Update) -> dict[str, Any]:
    return {
        "id": update.id,
        "url": external_url("public.show_update", update_id=update.id),
        "title": update.title,
        "body": update.body_markdown,
        "topics": [topic.slug for topic in update.topics],
        "revisions": len(update.revisions),
        "event": events.event_json(update.event),
    }


def find_update(update_id: int) -> Update:
    return db.get_or_404(Update, update_id, description=f"There is no update {update_id}.")


def find_digest(digest_id: int) -> Digest:
    return db.get_or_404(Digest, digest_id, description=f"There is no digest {digest_id}.")


def slug_taken(slug: str) -> bool:
    try:
        return bool(topics_for_slugs([slug]))
    except ContentError:
        return False


@blueprint.get("/topics")
@token_required
def list_topics():
    counts = active_subscriber_counts()
    return [topic_json(topic, counts.get(topic.id, 0)) for topic in all_topics()]


@blueprint.post("/topics")
@admin_required
def create_topic():
    body = json_body()
    slug = field(body, "slug", str)
    name = text(body, "name", limits.TOPIC_NAME)
    description = text(body, "description", limits.TOPIC_DESCRIPTION, "")
    public = field(body, "public", bool, True)
    try:
        with transaction():
            topic = add_topic(slug, name, description, public)
            audit("topic added", topic.slug)
    except TopicError as error:
        raise (Conflict if slug_taken(slug) else BadRequest)(str(error)) from error
    return topic_json(topic, 0), 201


@blueprint.post("/updates")
@token_required
def create_update():
    body = json_body()
    title = text(body, "title", limits.UPDATE_TITLE)
    markdown = text(body, "body", limits.UPDATE_BODY)
    topics = field(body, "topics", list)
    event = field(body, "event", dict, None)
    details = events.details_from(event) if event is not None else None
    # Off unless asked for: a client of the contract's {title, body, topics} publishes, as it
    # always did, and its later digest still reaches every reader.
    announcing = field(body, "announce", bool, False)
    with transaction():
        update = publishing.create_update(title, markdown, topics)
        events.set_event(update, details)
        announcement = announce(update) if announcing else None
        announced = f" (announced: digest {announcement.id})" if announcement else ""
        audit("update published", f"{update.id}: {update.title}{announced}")
    url = external_url("public.show_update", update_id=update.id)
    answer = {"id": update.id, "url": url, "announcement": announcement and announcement.id}
    return answer, 201, {"Location": url}


@blueprint.patch(UPDATE)
@token_required
def edit_update(update_id: int):
    update = find_update(update_id)
    body = known_fields(json_body(), "title", "body", "topics", "event")
    title = optional_text(body, "title", limits.UPDATE_TITLE)
    markdown = optional_text(body, "body", limits.UPDATE_BODY)
    topics = field(body, "topics", list, None)
    changing_event = "event" in body
    event = field(body, "event", dict, None)
    details = events.details_from(event) if event is not None else None
    with transaction():
        changed = corrections.edit_update(update, g.staff.id, title, markdown, topics)
        if changing_event:
            changed = events.change_event(update, details) or changed
        if changed:
            audit("update corrected", f"{update.id}: {update.title}")
    return update_json(update)


@blueprint.post(f"{UPDATE}/event/cancel")
@token_required
def cancel_event(update_id: int):
    update = find_update(update_id)
    with transaction():
        if events.cancel_event(update):
            audit("event cancelled", f"{update.id}: {update.title}")
    return update_json(update)


@blueprint.delete(UPDATE)
@token_required
def withdraw_update(update_id: int):
    update = find_update(update_id)
    with transaction():
        withdrawal = corrections.withdraw_update(update)
        if withdrawal is not None:  # a second DELETE changes nothing, and answers the same
            audit("update withdrawn", withdrawn_detail(update, withdrawal))
    return "", 204


def withdrawn_detail(update: Update, withdrawal: corrections.Withdrawal) -> str:
    detail = f"{update.id}: {update.title}"
    if withdrawal.dropped_from:
        detail += "; taken out of digests " + ", ".join(map(str, withdrawal.dropped_from))
    return detail


@blueprint.post("/digests")
@token_required
def create_digest():
    body = json_body()
    subject = text(body, "subject", limits.DIGEST_SUBJECT)
    intro = text(body, "intro", limits.DIGEST_INTRO, "")
    update_ids = ids(body, "updates")
    topics = field(body, "topics", list)
    kind = field(body, "kind", str, DigestKind.DIGEST)
    with transaction():
        digest = digests.create_digest(subject, intro, update_ids, topics, kind)
        audit("digest composed", f"{digest.id}: {digest.subject}")
    location = url_for(".show_digest", digest_id=digest.id)
    return {"id": digest.id}, 201, {"Location": location}


@blueprint.get(DIGEST)
@token_required
def show_digest(digest_id: int):
    digest = find_digest(digest_id)
    progress = digests.progress(digest.id)
    return {
        "id": digest.id,
        "status": digest.status,
        "recipients": progress.recipients,
        "sent": progress.sent,
        "failed": progress.failed,
        "already_sent": progress.already_sent,
    }


@blueprint.patch(DIGEST)
@token_required
def edit_digest(digest_id: int):
    digest = find_digest(digest_id)
    body = known_fields(json_body(), "subject", "intro", "updates", "topics", "kind")
    subject = optional_text(body, "subject", limits.DIGEST_SUBJECT)
    intro = optional_text(body, "intro", limits.DIGEST_INTRO)
    update_ids = ids(body, "updates") if body.get("updates") is not None else None
    topics = field(body, "topics", list, None)
    kind = field(body, "kind", str, None)
    with transaction():
        drafts.edit_digest(digest, subject, intro, update_ids, topics, kind)
        audit("digest edited", f"{digest.id}: {digest.subject}")
    return digest_state(digest)


@blueprint.delete(DIGEST)
@token_required
def delete_digest(digest_id: int):
    digest = find_digest(digest_id)
    detail = f"{digest.id}: {digest.subject}"
    with transaction():
        drafts.delete_digest(digest)
        audit("digest deleted", detail)
    return "", 204


@blueprint.post(f"{DIGEST}/send")
@token_required
def send_digest(digest_id: int):
    digest = find_digest(digest_id)
    at = moment(json_body(optional=True), "at")
    with transaction():
        digests.send(digest, at)
        audit("digest scheduled" if at else "digest sending", f"{digest.id}: {digest.subject}")
    return digest_state(digest), 202


@blueprint.post(f"{DIGEST}/<any(pause, resume, cancel):action>")
@token_required
def change_digest(digest_id: int, action: str):
    digest = find_digest(digest_id)
    with transaction():
        DIGEST_ACTIONS[action](digest)
        audit(f"digest {action}", f"{digest.id}: {digest.subject}")
    return digest_state(digest), 202


@blueprint.get("/subscribers")
@token_required
def find_subscriber():
    raw = request.args.get("email", "")
    if not raw.strip():
        raise BadRequest("Give the address to look up: /api/subscribers?email=ADDRESS")
    try:
        subscriber = find_by_address(normalise_address(raw))
    except InvalidAddress as error:
        raise BadRequest(str(error)) from error
    if subscriber is None:
        raise NotFound("There is no subscriber with that address.")
    return subscriber_json(subscriber)


def iso(moment: datetime | None) -> str | None:
    return moment.replace(tzinfo=UTC).isoformat() if moment else None


def schedule_json(schedule: Schedule, last: Digest | None = None) -> dict[str, Any]:
    return {
        "id": schedule.id,
        "name": schedule.name,
        "topics": [topic.slug for topic in schedule.topics],
        "cadence": schedule.cadence,
        "weekday": None if schedule.weekday is None else WEEKDAYS[schedule.weekday],
        "day": schedule.day,
        "time": schedule.time,
        "timezone": schedule.timezone,
        "subject": schedule.subject_template,
        "intro": schedule.intro_markdown,
        "active": schedule.active,
        "next_run": iso(schedule.next_run) if schedule.active else None,
        "last_run": iso(schedule.last_run_at),
        "last_digest": last.id if last else None,
    }


def find_schedule(schedule_id: int) -> Schedule:
    return db.get_or_404(Schedule, schedule_id, description=f"There is no schedule {schedule_id}.")


@blueprint.get("/schedules")
@token_required
def list_schedules():
    found = schedules.all_schedules()
    last = schedules.last_digests([schedule.id for schedule in found])
    return [schedule_json(schedule, last.get(schedule.id)) for schedule in found]


@blueprint.post("/schedules")
@token_required
def create_schedule():
    body = json_body()
    name = text(body, "name", limits.SCHEDULE_NAME)
    topics = field(body, "topics", list)
    cadence = when(*(body.get(key) for key in ("cadence", "time", "timezone", "weekday", "day")))
    subject = text(body, "subject", limits.DIGEST_SUBJECT, "") or None
    intro = text(body, "intro", limits.DIGEST_INTRO, "")
    with transaction():
        schedule = schedules.create_schedule(name, topics, cadence, subject, intro)
        audit("schedule added", f"{schedule.id}: {schedule.name}")
    location = url_for(".show_schedule", schedule_id=schedule.id)
    return {"id": schedule.id, "next_run": iso(schedule.next_run)}, 201, {"Location": location}


@blueprint.get(SCHEDULE)
@token_required
def show_schedule(schedule_id: int):
    schedule = find_schedule(schedule_id)
    return schedule_json(schedule, schedules.last_digests([schedule.id]).get(schedule.id))


@blueprint.patch(SCHEDULE)
@token_required
def change_schedule(schedule_id: int):
    schedule = find_schedule(schedule_id)
    body = json_body()
    given = {key: body[key] for key in FIELDS if key in body}
    changes = {
        "name": text(body, "name", limits.SCHEDULE_NAME) if "name" in body else None,
        "topic_slugs": field(body, "topics", list, None),  # type: ignore[arg-type]
        "when": schedules.when_of(schedule).changed(given) if given else None,
        "subject": text(body, "subject", limits.DIGEST_SUBJECT) if "subject" in body else None,
        "intro": field(body, "intro", str, None),  # type: ignore[arg-type]
        "active": field(body, "active", bool, None),  # type: ignore[arg-type]
    }
    with transaction():
        schedules.change_schedule(schedule, **changes)
        audit("schedule changed", f"{schedule.id}: {schedule.name}")
    return show_schedule(schedule.id)


@blueprint.delete(SCHEDULE)
@token_required
def delete_schedule(schedule_id: int):
    schedule = find_schedule(schedule_id)
    with transaction():
        audit("schedule deleted", f"{schedule.id}: {schedule.name}")
        schedules.delete_schedule(schedule)
    return "", 204


@blueprint.post(f"{SCHEDULE}/run")
@token_required
def run_schedule(schedule_id: int):
    schedule = find_schedule(schedule_id)
    with transaction():
        digest = schedules.run_now(schedule)
        made = f"digest {digest.id}" if digest else "nothing new"
        audit("schedule run", f"{schedule.id}: {schedule.name}: {made}")
    return {"digest": digest.id if digest else None}, 202
