"""Double opt-in: a sign-up asks, the POST from the emailed link confirms.

A subscriber's state is what they themselves confirmed. A sign-up for a known address leaves its
record as it is (unsubscribed, bounced, complained, suppressed) and waits beside it as a request;
only confirming that request changes the status, and the purge of unconfirmed sign-ups deletes
only what was never confirmed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from updates.extensions import db
from updates.mail import outbox
from updates.models import (
    ConsentEvent,
    ConsentStatement,
    DeferredSignup,
    EmailKind,
    EmailState,
    OutboundEmail,
    SignupRequest,
    Subscriber,
    SubscriberStatus,
    Subscription,
    Suppression,
    SuppressionReason,
    Topic,
    utcnow,
)
from updates.news.topics import OfferedTopic, topics_by_ids
from updates.subscribers import consent
from updates.subscribers.consent import Action, Evidence
from updates.subscribers.lookup import (
    find_or_create,
    followed_topic_ids,
    left_without_confirming_since,
)
from updates.subscribers.signup_sql import Written, write_signup
from updates.subscribers.soft_bounces import clear_soft_bounces
from updates.subscribers.suppression import lift, outlasts, suppression_of
from updates.transaction import autocommit

NOT_MAILABLE = {SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED, SubscriberStatus.ERASED}
STOPPED = {SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED}  # by the mail, not by a click
LEGACY_VERSION = 1  # what a confirm link that names no token version is taken to carry


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
    topics = topics_by_ids(deferred.topic_ids)
    suppression = suppression_of(deferred.email)
    if not topics or (suppression is not None and suppression.reason == SuppressionReason.ERASED):
        return None  # an erased address is neither stored again nor mailed
    subscriber = find_or_create(deferred.email)
    stopped = suppression is not None or subscriber.status in STOPPED
    if stopped and _live_confirmation_owed(subscriber, suppression):
        # Asking for the person is all a stranger can do; one confirmation per link lifetime
        # is all it may bring someone who is not being mailed.
        return None
    if subscriber.status == SubscriberStatus.ACTIVE and not stopped:
        followed = followed_topic_ids(subscriber)
        wanted = [topic for topic in topics if topic.id not in followed]
        kind = EmailKind.ALREADY_SUBSCRIBED
    else:
        # The request waits beside the record; only confirming it changes the status.
        if subscriber.status == SubscriberStatus.PENDING:
            subscriber.updated_at = utcnow()  # restarts the clock on forgetting it
        wanted = topics
        kind = EmailKind.CONFIRM
    statement = db.session.get(ConsentStatement, deferred.statement_id)
    evidence = Evidence(deferred.source, deferred.ip, deferred.user_agent)
    request = SignupRequest(
        subscriber=subscriber,
        topic_ids=[topic.id for topic in wanted],
        statement=statement,
        created_at=deferred.created_at,  # when asked: a suppression since then outranks it
    )
    db.session.add(request)
    slugs = [topic.slug for topic in topics]
    consent.record(subscriber, Action.REQUESTED, evidence, slugs, statement, at=deferred.created_at)
    email = outbox.owe(kind, subscriber, request)
    db.session.flush()
    return email.id  # read before the commit, which would expire it and cost a reload


def _live_confirmation_owed(subscriber: Subscriber, suppression: Suppression | None) -> bool:
    """Whether a confirmation that could still bring them back went out within a link's life."""
    since = utcnow() - timedelta(days=current_app.config["CONFIRM_MAX_AGE_DAYS"])
    query = (
        select(OutboundEmail.id)
        .join(SignupRequest, SignupRequest.id == OutboundEmail.signup_request_id)
        .where(
            OutboundEmail.subscriber_id == subscriber.id,
            OutboundEmail.kind == EmailKind.CONFIRM,
            OutboundEmail.state.in_([EmailState.PENDING, EmailState.SENT]),
            OutboundEmail.created_at >= since,
            SignupRequest.confirmed_at.is_(None),
        )
    )
    if suppression is not None:
        query = query.where(SignupRequest.created_at >= suppression.created_at)
    return db.session.scalar(query.limit(1)) is not None


def overdue_deferred(grace: timedelta, limit: int = 500) -> list[int]:
    """Deferred sign-ups old enough that their job should have run."""
    query = select(DeferredSignup.id).where(DeferredSignup.created_at < utcnow() - grace)
    return list(db.session.scalars(query.order_by(DeferredSignup.id).limit(limit)))


def request_named(payload: object) -> SignupRequest | None:
    """The sign-up request a confirm link's payload names, while the subscriber's links live.

    A link names [request id, token version]. Links emailed before they named a version carry
    the id alone: they work as before until they expire, unless the subscriber's links were ever
    revoked (a version past the first), for nothing says whether that came before or after.
    """
    if _is_int(payload):
        request_id, version = payload, LEGACY_VERSION
    elif isinstance(payload, list) and len(payload) == 2 and all(map(_is_int, payload)):
        request_id, version = payload
    else:
        return None
    request = db.session.get(SignupRequest, request_id)
    if request is None or request.subscriber.token_version != version:
        return None
    return request


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Confirmation:
    request: SignupRequest
    welcome: OutboundEmail | None  # owed on the first confirmation only


def confirm_signup(request_id: int, evidence: Evidence) -> Confirmation | None:
    """Subscribe to the requested topics; a repeat is a success. None if the request is gone,
    or a suppression newer than it stands."""
    try:
        return _confirm(request_id, evidence)
    except IntegrityError:
        # A concurrent confirmation of the same request won the race; its result stands.
        return _confirm(request_id, evidence)


@autocommit
def _confirm(request_id: int, evidence: Evidence) -> Confirmation | None:
    request = db.session.get(SignupRequest, request_id, with_for_update=True)
    if request is None or request.subscriber.status == SubscriberStatus.ERASED:
        return None
    subscriber = request.subscriber
    suppression = suppression_of(subscriber.email or "")
    if suppression is not None and not outlasts(request, suppression):
        return None
    if request.confirmed_at is not None:
        return Confirmation(request, welcome=None)
    topics = topics_by_ids(request.topic_ids)
    followed = followed_topic_ids(subscriber)
    for topic in topics:
        if topic.id not in followed:
            db.session.add(Subscription(subscriber=subscriber, topic=topic))
    now = utcnow()
    if topics:
        if suppression is not None:
            lift(suppression)  # their own confirmation is newer than the reason to stop
        if subscriber.status != SubscriberStatus.ACTIVE:
            subscriber.status = SubscriberStatus.ACTIVE
            subscriber.confirmed_at = subscriber.confirmed_at or now
        clear_soft_bounces(subscriber.id)  # their own word that the address works
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
    """Owe a fresh link for a request whose link expired; None if it is gone, confirmed, or a
    suppression newer than it stands."""
    request = db.session.get(SignupRequest, request_id)
    if request is None or request.confirmed_at is not None:
        return None
    subscriber = request.subscriber
    if subscriber.status == SubscriberStatus.ERASED:
        return None
    suppression = suppression_of(subscriber.email or "")
    if suppression is not None and not outlasts(request, suppression):
        return None
    active = subscriber.status == SubscriberStatus.ACTIVE and suppression is None
    kind = EmailKind.ALREADY_SUBSCRIBED if active else EmailKind.CONFIRM
    return outbox.owe(kind, subscriber, request)


@dataclass(frozen=True)
class Purged:
    subscribers: int  # whose whole trail was unconfirmed requests: forgotten
    requests: int  # stale requests of the records that stay: only they go


@autocommit
def purge_unconfirmed(cutoff: datetime) -> Purged:
    """Forget what was asked but never confirmed before the cutoff, and nothing else.

    A pending subscriber whose trail holds nothing but requests is deleted; anyone with a consent
    history beyond them (confirmed, unsubscribed, imported, added) keeps the record and the
    whole trail, and loses only the stale requests.
    """
    beyond_requests = (
        select(ConsentEvent.id)
        .where(ConsentEvent.subscriber_id == Subscriber.id, ConsentEvent.action != Action.REQUESTED)
        .exists()
    )
    subscribers = db.session.execute(
        delete(Subscriber)
        .where(
            Subscriber.status == SubscriberStatus.PENDING,
            Subscriber.updated_at < cutoff,
            ~beyond_requests,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    requests = db.session.execute(
        delete(SignupRequest)
        .where(SignupRequest.confirmed_at.is_(None), SignupRequest.created_at < cutoff)
        .execution_options(synchronize_session=False)
    ).rowcount
    _restore_unsubscribed()
    return Purged(subscribers, requests)


def _restore_unsubscribed() -> None:
    """Put back to unsubscribed those whom an unconfirmed sign-up once made pending."""
    db.session.execute(
        update(Subscriber)
        .where(
            Subscriber.status == SubscriberStatus.PENDING,
            ~Subscriber.subscriptions.any(),
            left_without_confirming_since(),
        )
        .values(status=SubscriberStatus.UNSUBSCRIBED)
        .execution_options(synchronize_session=False)
    )
