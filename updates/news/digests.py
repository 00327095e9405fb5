"""Digests: compose, send now or later, pause, resume, cancel, and count what happened."""

from __future__ import annotations

from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from redis.exceptions import RedisError
from sqlalchemy import exists, func, select, update

from updates import queues
from updates.extensions import db
from updates.models import (
    Batch,
    Delivery,
    DeliveryStatus,
    Digest,
    DigestKind,
    DigestStatus,
    DigestUpdate,
    SkipReason,
    Subscriber,
    Update,
    digest_topics,
    update_topics,
    utcnow,
)
from updates.news import reach
from updates.news.publishing import ContentError, check_text, render_markdown, topics_for_slugs
from updates.news.sent import sent_to
from updates.queues import Jobs
from updates.transaction import after_commit, autocommit

KINDS = (DigestKind.ANNOUNCEMENT, DigestKind.DIGEST)
FAILURES_SHOWN = 500


class DigestStateError(ValueError):
    """The digest is not in a state that allows this (HTTP 409)."""


@dataclass(frozen=True)
class Progress:
    recipients: int
    sent: int
    failed: int
    skipped: int
    already_sent: int = 0  # of the skipped: readers who had been sent every update in it

    @property
    def pending(self) -> int:
        return self.recipients - self.sent - self.failed - self.skipped


@autocommit
def create_digest(
    subject: str,
    intro: str,
    update_ids: list[int],
    topic_slugs: list[str],
    kind: str = DigestKind.DIGEST,
) -> Digest:
    subject = check_text("subject", subject, 300)
    if "\r" in subject or "\n" in subject:
        raise ContentError("subject must be one line")
    intro = check_text("intro", intro or "", 20_000, required=False)
    if kind not in KINDS:
        raise ContentError(f"kind must be one of {', '.join(KINDS)}")
    topics = topics_for_slugs(topic_slugs)
    if not topics:
        raise ContentError("a digest needs at least one topic")
    if not isinstance(update_ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in update_ids
    ):
        raise ContentError("updates must be a list of update ids")
    found = {u.id: u for u in db.session.scalars(select(Update).where(Update.id.in_(update_ids)))}
    missing = [i for i in update_ids if i not in found or not offered(found[i])]
    if missing:
        raise ContentError(f"no published update with id {', '.join(map(str, missing))}")
    digest = Digest(
        subject=subject,
        intro_markdown=intro,
        intro_html=render_markdown(intro) if intro else "",
        kind=kind,
        topics=topics,
        items=[
            DigestUpdate(update_id=i, position=n) for n, i in enumerate(dict.fromkeys(update_ids))
        ],
    )
    db.session.add(digest)
    return digest


def offered(update: Update) -> bool:
    """Whether a new digest may carry the update: published, and not withdrawn."""
    return update.published_at is not None and update.withdrawn_at is None


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


@autocommit
def send(digest: Digest, at: datetime | None = None) -> None:
    """Send now, or schedule for `at`; the scheduler and the sweeper take it from there."""
    if digest.status not in (DigestStatus.DRAFT, DigestStatus.SCHEDULED):
        raise DigestStateError(f"a {digest.status} digest cannot be sent")
    refusal = reach.refusal(digest)
    if refusal:
        raise DigestStateError(f"nothing was sent: {refusal}")
    when = max(_naive_utc(at), utcnow()) if at else utcnow()  # a past time means now
    digest.status = DigestStatus.SCHEDULED
    digest.scheduled_at = when
    digest.note = None
    digest_id = digest.id
    after_commit(lambda: _start_at(digest_id, when))


def _start_at(digest_id: int, when: datetime) -> None:
    if when <= utcnow():
        _start(digest_id)
        return
    # If Redis is down, the periodic check of due digests starts it on time all the same.
    with suppress(RedisError):
        start_at = when.replace(tzinfo=UTC)
        queues.queue(queues.SEND).enqueue_at(start_at, Jobs.START_DIGEST, digest_id)


def _start(digest_id: int) -> None:
    queues.try_enqueue(queues.SEND, Jobs.START_DIGEST, digest_id, job_timeout=600)


@autocommit
def pause(digest: Digest) -> None:
    if digest.status not in (DigestStatus.SENDING, DigestStatus.SCHEDULED, DigestStatus.PAUSED):
        raise DigestStateError(f"a {digest.status} digest cannot be paused")
    digest.status = DigestStatus.PAUSED


@autocommit
def resume(digest: Digest) -> None:
    if digest.status != DigestStatus.PAUSED:
        raise DigestStateError(f"a {digest.status} digest cannot be resumed")
    if digest.started_at:
        digest.status = DigestStatus.SENDING
    else:  # paused before it started, perhaps for being late: it goes now
        digest.status = DigestStatus.SCHEDULED
        digest.scheduled_at = utcnow()
    digest.note = None
    digest_id = digest.id
    after_commit(lambda: _start(digest_id))


@autocommit
def cancel(digest: Digest) -> None:
    """Stop for good: whatever was not sent yet is skipped."""
    if digest.status in (DigestStatus.SENT, DigestStatus.CANCELLED):
        raise DigestStateError(f"a {digest.status} digest cannot be cancelled")
    digest.status = DigestStatus.CANCELLED
    digest.finished_at = utcnow()
    db.session.execute(
        update(Delivery)
        .where(Delivery.digest_id == digest.id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SKIPPED, last_error=SkipReason.CANCELLED)
    )


def recent_digests(limit: int = 50) -> list[Digest]:
    """Newest first."""
    return list(db.session.scalars(select(Digest).order_by(Digest.id.desc()).limit(limit)))


def progress(digest_id: int) -> Progress:
    counts = dict(
        db.session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.digest_id == digest_id)
            .group_by(Delivery.status)
        ).all()
    )
    already_sent = counts.get(DeliveryStatus.SKIPPED) and db.session.scalar(
        select(func.count()).where(
            Delivery.digest_id == digest_id,
            Delivery.status == DeliveryStatus.SKIPPED,
            Delivery.last_error == SkipReason.ALREADY_SENT,
        )
    )
    return Progress(
        recipients=sum(counts.values()),
        sent=counts.get(DeliveryStatus.SENT, 0),
        failed=counts.get(DeliveryStatus.FAILED, 0),
        skipped=counts.get(DeliveryStatus.SKIPPED, 0),
        already_sent=already_sent or 0,
    )


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


@autocommit
def retry_failed(digest: Digest) -> int:
    """Send a sent digest's failed deliveries again; returns how many there were.

    If Redis is down the batches wait for the sweeper, which re-enqueues those of every
    sending digest.
    """
    count = _reopen_failed(digest)
    digest_id = digest.id
    after_commit(lambda: _start(digest_id))
    return count


def _reopen_failed(digest: Digest) -> int:
    """sent → sending, its failed deliveries pending again with a fresh count of attempts."""
    reopened = db.session.execute(
        update(Digest)
        .where(Digest.id == digest.id, Digest.status == DigestStatus.SENT)
        .values(status=DigestStatus.SENDING, finished_at=None, note=None)
    ).rowcount
    if not reopened:
        db.session.refresh(digest)
        raise DigestStateError(f"a {digest.status} digest cannot be retried")
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
        raise DigestStateError("the digest has no failed deliveries to retry")
    return count


def unsent_updates(candidates: list[Update]) -> list[int]:
    """Ids of those updates published since the last digest sent to any of their topics.

    A digest's updates are fixed when it is composed, so that is the moment that counts; and
    only digests count, not announcements, which digest-only subscribers never receive.
    """
    topics_of: dict[int, set[int]] = defaultdict(set)
    for update_id, topic_id in db.session.execute(
        select(update_topics.c.update_id, update_topics.c.topic_id).where(
            update_topics.c.update_id.in_([u.id for u in candidates])
        )
    ):
        topics_of[update_id].add(topic_id)
    last_sent = dict(
        db.session.execute(
            select(digest_topics.c.topic_id, func.max(Digest.created_at))
            .join(Digest, Digest.id == digest_topics.c.digest_id)
            .where(Digest.status == DigestStatus.SENT, Digest.kind == DigestKind.DIGEST)
            .group_by(digest_topics.c.topic_id)
        ).all()
    )
    return [
        u.id
        for u in candidates
        if u.published_at is not None
        and all(last_sent.get(t) is None or u.published_at > last_sent[t] for t in topics_of[u.id])
    ]


def reader_variant(digest: Digest, reader: Subscriber) -> tuple[frozenset[int], frozenset[int]]:
    """The digest's topics the reader follows, and its updates other digests sent them: what
    their copy would be made of."""
    topic_ids = {topic.id for topic in digest.topics}
    followed = frozenset(s.topic_id for s in reader.subscriptions if s.topic_id in topic_ids)
    had = sent_to(reader.id, [item.update_id for item in digest.items], digest.id)
    return followed, frozenset(had)
