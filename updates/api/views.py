"""The API's calls: read the body, make one call into the domain, answer JSON."""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from werkzeug.exceptions import BadRequest, Conflict, NotFound

from updates import limits
from updates.addresses import InvalidAddress, normalise_address
from updates.extensions import db
from updates.links import external_url
from updates.models import Digest, DigestKind, Subscriber, Topic
from updates.news import digests, publishing
from updates.news.publishing import ContentError, topics_for_slugs
from updates.news.topics import TopicError, active_subscriber_counts, add_topic, all_topics
from updates.subscribers.lookup import find_by_address

from . import blueprint
from .auth import token_required
from .body import field, ids, json_body, moment, text

DIGEST = f"/digests/<int(max={limits.MAX_ID}):digest_id>"  # larger ids overflow the column: 404
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
@token_required
def create_topic():
    body = json_body()
    slug = field(body, "slug", str)
    try:
        topic = add_topic(
            slug,
            text(body, "name", limits.TOPIC_NAME),
            text(body, "description", limits.TOPIC_DESCRIPTION, ""),
            field(body, "public", bool, True),
        )
    except TopicError as error:
        raise (Conflict if slug_taken(slug) else BadRequest)(str(error)) from error
    return topic_json(topic, 0), 201


@blueprint.post("/updates")
@token_required
def create_update():
    body = json_body()
    update = publishing.create_update(
        text(body, "title", limits.UPDATE_TITLE),
        text(body, "body", limits.UPDATE_BODY),
        field(body, "topics", list),
    )
    url = external_url("public.show_update", update_id=update.id)
    return {"id": update.id, "url": url}, 201, {"Location": url}


@blueprint.post("/digests")
@token_required
def create_digest():
    body = json_body()
    digest = digests.create_digest(
        text(body, "subject", limits.DIGEST_SUBJECT),
        text(body, "intro", limits.DIGEST_INTRO, ""),
        ids(body, "updates"),
        field(body, "topics", list),
        field(body, "kind", str, DigestKind.DIGEST),
    )
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
    }


@blueprint.post(f"{DIGEST}/send")
@token_required
def send_digest(digest_id: int):
    digest = find_digest(digest_id)
    digests.send(digest, moment(json_body(optional=True), "at"))
    return digest_state(digest), 202


@blueprint.post(f"{DIGEST}/<any(pause, resume, cancel):action>")
@token_required
def change_digest(digest_id: int, action: str):
    digest = find_digest(digest_id)
    DIGEST_ACTIONS[action](digest)
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
