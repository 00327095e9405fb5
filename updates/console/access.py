"""Who may see the console: signed-in staff; admins alone where the issue says so."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required

from ..extensions import db, login_manager
from ..models import AuditEvent, StaffUser


@login_manager.user_loader
def load_staff(staff_id: str) -> StaffUser | None:
    staff = db.session.get(StaffUser, int(staff_id)) if staff_id.isdigit() else None
    return staff if staff is not None and staff.active else None


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
