"""Finding updates and digests a page at a time: the console's lists, the composer, the archive."""

from __future__ import annotations

from sqlalchemy import Select, select

from updates.extensions import db
from updates.models import Digest, Topic, Update, digest_topics, update_topics
from updates.news.publishing import published_query
from updates.paging import Page, paginate

PUBLISHED = "published"
WITHDRAWN = "withdrawn"
UPDATE_STATES = (PUBLISHED, WITHDRAWN)
OFFERED = 50  # updates the composer offers when nothing is searched for


def archive_page(topic: Topic | None = None, text: str = "", page: int = 1) -> Page:
    """The public archive's updates (in `topic`, if one) whose title contains `text`."""
    return paginate(_titled(published_query(topic), text), page)


def find_updates(text: str = "", topic_slug: str = "", state: str = "", page: int = 1) -> Page:
    """Updates for staff, newest first: title containing `text`, in the topic, in the state."""
    query = _titled(select(Update), text)
    if topic_slug:
        query = query.where(Update.id.in_(_with_topic(update_topics.c.update_id, topic_slug)))
    if state == PUBLISHED:
        query = query.where(Update.published_at.is_not(None), Update.withdrawn_at.is_(None))
    elif state == WITHDRAWN:
        query = query.where(Update.withdrawn_at.is_not(None))
    # Ids grow with time: newest first, on the primary key's index.
    return paginate(query.order_by(Update.id.desc()), page)


def find_digests(text: str = "", topic_slug: str = "", status: str = "", page: int = 1) -> Page:
    """Digests, newest first: subject containing `text`, to the topic, in the status."""
    query = select(Digest)
    if text:
        query = query.where(Digest.subject.icontains(text, autoescape=True))
    if topic_slug:
        query = query.where(Digest.id.in_(_with_topic(digest_topics.c.digest_id, topic_slug)))
    if status:
        query = query.where(Digest.status == status)
    return paginate(query.order_by(Digest.id.desc()), page)


def offerable_updates(text: str = "", also: list[int] | None = None) -> list[Update]:
    """What the composer offers, newest first: the latest updates a digest may carry, or those
    whose title contains `text`, and always the updates in `also` that a digest may carry."""
    offered = select(Update).where(Update.published_at.is_not(None), Update.withdrawn_at.is_(None))
    found = db.session.scalars(_titled(offered, text).order_by(Update.id.desc()).limit(OFFERED))
    chosen = db.session.scalars(offered.where(Update.id.in_(also))) if also else []
    by_id = {update.id: update for update in [*found, *chosen]}
    return sorted(by_id.values(), key=lambda update: update.id, reverse=True)


def _titled(query: Select, text: str) -> Select:
    if not text:
        return query
    return query.where(Update.title.icontains(text, autoescape=True))


def _with_topic(column, slug: str) -> Select:
    """Ids in `column` of a table joined to topics by its topic_id, for the topic `slug`."""
    return select(column).join(Topic, Topic.id == column.table.c.topic_id).where(Topic.slug == slug)
