"""Sign in (with a second factor where the account has one), sign out, reset a password."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from updates.extensions import db, limiter
from updates.models import StaffUser
from updates.staff.accounts import StaffError, end_sessions
from updates.staff.audit import record_action
from updates.staff.resets import ResetSpent, complete_reset, request_reset, usable_reset
from updates.staff.signin import (
    authenticate,
    clear_backoff,
    count_failure,
    waiting,
)
from updates.staff.twofactor import check_second_factor, unused_recovery_codes
from updates.transaction import transaction

from . import blueprint
from .access import staff_only
from .forms import CodeForm, ForgotPasswordForm, LoginForm, NewPasswordForm

SECOND_FACTOR = "staff_second_factor"  # in the session between the password and the code
SECOND_FACTOR_SECONDS = 300
MAX_NEXT = 2_000
MAX_TOKEN = 300


def safe_next(target: str | None) -> str:
    """A console path to return to after signing in; anything else is ignored, never followed.

    Only printable ASCII, starting with /admin, with no host, scheme or backslash: a header
    built from it can be neither an open redirect nor a broken response.
    """
    fallback = url_for("console.dashboard")
    if not target or len(target) > MAX_NEXT or not target.startswith("/admin"):
        return fallback
    if not all(" " < char < "\x7f" for char in target) or "\\" in target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return fallback
    return target


def _ip() -> str | None:
    return request.remote_addr


def _wait_message(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return (
        "Too many failed attempts to sign in to this address from here. "
        f"Try again in {minutes} {unit}, or reset your password."
    )


def _signed_in(staff: StaffUser, target: str) -> Response:
    clear_backoff(staff.email, _ip())
    login_user(staff)
    return redirect(target)


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        return render_template("console/login.html", form=form)
    if not form.validate():
        flash("Enter your email address and password.")
        return render_template("console/login.html", form=form), 401
    attempt = authenticate(form.email.data, form.password.data, _ip())
    if attempt.wait_seconds:
        flash(_wait_message(attempt.wait_seconds))
        return render_template("console/login.html", form=form), 429
    if attempt.staff is None:
        flash("That email address and password do not match an active account.")
        return render_template("console/login.html", form=form), 401
    target = safe_next(request.args.get("next"))
    if attempt.staff.has_two_factor:
        staff = attempt.staff
        session[SECOND_FACTOR] = [staff.id, staff.session_version, int(time.time()), target]
        return redirect(url_for("console.second_factor"))
    return _signed_in(attempt.staff, target)


def _pending() -> tuple[StaffUser, str] | None:
    """The account whose password was right a moment ago, and where it was going."""
    pending = session.get(SECOND_FACTOR)
    if not (isinstance(pending, list) and len(pending) == 4):
        return None
    staff_id, version, started, target = pending
    if not isinstance(started, int) or time.time() - started > SECOND_FACTOR_SECONDS:
        return None
    staff = db.session.get(StaffUser, staff_id) if isinstance(staff_id, int) else None
    if staff is None or not staff.active or staff.session_version != version:
        return None
    return staff, safe_next(target if isinstance(target, str) else None)


@blueprint.route("/login/code", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"])
def second_factor():
    pending = _pending()
    if pending is None:
        session.pop(SECOND_FACTOR, None)
        flash("Sign in with your email address and password first.")
        return redirect(url_for("console.login"))
    staff, target = pending
    form = CodeForm()
    if request.method == "GET":
        return render_template("console/login_code.html", form=form)
    wait = waiting(staff.email, _ip())
    if wait:
        flash(_wait_message(wait))
        return render_template("console/login_code.html", form=form), 429
    with transaction():
        used = check_second_factor(staff, form.code.data or "") if form.validate() else None
        if used == "recovery code":
            left = unused_recovery_codes(staff)
            record_action(staff.id, "signed in with a recovery code", f"{left} left")
    if used is None:
        count_failure(staff.email, _ip())
        flash("That code does not match. Codes change every 30 seconds; each works once.")
        return render_template("console/login_code.html", form=form), 401
    session.pop(SECOND_FACTOR, None)
    if used == "recovery code":
        flash(f"You used a recovery code; {left} are left. Make new ones from Your account.")
    return _signed_in(staff, target)


@blueprint.route("/logout", methods=["POST"])
@staff_only
def logout():
    end_sessions(current_user._get_current_object())  # every copy of this session ends too
    logout_user()
    return redirect(url_for("console.login"))


@blueprint.route("/forgot", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if request.method == "GET":
        return render_template("console/forgot.html", form=form)
    if not form.validate():
        return render_template("console/forgot.html", form=form), 400
    request_reset(form.email.data)
    return render_template("console/forgot_sent.html")


@blueprint.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    reset = usable_reset(token) if len(token) <= MAX_TOKEN else None
    if reset is None:
        return _private(render_template("console/reset_invalid.html"), 404)
    form = NewPasswordForm()
    if request.method == "POST" and form.validate():
        try:
            with transaction():
                staff = complete_reset(reset, form.password.data, _ip())
                record_action(staff.id, "password reset by email link", staff.email)
        except StaffError as error:
            form.password.errors = [str(error).capitalize() + "."]
        except ResetSpent:
            return _private(render_template("console/reset_invalid.html"), 404)
        else:
            flash("Your password is changed, and every session you had open has ended. Sign in.")
            return redirect(url_for("console.login"), code=303)
    status = 400 if request.method == "POST" else 200
    return _private(render_template("console/reset.html", form=form), status)


def _private(body: str, status: int) -> Response:
    """A page whose URL holds a secret: kept out of caches and of Referer headers."""
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
