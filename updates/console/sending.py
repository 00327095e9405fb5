"""A composed digest: its page and progress, sending, pausing, retrying failures, previews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import abort, jsonify, render_template, request
from flask_login import current_user

from updates import limits, queues
from updates.extensions import db
from updates.forms import ButtonForm
from updates.mail.newsletter import Recipient, Variant
from updates.models import Digest, utcnow
from updates.news import digests
from updates.queues import Jobs
from updates.subscribers.lookup import find_by_address
from updates.transaction import transaction

from . import blueprint
from .access import audit, done, staff_only
from .forms import SendForm

SEND_TIME_SLACK = timedelta(minutes=10)  # a time just passed while the form was filled in


def _digest(digest_id: int) -> Digest:
    digest = db.session.get(Digest, digest_id)
    if digest is None:
        abort(404)
    return digest


@blueprint.route("/digests/<int:digest_id>")
@staff_only
def digest_detail(digest_id: int):
    return _render_digest(_digest(digest_id), SendForm(formdata=None))


def _render_digest(digest: Digest, send_form: SendForm) -> str:
    progress = digests.progress(digest.id)
    return render_template(
        "console/digest.html",
        digest=digest,
        progress=progress,
        failures=digests.failed_deliveries(digest.id) if progress.failed else [],
        failures_shown=digests.FAILURES_SHOWN,
        button=ButtonForm(),
        send_form=send_form,
    )


@blueprint.route("/digests/<int:digest_id>/progress")
@staff_only
def digest_progress(digest_id: int):
    digest = _digest(digest_id)
    progress = digests.progress(digest.id)
    return jsonify(
        status=digest.status,
        recipients=progress.recipients,
        sent=progress.sent,
        failed=progress.failed,
        skipped=progress.skipped,
        already_sent=progress.already_sent,
        pending=progress.pending,
    )


@blueprint.route("/digests/<int:digest_id>/send", methods=["POST"])
@staff_only
def digest_send(digest_id: int):
    digest = _digest(digest_id)
    form = SendForm()
    at = None
    try:
        if not form.validate():
            raise ValueError(" ".join(form.at.errors) or "Check the time and try again.")
        at = _send_time(form.at.data or "")
    except ValueError as error:
        form.at.errors = [f"Nothing was sent. {error}"]
        return _render_digest(digest, form), 400
    return _act(digest, lambda d: digests.send(d, at), "scheduled" if at else "sending")


def _send_time(text: str) -> datetime | None:
    """The time typed in the send form, naive UTC; None to send now. ValueError says what is
    wrong: a time that is not one, has passed, or is more than a year ahead."""
    if not text.strip():
        return None
    try:
        at = datetime.fromisoformat(text.strip())
        at = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
    except (ValueError, OverflowError):
        raise ValueError("Give the time as YYYY-MM-DDTHH:MM, in UTC.") from None
    now = utcnow()
    if at < now - SEND_TIME_SLACK:
        raise ValueError("That time has passed. Leave the box empty to send now.")
    if at > now + timedelta(days=limits.SCHEDULE_AHEAD_DAYS):
        raise ValueError("A digest can be scheduled at most a year ahead.")
    return at


@blueprint.route("/digests/<int:digest_id>/<any(pause, resume, cancel):action>", methods=["POST"])
@staff_only
def digest_action(digest_id: int, action: str):
    digest = _digest(digest_id)
    return _act(digest, getattr(digests, action), action)


def _act(digest: Digest, act, what: str):
    try:
        with transaction():
            act(digest)
            audit(f"digest {what}", f"{digest.id}: {digest.subject}")
    except digests.DigestStateError as error:
        return done(str(error).capitalize() + ".", ".digest_detail", digest_id=digest.id)
    return done(f"Digest {what}.", ".digest_detail", digest_id=digest.id)


@blueprint.route("/digests/<int:digest_id>/retry", methods=["POST"])
@staff_only
def digest_retry(digest_id: int):
    digest = _digest(digest_id)
    try:
        with transaction():
            count = digests.retry_failed(digest)
            audit("digest retried", f"{digest.id}: {count} failed deliveries")
    except digests.DigestStateError as error:
        return done(str(error).capitalize() + ".", ".digest_detail", digest_id=digest.id)
    message = f"Sending the {count} failed deliveries again."
    return done(message, ".digest_detail", digest_id=digest.id)


def _preview_variant(digest: Digest) -> tuple[frozenset[int], frozenset[int], str, str]:
    """The topics of the variant to preview, the updates it leaves out, whose it is, and the
    address to show.

    `?as=ADDRESS` shows what that subscriber gets (less what other digests sent them);
    otherwise `?topics=slug,…`, or every topic.
    """
    digest_topics = {t.slug: t.id for t in digest.topics}
    address = (request.args.get("as") or "").strip()[:320]
    if address:
        person = find_by_address(address)
        if person is None:
            abort(404)
        topics, already = digests.reader_variant(digest, person)
        return topics, already, person.email or "", "as"
    slugs = [s for s in (request.args.get("topics") or "").split(",") if s in digest_topics]
    chosen = [digest_topics[s] for s in slugs] or list(digest_topics.values())
    return frozenset(chosen), frozenset(), "subscriber@example.org", "topics"


@blueprint.route("/digests/<int:digest_id>/preview")
@staff_only
def digest_preview(digest_id: int):
    digest = _digest(digest_id)
    topic_ids, already, address, _ = _preview_variant(digest)
    variant = Variant(digest, topic_ids, already)
    text, page, _ = variant.personalise(Recipient(0, 0, address, 0, topic_ids))
    return render_template(
        "console/preview.html",
        digest=digest,
        text=text,
        html=page,
        address=address,
        empty=variant.empty,
        all_sent=variant.all_sent,
        shown=[t for t in digest.topics if t.id in topic_ids],
    )


@blueprint.route("/digests/<int:digest_id>/test", methods=["POST"])
@staff_only
def digest_test(digest_id: int):
    digest = _digest(digest_id)
    queues.try_enqueue(queues.MAIL, Jobs.SEND_TEST, digest.id, current_user.email)
    return done(
        f"A test copy is on its way to {current_user.email}.", ".digest_detail", digest_id=digest.id
    )
