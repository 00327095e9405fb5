"""The embeddable sign-up form: a snippet for the organisation's site, and where it may appear."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from updates.extensions import db
from updates.forms import ButtonForm
from updates.links import external_url
from updates.models import EmbedOrigin
from updates.news.embeds import EmbedError, allow_origin, allowed_origins, disallow_origin
from updates.news.topics import public_topics

from . import blueprint
from .access import admin_only, audit, staff_only
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
        row = allow_origin(form.origin.data)
    except EmbedError as error:
        form.origin.errors = [str(error).capitalize() + "."]
        return _render_embed(form), 400
    audit("embed origin allowed", row.origin)
    db.session.commit()
    flash(f"The sign-up form can now be shown on {row.origin}.")
    return redirect(url_for(".embed"), code=303)


@blueprint.route("/embed/origins/<int:origin_id>/remove", methods=["POST"])
@admin_only
def remove_embed_origin(origin_id: int):
    row = db.session.get(EmbedOrigin, origin_id) or abort(404)
    if not ButtonForm().validate():
        abort(400)
    origin = row.origin
    disallow_origin(row)
    audit("embed origin removed", origin)
    db.session.commit()
    flash(f"The sign-up form can no longer be shown on {origin}.")
    return redirect(url_for(".embed"), code=303)
