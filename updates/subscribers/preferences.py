"""What a subscriber changes through their links: topics, frequency, unsubscribing, erasure."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import delete, select, update

from updates.addresses import address_hash
from updates.extensions import db
from updates.mail import outbox
from updates.models import (
    ConsentEvent,
    Delivery,
    Digest,
    EmailKind,
    Frequency,
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
from updates.subscribers import consent
from updates.subscribers.consent import Action, Evidence
from updates.subscribers.lookup import find_by_address
from updates.subscribers.signup import NOT_MAILABLE
from updates.subscribers.suppression import is_suppressed
from updates.transaction import autocommit

FREQUENCIES = (Frequency.EVERY_ANNOUNCEMENT, Frequency.DIGESTS_ONLY)


def _settle_status(subscriber: Subscriber) -> None:
    """Active while following something, unsubscribed once following nothing."""
    if subscriber.status in NOT_MAILABLE:
        return
    if subscriber.subscriptions:
        if subscriber.status != SubscriberStatus.ACTIVE:
            subscriber.status = SubscriberStatus.ACTIVE
            subscriber.confirmed_at = subscriber.confirmed_at or utcnow()
    elif subscriber.status == SubscriberStatus.ACTIVE:
        subscriber.status = SubscriberStatus.UNSUBSCRIBED


@autocommit
def set_preferences(
    subscriber: Subscriber,
    offered: Collection[Topic],
    chosen: Mapping[int, str],
    evidence: Evidence,
) -> bool:
    """Follow exactly the `chosen` topics (id → frequency) among those `offered`.

    Subscriptions to topics not offered (hidden ones) are left alone. Returns whether anything
    changed; a change is a consent event.
    """
    offered_ids = {topic.id for topic in offered}
    current = {s.topic_id: s for s in subscriber.subscriptions if s.topic_id in offered_ids}
    changed = False
    dropped = []
    for topic_id, subscription in current.items():
        if topic_id not in chosen:
            dropped.append(subscription.topic.slug)
            subscriber.subscriptions.remove(subscription)
            changed = True
        elif subscription.frequency != chosen[topic_id]:
            subscription.frequency = chosen[topic_id]
            changed = True
    for topic_id, frequency in chosen.items():
        if topic_id in offered_ids and topic_id not in current:
            subscriber.subscriptions.append(Subscription(topic_id=topic_id, frequency=frequency))
            changed = True
    if not changed:
        return False
    db.session.flush()
    _settle_status(subscriber)
    if dropped:  # what was left, on its own: the new set alone does not say
        consent.record(subscriber, Action.UNSUBSCRIBED, evidence, sorted(dropped))
    slugs = [t.slug for t in offered if t.id in chosen]
    statement = consent.statement_for(consent.statement_text())
    consent.record(subscriber, Action.TOPICS_CHANGED, evidence, slugs, statement)
    return True


@autocommit
def unsubscribe(
    subscriber: Subscriber, topic_ids: Collection[int] | None, evidence: Evidence
) -> list[Topic]:
    """Leave these topics (None: every topic); return those actually left. Repeats are harmless."""
    leaving = [s for s in subscriber.subscriptions if topic_ids is None or s.topic_id in topic_ids]
    if not leaving:
        return []
    topics = [s.topic for s in leaving]
    for subscription in leaving:
        subscriber.subscriptions.remove(subscription)
    db.session.flush()
    _settle_status(subscriber)
    consent.record(subscriber, Action.UNSUBSCRIBED, evidence, [t.slug for t in topics])
    return topics


def request_manage_link(address: str) -> OutboundEmail | None:
    """Owe a manage link to a known, mailable address; None otherwise (the page is the same)."""
    subscriber = find_by_address(address)
    if subscriber is None or subscriber.status in NOT_MAILABLE or is_suppressed(address):
        return None
    return owe_manage_link(subscriber)


@autocommit
def owe_manage_link(subscriber: Subscriber) -> OutboundEmail:
    return outbox.owe(EmailKind.MANAGE_LINK, subscriber)


@autocommit
def revoke_links(subscriber: Subscriber) -> None:
    """Every link sent before now stops working."""
    subscriber.token_version += 1


@autocommit
def erase(subscriber: Subscriber, evidence: Evidence) -> None:
    """Remove personal data, keep the address's hash suppressed and anonymous counts."""
    keep_only_hash(subscriber, SuppressionReason.ERASED)
    db.session.execute(
        update(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber.id)
        .values(ip=None, user_agent=None)
    )
    subscriber.status = SubscriberStatus.ERASED
    consent.record(subscriber, Action.ERASED, Evidence(source=evidence.source))


def keep_only_hash(subscriber: Subscriber, reason: str) -> None:
    """Put the address's keyed hash on the suppression list for `reason` and drop the address,
    name and organisation, its topics, the mail it is owed and its requests; links die. The
    caller commits."""
    hashed = address_hash(subscriber.email or "")
    suppression = db.session.scalar(select(Suppression).where(Suppression.email_hash == hashed))
    if suppression is None:
        db.session.add(Suppression(email_hash=hashed, reason=reason))
    else:
        suppression.email = None
        if reason == SuppressionReason.ERASED:
            suppression.reason = reason  # an erasure outranks every other reason
    subscriber_id = subscriber.id
    db.session.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber_id))
    db.session.execute(delete(OutboundEmail).where(OutboundEmail.subscriber_id == subscriber_id))
    db.session.execute(delete(SignupRequest).where(SignupRequest.subscriber_id == subscriber_id))
    db.session.expire(subscriber, ["subscriptions"])
    subscriber.email = None
    subscriber.email_key = None
    subscriber.name = subscriber.organisation = None
    subscriber.token_version += 1


def export(subscriber: Subscriber) -> dict[str, Any]:
    """Everything held about the subscriber, as plain data."""
    events = db.session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber.id)
        .order_by(ConsentEvent.id)
    )
    emails = db.session.scalars(
        select(OutboundEmail)
        .where(OutboundEmail.subscriber_id == subscriber.id)
        .order_by(OutboundEmail.id)
    )
    deliveries = db.session.execute(
        select(Digest.subject, Delivery.status, Delivery.sent_at)
        .join(Digest, Digest.id == Delivery.digest_id)
        .where(Delivery.subscriber_id == subscriber.id)
        .order_by(Delivery.id)
    )
    return {
        "email": subscriber.email,
        "name": subscriber.name,
        "organisation": subscriber.organisation,
        "status": subscriber.status,
        "created_at": _iso(subscriber.created_at),
        "confirmed_at": _iso(subscriber.confirmed_at),
        "subscriptions": [
            {
                "topic": s.topic.slug,
                "name": s.topic.name,
                "frequency": s.frequency,
                "since": _iso(s.created_at),
            }
            for s in subscriber.subscriptions
        ],
        "consent_events": [
            {
                "at": _iso(e.created_at),
                "action": e.action,
                "source": e.source,
                "topics": e.topics,
                "statement": e.statement.text if e.statement else None,
                "ip": e.ip,
                "user_agent": e.user_agent,
            }
            for e in events
        ],
        "emails": [
            {
                "kind": m.kind,
                "state": m.state,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
            }
            for m in emails
        ],
        "deliveries": [
            {"digest": subject, "status": status, "sent_at": _iso(sent_at)}
            for subject, status, sent_at in deliveries
        ],
    }


def _iso(moment: object) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"  # type: ignore[attr-defined]
