"""Schedules in the console: the list with next run and last digest, create, edit, pause,
resume, run now, delete (after a confirmation page), and a preview of the next run per reader."""

from __future__ import annotations

from flask import abort, render_template, request

from updates.extensions import db
from updates.forms import ButtonForm
from updates.mail.newsletter import Recipient, Variant
from updates.models import Cadence, Schedule
from updates.news import digests, schedules
from updates.news.cadence import WEEKDAYS, CadenceError, When, when
from updates.news.publishing import ContentError
from updates.news.topics import all_topics
from updates.subscribers.lookup import find_by_address
from updates.transaction import transaction

from . import blueprint
from .access import audit, done, staff_only
from .forms import ScheduleForm


def _schedule(schedule_id: int) -> Schedule:
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        abort(404)
    return schedule


def _form(schedule: Schedule | None = None) -> ScheduleForm:
    """The form as posted, or filled in from the schedule to edit it."""
    form = ScheduleForm()
    if schedule is not None and request.method == "GET":
        form = ScheduleForm(
            formdata=None,
            name=schedule.name,
            topics=[topic.slug for topic in schedule.topics],
            cadence=schedule.cadence,
            weekday=WEEKDAYS[schedule.weekday or 0],
            day=schedule.day,
            time=schedule.time,
            timezone=schedule.timezone,
            subject=schedule.subject_template,
            intro=schedule.intro_markdown,
        )
    form.topics.choices = {t.slug: t.name for t in all_topics() if not t.archived}
    return form


def _when(form: ScheduleForm) -> When:
    cadence = form.cadence.data
    return when(
        cadence,
        form.time.data,
        (form.timezone.data or "").strip(),
        form.weekday.data if cadence == Cadence.WEEKLY else None,
        form.day.data if cadence == Cadence.MONTHLY else None,
    )


def _checked(form: ScheduleForm) -> When | None:
    """The form's cadence, or None with the reason put on the field it concerns."""
    if not form.validate():
        return None
    try:
        return _when(form)
    except CadenceError as error:
        message = str(error)
        for name in ("timezone", "weekday", "day", "time"):
            if name in message or (name == "timezone" and "time zone" in message):
                getattr(form, name).errors = [message]
                return None
        form.cadence.errors = [message]
        return None


def _render_list(form: ScheduleForm) -> str:
    found = schedules.all_schedules()
    return render_template(
        "console/schedules.html",
        form=form,
        schedules=found,
        last=schedules.last_digests([s.id for s in found]),
        when_of=schedules.when_of,
    )


@blueprint.route("/schedules", methods=["GET", "POST"])
@staff_only
def schedule_list():
    form = _form()
    if request.method == "GET":
        return _render_list(form)
    cadence = _checked(form)
    if cadence is None:
        return _render_list(form), 400
    try:
        with transaction():
            schedule = schedules.create_schedule(
                form.name.data, form.topics.data, cadence, form.subject.data, form.intro.data or ""
            )
            audit("schedule added", f"{schedule.id}: {schedule.name}")
    except ContentError as error:
        form.name.errors = [str(error)]
        return _render_list(form), 400
    return done(f"Schedule “{schedule.name}” added.", ".schedule_list")


def _render_schedule(schedule: Schedule, form: ScheduleForm) -> str:
    return render_template(
        "console/schedule.html",
        schedule=schedule,
        form=form,
        button=ButtonForm(),
        last=schedules.last_digests([schedule.id]).get(schedule.id),
        describe=schedules.when_of(schedule).describe(),
    )


@blueprint.route("/schedules/<int:schedule_id>", methods=["GET", "POST"])
@staff_only
def schedule_detail(schedule_id: int):
    schedule = _schedule(schedule_id)
    form = _form(schedule)
    if request.method == "GET":
        return _render_schedule(schedule, form)
    cadence = _checked(form)
    if cadence is None:
        return _render_schedule(schedule, form), 400
    try:
        with transaction():
            schedules.change_schedule(
                schedule,
                name=form.name.data,
                topic_slugs=form.topics.data,
                when=cadence if cadence != schedules.when_of(schedule) else None,
                subject=form.subject.data,
                intro=form.intro.data or "",
            )
            audit("schedule changed", f"{schedule.id}: {schedule.name}")
    except ContentError as error:
        db.session.rollback()
        form.name.errors = [str(error)]
        return _render_schedule(_schedule(schedule_id), form), 400
    return done("Schedule saved.", ".schedule_detail", schedule_id=schedule.id)


@blueprint.route("/schedules/<int:schedule_id>/<any(pause, resume):action>", methods=["POST"])
@staff_only
def schedule_pause(schedule_id: int, action: str):
    schedule = _schedule(schedule_id)
    with transaction():
        schedules.change_schedule(schedule, active=action == "resume")
        audit(f"schedule {action}", f"{schedule.id}: {schedule.name}")
    what = "paused" if action == "pause" else "resumed: it runs next at its next slot"
    return done(f"Schedule {what}.", ".schedule_detail", schedule_id=schedule.id)


@blueprint.route("/schedules/<int:schedule_id>/run", methods=["POST"])
@staff_only
def schedule_run(schedule_id: int):
    schedule = _schedule(schedule_id)
    with transaction():
        digest = schedules.run_now(schedule)
        made = f"digest {digest.id}" if digest else "nothing new"
        audit("schedule run", f"{schedule.id}: {schedule.name}: {made}")
    if digest is None:
        return done(
            "Nothing new for its readers: nothing was sent.",
            ".schedule_detail",
            schedule_id=schedule.id,
        )
    return done("Sending its digest now.", ".digest_detail", digest_id=digest.id)


@blueprint.route("/schedules/<int:schedule_id>/delete", methods=["GET", "POST"])
@staff_only
def schedule_delete(schedule_id: int):
    schedule = _schedule(schedule_id)
    if request.method == "GET":
        return render_template(
            "console/schedule_delete.html", schedule=schedule, button=ButtonForm()
        )
    name = schedule.name
    with transaction():
        audit("schedule deleted", f"{schedule.id}: {name}")
        schedules.delete_schedule(schedule)
    return done(f"Schedule “{name}” deleted; the digests it sent stay.", ".schedule_list")


@blueprint.route("/schedules/<int:schedule_id>/preview")
@staff_only
def schedule_preview(schedule_id: int):
    """What the next run would send to one reader, if it ran now: their topics, less what
    they were already sent."""
    schedule = _schedule(schedule_id)
    address = (request.args.get("as") or "").strip()[:320]
    digest = schedules.preview(schedule)
    context = {"schedule": schedule, "digest": digest, "address": address, "person": None}
    if address:
        person = find_by_address(address)
        if person is None:
            return render_template("console/schedule_preview.html", **context, unknown=True), 404
        topic_ids, already = digests.reader_variant(digest, person)
        variant = Variant(digest, topic_ids, already)
        text, page, _ = variant.personalise(Recipient(0, 0, person.email or "", 0, topic_ids))
        context.update(
            person=person,
            text=text,
            html=page,
            empty=variant.empty,
            all_sent=variant.all_sent,
            nothing=not digest.items,
            already=[item.update for item in digest.items if item.update_id in already],
        )
    return render_template("console/schedule_preview.html", **context, unknown=False)
