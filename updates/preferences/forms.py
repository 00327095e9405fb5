"""Forms on the subscriber's pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import InputRequired, Length, ValidationError

from updates.addresses import MAX_ADDRESS_LENGTH, InvalidAddress, normalise_address
from updates.forms import TopicsField


class ManageForm(FlaskForm):
    """Topics as checkboxes (value = slug); a frequency per topic, `frequency-<slug>`."""

    topics = TopicsField("Topics")

    def __init__(self, topics: list, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.topics.choices = {topic.slug: topic.name for topic in topics}


class LinkRequestForm(FlaskForm):
    email = StringField(
        "Email address",
        validators=[InputRequired("Enter your email address."), Length(max=MAX_ADDRESS_LENGTH)],
    )

    def validate_email(self, field: StringField) -> None:
        try:
            field.data = normalise_address(field.data or "")
        except InvalidAddress as error:
            raise ValidationError(str(error)) from error
