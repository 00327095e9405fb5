"""The suppression list: addresses that must never be mailed again."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from updates.addresses import address_hash, address_key
from updates.extensions import db
from updates.models import Subscriber, SubscriberStatus, Suppression, SuppressionReason

STATUS_FOR_REASON = {
    SuppressionReason.BOUNCE: SubscriberStatus.BOUNCED,
    SuppressionReason.COMPLAINT: SubscriberStatus.COMPLAINED,
}
SHOWN = 500  # rows on the console's list


def suppress(address: str, reason: str) -> None:
    """Add the address (idempotent) and stop its subscriber; the caller commits."""
    hashed = address_hash(address)
    if db.session.scalar(select(Suppression.id).where(Suppression.email_hash == hashed)) is None:
        db.session.add(Suppression(email_hash=hashed, email=address_key(address), reason=reason))
    status = STATUS_FOR_REASON.get(reason)
    if status:
        db.session.execute(
            update(Subscriber)
            .where(Subscriber.email_key == address_key(address))
            .values(status=status)
        )


def is_suppressed(address: str) -> bool:
    query = select(Suppression.id).where(Suppression.email_hash == address_hash(address))
    return db.session.scalar(query) is not None


def suppressed_among(addresses: list[str]) -> set[str]:
    """The ones of these addresses that are suppressed (one query)."""
    by_hash = {address_hash(address): address for address in addresses}
    found = db.session.scalars(
        select(Suppression.email_hash).where(Suppression.email_hash.in_(by_hash))
    )
    return {by_hash[hashed] for hashed in found}


def recent_suppressions(limit: int = SHOWN) -> list[Suppression]:
    query = select(Suppression).order_by(Suppression.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def lift(row: Suppression) -> bool:
    """Let the address be emailed again; False for an erased one, which stays suppressed."""
    if row.reason == SuppressionReason.ERASED:
        return False
    db.session.execute(delete(Suppression).where(Suppression.id == row.id))
    return True
