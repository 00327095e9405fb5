"""Draft digests in the console: change one, or delete it (after asking)."""

from __future__ import annotations

from flask import render_template, request, url_for

from updates.models import Digest, DigestStatus
from updates.news import drafts
from updates.news.digests import DigestStateError
from updates.news.publishing import ContentError
from updates.transaction import transaction

from . import blueprint
from .access import audit, done, staff_only
from .confirm import ask, confirmed
from .content import composer_choices, updates_fit_topics
from .forms import DigestForm
from .sending import digest_or_404


@blueprint.route("/digests/<int:digest_id>/edit", methods=["GET", "POST"])
@staff_only
def digest_edit(digest_id: int):
    digest = digest_or_404(digest_id)
    if digest.status != DigestStatus.DRAFT:
        return done(
            f"A {digest.status} digest cannot be edited; only a draft can.",
            ".digest_detail",
            digest_id=digest.id,
        )
    form = DigestForm() if request.method == "POST" else _filled(digest)
    published = composer_choices(form)
    if request.method == "POST" and request.form.get("action") == "find":
        return _render(digest, form, published), 200 if form.find.validate(form) else 400
    if request.method == "POST":
        if not form.validate() or not updates_fit_topics(form, published):
            return _render(digest, form, published), 400
        try:
            with transaction():
                drafts.edit_digest(
                    digest,
                    form.subject.data,
                    form.intro.data or "",
                    form.updates.data,
                    form.topics.data,
                    form.kind.data,
                )
                audit("digest edited", f"{digest.id}: {digest.subject}")
        except (ContentError, DigestStateError) as error:
            form.subject.errors = [str(error)]
            return _render(digest, form, published), 400
        return done("Draft saved.", ".digest_detail", digest_id=digest.id)
    return _render(digest, form, published)


def _filled(digest: Digest) -> DigestForm:
    form = DigestForm(formdata=None)
    form.subject.data = digest.subject
    form.intro.data = digest.intro_markdown
    form.kind.data = digest.kind
    form.topics.data = [topic.slug for topic in digest.topics]
    form.updates.data = [item.update_id for item in digest.items]
    return form


def _render(digest: Digest, form: DigestForm, published: list) -> str:
    # The draft's own updates first, in their order, then the others published.
    order = {item.update_id: n for n, item in enumerate(digest.items)}
    published = sorted(published, key=lambda u: (u.id not in order, order.get(u.id, 0)))
    return render_template(
        "console/digest_edit.html", digest=digest, form=form, updates=published, unsent=set()
    )


@blueprint.route("/digests/<int:digest_id>/delete", methods=["POST"])
@staff_only
def digest_delete(digest_id: int):
    digest = digest_or_404(digest_id)
    back = url_for(".digest_detail", digest_id=digest.id)
    if not confirmed():
        return ask(
            f"Delete the draft “{digest.subject}”?",
            "Yes, delete it",
            back,
            details=("The draft is gone for good; the updates it carried stay published.",),
            danger=True,
        )
    detail = f"{digest.id}: {digest.subject}"
    try:
        with transaction():
            drafts.delete_digest(digest)
            audit("digest deleted", detail)
    except DigestStateError as error:
        return done(str(error).capitalize() + ".", ".digest_detail", digest_id=digest_id)
    return done(f"Deleted the draft “{detail.partition(': ')[2]}”.", ".digest_list")
