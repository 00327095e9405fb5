"""Data factories: create_x(**overrides), straight into the database."""

from __future__ import annotations

from sqlalchemy import select

from updates.addresses import address_key
from updates.extensions import db
from updates.models import Digest, Subscriber, Subscription, Topic, Update, utcnow
from updates.news.digests import create_digest
from updates.news.publishing import create_update
from updates.news.topics import add_topic


def create_topics(*slugs: str) -> dict[str, Topic]:
    return {slug: add_topic(slug, slug.replace("-", " ").title()) for slug in slugs}


def create_subscriber(email: str, follows: dict[str, str] | list[str], status: str = "active"):
    """An active subscriber following topics (slug → 'all' | 'digest', or a list of slugs)."""
    if isinstance(follows, list):
        follows = {slug: "all" for slug in follows}
    subscriber = Subscriber(
        email=email, email_key=address_key(email), status=status, confirmed_at=utcnow()
    )
    for slug, frequency in follows.items():
        topic = db.session.scalar(select(Topic).where(Topic.slug == slug))
        subscriber.subscriptions.append(Subscription(topic=topic, frequency=frequency))
    db.session.add(subscriber)
    db.session.commit()
    return subscriber


def create_news(title: str, topics: list[str], body: str | None = None) -> Update:
    return create_update(title, body or "The **details** are on our website.", topics)


def create_test_digest(
    updates: list[Update], topics: list[str], kind: str = "digest", subject: str = "Programme news"
) -> Digest:
    return create_digest(
        subject, "This month's *highlights*.", [u.id for u in updates], topics, kind
    )
