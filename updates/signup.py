"""Double opt-in: a sign-up asks, the POST from the emailed link confirms."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from . import consent, outbox
from .consent import Action, Evidence
from .extensions import db
from .models import (
    ConsentStatement,
    EmailKind,
    OutboundEmail,
    SignupRequest,
    SubscriberStatus,
    Subscription,
    Topic,
    utcnow,
)
from .new_signups import sign_up_new_address
from .subscribers import find_or_create, followed_topic_ids, is_suppressed
from .topics import OfferedTopic, topics_by_ids
from .transaction import autocommit

NOT_MAILABLE = {SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED, SubscriberStatus.ERASED}


def request_signup(
    address: str, topics: Sequence[Topic | OfferedTopic], evidence: Evidence
) -> int | None:
    """Record the request and owe the visitor an email; its id, or None if none may be sent.

    The visitor sees the same page whatever happens here, so this never reveals who subscribes.
    """
    statement_id = consent.statement_id(consent.statement_text())
    email_id = sign_up_new_address(address, topics, evidence, statement_id)
    if email_id is not None:
        return email_id
    return _request_from_known_address(address, topics, evidence, statement_id)


@autocommit
def _request_from_known_address(
    address: str, topics: Sequence[Topic | OfferedTopic], evidence: Evidence, statement_id: int
) -> int | None:
    """A known (or suppressed) address: what it gets depends on its status."""
    if is_suppressed(address):
        return None
    subscriber = find_or_create(address)
    if subscriber.status in NOT_MAILABLE:
        return None
    statement = db.session.get(ConsentStatement, statement_id)
    if subscriber.status == SubscriberStatus.ACTIVE:
        followed = followed_topic_ids(subscriber)
        wanted = [topic for topic in topics if topic.id not in followed]
        kind = EmailKind.ALREADY_SUBSCRIBED
    else:
        subscriber.status = SubscriberStatus.PENDING
        subscriber.updated_at = utcnow()  # restarts the clock on forgetting unconfirmed sign-ups
        wanted = list(topics)
        kind = EmailKind.CONFIRM
    request = SignupRequest(
        subscriber=subscriber, topic_ids=[topic.id for topic in wanted], statement=statement
    )
    db.session.add(request)
    consent.record(
        subscriber, Action.REQUESTED, evidence, [topic.slug for topic in topics], statement
    )
    email = outbox.owe(kind, subscriber, request)
    db.session.flush()
    return email.id  # read before the commit, which would expire it and cost a reload


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
