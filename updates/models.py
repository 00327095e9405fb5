"""The tables: topics, subscribers and their subscriptions, consent evidence, outbound email."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from updates.extensions import db
from updates.limits import SUBSCRIBER_NAME, SUBSCRIBER_ORGANISATION


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class SubscriberStatus:
    PENDING = "pending"
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"
    ERASED = "erased"
    ALL = (PENDING, ACTIVE, UNSUBSCRIBED, BOUNCED, COMPLAINED, ERASED)


class Frequency:
    EVERY_ANNOUNCEMENT = "all"
    DIGESTS_ONLY = "digest"


class EmailKind:
    CONFIRM = "confirm"
    ALREADY_SUBSCRIBED = "already_subscribed"
    WELCOME = "welcome"
    MANAGE_LINK = "manage_link"


class DigestKind:
    ANNOUNCEMENT = "announcement"
    DIGEST = "digest"


class DigestStatus:
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"
    ALL = (DRAFT, SCHEDULED, SENDING, PAUSED, SENT, CANCELLED)


class DeliveryStatus:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class SkipReason:
    """Why a delivery was skipped, kept in its last_error: staff count them apart."""

    GONE = "no longer subscribed or suppressed"
    NO_UPDATES = "no update for their topics"
    ALREADY_SENT = "already sent every update in it"
    CANCELLED = "digest cancelled"


class Cadence:
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    ALL = (DAILY, WEEKLY, MONTHLY)


class SuppressionReason:
    """Why the service itself suppressed an address; staff may also type a reason of their own."""

    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    ERASED = "erased"
    UNSUBSCRIBED = "unsubscribed"  # kept past UNSUBSCRIBED_RETENTION_DAYS: only the hash is left


class StaffRole:
    ADMIN = "admin"
    EDITOR = "editor"


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
    # Attributes an import may bring; the person's own data, shown to staff and in their download.
    name: Mapped[str | None] = mapped_column(String(SUBSCRIBER_NAME))
    organisation: Mapped[str | None] = mapped_column(String(SUBSCRIBER_ORGANISATION))

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


class DeferredSignup(db.Model):
    """A sign-up from an address that is already known (or suppressed), as the visitor sent it.

    The request writes it with the same single statement that signs up a new address, so the
    two answer alike and nobody can time who subscribes; a worker applies the rules for known
    addresses and deletes it.
    """

    __tablename__ = "deferred_signups"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    topic_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("consent_statements.id"))
    source: Mapped[str] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


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
    """An address never to be mailed again; only its keyed hash is kept once it is erased."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("email_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SoftBounce(db.Model):
    """A subscriber's soft bounces since the first one of the current window (soft_bounces.py)."""

    __tablename__ = "soft_bounces"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    count: Mapped[int]
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]


update_topics = Table(
    "update_topics",
    db.metadata,
    Column("update_id", ForeignKey("updates.id", ondelete="CASCADE"), primary_key=True),
    # Indexed for finding a topic's updates; the key leads with the update.
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True),
)

digest_topics = Table(
    "digest_topics",
    db.metadata,
    Column("digest_id", ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True),
    # Indexed for finding a topic's digests; the key leads with the digest.
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Update(db.Model):
    """A piece of programme news; its Markdown is rendered to sanitised HTML once, on save."""

    __tablename__ = "updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    body_markdown: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revised_at: Mapped[datetime | None]  # the last correction, if any
    withdrawn_at: Mapped[datetime | None]  # gone from its page, the archive and new digests

    topics: Mapped[list[Topic]] = relationship(secondary=update_topics, order_by=Topic.position)
    revisions: Mapped[list[UpdateRevision]] = relationship(
        order_by="UpdateRevision.id", back_populates="update", cascade="all, delete-orphan"
    )

    @property
    def topic_ids(self) -> frozenset[int]:
        return frozenset(topic.id for topic in self.topics)

    @property
    def update_id(self) -> int:
        """Its own id, under the name a revision gives it: a digest shows either."""
        return self.id


class UpdateRevision(db.Model):
    """An update as it read from one save to the next: its history, and what a digest that
    started sending keeps showing whatever corrections follow."""

    __tablename__ = "update_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(ForeignKey("updates.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    body_markdown: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    topic_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    update: Mapped[Update] = relationship(back_populates="revisions")
    staff: Mapped[StaffUser | None] = relationship()

    @property
    def event(self) -> Event | None:
        """The update's event as it stands: a moved or cancelled event reaches readers as such,
        whichever revision of the text a digest pinned."""
        return self.update.event


class Event(db.Model):
    """When and where an update's event happens. Times are UTC, beside the zone they were set in;
    `sequence` counts changes, as RFC 5545 asks, so a calendar takes the newest copy."""

    __tablename__ = "events"

    update_id: Mapped[int] = mapped_column(
        ForeignKey("updates.id", ondelete="CASCADE"), primary_key=True
    )
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    place: Mapped[str | None] = mapped_column(String(300))
    online_url: Mapped[str | None] = mapped_column(String(2000))
    booking_url: Mapped[str | None] = mapped_column(String(2000))
    sequence: Mapped[int] = mapped_column(default=0)
    cancelled_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    update: Mapped[Update] = relationship(
        backref=backref("event", uselist=False, cascade="all, delete-orphan", passive_deletes=True)
    )

    @property
    def local_start(self) -> datetime:
        return self.starts_at.replace(tzinfo=UTC).astimezone(ZoneInfo(self.timezone))

    @property
    def local_end(self) -> datetime:
        return self.ends_at.replace(tzinfo=UTC).astimezone(ZoneInfo(self.timezone))


class DigestUpdate(db.Model):
    __tablename__ = "digest_updates"

    digest_id: Mapped[int] = mapped_column(
        ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True
    )
    # Indexed: which digests carried an update is how the ledger knows who was sent it.
    update_id: Mapped[int] = mapped_column(
        ForeignKey("updates.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    # Set when the digest starts sending: the revision it shows from then on.
    revision_id: Mapped[int | None] = mapped_column(ForeignKey("update_revisions.id"))

    update: Mapped[Update] = relationship()
    revision: Mapped[UpdateRevision | None] = relationship()

    @property
    def shown(self) -> Update | UpdateRevision:
        """What the digest shows of this update: its pinned revision, else the update as now."""
        return self.revision or self.update


class Digest(db.Model):
    """What is emailed: a subject, an intro and an ordered list of updates, to some topics."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    intro_markdown: Mapped[str] = mapped_column(Text, default="")
    intro_html: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(20), default=DigestKind.DIGEST)
    status: Mapped[str] = mapped_column(String(20), default=DigestStatus.DRAFT, index=True)
    scheduled_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("schedules.id", ondelete="SET NULL"), index=True
    )

    topics: Mapped[list[Topic]] = relationship(secondary=digest_topics, order_by=Topic.position)
    items: Mapped[list[DigestUpdate]] = relationship(
        order_by=DigestUpdate.position, cascade="all, delete-orphan"
    )


schedule_topics = Table(
    "schedule_topics",
    db.metadata,
    Column("schedule_id", ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True),
    Column("topic_id", ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True),
)


class Schedule(db.Model):
    """A digest composed and sent at a local time, daily, weekly or monthly, of what is new.

    `next_run` is the next slot in UTC; a worker claims a slot by moving it on with a guarded
    UPDATE, so no slot runs twice. `last_run_at` is where the next run's news starts.
    """

    __tablename__ = "schedules"
    __table_args__ = (Index("ix_schedules_active_next_run", "active", "next_run"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    cadence: Mapped[str] = mapped_column(String(10))
    weekday: Mapped[int | None]  # weekly: 0 is Monday
    day: Mapped[int | None]  # monthly: 1 to 31; a month without that day runs on its last
    time: Mapped[str] = mapped_column(String(5))  # HH:MM, local
    timezone: Mapped[str] = mapped_column(String(64))
    subject_template: Mapped[str] = mapped_column(String(300))
    intro_markdown: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(default=True)
    next_run: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    topics: Mapped[list[Topic]] = relationship(secondary=schedule_topics, order_by=Topic.position)


class Delivery(db.Model):
    """The ledger: one row per digest and subscriber. Its Message-ID is derived from the pair."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("digest_id", "subscriber_id"),
        Index("ix_deliveries_digest_status", "digest_id", "status"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True
    )
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None]
    retry_at: Mapped[datetime | None]  # a deferred delivery is not tried again before this
    # The variant sent (what updates it held), set with the sent status. No foreign key: the
    # ledger's per-message UPDATE stays one index lookup.
    variant_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"))


class SentVariant(db.Model):
    """A variant of a digest as sent: which of its updates went to the readers who got it."""

    __tablename__ = "variants"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True
    )
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"), index=True)


variant_updates = Table(
    "variant_updates",
    db.metadata,
    Column(
        "variant_id",
        BigInteger().with_variant(db.Integer, "sqlite"),
        ForeignKey("variants.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("update_id", ForeignKey("updates.id", ondelete="CASCADE"), primary_key=True),
)


class Batch(db.Model):
    """A slice of a digest's ledger by id range; a worker holds a lease on it while sending."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_digest_done", "digest_id", "done"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_id: Mapped[int] = mapped_column(ForeignKey("digests.id", ondelete="CASCADE"))
    first_id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"))
    last_id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"))
    done: Mapped[bool] = mapped_column(default=False)
    lease_until: Mapped[datetime | None]
    runs: Mapped[int] = mapped_column(default=0)
    enqueued_at: Mapped[datetime | None]


class StaffUser(UserMixin, db.Model):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10), default=StaffRole.EDITOR)
    active: Mapped[bool] = mapped_column(default=True)
    # Part of every session's id: a new password, signing out or deactivation bumps it, which
    # ends every copy of the account's sessions.
    session_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Two-factor: the TOTP secret, encrypted (updates.staff.twofactor); on once confirmed.
    totp_secret: Mapped[str | None] = mapped_column(String(300))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]  # the last time step accepted: a code works once

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def is_active(self) -> bool:  # Flask-Login: a deactivated account cannot sign in
        return self.active

    def get_id(self) -> str:  # Flask-Login keeps this in the session cookie
        return f"{self.id}.{self.session_version}"

    @property
    def is_admin(self) -> bool:
        return self.role == StaffRole.ADMIN


class RecoveryCode(db.Model):
    """A single-use two-factor recovery code; only its SHA-256 is stored."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


class LoginBackoff(db.Model):
    """Failed sign-ins for one address from one IP, kept as a keyed hash of the pair."""

    __tablename__ = "staff_login_backoffs"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    retry_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class PasswordReset(db.Model):
    """A request for a password-reset email, written whether or not the address has an account;
    a worker decides, and sends the link to an active account only."""

    __tablename__ = "staff_password_resets"
    __table_args__ = (Index("ix_staff_password_resets_state_created", "state", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))  # the address key, as asked
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(12), default=EmailState.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]


class AuditEvent(db.Model):
    """Who on the staff did what, when."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(60), index=True)  # the log is filtered by it
    detail: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    staff: Mapped[StaffUser | None] = relationship()


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    staff: Mapped[StaffUser] = relationship()


class EmbedOrigin(db.Model):
    """A site allowed to frame the embeddable sign-up form (CSP frame-ancestors)."""

    __tablename__ = "embed_origins"

    id: Mapped[int] = mapped_column(primary_key=True)
    origin: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
