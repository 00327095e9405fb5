"""When a schedule runs: a cadence at a local time in a time zone, turned into UTC slots.

Slots follow the wall clock of the schedule's zone, so "Mondays 09:00 Europe/London" is 09:00
local in winter and in summer. Two rules settle the days the clocks change:
- a local time the clocks skip (spring forward) runs as many minutes later as they skip, at
  the same moment in UTC: 01:30 in London on the last Sunday of March runs at 02:30 BST;
- a local time the clocks repeat (fall back) runs once, at its first occurrence.
A monthly day a month lacks (the 31st of April) runs on that month's last day.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from updates.models import Cadence

FIELDS = ("cadence", "weekday", "day", "time", "timezone")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
LOOK_AHEAD_DAYS = 400  # more than a year: every cadence has a slot in it


class CadenceError(ValueError):
    """The cadence, time or time zone given cannot be a schedule (HTTP 400)."""


@dataclass(frozen=True)
class When:
    """A checked cadence: what the schedule's row holds, in the form slots are computed from."""

    cadence: str
    weekday: int | None
    day: int | None
    time: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def runs_on(self, day: date) -> bool:
        if self.cadence == Cadence.WEEKLY:
            return day.weekday() == self.weekday
        if self.cadence == Cadence.MONTHLY:
            last = calendar.monthrange(day.year, day.month)[1]
            return day.day == min(self.day, last)
        return True

    def slot_on(self, day: date) -> datetime:
        """The run on that local day, as naive UTC (see the module's rules for DST days)."""
        hour, minute = (int(part) for part in self.time.split(":"))
        local = datetime.combine(day, time(hour, minute), tzinfo=self.zone)  # fold=0: the first
        return local.astimezone(UTC).replace(tzinfo=None)

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after `moment` (naive UTC), as naive UTC."""
        local_day = moment.replace(tzinfo=UTC).astimezone(self.zone).date()
        for offset in range(-1, LOOK_AHEAD_DAYS):
            day = local_day + timedelta(days=offset)
            if self.runs_on(day):
                slot = self.slot_on(day)
                if slot > moment:
                    return slot
        raise CadenceError("this cadence never runs")  # unreachable for a checked When

    def local(self, moment: datetime) -> datetime:
        """A naive UTC moment on the schedule's wall clock."""
        return moment.replace(tzinfo=UTC).astimezone(self.zone)

    def changed(self, given: dict[str, object]) -> When:
        """This cadence with the fields given changed; a new cadence keeps neither weekday nor
        day unless they are given again."""
        fields: dict[str, object] = {
            "cadence": self.cadence,
            "weekday": self.weekday,
            "day": self.day,
            "time": self.time,
            "timezone": self.timezone,
        }
        if given.get("cadence", self.cadence) != self.cadence:
            fields["weekday"] = fields["day"] = None
        fields.update({key: value for key, value in given.items() if key in fields})
        return when(
            fields["cadence"], fields["time"], fields["timezone"], fields["weekday"], fields["day"]
        )

    def describe(self) -> str:
        """In words, for staff: "Mondays at 09:00 (Europe/London)"."""
        at = f"at {self.time} ({self.timezone})"
        if self.cadence == Cadence.WEEKLY:
            return f"{WEEKDAYS[self.weekday].capitalize()}s {at}"
        if self.cadence == Cadence.MONTHLY:
            return f"Monthly on day {self.day} {at}"
        return f"Daily {at}"


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_zone(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise CadenceError("timezone is required, for example Europe/London")
    name = name.strip()
    if name not in known_zones():
        raise CadenceError(
            f"unknown time zone {name[:64]!r}; use an IANA name such as Europe/London"
        )
    return name


def check_time(value: object) -> str:
    found = TIME.match(value.strip()) if isinstance(value, str) else None
    if found is None or int(found[1]) > 23 or int(found[2]) > 59:
        raise CadenceError("time must be HH:MM on a 24-hour clock, for example 09:00")
    return f"{int(found[1]):02d}:{found[2]}"


def check_weekday(value: object) -> int:
    """A weekday's name (or its first three letters), or a number: 0 is Monday, 6 Sunday."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    if isinstance(value, str):
        name = value.strip().lower()
        for number, weekday in enumerate(WEEKDAYS):
            if name in (weekday, weekday[:3]):
                return number
    raise CadenceError("weekday must be a day's name, such as monday, or 0 (Monday) to 6 (Sunday)")


def check_day(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 31:
        return value
    raise CadenceError(
        "day must be a day of the month from 1 to 31 (a month without it runs on its last day)"
    )


def when(
    cadence: object,
    time_of_day: object,
    timezone: object,
    weekday: object = None,
    day: object = None,
) -> When:
    """Check a cadence as staff give it; CadenceError says what is wrong."""
    if cadence not in Cadence.ALL:
        raise CadenceError(f"cadence must be one of {', '.join(Cadence.ALL)}")
    if cadence == Cadence.WEEKLY:
        if weekday is None:
            raise CadenceError("a weekly schedule needs a weekday")
        weekday = check_weekday(weekday)
    elif weekday is not None:
        raise CadenceError(f"weekday is only for a weekly schedule, not a {cadence} one")
    if cadence == Cadence.MONTHLY:
        if day is None:
            raise CadenceError("a monthly schedule needs a day of the month")
        day = check_day(day)
    elif day is not None:
        raise CadenceError(f"day is only for a monthly schedule, not a {cadence} one")
    return When(str(cadence), weekday, day, check_time(time_of_day), check_zone(timezone))  # type: ignore[arg-type]
