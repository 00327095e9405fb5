"""The suppression list: addresses that must never be mailed again.

Any suppression (a bounce, a complaint, an erasure or an admin's) stops every email but one: the
confirmation that answers a sign-up request made after the suppression. Only the address's owner
can use its link, and confirming it (signup.confirm_signup) lifts the suppression, as the newest
word from the person themselves; an erasure's never, so an erased address gets nothing at all.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select, update

from updates.addresses import address_hash, address_key
from updates.extensions import db, insert_on_conflict
from updates.models import (
    EmailKind,
    OutboundEmail,
    SignupRequest,
    Subscriber,
    SubscriberStatus,
    Suppression,
    SuppressionReason,
    utcnow,
)
from updates.paging import Page, paginate

STATUS_FOR_REASON = {
    SuppressionReason.BOUNCE: SubscriberStatus.BOUNCED,
    SuppressionReason.COMPLAINT: SubscriberStatus.COMPLAINED,
}


def suppress(address: str, reason: str) -> None:
    """Add the address (idempotent, and safe against another adding it at the same moment)
    and stop its subscriber; the caller commits."""
    now = utcnow()
    row = insert_on_conflict(Suppression).values(
        email_hash=address_hash(address), email=address_key(address), reason=reason, created_at=now
    )
    # A new bounce or complaint (say, about a confirmation) outranks every request before it.
    db.session.execute(
        row.on_conflict_do_update(index_elements=[Suppression.email_hash], set_={"created_at": now})
    )
    status = STATUS_FOR_REASON.get(reason)
    if status:
        db.session.execute(
            update(Subscriber)
            .where(Subscriber.email_key == address_key(address))
            .values(status=status)
        )


def is_suppressed(address: str) -> bool:
    return suppression_of(address) is not None


def suppression_of(address: str) -> Suppression | None:
    query = select(Suppression).where(Suppression.email_hash == address_hash(address))
    return db.session.scalar(query)


def may_receive(email: OutboundEmail) -> bool:
    """Whether this transactional email may go to its subscriber now (checked as it is sent)."""
    subscriber = email.subscriber
    if not subscriber.email or subscriber.status == SubscriberStatus.ERASED:
        return False
    answered = _request_answered(email)
    suppression = suppression_of(subscriber.email)
    if suppression is not None:
        return answered is not None and outlasts(answered, suppression)
    if subscriber.status in (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED):
        return answered is not None  # an admin lifted the suppression: confirming brings them back
    return True


def _request_answered(email: OutboundEmail) -> SignupRequest | None:
    """The unconfirmed sign-up request a confirmation email answers; None for other email."""
    request = email.signup_request
    if email.kind != EmailKind.CONFIRM or request is None or request.confirmed_at is not None:
        return None
    return request


def outlasts(request: SignupRequest, suppression: Suppression) -> bool:
    """Whether a sign-up request is newer than the suppression, and so may lift it."""
    return suppression.reason != SuppressionReason.ERASED and (
        request.created_at >= suppression.created_at
    )


def suppressed_among(addresses: list[str]) -> set[str]:
    """The ones of these addresses that are suppressed (one query)."""
    by_hash = {address_hash(address): address for address in addresses}
    found = db.session.scalars(
        select(Suppression.email_hash).where(Suppression.email_hash.in_(by_hash))
    )
    return {by_hash[hashed] for hashed in found}


def find_suppressions(text: str = "", page: int = 1) -> Page:
    """Suppressions, newest first, whose address contains `text`; a whole address also finds
    itself erased, kept only as its hash."""
    query = select(Suppression)
    if text:
        matches = Suppression.email.contains(address_key(text), autoescape=True)
        if "@" in text:
            matches = or_(matches, Suppression.email_hash == address_hash(text))
        query = query.where(matches)
    return paginate(query.order_by(Suppression.id.desc()), page)


def lift(row: Suppression) -> bool:
    """Let the address be emailed again; False for an erased one, which stays suppressed."""
    if row.reason == SuppressionReason.ERASED:
        return False
    db.session.execute(delete(Suppression).where(Suppression.id == row.id))
    return True
