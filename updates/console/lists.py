"""The suppression list, the audit log and the CSV exports."""

from __future__ import annotations

import csv
import io

from flask import Response, abort, render_template, request, stream_with_context
from sqlalchemy import Select

from updates.addresses import InvalidAddress, normalise_address
from updates.extensions import db
from updates.models import Suppression
from updates.news.topics import all_topics
from updates.staff.accounts import all_staff
from updates.staff.audit import actions_recorded, find_actions
from updates.subscribers import exports
from updates.subscribers.suppression import find_suppressions, lift, suppress
from updates.transaction import transaction

from . import blueprint
from .access import admin_only, audit, done
from .forms import AuditFilterForm, SuppressionFilterForm, SuppressionForm, UnsuppressForm


@blueprint.route("/suppressions", methods=["GET", "POST"])
@admin_only
def suppressions():
    form = SuppressionForm()
    if request.method == "POST":
        if not form.validate():
            return _render_suppressions(form, status=400)
        try:
            address = normalise_address(form.email.data)
        except InvalidAddress as error:
            form.email.errors = [str(error)]
            return _render_suppressions(form, status=400)
        with transaction():
            suppress(address, form.reason.data)
            audit("address suppressed", f"{address}: {form.reason.data}")
        return done(f"{address} will not be emailed.", ".suppressions")
    return _render_suppressions(form)


def _render_suppressions(
    form: SuppressionForm,
    removing: UnsuppressForm | None = None,
    removing_id: int | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The page: the form to suppress an address, and the list as its query string asks."""
    filters = SuppressionFilterForm(request.args)
    found = None
    if filters.validate():
        found = find_suppressions((filters.q.data or "").strip(), filters.page_number)
    page = render_template(
        "console/suppressions.html",
        form=form,
        filters=filters,
        found=found,
        removing=removing or UnsuppressForm(formdata=None),
        removing_id=removing_id,
    )
    return page, status if found is not None else 400


@blueprint.route("/suppressions/<int:suppression_id>/remove", methods=["POST"])
@admin_only
def remove_suppression(suppression_id: int):
    row = db.session.get(Suppression, suppression_id) or abort(404)
    form = UnsuppressForm()
    if not form.validate():
        return _render_suppressions(
            SuppressionForm(formdata=None), form, suppression_id, status=400
        )
    with transaction():
        lifted = lift(row)
        if lifted:
            audit("suppression removed", f"{row.email or row.email_hash}: {form.reason.data}")
    if not lifted:
        return done(
            "An erased address stays suppressed: the person asked never to be contacted.",
            ".suppressions",
        )
    return done("Removed from the suppression list.", ".suppressions")


@blueprint.route("/audit")
@admin_only
def audit_log():
    form = AuditFilterForm(request.args)
    form.who.choices = {"": "Anyone", **{str(s.id): s.email for s in all_staff()}}
    form.action.choices = {"": "Any action", **{a: a for a in actions_recorded()}}
    if not form.validate():
        return render_template("console/audit.html", form=form, found=None), 400
    found = find_actions(
        form.staff_id, form.action.data, form.since.data, form.until.data, form.page_number
    )
    return render_template("console/audit.html", form=form, found=found)


def _csv(header: tuple[str, ...], query: Select, filename: str, shape=tuple) -> Response:
    """Stream the query's rows, each through `shape`, as a CSV attachment, a chunk at a time.

    Every cell is neutralised, so that none is run as a formula by the spreadsheet it is opened in.

    The query runs inside the stream: by the time the body is sent the view's transaction has
    ended, and with it a PostgreSQL server-side cursor opened there.
    """

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in db.session.execute(query.execution_options(yield_per=1000)):
            writer.writerow(exports.safe_cells(shape(row)))
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
    slug = request.args.get("topic", "")
    if slug and slug not in {topic.slug for topic in all_topics()}:
        abort(404)  # so the file name, a header, holds only a known slug
    with transaction():
        audit("subscribers exported", slug or "all topics")
    query = exports.subscriber_rows(slug)
    return _csv(exports.SUBSCRIBERS_HEADER, query, f"subscribers-{slug or 'all'}.csv")


@blueprint.route("/exports/consent.csv")
@admin_only
def export_consent():
    with transaction():
        audit("consent trail exported")
    query = exports.consent_rows()
    return _csv(exports.CONSENT_HEADER, query, "consent-trail.csv", exports.consent_cells)
