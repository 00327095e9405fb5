"""A composed digest: its page and progress, sending, pausing, retrying failures, previews."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask import Response, abort, current_app, jsonify, render_template, request, url_for
from flask_login import current_user

from updates import queues
from updates.extensions import db
from updates.forms import ButtonForm
from updates.mail.newsletter import Recipient, Variant
from updates.models import Digest, DigestStatus, utcnow
from updates.news import digests, reach
from updates.queues import Jobs
from updates.subscribers.lookup import find_by_address
from updates.transaction import transaction

from . import blueprint, progress, sendtime
from .access import audit, done, staff_only
from .confirm import ask, confirmed
from .forms import SendForm

SEND_TIME_SLACK = timedelta(minutes=10)  # a time just passed while the form was filled in


def digest_or_404(digest_id: int) -> Digest:
    digest = db.session.get(Digest, digest_id)
    if digest is None:
        abort(404)
    return digest


@blueprint.route("/digests/<int:digest_id>")
@staff_only
def digest_detail(digest_id: int):
    digest = digest_or_404(digest_id)
    send_form = SendForm(formdata=None)
    if digest.status == DigestStatus.SCHEDULED:
        send_form.at.data = sendtime.local_input(digest.scheduled_at)
    return _render_digest(digest, send_form)


def _render_digest(digest: Digest, send_form: SendForm, refusal: str | None = None) -> str:
    shown = progress.snapshot(digest)
    unstarted = digest.status in (DigestStatus.DRAFT, DigestStatus.SCHEDULED)
    send_form.at.label.text = f"Send at, {current_app.config['TIMEZONE']} time"
    every_topic = frozenset(topic.id for topic in digest.topics)
    return render_template(
        "console/digest.html",
        digest=digest,
        progress=shown,
        stage=shown["stage"],
        failures=digests.failed_deliveries(digest.id) if shown["failed"] else [],
        failures_shown=digests.FAILURES_SHOWN,
        button=ButtonForm(),
        send_form=send_form,
        refusal=refusal,
        reach=reach.reach(digest) if unstarted else None,
        off_topic={i.update_id for i in digest.items if every_topic.isdisjoint(i.shown.topic_ids)},
        scheduled=sendtime.shown(digest.scheduled_at) if digest.scheduled_at else None,
        now=sendtime.shown(utcnow()),
    )


@blueprint.route("/digests/<int:digest_id>/progress")
@staff_only
def digest_progress(digest_id: int) -> Response:
    """The digest's progress as JSON, for its page to poll."""
    response = jsonify(progress.snapshot(digest_or_404(digest_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/digests/<int:digest_id>/send", methods=["POST"])
@staff_only
def digest_send(digest_id: int):
    """Ask first, saying whom it reaches and when; refuse one that would reach nobody."""
    digest = digest_or_404(digest_id)
    form = SendForm()
    try:
        if not form.validate():
            raise ValueError(" ".join(form.at.errors) or "Check the time and try again.")
        grace = SEND_TIME_SLACK if confirmed() else timedelta(0)
        at = sendtime.parse_local(form.at.data or "", grace)
    except ValueError as error:
        form.at.errors = [f"Nothing was sent. {error}"]
        return _render_digest(digest, form), 400
    refusal = reach.refusal(digest)
    if refusal and digest.status in (DigestStatus.DRAFT, DigestStatus.SCHEDULED):
        message = f"Nothing was sent: {refusal}. The digest stays a {digest.status}."
        return _render_digest(digest, form, refusal=message), 409
    count = reach.reach(digest).subscribers
    people = f"{count:,} subscriber{'' if count == 1 else 's'}"
    when = f"at {sendtime.shown(at)}" if at else "now"
    if not confirmed():
        return ask(
            f"Send to {people} {when}?",
            f"Yes, send to {people} {when}" if at is None else f"Yes, schedule for {people}",
            url_for(".digest_detail", digest_id=digest.id),
            details=(f"“{digest.subject}” goes to {people} {when}.",),
            fields={"at": form.at.data or ""},
        )
    if at:
        what, message = "scheduled", f"Digest scheduled for {sendtime.shown(at)}, to {people}."
    else:
        what, message = "sending", f"Sending to {people} now."
    return _act(digest, lambda d: digests.send(d, at), what, lambda d: message)


def _paused(digest: Digest) -> str:
    if digest.started_at:
        return "Sending paused. Nothing more goes until you resume it."
    return "Paused before it started. It goes when you resume it."


def _resumed(digest: Digest) -> str:
    return "Sending resumed." if digest.started_at else "Resumed: it is starting now."


MESSAGES: dict[str, Callable[[Digest], str]] = {"pause": _paused, "resume": _resumed}


@blueprint.route("/digests/<int:digest_id>/<any(pause, resume):action>", methods=["POST"])
@staff_only
def digest_action(digest_id: int, action: str):
    digest = digest_or_404(digest_id)
    return _act(digest, getattr(digests, action), action, MESSAGES[action])


@blueprint.route("/digests/<int:digest_id>/cancel", methods=["POST"])
@staff_only
def digest_cancel(digest_id: int):
    digest = digest_or_404(digest_id)
    if not confirmed():
        pending = digests.progress(digest.id).pending
        details = ["It stops for good: a cancelled digest cannot be sent again."]
        if pending:
            details.insert(0, f"{pending:,} emails not yet sent will never be sent.")
        return ask(
            f"Cancel “{digest.subject}”?",
            "Yes, cancel it",
            url_for(".digest_detail", digest_id=digest.id),
            details=tuple(details),
            danger=True,
        )
    message = "Digest cancelled. Nothing more of it will be sent."
    return _act(digest, digests.cancel, "cancel", lambda d: message)


def _act(
    digest: Digest, act: Callable[[Digest], None], what: str, message: Callable[[Digest], str]
) -> Response:
    """Do `act` and audit it in one transaction, then say in plain words where it stands."""
    try:
        with transaction():
            act(digest)
            audit(f"digest {what}", f"{digest.id}: {digest.subject}")
    except digests.DigestStateError as error:
        return done(str(error).capitalize() + ".", ".digest_detail", digest_id=digest.id)
    return done(message(digest), ".digest_detail", digest_id=digest.id)


@blueprint.route("/digests/<int:digest_id>/retry", methods=["POST"])
@staff_only
def digest_retry(digest_id: int):
    digest = digest_or_404(digest_id)
    try:
        with transaction():
            count = digests.retry_failed(digest)
            audit("digest retried", f"{digest.id}: {count} failed deliveries")
    except digests.DigestStateError as error:
        return done(str(error).capitalize() + ".", ".digest_detail", digest_id=digest.id)
    them = "the failed delivery" if count == 1 else f"the {count:,} failed deliveries"
    return done(f"Sending {them} again.", ".digest_detail", digest_id=digest.id)


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
    digest = digest_or_404(digest_id)
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
    digest = digest_or_404(digest_id)
    # A test copy has no row for a sweeper to find: if Redis is down, say so, rather than
    # promise an email that will never come.
    if queues.try_enqueue(queues.MAIL, Jobs.SEND_TEST, digest.id, current_user.email):
        message = f"A test copy is on its way to {current_user.email}."
    else:
        message = "No test copy was sent: the queue cannot be reached. Try again in a minute."
    return done(message, ".digest_detail", digest_id=digest.id)
