"""Send times as staff give and read them: local time in the organisation's `TIMEZONE`, with
UTC beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

from updates import limits
from updates.models import utcnow


def zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def parse_local(text: str, grace: timedelta = timedelta(0)) -> datetime | None:
    """The time typed (YYYY-MM-DDTHH:MM in TIMEZONE) as naive UTC; None to send now.

    ValueError says what is wrong: not a time; one the clocks skip or pass twice at a change to
    or from summer time; one that has passed (the minute now counts as now, and `grace` more
    while the confirmation page was open); or one more than a year ahead.
    """
    if not text.strip():
        return None
    try:
        local = datetime.fromisoformat(text.strip())
    except (ValueError, OverflowError):
        raise ValueError("Give the date and time as YYYY-MM-DDTHH:MM.") from None
    if local.tzinfo is None:
        local = _placed(local)
    try:
        at = local.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise ValueError("Give the date and time as YYYY-MM-DDTHH:MM.") from None
    now = utcnow()
    if at < now.replace(second=0, microsecond=0) - grace:
        raise ValueError("That time has passed. Leave the box empty to send now.")
    if at > now + timedelta(days=limits.SCHEDULE_AHEAD_DAYS):
        raise ValueError("A digest can be scheduled at most a year ahead.")
    return at if at > now else None


def _placed(local: datetime) -> datetime:
    """A wall-clock time in TIMEZONE, refused where the clocks change make it none or two."""
    earlier, later = local.replace(tzinfo=zone(), fold=0), local.replace(tzinfo=zone(), fold=1)
    if earlier.utcoffset() == later.utcoffset():
        return earlier
    moment = f"{local:%H:%M} on {local.day} {local:%B %Y}"
    if earlier.astimezone(UTC).astimezone(zone()).replace(tzinfo=None) != local:
        raise ValueError(
            f"{moment} does not happen in {zone().key}: the clocks go forward then. "
            "Choose a time outside the hour they skip."
        )
    raise ValueError(
        f"{moment} happens twice in {zone().key}: the clocks go back then. "
        "Choose a time outside that hour."
    )


def shown(at: datetime) -> str:
    """A naive UTC time as staff read it: local, and UTC beside it."""
    moment = at.replace(tzinfo=UTC)
    local = moment.astimezone(zone())
    return (
        f"{local:%H:%M} on {local:%A} {local.day} {local:%B %Y} ({zone().key}, "
        f"{local.tzname()}), {moment:%H:%M} UTC on {moment.day} {moment:%B}"
    )


def local_input(at: datetime | None) -> str:
    """A naive UTC time as the value of a datetime-local input in TIMEZONE."""
    if at is None:
        return ""
    return at.replace(tzinfo=UTC).astimezone(zone()).strftime("%Y-%m-%dT%H:%M")
