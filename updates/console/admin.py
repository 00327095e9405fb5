"""What only admins manage: topics, staff accounts and every API token."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_user

from updates.extensions import db
from updates.forms import ButtonForm
from updates.models import ApiToken, StaffUser, Topic
from updates.news.topics import (
    TopicError,
    active_subscriber_counts,
    add_topic,
    all_topics,
    edit_topic,
    set_archived,
    set_public,
)
from updates.staff.accounts import (
    StaffError,
    add_staff,
    all_api_tokens,
    all_staff,
    deactivate_staff,
    issue_api_token,
    reactivate_staff,
    revoke_api_token,
    set_password,
)

from . import blueprint
from .access import admin_only, audit
from .forms import ApiTokenForm, PasswordResetForm, StaffForm, TopicEditForm, TopicForm

# -- topics ----------------------------------------------------------------------------------


@blueprint.route("/topics", methods=["GET", "POST"])
@admin_only
def topics():
    form = TopicForm()
    if request.method == "POST":
        if not form.validate():
            return _render_topics(form), 400
        try:
            topic = add_topic(
                form.slug.data,
                form.name.data,
                form.description.data or "",
                public=form.visibility.data == "public",
            )
        except TopicError as error:
            form.slug.errors = [str(error)]
            return _render_topics(form), 400
        audit("topic added", topic.slug)
        db.session.commit()
        flash(f"Topic {topic.name} added.")
        return redirect(url_for(".topics"), code=303)
    return _render_topics(form)


def _render_topics(form: TopicForm) -> str:
    return render_template(
        "console/topics.html", form=form, topics=all_topics(), counts=active_subscriber_counts()
    )


def _topic(topic_id: int) -> Topic:
    return db.session.get(Topic, topic_id) or abort(404)


@blueprint.route("/topics/<int:topic_id>", methods=["GET", "POST"])
@admin_only
def topic(topic_id: int):
    topic = _topic(topic_id)
    form = TopicEditForm(obj=topic)
    if request.method == "POST":
        if not form.validate():
            return _render_topic(topic, form), 400
        try:
            changed = edit_topic(topic, form.name.data, form.description.data or "")
        except TopicError as error:
            form.name.errors = [str(error)]
            return _render_topic(topic, form), 400
        if changed:
            audit("topic edited", f"{topic.slug}: {topic.name}")
            db.session.commit()
        flash(f"Topic {topic.name} saved." if changed else "Nothing needed changing.")
        return redirect(url_for(".topic", topic_id=topic.id), code=303)
    return _render_topic(topic, form)


def _render_topic(topic: Topic, form: TopicEditForm) -> str:
    return render_template(
        "console/topic.html",
        topic=topic,
        form=form,
        button=ButtonForm(),
        subscribers=active_subscriber_counts().get(topic.id, 0),
    )


TOPIC_ACTIONS = {
    "hide": (set_public, False, "hidden from the public form"),
    "show": (set_public, True, "shown on the public form"),
    "archive": (set_archived, True, "archived"),
    "unarchive": (set_archived, False, "unarchived"),
}


@blueprint.route(
    "/topics/<int:topic_id>/<any(hide, show, archive, unarchive):action>", methods=["POST"]
)
@admin_only
def topic_action(topic_id: int, action: str):
    topic = _topic(topic_id)
    if not ButtonForm().validate():
        abort(400)
    change, value, done = TOPIC_ACTIONS[action]
    if change(topic, value):
        audit(f"topic {done.split()[0]}", topic.slug)
        db.session.commit()
    archived_note = " It is offered nowhere while archived." if topic.archived else ""
    flash(f"Topic {topic.name} {done}." + (archived_note if action in ("hide", "show") else ""))
    return redirect(url_for(".topic", topic_id=topic.id), code=303)


# -- staff accounts --------------------------------------------------------------------------


@blueprint.route("/staff", methods=["GET", "POST"])
@admin_only
def staff():
    form = StaffForm()
    if request.method == "POST":
        if not form.validate():
            return _render_staff(form), 400
        try:
            account = add_staff(form.email.data, form.role.data, form.password.data)
        except StaffError as error:
            form.email.errors = [str(error)]
            return _render_staff(form), 400
        audit("staff added", f"{account.email} ({account.role})")
        db.session.commit()
        flash(f"Added {account.email}.")
        return redirect(url_for(".staff"), code=303)
    return _render_staff(form)


def _render_staff(form: StaffForm, problem: str | None = None) -> str:
    return render_template(
        "console/staff.html", form=form, accounts=all_staff(), button=ButtonForm(), problem=problem
    )


def _account(staff_id: int) -> StaffUser:
    return db.session.get(StaffUser, staff_id) or abort(404)


@blueprint.route("/staff/<int:staff_id>/deactivate", methods=["POST"])
@admin_only
def deactivate(staff_id: int):
    account = _account(staff_id)
    if not ButtonForm().validate():
        abort(400)
    try:
        changed = deactivate_staff(account, current_user)
    except StaffError as error:
        return _render_staff(StaffForm(formdata=None), problem=str(error).capitalize() + "."), 400
    if changed:
        audit("staff deactivated", account.email)
        db.session.commit()
    flash(f"{account.email} can no longer sign in or use the API.")
    return redirect(url_for(".staff"), code=303)


@blueprint.route("/staff/<int:staff_id>/reactivate", methods=["POST"])
@admin_only
def reactivate(staff_id: int):
    account = _account(staff_id)
    if not ButtonForm().validate():
        abort(400)
    if reactivate_staff(account):
        audit("staff reactivated", account.email)
        db.session.commit()
    flash(f"{account.email} can sign in again.")
    return redirect(url_for(".staff"), code=303)


@blueprint.route("/staff/<int:staff_id>/password", methods=["GET", "POST"])
@admin_only
def staff_password(staff_id: int):
    account = _account(staff_id)
    form = PasswordResetForm()
    if request.method == "POST":
        if not form.validate():
            return render_template("console/password.html", account=account, form=form), 400
        try:
            set_password(account, form.password.data)
        except StaffError as error:
            form.password.errors = [str(error)]
            return render_template("console/password.html", account=account, form=form), 400
        audit("staff password reset", account.email)
        db.session.commit()
        if account.id == current_user.id:
            login_user(account)  # the new password ended every session, this one included
        flash(f"{account.email} has a new password. Tell them it through a private channel.")
        return redirect(url_for(".staff"), code=303)
    return render_template("console/password.html", account=account, form=form)


# -- API tokens ------------------------------------------------------------------------------


def _token_form() -> ApiTokenForm:
    form = ApiTokenForm()
    form.staff_id.choices = {a.id: a.email for a in all_staff() if a.active}
    return form


def _render_tokens(form: ApiTokenForm, created: tuple[ApiToken, str] | None = None) -> str:
    return render_template(
        "console/tokens.html",
        form=form,
        tokens=all_api_tokens(),
        created=created,
        button=ButtonForm(),
    )


@blueprint.route("/tokens", methods=["GET", "POST"])
@admin_only
def api_tokens():
    form = _token_form()
    if request.method == "POST":
        if not form.validate():
            return _render_tokens(form), 400
        try:
            row, token = issue_api_token(_account(form.staff_id.data))
        except StaffError as error:
            form.staff_id.errors = [str(error)]
            return _render_tokens(form), 400
        audit("api token created", f"{row.id} for {row.staff.email}")
        db.session.commit()
        # Shown in this answer only, never stored or redirected with; so not cached either.
        response = make_response(_render_tokens(_token_form(), created=(row, token)), 201)
        response.headers["Cache-Control"] = "no-store"
        return response
    return _render_tokens(form)


@blueprint.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@admin_only
def revoke_token(token_id: int):
    row = db.session.get(ApiToken, token_id) or abort(404)
    if not ButtonForm().validate():
        abort(400)
    if revoke_api_token(row):
        audit("api token revoked", f"{row.id} of {row.staff.email}")
        db.session.commit()
    flash(f"Token {row.id} of {row.staff.email} no longer works.")
    return redirect(url_for(".api_tokens"), code=303)
