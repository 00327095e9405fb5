"""The embeddable sign-up form: a snippet for the organisation's site, and where it may appear."""

from __future__ import annotations

from flask import abort, render_template, request

from updates.extensions import db
from updates.forms import ButtonForm
from updates.links import external_url
from updates.models import EmbedOrigin
from updates.news.embeds import EmbedError, allow_origin, allowed_origins, disallow_origin
from updates.news.topics import public_topics
from updates.transaction import transaction

from . import blueprint
from .access import admin_only, audit, done, staff_only
from .forms import EmbedOriginForm


@blueprint.route("/embed")
@staff_only
def embed():
    return _render_embed(EmbedOriginForm())


def _render_embed(form: EmbedOriginForm) -> str:
    """The snippet for the topics ticked on the page (a GET form): every public topic if none."""
    topics = public_topics()
    chosen = [topic for topic in topics if topic.slug in request.args.getlist("topics")]
    slugs = ",".join(topic.slug for topic in chosen)
    return render_template(
        "console/embed.html",
        topics=topics,
        chosen=chosen,
        url=external_url("public.embed", topics=slugs or None),
        script=external_url("static", filename="embed.js"),
        origins=allowed_origins(),
        form=form,
        button=ButtonForm(),
    )


@blueprint.route("/embed/origins", methods=["POST"])
@admin_only
def add_embed_origin():
    form = EmbedOriginForm()
    if not form.validate():
        return _render_embed(form), 400
    try:
        with transaction():
            row = allow_origin(form.origin.data)
            audit("embed origin allowed", row.origin)
    except EmbedError as error:
        form.origin.errors = [str(error).capitalize() + "."]
        return _render_embed(form), 400
    return done(f"The sign-up form can now be shown on {row.origin}.", ".embed")


@blueprint.route("/embed/origins/<int:origin_id>/remove", methods=["POST"])
@admin_only
def remove_embed_origin(origin_id: int):
    row = db.session.get(EmbedOrigin, origin_id) or abort(404)
    origin = row.origin
    with transaction():
        disallow_origin(row)
        audit("embed origin removed", origin)
    return done(f"The sign-up form can no longer be shown on {origin}.", ".embed")
