"""Forms of the staff console; field rules live here."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from ..content import MAX_BODY, MAX_TITLE
from ..public.forms import TopicsField


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1024)])


class ButtonForm(FlaskForm):
    """One button; what it does is in the URL."""


class TopicForm(FlaskForm):
    slug = StringField("Slug", validators=[InputRequired(), Length(max=64)])
    name = StringField("Name", validators=[InputRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=1000)])
    visibility = SelectField("Visibility", choices={"public": "Public", "hidden": "Hidden"})


class UpdateForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired(), Length(max=MAX_TITLE)])
    body = TextAreaField("Body (Markdown)", validators=[InputRequired(), Length(max=MAX_BODY)])
    topics = TopicsField("Topics", validators=[InputRequired("Choose at least one topic.")])


class DigestForm(FlaskForm):
    subject = StringField("Subject", validators=[InputRequired(), Length(max=300)])
    intro = TextAreaField("Introduction (Markdown)", validators=[Optional(), Length(max=20_000)])
    kind = SelectField("Kind", choices={"digest": "Digest", "announcement": "Announcement"})
    topics = TopicsField("Topics", validators=[InputRequired("Choose at least one topic.")])
    updates = SelectMultipleField("Updates", coerce=int)


class SendForm(FlaskForm):
    at = StringField(
        "Send at (UTC, e.g. 2026-12-01T09:00)", validators=[Optional(), Length(max=40)]
    )


class SuppressionForm(FlaskForm):
    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])
    reason = StringField("Reason", validators=[InputRequired(), Length(max=30)])


class StaffForm(FlaskForm):
    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])
    role = SelectField("Role", choices={"editor": "Editor", "admin": "Admin"})
    password = PasswordField("Password", validators=[InputRequired(), Length(min=12, max=1024)])
