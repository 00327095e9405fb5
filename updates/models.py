"""The tables: topics, subscribers and their subscriptions, consent evidence, outbound email."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class SubscriberStatus:
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    ERASED = "erased"


class Frequency:
    EVERY_ANNOUNCEMENT = "all"
    DIGESTS_ONLY = "digest"


class EmailKind:
    CONFIRM = "confirm"
    ALREADY_SUBSCRIBED = "already_subscribed"
    WELCOME = "welcome"
    MANAGE_LINK = "manage_link"


class EmailState:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Topic(db.Model):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(default=True)
    archived: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscriber(db.Model):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # As entered (domain normalised); email_key is the case-folded form that identifies the person.
    email: Mapped[str | None] = mapped_column(String(320))
    email_key: Mapped[str | None] = mapped_column(String(320), unique=True)
    status: Mapped[str] = mapped_column(String(20), default=SubscriberStatus.PENDING, index=True)
    token_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan"
    )


class Subscription(db.Model):
    __tablename__ = "subscriptions"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    frequency: Mapped[str] = mapped_column(String(10), default=Frequency.EVERY_ANNOUNCEMENT)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    topic: Mapped[Topic] = relationship()


class ConsentStatement(db.Model):
    """A version of the consent wording shown to visitors, kept verbatim for evidence."""

    __tablename__ = "consent_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentEvent(db.Model):
    """Append-only: what a subscriber did, when, through what, having seen which wording."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(20))
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("consent_statements.id"))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    subscriber: Mapped[Subscriber] = relationship()
    statement: Mapped[ConsentStatement | None] = relationship()


class SignupRequest(db.Model):
    """Topics a visitor asked for, waiting for the POST from the emailed link."""

    __tablename__ = "signup_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    topic_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("consent_statements.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]

    subscriber: Mapped[Subscriber] = relationship()
    statement: Mapped[ConsentStatement | None] = relationship()


class OutboundEmail(db.Model):
    """A transactional email owed to a subscriber; the row is written before the job exists."""

    __tablename__ = "outbound_emails"
    __table_args__ = (Index("ix_outbound_emails_state_created", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    signup_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("signup_requests.id", ondelete="CASCADE")
    )
    state: Mapped[str] = mapped_column(String(12), default=EmailState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    subscriber: Mapped[Subscriber] = relationship()
    signup_request: Mapped[SignupRequest | None] = relationship()


class Suppression(db.Model):
    """An address never to be mailed again; only its hash is kept once the address is erased."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("email_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
