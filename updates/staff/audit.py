"""The audit log: who on the staff did what, recorded in the same transaction as the change."""

from __future__ import annotations

from sqlalchemy import select

from updates import limits
from updates.extensions import db
from updates.models import AuditEvent
from updates.transaction import autocommit

SHOWN = 500  # rows on the console's audit log


@autocommit
def record_action(staff_id: int | None, action: str, detail: str = "") -> None:
    """Record a staff action; inside a caller's transaction it lands or fails with the change."""
    db.session.add(
        AuditEvent(staff_id=staff_id, action=action, detail=detail[: limits.AUDIT_DETAIL])
    )


def recent_actions(limit: int = SHOWN) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
