"""The sign-up form; the field rules live here."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField
from wtforms.validators import InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ..addresses import MAX_ADDRESS_LENGTH, InvalidAddress, normalise_address
from ..models import Topic


class TopicsField(SelectMultipleField):
    """One checkbox per topic, value = slug."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SignupForm(FlaskForm):
    email = StringField(
        "Email address",
        validators=[InputRequired("Enter your email address."), Length(max=MAX_ADDRESS_LENGTH)],
    )
    topics = TopicsField("Topics")
    # A honeypot: hidden from people, filled in by bots that fill in everything.
    website = StringField("Leave this field empty", validators=[Length(max=200)])

    def __init__(self, topics: list[Topic], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.topic_list = topics
        self.topics.choices = {topic.slug: topic.name for topic in topics}

    def validate_email(self, field: StringField) -> None:
        try:
            field.data = normalise_address(
                field.data or "", check_dns=current_app.config["CHECK_EMAIL_DNS"]
            )
        except InvalidAddress as error:
            raise ValidationError(str(error)) from error

    def validate_topics(self, field: TopicsField) -> None:
        if not field.data:
            raise ValidationError("Choose at least one topic.")

    @property
    def is_bot(self) -> bool:
        return bool(self.website.data)

    def chosen_topics(self) -> list[Topic]:
        chosen = set(self.topics.data or [])
        return [topic for topic in self.topic_list if topic.slug in chosen]


class ConfirmForm(FlaskForm):
    """One button; the token is in the URL."""


class ResendForm(FlaskForm):
    """One button asking for a fresh link."""
