"""Who may see the console: signed-in staff; admins alone where the issue says so."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user, login_required

from updates.extensions import db, login_manager
from updates.models import StaffUser
from updates.staff.audit import record_action
from updates.transaction import in_transaction

from . import blueprint

# Where an admin who must set up two-factor may still go: setting it up, and signing out.
ENROLMENT_ENDPOINTS = {
    "console.account",
    "console.two_factor",
    "console.two_factor_start",
    "console.two_factor_confirm",
    "console.logout",
}


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


@blueprint.before_request
def two_factor_first() -> Response | None:
    """With STAFF_REQUIRE_2FA, an admin without two-factor sets it up before anything else."""
    if (
        current_app.config["STAFF_REQUIRE_2FA"]
        and current_user.is_authenticated
        and current_user.is_admin
        and not current_user.has_two_factor
        and request.endpoint not in ENROLMENT_ENDPOINTS
    ):
        flash("Admins must use two-factor sign-in. Set it up to go on.")
        return redirect(url_for("console.two_factor"))
    return None


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
    """Record the signed-in staff member's action in the open transaction, which holds the
    change itself: an action and its audit row land together or not at all."""
    if not in_transaction():
        raise RuntimeError("audit() belongs inside the `with transaction():` of its change")
    record_action(current_user.id, action, detail)


def done(message: str, endpoint: str, **values: object) -> Response:
    """Say what happened, and go to the page that shows it (Post/Redirect/Get)."""
    flash(message)
    return redirect(url_for(endpoint, **values), code=303)
