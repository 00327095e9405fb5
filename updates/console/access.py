"""Who may see the console: signed-in staff; admins alone where the issue says so."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required

from updates.extensions import db, login_manager
from updates.models import AuditEvent, StaffUser


@login_manager.user_loader
def load_staff(session_id: str) -> StaffUser | None:
    """The account a session names, unless it was deactivated or its password changed since."""
    staff_id, _, version = session_id.partition(".")
    if not (staff_id.isdigit() and version.isdigit()):
        return None
    staff = db.session.get(StaffUser, int(staff_id))
    if staff is None or not staff.active or staff.session_version != int(version):
        return None
    return staff


def staff_only(view: Callable[..., Any]) -> Callable[..., Any]:
    return login_required(view)


def admin_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Signed-in admins only; editors get 403."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return login_required(wrapper)


def audit(action: str, detail: str = "") -> None:
    """Record a staff action in the caller's transaction."""
    db.session.add(AuditEvent(staff_id=current_user.id, action=action, detail=detail[:500]))
