"""The sign-up form and the archive's search; the field rules live here."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.csrf.core import CSRF
from wtforms.validators import InputRequired, Length, ValidationError

from updates import limits, tokens
from updates.addresses import MAX_ADDRESS_LENGTH, InvalidAddress, normalise_address
from updates.forms import PagedForm, TopicsField
from updates.models import Topic

EMBED_FORM = "embed-form"


class ArchiveForm(PagedForm):
    """The archive's search, from the query string."""

    q = StringField("Title contains", validators=[Length(max=limits.UPDATE_TITLE)])


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


def _posted_from_our_page() -> bool:
    """What the browser says about where a POST came from, when it says anything."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site != "same-origin":
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    ours = urlsplit(request.host_url)
    return origin == f"{ours.scheme}://{ours.netloc}"


class EmbedCSRF(CSRF):
    """CSRF for the form inside another site's iframe, where no session cookie is sent.

    The token is signed and dated instead of tied to a session. What stops a forged post is
    the browser's word on where it came from: only the embedded page itself, on our origin,
    may submit it.
    """

    def generate_csrf_token(self, csrf_token_field: object) -> str:
        return tokens.make_token(EMBED_FORM, "sign-up")

    def validate_csrf_token(self, form: object, field: StringField) -> None:
        if not _posted_from_our_page():
            raise ValidationError("This form can only be sent from its own page.")
        try:
            tokens.read_token(EMBED_FORM, field.data or "", max_age_days=1)
        except tokens.ExpiredToken as error:
            raise ValidationError(
                "This form has expired. Reload the page and try again."
            ) from error
        except tokens.InvalidToken as error:
            raise ValidationError(
                "This form was not sent from our page. Reload it and try again."
            ) from error


class EmbedSignupForm(SignupForm):
    class Meta:
        csrf_class = EmbedCSRF
