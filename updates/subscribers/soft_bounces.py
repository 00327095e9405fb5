"""Soft bounces: counted per subscriber, and enough of them within a window suppress the address.

The rule: a subscriber is suppressed (as bounced) at their SOFT_BOUNCE_LIMIT-th soft bounce
(default 5) within SOFT_BOUNCE_WINDOW_DAYS (default 30) of the first one counted. A soft bounce
later than the window after the first starts a new count at one. A delivery that the provider
reports, or a confirmation by the subscriber, clears the count. Each report counts once, however
many temporary failures it lists. A hard bounce suppresses at once, whatever the count.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select

from updates.extensions import db, insert_on_conflict
from updates.models import SoftBounce, SuppressionReason, utcnow
from updates.subscribers.suppression import suppress


def record_soft_bounce(subscriber_id: int, address: str, now: datetime | None = None) -> bool:
    """Count one soft bounce; suppress and return True once the limit is reached. The caller
    commits."""
    now = now or utcnow()
    window = timedelta(days=current_app.config["SOFT_BOUNCE_WINDOW_DAYS"])
    row = _locked_row(subscriber_id, now)
    if now - row.first_at > window:
        row.count, row.first_at = 0, now
    row.count += 1
    row.last_at = now
    if row.count < current_app.config["SOFT_BOUNCE_LIMIT"]:
        return False
    suppress(address, SuppressionReason.BOUNCE)
    db.session.delete(row)
    return True


def _locked_row(subscriber_id: int, now: datetime) -> SoftBounce:
    """The subscriber's row, made if missing, locked until commit; two reports of one subscriber
    at once both count, and neither fails on the other's insert."""
    db.session.execute(
        insert_on_conflict(SoftBounce)
        .values(subscriber_id=subscriber_id, count=0, first_at=now, last_at=now)
        .on_conflict_do_nothing()
    )
    row = db.session.get(SoftBounce, subscriber_id, with_for_update=True, populate_existing=True)
    assert row is not None  # just made, or there already
    return row


def clear_soft_bounces(subscriber_id: int) -> None:
    """Forget the count: mail reached them, or they confirmed. The caller commits."""
    db.session.execute(delete(SoftBounce).where(SoftBounce.subscriber_id == subscriber_id))


def soft_bounce_count(subscriber_id: int) -> int:
    """Soft bounces counted in the current window (0 when none)."""
    count = db.session.scalar(
        select(SoftBounce.count).where(SoftBounce.subscriber_id == subscriber_id)
    )
    return count or 0
