"""Sign-up and confirmation pages."""

from __future__ import annotations

from flask import current_app, render_template, request

from updates import tokens
from updates.errors import page_abort
from updates.forms import ButtonForm
from updates.instruments import ACCEPTED, BOT, CONFIRMED, INVALID, count_signup
from updates.links import manage_url
from updates.mail import outbox
from updates.models import SignupRequest
from updates.news.topics import offered_topics, topics_by_ids
from updates.ratelimits import per_address_mail_limit, per_ip_signup_limit, signup_limits
from updates.subscribers.consent import Evidence, Source, statement_text
from updates.subscribers.signup import (
    confirm_signup,
    request_named,
    request_signup,
    resend_confirmation,
)

from . import blueprint
from .forms import SignupForm


@blueprint.route("/", methods=["GET", "POST"])
@signup_limits
def signup():
    form = SignupForm(offered_topics())
    if request.method == "GET":
        return render_signup(form)
    if not form.validate():
        count_signup(INVALID)
        return render_signup(form), 400
    submit_signup(form, Source.FORM)
    return render_template("check_inbox.html", address=form.email.data)


def submit_signup(form: SignupForm, source: str) -> None:
    """Record a valid submission and hand it to the workers; a bot's is dropped unseen."""
    count_signup(BOT if form.is_bot else ACCEPTED)
    if not form.is_bot:
        evidence = Evidence.from_request(source)
        written = request_signup(form.email.data, form.chosen_topics(), evidence)
        outbox.dispatch_signup(written.email_id, written.deferred_id)


def render_signup(form: SignupForm) -> str:
    return render_template("signup.html", form=form, statement=statement_text())


def _signup_request_from(token: str) -> SignupRequest:
    """The request a confirm link names; expired, invalid and revoked links get their own pages."""
    try:
        max_age = current_app.config["CONFIRM_MAX_AGE_DAYS"]
        payload = tokens.read_token(tokens.CONFIRM, token, max_age)
    except tokens.ExpiredToken:
        page_abort("link_expired.html", 410, form=ButtonForm(), token=token)
    except tokens.InvalidToken:
        page_abort("link_invalid.html", 400)
    found = request_named(payload)
    if found is None:
        page_abort("link_invalid.html", 400)
    return found


@blueprint.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    signup_request = _signup_request_from(token)
    form = ButtonForm()
    if request.method == "POST" and form.validate():
        confirmation = confirm_signup(signup_request.id, Evidence.from_request(Source.LINK))
        if confirmation is None:
            return render_template("link_invalid.html"), 400
        if confirmation.welcome is not None:
            count_signup(CONFIRMED)
            outbox.dispatch(confirmation.welcome.id)
        confirmed = confirmation.request
        return render_template(
            "confirmed.html",
            topics=topics_by_ids(confirmed.topic_ids),
            manage_url=manage_url(confirmed.subscriber),
        )
    return render_template(
        "confirm.html",
        form=form,
        topics=topics_by_ids(signup_request.topic_ids),
        already=signup_request.confirmed_at is not None,
    )


@blueprint.route("/confirm/<token>/renew", methods=["POST"])
@per_ip_signup_limit
@per_address_mail_limit
def renew_confirmation(token: str):
    try:
        tokens.read_token(tokens.CONFIRM, token, current_app.config["CONFIRM_MAX_AGE_DAYS"])
        named = None  # still valid: nothing to renew, the same page is shown
    except tokens.ExpiredToken as expired:
        named = request_named(expired.payload)  # None too once the links were revoked
    except tokens.InvalidToken:
        return render_template("link_invalid.html"), 400
    if named is not None:
        email = resend_confirmation(named.id)
        if email is not None:
            outbox.dispatch(email.id)
    return render_template("check_inbox.html", address=None)
