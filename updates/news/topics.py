"""Topics: what a visitor can follow."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from updates import limits
from updates.extensions import db
from updates.models import Subscriber, SubscriberStatus, Subscription, Topic
from updates.transaction import autocommit

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class TopicError(ValueError):
    """A topic cannot be made as asked."""


def public_topics() -> list[Topic]:
    """Topics offered on the sign-up and manage pages, in display order."""
    query = select(Topic).where(Topic.public.is_(True), Topic.archived.is_(False))
    return list(db.session.scalars(query.order_by(Topic.position, Topic.name)))


def public_topic(slug: str) -> Topic | None:
    """The public, unarchived topic with this slug, if there is one."""
    query = select(Topic).where(
        Topic.slug == slug[: limits.TOPIC_SLUG], Topic.public.is_(True), Topic.archived.is_(False)
    )
    return db.session.scalar(query)


@dataclass(frozen=True)
class OfferedTopic:
    """A public topic as the sign-up form shows it: plain values, safe to share between requests."""

    id: int
    slug: str
    name: str
    description: str


_changes = 0  # counts the changes made through this module in this process


class _OfferedTopicsCache:
    def __init__(self) -> None:
        self.topics: tuple[OfferedTopic, ...] = ()
        self.loaded_at = float("-inf")
        self.changes_seen = -1
        self.lock = threading.Lock()

    def get(self, max_age: float) -> tuple[OfferedTopic, ...]:
        if self.changes_seen != _changes or time.monotonic() - self.loaded_at > max_age:
            with self.lock:
                self.changes_seen, self.loaded_at = _changes, time.monotonic()
                query = select(Topic.id, Topic.slug, Topic.name, Topic.description).where(
                    Topic.public.is_(True), Topic.archived.is_(False)
                )
                with db.engine.connect() as connection:  # not the request's session
                    rows = connection.execute(query.order_by(Topic.position, Topic.name))
                    self.topics = tuple(OfferedTopic(*row) for row in rows)
        return self.topics


def offered_topics() -> tuple[OfferedTopic, ...]:
    """The public topics in display order, as read at most TOPIC_CACHE_SECONDS ago.

    The sign-up form shows them on every view and staff change them rarely, so each process keeps
    them a few seconds: a change made in this process shows at once, one made in another process
    within that time.
    """
    cache = current_app.extensions.setdefault("updates.offered_topics", _OfferedTopicsCache())
    return cache.get(current_app.config["TOPIC_CACHE_SECONDS"])


def _changed() -> None:
    global _changes
    _changes += 1


def all_topics() -> list[Topic]:
    return list(db.session.scalars(select(Topic).order_by(Topic.position, Topic.name)))


def topics_by_ids(ids: Iterable[int]) -> list[Topic]:
    """The live (not archived) topics among these ids, in display order."""
    wanted = list(ids)
    if not wanted:
        return []
    query = select(Topic).where(Topic.id.in_(wanted), Topic.archived.is_(False))
    return list(db.session.scalars(query.order_by(Topic.position, Topic.name)))


def active_subscriber_counts() -> dict[int, int]:
    query = (
        select(Subscription.topic_id, func.count())
        .join(Subscriber)
        .where(Subscriber.status == SubscriberStatus.ACTIVE)
        .group_by(Subscription.topic_id)
    )
    return {topic_id: count for topic_id, count in db.session.execute(query)}


@autocommit
def add_topic(slug: str, name: str, description: str = "", public: bool = True) -> Topic:
    """Create a topic; raise TopicError for a bad or taken slug."""
    if not SLUG_PATTERN.match(slug) or len(slug) > limits.TOPIC_SLUG:
        raise TopicError(
            f"slug {slug!r} must be lower-case letters, digits and hyphens, "
            f"at most {limits.TOPIC_SLUG} characters"
        )
    name, description = _checked_words(name, description)
    if db.session.scalar(select(Topic.id).where(Topic.slug == slug)) is not None:
        raise TopicError(f"a topic with slug {slug!r} already exists")
    position = db.session.scalar(select(func.coalesce(func.max(Topic.position), 0))) + 1
    topic = Topic(
        slug=slug,
        name=name,
        description=description,
        public=public,
        position=position,
    )
    db.session.add(topic)
    _changed()
    return topic


def _checked_words(name: str, description: str) -> tuple[str, str]:
    """A topic's name and description, stripped; TopicError if either will not do."""
    name, description = name.strip(), description.strip()
    if not name or len(name) > limits.TOPIC_NAME:
        raise TopicError(f"name must be between 1 and {limits.TOPIC_NAME} characters")
    if len(description) > limits.TOPIC_DESCRIPTION:
        raise TopicError(f"description must be at most {limits.TOPIC_DESCRIPTION} characters")
    if "\x00" in name + description:
        raise TopicError("name and description cannot contain NUL characters")
    return name, description


@autocommit
def edit_topic(topic: Topic, name: str, description: str) -> bool:
    """Rename or re-describe a topic; the slug, and so every link, stays. Returns if it changed."""
    name, description = _checked_words(name, description)
    if (topic.name, topic.description) == (name, description):
        return False
    topic.name, topic.description = name, description
    _changed()
    return True


@autocommit
def set_public(topic: Topic, public: bool) -> bool:
    """Offer the topic on the sign-up and manage pages, or hide it; returns if it changed."""
    if topic.public == public:
        return False
    topic.public = public
    _changed()
    return True


@autocommit
def set_archived(topic: Topic, archived: bool) -> bool:
    """Retire a topic (or bring it back); returns if it changed.

    An archived topic leaves the sign-up and manage pages and the composers, whatever its
    visibility; its subscriptions are kept, so unarchiving restores its audience as it was.
    """
    if topic.archived == archived:
        return False
    topic.archived = archived
    _changed()
    return True
