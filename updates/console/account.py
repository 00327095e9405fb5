"""Your own account: change your password, set up or turn off two-factor, new recovery codes."""

from __future__ import annotations

from flask import abort, current_app, make_response, render_template, request
from flask_login import current_user, login_user
from werkzeug.wrappers import Response

from updates.extensions import db, limiter
from updates.forms import ButtonForm
from updates.models import StaffUser
from updates.staff.accounts import StaffError, set_password
from updates.staff.signin import verify_password
from updates.staff.twofactor import (
    TwoFactorError,
    confirm_enrolment,
    pending_secret,
    qr_code,
    replace_recovery_codes,
    start_enrolment,
    turn_off,
    unused_recovery_codes,
)
from updates.transaction import transaction

from . import blueprint
from .access import admin_only, audit, done, staff_only
from .forms import ChangePasswordForm, CurrentPasswordForm, EnrolCodeForm

LIMIT = lambda: current_app.config["LOGIN_LIMIT_PER_IP"]  # noqa: E731 -- guesses at a password


def _me() -> StaffUser:
    return current_user._get_current_object()


def _two_factor_required(staff: StaffUser) -> bool:
    return staff.is_admin and current_app.config["STAFF_REQUIRE_2FA"]


@blueprint.route("/account", methods=["GET", "POST"])
@staff_only
@limiter.limit(LIMIT, methods=["POST"])
def account():
    form = ChangePasswordForm()
    if request.method == "POST":
        me = _me()
        if form.validate() and not verify_password(me, form.current.data):
            form.current.errors = ["That is not your current password."]
        elif not form.errors:
            try:
                with transaction():
                    set_password(me, form.password.data)
                    audit("password changed", me.email)
            except StaffError as error:
                form.password.errors = [str(error).capitalize() + "."]
            else:
                login_user(me)  # the new password ended every session, this one included
                return done("Your password is changed. Your other sessions have ended.", ".account")
        return _render_account(form), 400
    return _render_account(form)


def _render_account(form: ChangePasswordForm) -> str:
    return render_template("console/account.html", form=form, me=_me())


@blueprint.route("/account/two-factor")
@staff_only
def two_factor():
    me = _me()
    secret = pending_secret(me)
    return render_template(
        "console/two_factor.html",
        me=me,
        secret=secret,
        qr=qr_code(me, secret) if secret else None,
        codes_left=unused_recovery_codes(me) if me.has_two_factor else 0,
        required=_two_factor_required(me),
        code_form=EnrolCodeForm(),
        password_form=CurrentPasswordForm(),
    )


@blueprint.route("/account/two-factor/start", methods=["POST"])
@staff_only
@limiter.limit(LIMIT)
def two_factor_start():
    if not _password_confirms(CurrentPasswordForm()):
        return done("That is not your current password.", ".two_factor")
    try:
        start_enrolment(_me())
    except TwoFactorError as error:
        return done(str(error).capitalize() + ".", ".two_factor")
    return done("Scan the code with your authenticator app, then enter a code.", ".two_factor")


@blueprint.route("/account/two-factor/confirm", methods=["POST"])
@staff_only
@limiter.limit(LIMIT)
def two_factor_confirm():
    form = EnrolCodeForm()
    me = _me()
    if not form.validate():
        return done("Enter the code your app shows.", ".two_factor")
    try:
        with transaction():
            codes = confirm_enrolment(me, form.code.data.strip())
            audit("two-factor turned on", me.email)
    except TwoFactorError as error:
        return done(str(error).capitalize() + ".", ".two_factor")
    return _show_codes(codes)


def _show_codes(codes: list[str]) -> Response:
    """Recovery codes appear in this answer only: never stored in clear, redirected or cached."""
    response = make_response(render_template("console/recovery_codes.html", codes=codes))
    response.headers["Cache-Control"] = "no-store"
    return response


def _password_confirms(form: CurrentPasswordForm) -> bool:
    return form.validate() and verify_password(_me(), form.current.data)


@blueprint.route("/account/two-factor/recovery-codes", methods=["POST"])
@staff_only
@limiter.limit(LIMIT)
def recovery_codes():
    me = _me()
    if not me.has_two_factor:
        abort(404)
    if not _password_confirms(CurrentPasswordForm()):
        return done(
            "That is not your current password; your recovery codes are unchanged.", ".two_factor"
        )
    with transaction():
        codes = replace_recovery_codes(me)
        audit("recovery codes replaced", me.email)
    return _show_codes(codes)


@blueprint.route("/account/two-factor/off", methods=["POST"])
@staff_only
@limiter.limit(LIMIT)
def two_factor_off():
    me = _me()
    if _two_factor_required(me):
        return done("Admins must use two-factor sign-in here; it stays on.", ".two_factor")
    if not _password_confirms(CurrentPasswordForm()):
        return done("That is not your current password; two-factor is still on.", ".two_factor")
    with transaction():
        if turn_off(me):
            audit("two-factor turned off", me.email)
    return done("Two-factor sign-in is off for your account.", ".two_factor")


@blueprint.route("/staff/<int:staff_id>/two-factor/off", methods=["GET", "POST"])
@admin_only
def staff_two_factor_off(staff_id: int):
    """For someone who lost their phone and their recovery codes: asks first, then does it."""
    account = db.session.get(StaffUser, staff_id) or abort(404)
    if request.method == "GET":
        return render_template(
            "console/confirm_two_factor_off.html", account=account, button=ButtonForm()
        )
    with transaction():
        if turn_off(account):
            audit("two-factor turned off for", account.email)
    return done(
        f"Two-factor sign-in is off for {account.email}; they sign in with their password alone"
        " until they set it up again.",
        ".staff",
    )
