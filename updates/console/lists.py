"""The suppression list, the audit log and the CSV exports."""

from __future__ import annotations

import csv
import io

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
from sqlalchemy import Row, Select, delete, select

from updates.addresses import InvalidAddress, normalise_address
from updates.extensions import db
from updates.models import (
    AuditEvent,
    ConsentEvent,
    ConsentStatement,
    Subscriber,
    Subscription,
    Suppression,
    Topic,
)
from updates.subscribers.suppression import suppress

from . import blueprint
from .access import admin_only, audit
from .forms import SuppressionForm, UnsuppressForm


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


def _render_suppressions(
    form: SuppressionForm, removing: UnsuppressForm | None = None, removing_id: int | None = None
) -> str:
    rows = db.session.scalars(select(Suppression).order_by(Suppression.id.desc()).limit(500))
    return render_template(
        "console/suppressions.html",
        form=form,
        rows=rows.all(),
        removing=removing or UnsuppressForm(formdata=None),
        removing_id=removing_id,
    )


@blueprint.route("/suppressions/<int:suppression_id>/remove", methods=["POST"])
@admin_only
def remove_suppression(suppression_id: int):
    row = db.session.get(Suppression, suppression_id) or abort(404)
    form = UnsuppressForm()
    if not form.validate():
        return _render_suppressions(SuppressionForm(formdata=None), form, suppression_id), 400
    if row.reason == "erased":
        flash("An erased address stays suppressed: the person asked never to be contacted.")
        return redirect(url_for(".suppressions"), code=303)
    db.session.execute(delete(Suppression).where(Suppression.id == suppression_id))
    audit("suppression removed", f"{row.email or row.email_hash}: {form.reason.data}")
    db.session.commit()
    flash("Removed from the suppression list.")
    return redirect(url_for(".suppressions"), code=303)


@blueprint.route("/audit")
@admin_only
def audit_log():
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(500))
    return render_template("console/audit.html", events=events.all())


def _csv(header: tuple[str, ...], query: Select, filename: str, shape=tuple) -> Response:
    """Stream the query's rows, each through `shape`, as a CSV attachment, a chunk at a time.

    The query runs inside the stream: by the time the body is sent the view's transaction has
    ended, and with it a PostgreSQL server-side cursor opened there.
    """

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in db.session.execute(query.execution_options(yield_per=1000)):
            writer.writerow(shape(row))
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
    header = ("email", "status", "topic", "frequency", "confirmed_at")
    return _csv(header, query, f"subscribers-{slug or 'all'}.csv")


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
    header = ("email", "at", "action", "source", "topics", "statement", "ip", "user_agent")
    return _csv(header, query, "consent-trail.csv", _consent_row)


def _consent_row(row: Row) -> tuple:
    email, at, action, source, topics, text, ip, agent = row
    return (email, at.isoformat() + "Z", action, source, " ".join(topics or []), text, ip, agent)
