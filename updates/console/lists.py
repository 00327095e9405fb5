"""Subscribers, the suppression list, staff accounts and the audit log."""

from __future__ import annotations

import csv
import io
import itertools

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from sqlalchemy import delete, select

from ..addresses import InvalidAddress, address_key, normalise_address
from ..consent import Evidence, Source
from ..extensions import db
from ..models import (
    AuditEvent,
    ConsentEvent,
    ConsentStatement,
    StaffUser,
    Subscriber,
    Subscription,
    Suppression,
    Topic,
)
from ..staff import StaffError, add_staff
from ..subscriptions import erase
from ..suppression import suppress
from . import blueprint
from .access import admin_only, audit, staff_only
from .forms import ButtonForm, StaffForm, SuppressionForm


@blueprint.route("/subscribers")
@staff_only
def subscribers():
    query = (request.args.get("q") or "").strip()[:320]
    found = []
    if query:
        found = db.session.scalars(
            select(Subscriber)
            .where(Subscriber.email_key.contains(address_key(query)))
            .order_by(Subscriber.id)
            .limit(100)
        ).all()
    return render_template("console/subscribers.html", query=query, subscribers=found)


@blueprint.route("/subscribers/<int:subscriber_id>")
@staff_only
def subscriber(subscriber_id: int):
    person = db.session.get(Subscriber, subscriber_id) or abort(404)
    events = db.session.scalars(
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber_id)
        .order_by(ConsentEvent.id)
    ).all()
    return render_template(
        "console/subscriber.html", subscriber=person, events=events, button=ButtonForm()
    )


@blueprint.route("/subscribers/<int:subscriber_id>/erase", methods=["POST"])
@admin_only
def erase_subscriber(subscriber_id: int):
    person = db.session.get(Subscriber, subscriber_id) or abort(404)
    if not ButtonForm().validate():
        abort(400)
    if person.status != "erased":
        erase(person, Evidence(source=Source.STAFF))
        audit("subscriber erased", str(subscriber_id))
        db.session.commit()
    flash("The subscriber's personal data has been erased.")
    return redirect(url_for(".subscriber", subscriber_id=subscriber_id), code=303)


@blueprint.route("/suppressions", methods=["GET", "POST"])
@admin_only
def suppressions():
    form = SuppressionForm()
    if request.method == "POST":
        if not form.validate():
            return _render_suppressions(form), 400
        try:
            address = normalise_address(form.email.data)
        except InvalidAddress as error:
            form.email.errors = [str(error)]
            return _render_suppressions(form), 400
        suppress(address, form.reason.data)
        audit("address suppressed", f"{address}: {form.reason.data}")
        db.session.commit()
        flash(f"{address} will not be emailed.")
        return redirect(url_for(".suppressions"), code=303)
    return _render_suppressions(form)


def _render_suppressions(form: SuppressionForm) -> str:
    rows = db.session.scalars(select(Suppression).order_by(Suppression.id.desc()).limit(500))
    return render_template(
        "console/suppressions.html", form=form, rows=rows.all(), button=ButtonForm()
    )


@blueprint.route("/suppressions/<int:suppression_id>/remove", methods=["POST"])
@admin_only
def remove_suppression(suppression_id: int):
    row = db.session.get(Suppression, suppression_id) or abort(404)
    if not ButtonForm().validate():
        abort(400)
    if row.reason == "erased":
        flash("An erased address stays suppressed: the person asked never to be contacted.")
        return redirect(url_for(".suppressions"), code=303)
    db.session.execute(delete(Suppression).where(Suppression.id == suppression_id))
    audit("suppression removed", row.email or row.email_hash)
    db.session.commit()
    flash("Removed from the suppression list.")
    return redirect(url_for(".suppressions"), code=303)


@blueprint.route("/staff", methods=["GET", "POST"])
@admin_only
def staff():
    form = StaffForm()
    if request.method == "POST":
        if not form.validate():
            return _render_staff(form), 400
        try:
            account = add_staff(form.email.data, form.role.data, form.password.data)
        except StaffError as error:
            form.email.errors = [str(error)]
            return _render_staff(form), 400
        audit("staff added", f"{account.email} ({account.role})")
        db.session.commit()
        flash(f"Added {account.email}.")
        return redirect(url_for(".staff"), code=303)
    return _render_staff(form)


def _render_staff(form: StaffForm) -> str:
    accounts = db.session.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    return render_template("console/staff.html", form=form, accounts=accounts)


@blueprint.route("/audit")
@admin_only
def audit_log():
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(500))
    return render_template("console/audit.html", events=events.all())


def _csv(rows, filename: str) -> Response:
    """Stream rows as CSV, a chunk at a time, as an attachment."""

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            writer.writerow(row)
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@blueprint.route("/exports/subscribers.csv")
@admin_only
def export_subscribers():
    slug = request.args.get("topic", "")[:64]
    query = (
        select(
            Subscriber.email,
            Subscriber.status,
            Topic.slug,
            Subscription.frequency,
            Subscriber.confirmed_at,
        )
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .join(Topic, Topic.id == Subscription.topic_id)
        .order_by(Subscriber.id, Topic.position)
    )
    if slug:
        query = query.where(Topic.slug == slug)
    audit("subscribers exported", slug or "all topics")
    db.session.commit()
    rows = db.session.execute(query.execution_options(yield_per=1000))
    header = [("email", "status", "topic", "frequency", "confirmed_at")]
    return _csv(itertools.chain(header, rows), f"subscribers-{slug or 'all'}.csv")


@blueprint.route("/exports/consent.csv")
@admin_only
def export_consent():
    query = (
        select(
            Subscriber.email,
            ConsentEvent.created_at,
            ConsentEvent.action,
            ConsentEvent.source,
            ConsentEvent.topics,
            ConsentStatement.text,
            ConsentEvent.ip,
            ConsentEvent.user_agent,
        )
        .join(Subscriber, Subscriber.id == ConsentEvent.subscriber_id)
        .outerjoin(ConsentStatement, ConsentStatement.id == ConsentEvent.statement_id)
        .order_by(ConsentEvent.id)
    )
    audit("consent trail exported")
    db.session.commit()
    rows = (
        (email, at.isoformat() + "Z", action, source, " ".join(topics or []), text, ip, agent)
        for email, at, action, source, topics, text, ip, agent in db.session.execute(
            query.execution_options(yield_per=1000)
        )
    )
    header = [("email", "at", "action", "source", "topics", "statement", "ip", "user_agent")]
    return _csv(itertools.chain(header, rows), "consent-trail.csv")
