"""The audit log: who on the staff did what, recorded in the same transaction as the change."""

from __future__ import annotations

from updates.extensions import db
from updates.models import AuditEvent
from updates.transaction import autocommit

MAX_DETAIL = 500


@autocommit
def record_action(staff_id: int | None, action: str, detail: str = "") -> None:
    """Record a staff action; inside a caller's transaction it lands or fails with the change."""
    db.session.add(AuditEvent(staff_id=staff_id, action=action, detail=detail[:MAX_DETAIL]))
