"""The compact sign-up form that other sites put in an iframe."""

from __future__ import annotations

from flask import Response, render_template, request

from updates.errors import page_abort
from updates.extensions import csrf
from updates.headers import content_security_policy
from updates.instruments import INVALID, count_signup
from updates.news.embeds import EmbedError, embedded_topics, frame_ancestors
from updates.ratelimits import signup_limits
from updates.subscribers.consent import Source, statement_text

from . import blueprint
from .forms import EmbedSignupForm
from .views import submit_signup


@blueprint.route("/embed", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token: a framed page gets no session cookie
@signup_limits
def embed():
    try:
        topics = embedded_topics(request.args.get("topics", "")[:2000])
    except EmbedError as error:
        page_abort(
            "error.html", 400, status=400, message=f"This sign-up form is out of date: {error}."
        )
    form = EmbedSignupForm(topics)
    if request.method == "GET":
        return render_embed(form)
    if not form.validate():
        count_signup(INVALID)
        return render_embed(form), 400
    submit_signup(form, Source.EMBED)
    return render_template("check_inbox.html", address=form.email.data, layout="embed/_layout.html")


@blueprint.after_request
def _frameable_by_listed_sites(response: Response) -> Response:
    """The embed's answers, errors too, may be framed by this site and the listed ones."""
    if request.endpoint == "public.embed":
        response.headers["Content-Security-Policy"] = content_security_policy(frame_ancestors())
    return response


def render_embed(form: EmbedSignupForm) -> str:
    return render_template("embed/signup.html", form=form, statement=statement_text())
