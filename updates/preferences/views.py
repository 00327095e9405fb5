"""Manage preferences, unsubscribe (one click too), ask for a link, download or erase data;
and the page a test copy's links open."""

from __future__ import annotations

import json

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from updates import tokens
from updates.errors import page_abort
from updates.extensions import csrf, db
from updates.forms import ButtonForm
from updates.links import manage_token, unsubscribe_token
from updates.mail import outbox
from updates.models import Subscriber, SubscriberStatus
from updates.news.topics import public_topics, topics_by_ids
from updates.ratelimits import per_address_mail_limit, per_ip_signup_limit
from updates.subscribers.consent import Evidence, Source, statement_text
from updates.subscribers.preferences import (
    FREQUENCIES,
    erase,
    export,
    owe_manage_link,
    request_manage_link,
    set_preferences,
    unsubscribe,
)

from . import blueprint
from .forms import LinkRequestForm, ManageForm


def _live_subscriber(subscriber_id: object, version: object) -> Subscriber:
    subscriber = (
        db.session.get(Subscriber, subscriber_id) if isinstance(subscriber_id, int) else None
    )
    if (
        subscriber is None
        or subscriber.token_version != version
        or subscriber.status == SubscriberStatus.ERASED
    ):
        page_abort("link_invalid.html", 400)
    return subscriber


def _manage_payload(token: str) -> tuple[object, object]:
    try:
        payload = tokens.read_token(tokens.MANAGE, token, current_app.config["MANAGE_MAX_AGE_DAYS"])
    except tokens.ExpiredToken:
        page_abort("manage_expired.html", 410, form=ButtonForm(), token=token)
    except tokens.InvalidToken:
        page_abort("link_invalid.html", 400)
    if not (isinstance(payload, list) and len(payload) == 2):
        page_abort("link_invalid.html", 400)
    return payload[0], payload[1]


def subscriber_from_manage_token(token: str) -> Subscriber:
    return _live_subscriber(*_manage_payload(token))


def _chosen_frequencies(form: ManageForm, subscriber: Subscriber, offered: list) -> dict[int, str]:
    """Topic id → frequency for each ticked topic; an absent frequency keeps the current one."""
    current = {s.topic_id: s.frequency for s in subscriber.subscriptions}
    ticked = set(form.topics.data or [])
    chosen = {}
    for topic in offered:
        if topic.slug not in ticked:
            continue
        frequency = request.form.get(f"frequency-{topic.slug}") or current.get(
            topic.id, FREQUENCIES[0]
        )
        if frequency not in FREQUENCIES:
            abort(400)
        chosen[topic.id] = frequency
    return chosen


@blueprint.route("/manage/<token>", methods=["GET", "POST"])
def manage(token: str):
    subscriber = subscriber_from_manage_token(token)
    offered = public_topics()
    form = ManageForm(offered)
    if request.method == "POST":
        if not form.validate():
            return _render_manage(subscriber, offered, form, token), 400
        chosen = _chosen_frequencies(form, subscriber, offered)
        changed = set_preferences(subscriber, offered, chosen, Evidence.from_request(Source.LINK))
        flash("Your preferences have been saved." if changed else "Nothing needed changing.")
        return redirect(url_for(".manage", token=token), code=303)
    return _render_manage(subscriber, offered, form, token)


def _render_manage(subscriber: Subscriber, offered: list, form: ManageForm, token: str) -> str:
    offered_ids = {topic.id for topic in offered}
    return render_template(
        "manage.html",
        subscriber=subscriber,
        form=form,
        token=token,
        topics=offered,
        frequencies={s.topic_id: s.frequency for s in subscriber.subscriptions},
        other_topics=[
            s.topic
            for s in subscriber.subscriptions
            if s.topic_id not in offered_ids and not s.topic.archived
        ],
        statement=statement_text(),
        unsubscribe_all_token=unsubscribe_token(subscriber),
    )


@blueprint.route("/manage/<token>/renew", methods=["POST"])
@per_ip_signup_limit
@per_address_mail_limit
def renew_manage_link(token: str):
    try:
        subscriber_id, version = tokens.read_token(tokens.MANAGE, token)
    except (tokens.InvalidToken, ValueError, TypeError):
        return render_template("link_invalid.html"), 400
    subscriber = _live_subscriber(subscriber_id, version)
    outbox.dispatch(owe_manage_link(subscriber).id)
    return render_template("check_inbox.html", address=None, purpose="manage")


@blueprint.route("/manage", methods=["GET", "POST"])
@per_ip_signup_limit
@per_address_mail_limit
def request_link():
    form = LinkRequestForm()
    if request.method == "GET":
        return render_template("request_link.html", form=form)
    if not form.validate():
        return render_template("request_link.html", form=form), 400
    email = request_manage_link(form.email.data)
    if email is not None:
        outbox.dispatch(email.id)
    return render_template("check_inbox.html", address=form.email.data, purpose="manage")


@blueprint.route("/manage/<token>/data")
def download(token: str):
    subscriber = subscriber_from_manage_token(token)
    body = json.dumps(export(subscriber), indent=2, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="my-updates-data.json"',
            "Cache-Control": "no-store",
        },
    )


@blueprint.route("/manage/<token>/erase", methods=["GET", "POST"])
def erase_data(token: str):
    subscriber = subscriber_from_manage_token(token)
    form = ButtonForm()
    if request.method == "POST" and form.validate():
        erase(subscriber, Evidence.from_request(Source.LINK))
        return render_template("erased.html")
    return render_template("erase.html", form=form)


def _unsubscribe_payload(token: str) -> tuple[Subscriber, list[int] | None]:
    try:
        payload = tokens.read_token(tokens.UNSUBSCRIBE, token)
    except tokens.InvalidToken:
        page_abort("link_invalid.html", 400)
    if not (isinstance(payload, list) and len(payload) == 3):
        page_abort("link_invalid.html", 400)
    subscriber_id, version, topic_ids = payload
    if topic_ids is not None and not (
        isinstance(topic_ids, list) and all(isinstance(i, int) for i in topic_ids)
    ):
        page_abort("link_invalid.html", 400)
    return _live_subscriber(subscriber_id, version), topic_ids


@blueprint.route("/unsubscribe/<token>", methods=["GET", "POST"], endpoint="unsubscribe")
@csrf.exempt  # RFC 8058 one-click comes with no cookie and no token; other POSTs are checked below
def unsubscribe_page(token: str):
    subscriber, topic_ids = _unsubscribe_payload(token)
    if request.method == "POST":
        one_click = request.form.get("List-Unsubscribe") == "One-Click"
        if not one_click:
            csrf.protect()
        source = Source.ONE_CLICK if one_click else Source.LINK
        left = unsubscribe(subscriber, topic_ids, Evidence.from_request(source))
        return render_template(
            "unsubscribed.html",
            left=left,
            subscriber=subscriber,
            manage_url=url_for(".manage", token=manage_token(subscriber)),
        )
    named = None if topic_ids is None else topics_by_ids(topic_ids)
    followed_ids = {s.topic_id for s in subscriber.subscriptions}
    return render_template(
        "unsubscribe.html",
        form=ButtonForm(),
        topics=named,
        subscriber=subscriber,
        following=[t for t in (named or []) if t.id in followed_ids]
        if named is not None
        else [s.topic for s in subscriber.subscriptions],
    )


@blueprint.route("/test-copy/<any(manage, unsubscribe):link>", methods=["GET", "POST"])
@csrf.exempt  # a mail client's one-click POST carries no token; nothing here changes anything
def test_copy_link(link: str):
    """What a link in a staff test copy opens: a page saying it does nothing there."""
    return render_template("test_copy_link.html", link=link)
