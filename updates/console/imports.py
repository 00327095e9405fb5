"""Importing subscribers from an uploaded CSV (admins): the form, the progress page, its JSON."""

from __future__ import annotations

from flask import abort, current_app, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from updates import limits
from updates.extensions import csrf
from updates.forms import TopicsField
from updates.news.topics import all_topics
from updates.subscribers.import_uploads import (
    ImportStatus,
    ImportUnavailable,
    import_status,
    start_import,
)
from updates.subscribers.importer import ImportProblem
from updates.transaction import transaction

from . import blueprint
from .access import admin_only, audit

MAX_UPLOAD = limits.IMPORT_UPLOAD


class ImportForm(FlaskForm):
    file = FileField(
        "CSV file, with a header row and an “email” column",
        validators=[
            FileRequired("Choose a CSV file."),
            FileAllowed(["csv"], "The file must be a CSV (.csv)."),
        ],
    )
    topics = TopicsField("Topics", validators=[InputRequired("Choose at least one topic.")])
    consent = TextAreaField(
        "Basis of consent (recorded for each person, e.g. “Delegate list, Summit 2026, opted in”)",
        validators=[
            DataRequired("Say on what basis these people agreed to be emailed."),
            Length(max=limits.CONSENT_BASIS),
        ],
    )


@blueprint.route("/import", methods=["GET", "POST"])
@csrf.exempt  # checked below, once the larger upload limit is in force
@admin_only
def import_upload():
    if request.method == "POST":
        # Set before anything reads the body; CSRFProtect's own check would read it too early.
        request.max_content_length = MAX_UPLOAD
        if (request.content_length or 0) > MAX_UPLOAD:
            return _too_large()  # refused on its stated length, before a byte of it is read
        try:
            request.files.get("file")  # parsed now: the upload streams to a temporary file
        except RequestEntityTooLarge:
            return _too_large()  # sent without a length, and it grew past the limit
        if current_app.config["WTF_CSRF_ENABLED"]:
            csrf.protect()
    form = ImportForm()
    form.topics.choices = {t.slug: t.name for t in all_topics() if not t.archived}
    if request.method == "POST":
        if not form.validate():
            return _render_form(form), 400
        try:
            status = start_import(
                form.file.data, form.topics.data, form.consent.data.strip(), current_user.id
            )
        except ImportProblem as error:
            problem = str(error)
            form.file.errors = [f"{problem[:1].upper()}{problem[1:]}."]
            return _render_form(form), 400
        except ImportUnavailable:
            form.form_errors.append("The job queue cannot be reached. Try again in a minute.")
            return _render_form(form), 503
        topics = ", ".join(status.topics)
        with transaction():
            audit(
                "subscribers import started",
                f"{status.id}: {status.filename}, {status.size:,} bytes, to {topics}",
            )
        return redirect(url_for(".import_page", import_id=status.id), code=303)
    return _render_form(form)


def _render_form(form: ImportForm) -> str:
    return render_template("console/import.html", form=form)


def _too_large() -> tuple[str, int]:
    form = ImportForm(formdata=None)
    form.topics.choices = {t.slug: t.name for t in all_topics() if not t.archived}
    megabytes = MAX_UPLOAD // (1024 * 1024)
    form.file.errors = [
        f"The file is larger than {megabytes} MB, the most one import takes. "
        "Split it into smaller files and import each."
    ]
    return _render_form(form), 413


def _status(import_id: str) -> ImportStatus:
    try:
        status = import_status(import_id)
    except ImportUnavailable:
        abort(503)
    if status is None:
        abort(404)
    return status


@blueprint.route("/import/<string(length=32):import_id>")
@admin_only
def import_page(import_id: str):
    return render_template("console/import_progress.html", status=_status(import_id))


@blueprint.route("/import/<string(length=32):import_id>/progress")
@admin_only
def import_progress(import_id: str):
    return jsonify(_status(import_id).as_dict())
