"""Sign in and out."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user

from updates.extensions import limiter
from updates.forms import ButtonForm
from updates.staff.signin import authenticate

from . import blueprint
from .access import staff_only
from .forms import LoginForm


def _safe_next(target: str | None) -> str:
    """Only ever return to a console page: never an open redirect."""
    if target and target.startswith("/admin") and not target.startswith("//"):
        return target
    return url_for("console.dashboard")


@blueprint.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"])
def login():
    form = LoginForm()
    if request.method == "POST":
        staff = (
            authenticate(form.email.data or "", form.password.data or "")
            if (form.validate())
            else None
        )
        if staff is not None:
            login_user(staff)
            return redirect(_safe_next(request.args.get("next")))
        flash("That email address and password do not match an account, or it is locked.")
        return render_template("console/login.html", form=form), 401
    return render_template("console/login.html", form=form)


@blueprint.route("/logout", methods=["POST"])
@staff_only
def logout():
    if ButtonForm().validate():
        logout_user()
    return redirect(url_for("console.login"))
