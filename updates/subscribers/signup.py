"""Double opt-in: a sign-up asks, the POST from the emailed link confirms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from updates.extensions import db
from updates.mail import outbox
from updates.models import (
    ConsentStatement,
    DeferredSignup,
    EmailKind,
    OutboundEmail,
    SignupRequest,
    Subscriber,
    SubscriberStatus,
    Subscription,
    Topic,
    utcnow,
)
from updates.news.topics import OfferedTopic, topics_by_ids
from updates.subscribers import consent
from updates.subscribers.consent import Action, Evidence
from updates.subscribers.lookup import find_or_create, followed_topic_ids
from updates.subscribers.signup_sql import Written, write_signup
from updates.subscribers.suppression import is_suppressed
from updates.transaction import autocommit

NOT_MAILABLE = {SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED, SubscriberStatus.ERASED}


def request_signup(
    address: str, topics: Sequence[Topic | OfferedTopic], evidence: Evidence
) -> Written:
    """Record the request: a new address's in full, a known address's for a worker to decide.

    Either way it is one statement, so the answer takes the same time whoever the address
    belongs to, and the visitor sees the same page: this never reveals who subscribes.
    """
    statement_id = consent.statement_id(consent.statement_text())
    return write_signup(address, topics, evidence, statement_id)


@autocommit
def decide_deferred(deferred_id: int) -> int | None:
    """Apply the rules for a known address to a sign-up written as sent; the id of the email
    owed, or None if none may be sent (or another worker decided it already)."""
    deferred = db.session.execute(
        delete(DeferredSignup).where(DeferredSignup.id == deferred_id).returning(DeferredSignup)
    ).scalar_one_or_none()
    if deferred is None:
        return None
    evidence = Evidence(deferred.source, deferred.ip, deferred.user_agent)
    topics = topics_by_ids(deferred.topic_ids)
    if not topics or is_suppressed(deferred.email):
        return None
    subscriber = find_or_create(deferred.email)
    if subscriber.status in NOT_MAILABLE:
        return None
    statement = db.session.get(ConsentStatement, deferred.statement_id)
    if subscriber.status == SubscriberStatus.ACTIVE:
        followed = followed_topic_ids(subscriber)
        wanted = [topic for topic in topics if topic.id not in followed]
        kind = EmailKind.ALREADY_SUBSCRIBED
    else:
        subscriber.status = SubscriberStatus.PENDING
        subscriber.updated_at = utcnow()  # restarts the clock on forgetting unconfirmed sign-ups
        wanted = topics
        kind = EmailKind.CONFIRM
    request = SignupRequest(
        subscriber=subscriber, topic_ids=[topic.id for topic in wanted], statement=statement
    )
    db.session.add(request)
    slugs = [topic.slug for topic in topics]
    consent.record(subscriber, Action.REQUESTED, evidence, slugs, statement, at=deferred.created_at)
    email = outbox.owe(kind, subscriber, request)
    db.session.flush()
    return email.id  # read before the commit, which would expire it and cost a reload


def overdue_deferred(grace: timedelta, limit: int = 500) -> list[int]:
    """Deferred sign-ups old enough that their job should have run."""
    query = select(DeferredSignup.id).where(DeferredSignup.created_at < utcnow() - grace)
    return list(db.session.scalars(query.order_by(DeferredSignup.id).limit(limit)))


@dataclass(frozen=True)
class Confirmation:
    request: SignupRequest
    welcome: OutboundEmail | None  # owed on the first confirmation only


def confirm_signup(request_id: int, evidence: Evidence) -> Confirmation | None:
    """Subscribe to the requested topics; a repeat is a success. None if the request is gone."""
    try:
        return _confirm(request_id, evidence)
    except IntegrityError:
        # A concurrent confirmation of the same request won the race; its result stands.
        return _confirm(request_id, evidence)


@autocommit
def _confirm(request_id: int, evidence: Evidence) -> Confirmation | None:
    request = db.session.get(SignupRequest, request_id, with_for_update=True)
    if request is None or request.subscriber.status in NOT_MAILABLE:
        return None
    if request.confirmed_at is not None:
        return Confirmation(request, welcome=None)
    subscriber = request.subscriber
    topics = topics_by_ids(request.topic_ids)
    followed = followed_topic_ids(subscriber)
    for topic in topics:
        if topic.id not in followed:
            db.session.add(Subscription(subscriber=subscriber, topic=topic))
    now = utcnow()
    if subscriber.status != SubscriberStatus.ACTIVE and topics:
        subscriber.status = SubscriberStatus.ACTIVE
        subscriber.confirmed_at = subscriber.confirmed_at or now
    request.confirmed_at = now
    consent.record(
        subscriber,
        Action.CONFIRMED,
        evidence,
        [topic.slug for topic in topics],
        request.statement,
    )
    welcome = outbox.owe(EmailKind.WELCOME, subscriber) if topics else None
    return Confirmation(request, welcome)


@autocommit
def resend_confirmation(request_id: int) -> OutboundEmail | None:
    """Owe a fresh link for a request whose link expired; None if it is gone or confirmed."""
    request = db.session.get(SignupRequest, request_id)
    if request is None or request.confirmed_at is not None:
        return None
    if request.subscriber.status in NOT_MAILABLE or is_suppressed(request.subscriber.email or ""):
        return None
    kind = (
        EmailKind.ALREADY_SUBSCRIBED
        if request.subscriber.status == SubscriberStatus.ACTIVE
        else EmailKind.CONFIRM
    )
    return outbox.owe(kind, request.subscriber, request)


@autocommit
def purge_unconfirmed(cutoff: datetime) -> int:
    """Delete the subscribers still pending since before the cutoff; return how many."""
    stale = select(Subscriber.id).where(
        Subscriber.status == SubscriberStatus.PENDING, Subscriber.updated_at < cutoff
    )
    return db.session.execute(
        delete(Subscriber)
        .where(Subscriber.id.in_(stale))
        .execution_options(synchronize_session=False)
    ).rowcount
