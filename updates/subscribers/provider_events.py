"""Bounces, complaints and deliveries that a sending provider reports as events (SES, Mailgun).

An event acts only when it is about one of our messages: our tagged Message-ID among the ones
it quotes, and its recipient that message's subscriber. Anyone who can reach a webhook with a
valid signature (any AWS account's topic, a leaked key) still cannot name a subscriber of ours
without a Message-ID we signed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from updates.addresses import address_key
from updates.extensions import db
from updates.models import Subscriber, SuppressionReason
from updates.subscribers.bounces import fail_delivery, owner_of_message_id
from updates.subscribers.soft_bounces import clear_soft_bounces, record_soft_bounce
from updates.subscribers.suppression import suppress
from updates.transaction import autocommit

log = logging.getLogger(__name__)

HARD = "hard"  # a permanent bounce: suppressed at once
SOFT = "soft"  # a transient one: counted (soft_bounces.py)
COMPLAINT = "complaint"
DELIVERED = "delivered"  # clears the soft-bounce count


@dataclass(frozen=True)
class ProviderEvent:
    kind: str
    recipient: str
    message_ids: tuple[str, ...]
    status: str = ""


@autocommit
def apply_events(events: Iterable[ProviderEvent]) -> int:
    """Act on each event about a message of ours; how many were. Commits."""
    applied = sum(_apply(event) for event in events)
    log.info("provider events: %s about our messages", applied)
    return applied


def _apply(event: ProviderEvent) -> bool:
    owner = next(filter(None, map(owner_of_message_id, event.message_ids)), None)
    if owner is None:
        return False
    digest_id, subscriber_id = owner
    address = db.session.scalar(select(Subscriber.email).where(Subscriber.id == subscriber_id))
    if not address or address_key(address) != address_key(event.recipient):
        return False
    if event.kind == HARD:
        suppress(address, SuppressionReason.BOUNCE)
        if digest_id:
            fail_delivery(digest_id, subscriber_id, event.status or "5.0.0")
    elif event.kind == SOFT:
        record_soft_bounce(subscriber_id, address)
    elif event.kind == COMPLAINT:
        suppress(address, SuppressionReason.COMPLAINT)
    elif event.kind == DELIVERED:
        clear_soft_bounces(subscriber_id)
    return True
