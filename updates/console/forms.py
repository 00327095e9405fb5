"""Forms of the staff console; field rules live here."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    EmailField,
    Field,
    Form,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import EqualTo, InputRequired, Length, Optional, ValidationError

from updates import limits
from updates.addresses import MAX_ADDRESS_LENGTH, InvalidAddress, normalise_address
from updates.forms import PagedForm, TopicsField
from updates.models import Cadence, DigestKind, DigestStatus, SubscriberStatus
from updates.news.cadence import WEEKDAYS
from updates.news.finding import UPDATE_STATES
from updates.news.schedules import DEFAULT_SUBJECT
from updates.staff.accounts import MIN_PASSWORD_LENGTH


def storable(form: Form, field: Field) -> None:
    """Neither database stores a NUL character; say so rather than fail."""
    if "\x00" in (field.data or ""):
        raise ValidationError("This cannot contain a NUL character.")


class LoginForm(FlaskForm):
    email = EmailField("Email address", validators=[InputRequired(), Length(max=320), storable])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=limits.PASSWORD)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])

    def validate_email(self, field: EmailField) -> None:
        try:
            field.data = normalise_address(field.data or "")
        except InvalidAddress as error:
            raise ValidationError(str(error)) from error


class CodeForm(FlaskForm):
    code = StringField(
        "Code from your app, or a recovery code", validators=[InputRequired(), Length(max=40)]
    )


class EnrolCodeForm(FlaskForm):
    code = StringField("Six-digit code from your app", validators=[InputRequired(), Length(max=40)])


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[InputRequired(), Length(min=MIN_PASSWORD_LENGTH, max=limits.PASSWORD)],
    )
    confirm = PasswordField(
        "The new password again",
        validators=[InputRequired(), EqualTo("password", "The two passwords are not the same.")],
    )


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(
        "Your current password", validators=[InputRequired(), Length(max=limits.PASSWORD)]
    )


class CurrentPasswordForm(FlaskForm):
    current = PasswordField(
        "Your current password", validators=[InputRequired(), Length(max=limits.PASSWORD)]
    )


class TopicForm(FlaskForm):
    slug = StringField("Slug", validators=[InputRequired(), Length(max=limits.TOPIC_SLUG)])
    name = StringField("Name", validators=[InputRequired(), Length(max=limits.TOPIC_NAME)])
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=limits.TOPIC_DESCRIPTION)]
    )
    visibility = SelectField("Visibility", choices={"public": "Public", "hidden": "Hidden"})


class UpdateForm(FlaskForm):
    title = StringField("Title", validators=[InputRequired(), Length(max=limits.UPDATE_TITLE)])
    body = TextAreaField(
        "Body (Markdown)", validators=[InputRequired(), Length(max=limits.UPDATE_BODY)]
    )
    topics = TopicsField("Topics", validators=[InputRequired("Choose at least one topic.")])
    is_event = BooleanField("This update is an event")
    starts = DateTimeLocalField("Starts", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    ends = DateTimeLocalField("Ends", validators=[Optional()], format="%Y-%m-%dT%H:%M")
    timezone = StringField(
        "Time zone (for example Europe/London)",
        default="Europe/London",
        validators=[Optional(), Length(max=limits.TIMEZONE_NAME)],
    )
    place = StringField("Place", validators=[Optional(), Length(max=limits.EVENT_PLACE)])
    online_url = StringField(
        "Link to join online", validators=[Optional(), Length(max=limits.EVENT_URL)]
    )
    booking_url = StringField("Booking link", validators=[Optional(), Length(max=limits.EVENT_URL)])

    def event_values(self) -> dict[str, object] | None:
        """The event fields as the domain reads them; None unless this is an event."""
        if not self.is_event.data:
            return None
        return {
            "start": self.starts.data.isoformat() if self.starts.data else None,
            "end": self.ends.data.isoformat() if self.ends.data else None,
            "timezone": (self.timezone.data or "").strip(),
            "place": self.place.data,
            "online_url": (self.online_url.data or "").strip(),
            "booking_url": (self.booking_url.data or "").strip(),
        }

    announce = BooleanField(
        "Announce it now to the followers of its topics who chose every announcement",
        default=True,
    )


class DigestForm(FlaskForm):
    subject = StringField(
        "Subject", validators=[InputRequired(), Length(max=limits.DIGEST_SUBJECT)]
    )
    intro = TextAreaField(
        "Introduction (Markdown)", validators=[Optional(), Length(max=limits.DIGEST_INTRO)]
    )
    kind = SelectField(
        "Kind", choices={DigestKind.DIGEST: "Digest", DigestKind.ANNOUNCEMENT: "Announcement"}
    )
    topics = TopicsField("Topics", validators=[InputRequired("Choose at least one topic.")])
    updates = SelectMultipleField("Updates", coerce=int)
    find = StringField(
        "Find older updates by title", validators=[Optional(), Length(max=limits.UPDATE_TITLE)]
    )


class ScheduleForm(FlaskForm):
    """Weekday and day are read only for the cadence they belong to."""

    name = StringField(
        "Name", validators=[InputRequired(), Length(max=limits.SCHEDULE_NAME), storable]
    )
    topics = TopicsField("Topics", validators=[InputRequired("Choose at least one topic.")])
    cadence = SelectField(
        "How often",
        choices={
            Cadence.DAILY: "Daily",
            Cadence.WEEKLY: "Weekly, on the weekday below",
            Cadence.MONTHLY: "Monthly, on the day below",
        },
    )
    weekday = SelectField(
        "Weekday (weekly)", choices={name: name.capitalize() for name in WEEKDAYS}
    )
    day = IntegerField(
        "Day of the month (monthly; a month without it runs on its last day)",
        validators=[Optional()],
    )
    time = StringField("Local time (HH:MM)", validators=[InputRequired(), Length(max=5)])
    timezone = StringField(
        "Time zone", default="Europe/London", validators=[InputRequired(), Length(max=64)]
    )
    subject = StringField(
        "Subject: may use {org}, {name} and {date}",
        default=DEFAULT_SUBJECT,
        validators=[InputRequired(), Length(max=limits.DIGEST_SUBJECT), storable],
    )
    intro = TextAreaField(
        "Introduction (Markdown)",
        validators=[Optional(), Length(max=limits.DIGEST_INTRO), storable],
    )


class SendForm(FlaskForm):
    at = StringField("Send at", validators=[Optional(), Length(max=40)])  # local: TIMEZONE


class SuppressionForm(FlaskForm):
    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])
    reason = StringField("Reason", validators=[InputRequired(), Length(max=30)])


class SuppressionFilterForm(PagedForm):
    """The suppression list's search."""

    q = StringField("Address contains", validators=[Length(max=MAX_ADDRESS_LENGTH), storable])


class UnsuppressForm(FlaskForm):
    reason = StringField(
        "Why may they be emailed again?", validators=[InputRequired(), Length(max=300), storable]
    )


class StaffForm(FlaskForm):
    email = EmailField("Email address", validators=[InputRequired(), Length(max=320)])
    role = SelectField("Role", choices={"editor": "Editor", "admin": "Admin"})
    password = PasswordField(
        "Password",
        validators=[InputRequired(), Length(min=MIN_PASSWORD_LENGTH, max=limits.PASSWORD)],
    )


class TopicEditForm(FlaskForm):
    name = StringField(
        "Name", validators=[InputRequired(), Length(max=limits.TOPIC_NAME), storable]
    )
    description = TextAreaField(
        "Description",
        validators=[Optional(), Length(max=limits.TOPIC_DESCRIPTION), storable],
    )


class PasswordResetForm(NewPasswordForm):
    """An admin sets another account's password."""


class ApiTokenForm(FlaskForm):
    """Choices: the active staff accounts, id → address."""

    staff_id = SelectField("For the staff account", coerce=int)


class SubscriberFilterForm(PagedForm):
    """The subscriber list's search and filters."""

    q = StringField("Address contains", validators=[Length(max=MAX_ADDRESS_LENGTH), storable])
    topic = SelectField("Topic", default="")
    status = SelectField(
        "Status",
        default="",
        choices={"": "Any status", **{s: s.capitalize() for s in SubscriberStatus.ALL}},
    )


class UpdateFilterForm(PagedForm):
    """The console's list of updates: its search and filters; the view fills in the topics."""

    q = StringField("Search updates", validators=[Length(max=limits.UPDATE_TITLE), storable])
    topic = SelectField("Topic", default="")
    state = SelectField(
        "State",
        default="",
        choices={"": "Any", **{state: state.capitalize() for state in UPDATE_STATES}},
    )


class DigestFilterForm(PagedForm):
    """The console's list of digests: its search and filters; the view fills in the topics."""

    q = StringField("Search digests", validators=[Length(max=limits.DIGEST_SUBJECT), storable])
    topic = SelectField("Topic", default="")
    status = SelectField(
        "Status",
        default="",
        choices={"": "Any status", **{s: s.capitalize() for s in DigestStatus.ALL}},
    )


class AuditFilterForm(PagedForm):
    """The audit log's filters; the view fills in the choices of who and what."""

    who = SelectField("Who", default="")
    action = SelectField("What", default="")
    since = DateField("From (UTC)", validators=[Optional()])
    until = DateField("Until (UTC)", validators=[Optional()])

    def validate_until(self, field: DateField) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end of the range comes before its start.")

    @property
    def staff_id(self) -> int | None:
        return int(self.who.data) if self.who.data else None


class AddSubscriberForm(FlaskForm):
    email = StringField(
        "Email address", validators=[InputRequired(), Length(max=MAX_ADDRESS_LENGTH)]
    )
    topics = TopicsField("Topics", validators=[InputRequired("Choose at least one topic.")])
    basis = TextAreaField(
        "Basis of consent: how and when this person asked to be emailed",
        validators=[
            InputRequired("Say on what basis this person agreed to be emailed."),
            Length(max=limits.CONSENT_BASIS),
            storable,
        ],
    )

    def validate_email(self, field: StringField) -> None:
        try:
            field.data = normalise_address(field.data or "")
        except InvalidAddress as error:
            raise ValidationError(str(error)) from error

    def validate_basis(self, field: TextAreaField) -> None:
        if not (field.data or "").strip():
            raise ValidationError("Say on what basis this person agreed to be emailed.")


class EmbedOriginForm(FlaskForm):
    origin = StringField(
        "Site address, for example https://www.example.org (no path)",
        validators=[InputRequired(), Length(max=300)],
    )
