"""Draft digests: change what one says, or delete it, before it is sent."""

from __future__ import annotations

from sqlalchemy import select

from updates import limits
from updates.extensions import db
from updates.models import Digest, DigestStatus, DigestUpdate, Update
from updates.news.digests import KINDS, DigestStateError, offered
from updates.news.publishing import ContentError, check_text, render_markdown, topics_for_slugs
from updates.transaction import autocommit


def _draft_only(digest: Digest, doing: str) -> None:
    if digest.status != DigestStatus.DRAFT:
        raise DigestStateError(f"a {digest.status} digest cannot be {doing}; only a draft can")


@autocommit
def edit_digest(
    digest: Digest,
    subject: str | None = None,
    intro: str | None = None,
    update_ids: list[int] | None = None,
    topic_slugs: list[str] | None = None,
    kind: str | None = None,
) -> None:
    """Change what is given of a draft: its subject, intro, updates (in order), topics, kind."""
    _draft_only(digest, "edited")
    if subject is not None:
        subject = check_text("subject", subject, limits.DIGEST_SUBJECT)
        if "\r" in subject or "\n" in subject:
            raise ContentError("subject must be one line")
        digest.subject = subject
    if intro is not None:
        intro = check_text("intro", intro, limits.DIGEST_INTRO, required=False)
        digest.intro_markdown = intro
        digest.intro_html = render_markdown(intro) if intro else ""
    if kind is not None:
        if kind not in KINDS:
            raise ContentError(f"kind must be one of {', '.join(KINDS)}")
        digest.kind = kind
    if topic_slugs is not None:
        topics = topics_for_slugs(topic_slugs)
        if not topics:
            raise ContentError("a digest needs at least one topic")
        digest.topics = topics
    if update_ids is not None:
        _set_updates(digest, update_ids)


def _set_updates(digest: Digest, update_ids: list[int]) -> None:
    found = {u.id: u for u in db.session.scalars(select(Update).where(Update.id.in_(update_ids)))}
    missing = [i for i in update_ids if i not in found or not offered(found[i])]
    if missing:
        raise ContentError(f"no published update with id {', '.join(map(str, missing))}")
    digest.items = []
    db.session.flush()  # the old rows go before the new ones, which share their keys
    digest.items = [
        DigestUpdate(update_id=i, position=n) for n, i in enumerate(dict.fromkeys(update_ids))
    ]


@autocommit
def delete_digest(digest: Digest) -> None:
    """Delete a draft; one that was scheduled or sent stays, for its record."""
    _draft_only(digest, "deleted")
    db.session.delete(digest)
