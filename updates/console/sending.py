"""A composed digest: its page and progress, sending, pausing, retrying failures, previews."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from redis.exceptions import RedisError
from sqlalchemy import exists, select, update

from .. import digests, queues
from ..delivery import enqueue_batches
from ..extensions import db
from ..models import Batch, Delivery, DeliveryStatus, Digest, DigestStatus, Subscriber
from ..newsletter import Recipient, Variant
from ..subscribers import find_by_address
from ..transaction import autocommit
from . import blueprint
from .access import audit, staff_only
from .forms import ButtonForm, SendForm

log = logging.getLogger(__name__)
FAILURES_SHOWN = 500

# -- data ------------------------------------------------------------------------------------
# These belong in updates/digests.py; they are here while that module is being changed by others.


def failed_deliveries(digest_id: int, limit: int = FAILURES_SHOWN) -> list[tuple[str | None, str]]:
    """(address, last error) of the digest's failed deliveries; the address is None if erased."""
    rows = db.session.execute(
        select(Subscriber.email, Delivery.last_error)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.digest_id == digest_id, Delivery.status == DeliveryStatus.FAILED)
        .order_by(Delivery.id)
        .limit(limit)
    )
    return [(email, error or "") for email, error in rows]


def retry_failed(digest: Digest) -> int:
    """Send a sent digest's failed deliveries again; returns how many there were.

    If Redis is down the batches wait for the sweeper, which re-enqueues those of every
    sending digest.
    """
    count = _reopen_failed(digest)
    try:
        enqueue_batches(digest.id)
    except RedisError as error:
        log.warning("digest %s: retry not enqueued (%s); the sweeper will", digest.id, error)
    return count


@autocommit
def _reopen_failed(digest: Digest) -> int:
    """sent → sending, its failed deliveries pending again with a fresh count of attempts."""
    reopened = db.session.execute(
        update(Digest)
        .where(Digest.id == digest.id, Digest.status == DigestStatus.SENT)
        .values(status=DigestStatus.SENDING, finished_at=None, note=None)
    ).rowcount
    if not reopened:
        db.session.refresh(digest)
        raise digests.DigestStateError(f"a {digest.status} digest cannot be retried")
    failed = (Delivery.digest_id == digest.id) & (Delivery.status == DeliveryStatus.FAILED)
    db.session.execute(
        update(Batch)
        .where(
            Batch.digest_id == digest.id,
            exists().where(failed, Delivery.id.between(Batch.first_id, Batch.last_id)),
        )
        .values(done=False)
        .execution_options(synchronize_session=False)
    )
    count = db.session.execute(
        update(Delivery)
        .where(failed)
        .values(status=DeliveryStatus.PENDING, attempts=0)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not count:
        raise digests.DigestStateError("the digest has no failed deliveries to retry")
    return count


# -- views -----------------------------------------------------------------------------------


def _digest(digest_id: int) -> Digest:
    digest = db.session.get(Digest, digest_id)
    if digest is None:
        abort(404)
    return digest


@blueprint.route("/digests/<int:digest_id>")
@staff_only
def digest_detail(digest_id: int):
    digest = _digest(digest_id)
    progress = digests.progress(digest.id)
    return render_template(
        "console/digest.html",
        digest=digest,
        progress=progress,
        failures=failed_deliveries(digest.id) if progress.failed else [],
        failures_shown=FAILURES_SHOWN,
        button=ButtonForm(),
        send_form=SendForm(),
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
        pending=progress.pending,
    )


@blueprint.route("/digests/<int:digest_id>/send", methods=["POST"])
@staff_only
def digest_send(digest_id: int):
    digest = _digest(digest_id)
    form = SendForm()
    at = None
    if form.validate() and form.at.data:
        try:
            at = datetime.fromisoformat(form.at.data)
        except ValueError:
            flash("Give the time as YYYY-MM-DDTHH:MM, in UTC.")
            return redirect(url_for(".digest_detail", digest_id=digest_id), code=303)
    return _act(digest, lambda d: digests.send(d, at), "scheduled" if at else "sending")


@blueprint.route("/digests/<int:digest_id>/<any(pause, resume, cancel):action>", methods=["POST"])
@staff_only
def digest_action(digest_id: int, action: str):
    digest = _digest(digest_id)
    if not ButtonForm().validate():
        abort(400)
    return _act(digest, getattr(digests, action), action)


def _act(digest: Digest, act, what: str):
    try:
        act(digest)
    except digests.DigestStateError as error:
        flash(str(error).capitalize() + ".")
        return redirect(url_for(".digest_detail", digest_id=digest.id), code=303)
    audit(f"digest {what}", f"{digest.id}: {digest.subject}")
    db.session.commit()
    flash(f"Digest {what}.")
    return redirect(url_for(".digest_detail", digest_id=digest.id), code=303)


@blueprint.route("/digests/<int:digest_id>/retry", methods=["POST"])
@staff_only
def digest_retry(digest_id: int):
    digest = _digest(digest_id)
    if not ButtonForm().validate():
        abort(400)
    try:
        count = retry_failed(digest)
    except digests.DigestStateError as error:
        flash(str(error).capitalize() + ".")
        return redirect(url_for(".digest_detail", digest_id=digest.id), code=303)
    audit("digest retried", f"{digest.id}: {count} failed deliveries")
    db.session.commit()
    flash(f"Sending the {count} failed deliveries again.")
    return redirect(url_for(".digest_detail", digest_id=digest.id), code=303)


def _preview_variant(digest: Digest) -> tuple[frozenset[int], str, str]:
    """The topics of the variant to preview, whose it is, and the address to show.

    `?as=ADDRESS` shows what that subscriber gets; otherwise `?topics=slug,…`, or every topic.
    """
    digest_topics = {t.slug: t.id for t in digest.topics}
    address = (request.args.get("as") or "").strip()[:320]
    if address:
        person = find_by_address(address)
        if person is None:
            abort(404)
        followed = {s.topic_id for s in person.subscriptions}
        return frozenset(followed & set(digest_topics.values())), person.email or "", "as"
    slugs = [s for s in (request.args.get("topics") or "").split(",") if s in digest_topics]
    chosen = [digest_topics[s] for s in slugs] or list(digest_topics.values())
    return frozenset(chosen), "subscriber@example.org", "topics"


@blueprint.route("/digests/<int:digest_id>/preview")
@staff_only
def digest_preview(digest_id: int):
    digest = _digest(digest_id)
    topic_ids, address, _ = _preview_variant(digest)
    variant = Variant(digest, topic_ids)
    text, page, _ = variant.personalise(Recipient(0, 0, address, 0, topic_ids))
    return render_template(
        "console/preview.html",
        digest=digest,
        text=text,
        html=page,
        address=address,
        empty=variant.empty,
        shown=[t for t in digest.topics if t.id in topic_ids],
    )


@blueprint.route("/digests/<int:digest_id>/test", methods=["POST"])
@staff_only
def digest_test(digest_id: int):
    digest = _digest(digest_id)
    if not ButtonForm().validate():
        abort(400)
    queues.try_enqueue(queues.MAIL, "updates.delivery.send_test", digest.id, current_user.email)
    flash(f"A test copy is on its way to {current_user.email}.")
    return redirect(url_for(".digest_detail", digest_id=digest.id), code=303)
