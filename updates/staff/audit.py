"""The audit log: who on the staff did what, recorded in the same transaction as the change."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from updates import limits
from updates.extensions import db
from updates.models import AuditEvent
from updates.paging import Page, paginate
from updates.transaction import autocommit


@autocommit
def record_action(staff_id: int | None, action: str, detail: str = "") -> None:
    """Record a staff action; inside a caller's transaction it lands or fails with the change."""
    db.session.add(
        AuditEvent(staff_id=staff_id, action=action, detail=detail[: limits.AUDIT_DETAIL])
    )


def find_actions(
    staff_id: int | None = None,
    action: str = "",
    since: date | None = None,
    until: date | None = None,
    page: int = 1,
) -> Page:
    """Audit events, newest first: by that staff member, of that action, on those days (UTC)."""
    query = select(AuditEvent)
    if staff_id is not None:
        query = query.where(AuditEvent.staff_id == staff_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.created_at >= datetime.combine(since, time()))
    if until is not None and until < date.max:  # the day after the last day is no date
        next_day = datetime.combine(until + timedelta(days=1), time())
        query = query.where(AuditEvent.created_at < next_day)
    return paginate(query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()), page)


def actions_recorded() -> list[str]:
    """Every kind of action the log holds, for choosing among."""
    query = select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    return list(db.session.scalars(query))
