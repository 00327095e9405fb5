"""Corrections: editing a published update with its history kept, withdrawing one, and pinning
the revisions a digest shows once it starts sending."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update

from updates import limits
from updates.extensions import db
from updates.models import (
    Digest,
    DigestStatus,
    DigestUpdate,
    Update,
    UpdateRevision,
    utcnow,
)
from updates.news.publishing import (
    ContentError,
    check_text,
    new_revision,
    render_markdown,
    topics_for_slugs,
)
from updates.transaction import autocommit

# Digests that have not started sending: they show an update as it reads now, so a withdrawn
# one is taken out of them.
UNSTARTED = (DigestStatus.DRAFT, DigestStatus.SCHEDULED, DigestStatus.PAUSED)


class WithdrawnError(ValueError):
    """The update was withdrawn; it can no longer be changed (HTTP 409)."""


@dataclass(frozen=True)
class Withdrawal:
    """What withdrawing changed: the unstarted digests it was taken out of, and those of them
    that, left with no update, went back to being drafts."""

    dropped_from: list[int]
    back_to_draft: list[int]


@autocommit
def edit_update(
    item: Update,
    staff_id: int | None,
    title: str | None = None,
    body: str | None = None,
    topic_slugs: list[str] | None = None,
) -> bool:
    """Correct an update (what is given of title, body, topics) and keep the new revision;
    False, and nothing written, when nothing would change."""
    if item.withdrawn_at is not None:
        raise WithdrawnError("a withdrawn update cannot be edited")
    changed = False
    if title is not None:
        title = check_text("title", title, limits.UPDATE_TITLE)
        changed |= title != item.title
        item.title = title
    if body is not None:
        body = check_text("body", body, limits.UPDATE_BODY)
        if body != item.body_markdown:
            item.body_markdown, item.body_html = body, render_markdown(body)
            changed = True
    if topic_slugs is not None:
        topics = topics_for_slugs(topic_slugs)
        if not topics:
            raise ContentError("an update needs at least one topic")
        changed |= {t.id for t in topics} != item.topic_ids
        item.topics = topics
    if changed:
        item.revised_at = utcnow()
        item.revisions.append(new_revision(item, staff_id))
    return changed


@autocommit
def withdraw_update(item: Update) -> Withdrawal | None:
    """Withdraw an update: gone from its page, the archive, the feeds and every digest not yet
    started; digests that started keep their copy. None if it was withdrawn already."""
    if item.withdrawn_at is not None:
        return None
    item.withdrawn_at = utcnow()
    unstarted = select(Digest.id).where(Digest.status.in_(UNSTARTED), Digest.started_at.is_(None))
    dropped_from = list(
        db.session.scalars(
            select(DigestUpdate.digest_id).where(
                DigestUpdate.update_id == item.id, DigestUpdate.digest_id.in_(unstarted)
            )
        )
    )
    db.session.execute(
        delete(DigestUpdate)
        .where(DigestUpdate.update_id == item.id, DigestUpdate.digest_id.in_(dropped_from))
        .execution_options(synchronize_session=False)
    )
    still_carrying = select(DigestUpdate.digest_id).where(DigestUpdate.digest_id.in_(dropped_from))
    back_to_draft = list(
        db.session.scalars(
            select(Digest.id).where(
                Digest.id.in_(dropped_from),
                Digest.status != DigestStatus.DRAFT,
                Digest.id.not_in(still_carrying),
            )
        )
    )
    db.session.execute(
        update(Digest)
        .where(Digest.id.in_(back_to_draft))
        .values(
            status=DigestStatus.DRAFT,
            scheduled_at=None,
            note="Back to draft: the only update it carried was withdrawn.",
        )
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()
    return Withdrawal(dropped_from=dropped_from, back_to_draft=back_to_draft)


def history(item: Update) -> list[UpdateRevision]:
    """The update's revisions, newest first."""
    return list(
        db.session.scalars(
            select(UpdateRevision)
            .where(UpdateRevision.update_id == item.id)
            .order_by(UpdateRevision.id.desc())
        )
    )


def pin_revisions(digest_id: int) -> None:
    """Fix each of the digest's updates at its current revision, in the caller's transaction:
    whatever is corrected later, every batch, retry and preview of it shows the same."""
    latest = (
        select(func.max(UpdateRevision.id))
        .where(UpdateRevision.update_id == DigestUpdate.update_id)
        .scalar_subquery()
    )
    db.session.execute(
        update(DigestUpdate)
        .where(DigestUpdate.digest_id == digest_id, DigestUpdate.revision_id.is_(None))
        .values(revision_id=latest)
        .execution_options(synchronize_session=False)
    )
