"""Dashboard, topics, updates and digests."""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import digests, queues
from ..content import ContentError, create_update
from ..extensions import db
from ..models import Digest, Update
from ..newsletter import Recipient, Variant
from ..subscribers import find_by_address
from ..topics import TopicError, active_subscriber_counts, add_topic, all_topics, public_topics
from . import blueprint
from .access import admin_only, audit, staff_only
from .forms import ButtonForm, DigestForm, SendForm, TopicForm, UpdateForm


@blueprint.route("/")
@staff_only
def dashboard():
    recent = db.session.scalars(select(Digest).order_by(Digest.id.desc()).limit(10)).all()
    return render_template(
        "console/dashboard.html",
        topics=all_topics(),
        counts=active_subscriber_counts(),
        digests=[(d, digests.progress(d.id)) for d in recent],
        health=queues.health(),
    )


@blueprint.route("/topics", methods=["GET", "POST"])
@admin_only
def topics():
    form = TopicForm()
    if request.method == "POST":
        if not form.validate():
            return _render_topics(form), 400
        try:
            topic = add_topic(
                form.slug.data,
                form.name.data,
                form.description.data or "",
                public=form.visibility.data == "public",
            )
        except TopicError as error:
            form.slug.errors = [str(error)]
            return _render_topics(form), 400
        audit("topic added", topic.slug)
        db.session.commit()
        flash(f"Topic {topic.name} added.")
        return redirect(url_for(".topics"), code=303)
    return _render_topics(form)


def _render_topics(form: TopicForm) -> str:
    return render_template(
        "console/topics.html", form=form, topics=all_topics(), counts=active_subscriber_counts()
    )


@blueprint.route("/updates", methods=["GET", "POST"])
@staff_only
def updates():
    form = UpdateForm()
    form.topics.choices = {t.slug: t.name for t in all_topics() if not t.archived}
    if request.method == "POST":
        if not form.validate():
            return _render_updates(form), 400
        try:
            update = create_update(form.title.data, form.body.data, form.topics.data)
        except ContentError as error:
            form.body.errors = [str(error)]
            return _render_updates(form), 400
        audit("update published", f"{update.id}: {update.title}")
        db.session.commit()
        flash(f"Published “{update.title}”.")
        return redirect(url_for(".updates"), code=303)
    return _render_updates(form)


def _render_updates(form: UpdateForm) -> str:
    recent = db.session.scalars(select(Update).order_by(Update.id.desc()).limit(50)).all()
    return render_template("console/updates.html", form=form, updates=recent)


@blueprint.route("/digests", methods=["GET", "POST"])
@staff_only
def digest_list():
    form = DigestForm()
    form.topics.choices = {t.slug: t.name for t in public_topics()}
    recent_updates = db.session.scalars(
        select(Update).where(Update.published_at.is_not(None)).order_by(Update.id.desc()).limit(50)
    ).all()
    form.updates.choices = {u.id: u.title for u in recent_updates}
    if request.method == "POST":
        if not form.validate():
            return _render_digests(form, recent_updates), 400
        try:
            digest = digests.create_digest(
                form.subject.data,
                form.intro.data or "",
                form.updates.data,
                form.topics.data,
                form.kind.data,
            )
        except ContentError as error:
            form.subject.errors = [str(error)]
            return _render_digests(form, recent_updates), 400
        audit("digest composed", f"{digest.id}: {digest.subject}")
        db.session.commit()
        return redirect(url_for(".digest_detail", digest_id=digest.id), code=303)
    return _render_digests(form, recent_updates)


def _render_digests(form: DigestForm, recent_updates: list[Update]) -> str:
    recent = db.session.scalars(select(Digest).order_by(Digest.id.desc()).limit(50)).all()
    return render_template(
        "console/digests.html", form=form, digests=recent, updates=recent_updates
    )


def _digest(digest_id: int) -> Digest:
    digest = db.session.get(Digest, digest_id)
    if digest is None:
        abort(404)
    return digest


@blueprint.route("/digests/<int:digest_id>")
@staff_only
def digest_detail(digest_id: int):
    digest = _digest(digest_id)
    return render_template(
        "console/digest.html",
        digest=digest,
        progress=digests.progress(digest.id),
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
