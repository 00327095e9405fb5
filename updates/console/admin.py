"""What only admins manage: topics, staff accounts and every API token."""

from __future__ import annotations

from flask import abort, make_response, render_template, request
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
from updates.transaction import transaction

from . import blueprint
from .access import admin_only, audit, done
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
            with transaction():
                topic = add_topic(
                    form.slug.data,
                    form.name.data,
                    form.description.data or "",
                    public=form.visibility.data == "public",
                )
                audit("topic added", topic.slug)
        except TopicError as error:
            form.slug.errors = [str(error)]
            return _render_topics(form), 400
        return done(f"Topic {topic.name} added.", ".topics")
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
            with transaction():
                changed = edit_topic(topic, form.name.data, form.description.data or "")
                if changed:
                    audit("topic edited", f"{topic.slug}: {topic.name}")
        except TopicError as error:
            form.name.errors = [str(error)]
            return _render_topic(topic, form), 400
        message = f"Topic {topic.name} saved." if changed else "Nothing needed changing."
        return done(message, ".topic", topic_id=topic.id)
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
    change, value, outcome = TOPIC_ACTIONS[action]
    with transaction():
        if change(topic, value):
            audit(f"topic {outcome.split()[0]}", topic.slug)
    archived_note = " It is offered nowhere while archived." if topic.archived else ""
    note = archived_note if action in ("hide", "show") else ""
    return done(f"Topic {topic.name} {outcome}.{note}", ".topic", topic_id=topic.id)


# -- staff accounts --------------------------------------------------------------------------


@blueprint.route("/staff", methods=["GET", "POST"])
@admin_only
def staff():
    form = StaffForm()
    if request.method == "POST":
        if not form.validate():
            return _render_staff(form), 400
        try:
            with transaction():
                account = add_staff(form.email.data, form.role.data, form.password.data)
                audit("staff added", f"{account.email} ({account.role})")
        except StaffError as error:
            form.email.errors = [str(error)]
            return _render_staff(form), 400
        return done(f"Added {account.email}.", ".staff")
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
    try:
        with transaction():
            if deactivate_staff(account, current_user):
                audit("staff deactivated", account.email)
    except StaffError as error:
        return _render_staff(StaffForm(formdata=None), problem=str(error).capitalize() + "."), 400
    return done(f"{account.email} can no longer sign in or use the API.", ".staff")


@blueprint.route("/staff/<int:staff_id>/reactivate", methods=["POST"])
@admin_only
def reactivate(staff_id: int):
    account = _account(staff_id)
    with transaction():
        if reactivate_staff(account):
            audit("staff reactivated", account.email)
    return done(f"{account.email} can sign in again.", ".staff")


@blueprint.route("/staff/<int:staff_id>/password", methods=["GET", "POST"])
@admin_only
def staff_password(staff_id: int):
    account = _account(staff_id)
    form = PasswordResetForm()
    if request.method == "POST":
        if not form.validate():
            return render_template("console/password.html", account=account, form=form), 400
        try:
            with transaction():
                set_password(account, form.password.data)
                audit("staff password reset", account.email)
        except StaffError as error:
            form.password.errors = [str(error)]
            return render_template("console/password.html", account=account, form=form), 400
        if account.id == current_user.id:
            login_user(account)  # the new password ended every session, this one included
        return done(
            f"{account.email} has a new password. Tell them it through a private channel.",
            ".staff",
        )
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
            with transaction():
                row, token = issue_api_token(_account(form.staff_id.data))
                audit("api token created", f"{row.id} for {row.staff.email}")
        except StaffError as error:
            form.staff_id.errors = [str(error)]
            return _render_tokens(form), 400
        # Shown in this answer only, never stored or redirected with; so not cached either.
        response = make_response(_render_tokens(_token_form(), created=(row, token)), 201)
        response.headers["Cache-Control"] = "no-store"
        return response
    return _render_tokens(form)


@blueprint.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@admin_only
def revoke_token(token_id: int):
    row = db.session.get(ApiToken, token_id) or abort(404)
    with transaction():
        if revoke_api_token(row):
            audit("api token revoked", f"{row.id} of {row.staff.email}")
    return done(f"Token {row.id} of {row.staff.email} no longer works.", ".api_tokens")
