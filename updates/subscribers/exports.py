"""What the CSV exports hold: subscribers with their topics, and the whole consent trail."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Row, Select, select

from updates.models import ConsentEvent, ConsentStatement, Subscriber, Subscription, Topic

SUBSCRIBERS_HEADER = (
    "email",
    "status",
    "topic",
    "frequency",
    "confirmed_at",
    "name",
    "organisation",
)
CONSENT_HEADER = ("email", "at", "action", "source", "topics", "statement", "ip", "user_agent")
# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def subscriber_rows(topic_slug: str = "") -> Select:
    """A row per subscription, of one topic or of all."""
    query = (
        select(
            Subscriber.email,
            Subscriber.status,
            Topic.slug,
            Subscription.frequency,
            Subscriber.confirmed_at,
            Subscriber.name,
            Subscriber.organisation,
        )
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .join(Topic, Topic.id == Subscription.topic_id)
        .order_by(Subscriber.id, Topic.position)
    )
    return query.where(Topic.slug == topic_slug) if topic_slug else query


def consent_rows() -> Select:
    """A row per consent event, with the wording the person saw."""
    return (
        select(
            Subscriber.email,
            ConsentEvent.created_at,
            ConsentEvent.action,
            ConsentEvent.source,
            ConsentEvent.topics,
            ConsentStatement.text,
            ConsentEvent.ip,
            ConsentEvent.user_agent,
        )
        .join(Subscriber, Subscriber.id == ConsentEvent.subscriber_id)
        .outerjoin(ConsentStatement, ConsentStatement.id == ConsentEvent.statement_id)
        .order_by(ConsentEvent.id)
    )


def consent_cells(row: Row) -> tuple:
    email, at, action, source, topics, text, ip, agent = row
    return (email, at.isoformat() + "Z", action, source, " ".join(topics or []), text, ip, agent)


def neutralised(value: object) -> object:
    """A cell a spreadsheet shows as text: one that would start a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_cells(cells: Iterable[object]) -> tuple:
    """A row of cells, each neutralised."""
    return tuple(neutralised(cell) for cell in cells)
