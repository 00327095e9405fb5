"""The delivery engine's jobs: start a digest, send a batch, sweep what was lost.

The database is the guarantee. The ledger (deliveries) says what is owed; batches say who is
working on which slice, under a lease. RQ is how work gets to a worker quickly, not the record:
a batch whose worker died is re-enqueued by the sweeper once its lease lapses, and re-running a
batch skips every delivery already recorded as sent.

This module commits for itself rather than through `updates.transaction`: each claim, lease
renewal and outcome must be durable the moment it is made, before the next message goes out,
so that a worker killed at any point leaves the ledger saying exactly what was sent.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta

from flask import current_app
from rq import Queue, Retry
from sqlalchemy import and_, exists, func, insert, literal, or_, select, text, update

from updates import logs, queues
from updates.extensions import db
from updates.mail.messages import message_domain
from updates.mail.newsletter import (
    Recipient,
    StaffTestCopy,
    Variant,
    dkim_signer,
    message_id,
)
from updates.mail.relay import (
    ConnectionLost,
    PermanentFailure,
    Relay,
    TransientFailure,
    envelope_sender,
)
from updates.mail.sendrate import SendRate
from updates.mail.verp import verp_sender
from updates.models import (
    Batch,
    Delivery,
    DeliveryStatus,
    Digest,
    DigestKind,
    DigestStatus,
    Frequency,
    SentVariant,
    SkipReason,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SuppressionReason,
    digest_topics,
    utcnow,
    variant_updates,
)
from updates.news.corrections import pin_revisions
from updates.news.sent import carriers, received
from updates.queues import Jobs
from updates.subscribers.suppression import suppress, suppressed_among
from updates.worker.ledger import Ledger, open_ledger
from updates.worker.outbound import job

log = logging.getLogger(__name__)

BATCH_RETRY = Retry(max=5, interval=[15, 60, 300, 900, 1800])
# Seconds before each new try of a delivery deferred with a 4xx; after the last, it is failed.
# Long enough to outlast greylisting (postgrey defers for 300 s).
RETRY_SCHEDULE = (15, 60, 300, 900, 1800)
CHECK_SECONDS = 0.5  # between looks at pause/cancel (and renewals of the lease)
RELAY_PROBE_SECONDS = 2.0  # between looks at the relays while none answers


class Stopped(Exception):
    """The digest was paused or cancelled while the batch was sending."""


def _lease() -> timedelta:
    return timedelta(seconds=current_app.config["BATCH_LEASE_SECONDS"])


# -- starting ------------------------------------------------------------------------------


@job
def start_digest(digest_id: int) -> str:
    """Materialise the audience once, cut it into batches, and enqueue those not yet done."""
    with logs.bound(digest_id=digest_id):
        return _start(digest_id)


def _start(digest_id: int) -> str:
    digest = db.session.get(Digest, digest_id)
    if digest is None:
        return "gone"
    if digest.status == DigestStatus.SCHEDULED:
        if digest.scheduled_at and digest.scheduled_at > utcnow():
            return "not yet due"
        if _too_late(digest):
            return "waiting for staff"
        if _claim_start(digest_id):
            count = _materialise(digest_id, digest.kind)
            log.info("digest %s: %s recipients", digest_id, count)
        db.session.expire_all()
    if db.session.get(Digest, digest_id).status != DigestStatus.SENDING:
        return "not sending"
    enqueued = enqueue_batches(digest_id)
    finish_if_complete(digest_id)
    return f"enqueued {enqueued} batches"


def _too_late(digest: Digest) -> bool:
    """A digest far past its time (the service was down) waits for staff to resume it."""
    window = timedelta(minutes=current_app.config["SEND_LATE_MINUTES"])
    if digest.scheduled_at is None or utcnow() - digest.scheduled_at <= window:
        return False
    late = utcnow() - digest.scheduled_at
    digest.status = DigestStatus.PAUSED
    digest.note = f"missed its time by {int(late.total_seconds() // 60)} minutes; resume to send"
    db.session.commit()
    return True


def _claim_start(digest_id: int) -> bool:
    """Move scheduled → sending; only one caller wins, and it alone builds the ledger."""
    won = db.session.execute(
        update(Digest)
        .where(Digest.id == digest_id, Digest.status == DigestStatus.SCHEDULED)
        .values(status=DigestStatus.SENDING, started_at=utcnow())
    ).rowcount
    if not won:
        db.session.rollback()
    else:  # committed with the audience: what it sends is fixed from here on
        pin_revisions(digest_id)
    return bool(won)


def _materialise(digest_id: int, kind: str) -> int:
    """Write the audience into the ledger in one statement, then cut it into batches; commit."""
    topic_ids = list(
        db.session.scalars(
            select(digest_topics.c.topic_id).where(digest_topics.c.digest_id == digest_id)
        )
    )
    # The topic ids go in as values, not as a join, so the planner can see how many follow
    # them (a join it guesses at a few thousand and loops over a million times).
    followed = select(Subscription.subscriber_id).where(Subscription.topic_id.in_(topic_ids))
    if kind == DigestKind.ANNOUNCEMENT:
        followed = followed.where(Subscription.frequency == Frequency.EVERY_ANNOUNCEMENT)
    audience = (
        select(literal(digest_id), Subscriber.id, literal(DeliveryStatus.PENDING), literal(0))
        .where(Subscriber.status == SubscriberStatus.ACTIVE, Subscriber.id.in_(followed))
        .order_by(Subscriber.id)
    )
    db.session.execute(
        insert(Delivery).from_select(["digest_id", "subscriber_id", "status", "attempts"], audience)
    )
    first, last, count = db.session.execute(
        select(func.min(Delivery.id), func.max(Delivery.id), func.count()).where(
            Delivery.digest_id == digest_id
        )
    ).one()
    if count:
        _cut_batches(digest_id, first, last, current_app.config["BATCH_SIZE"])
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE deliveries"))  # the batches' queries plan on fresh counts
    db.session.commit()
    return count


def _cut_batches(digest_id: int, first: int, last: int, size: int) -> None:
    """Batches of `size` ids from first to last.

    One statement numbers the ledger rows consecutively unless another digest's audience is
    written at the same moment; then some batches hold fewer of this digest's rows (each batch
    reads only its own digest's), never more.
    """
    db.session.execute(
        insert(Batch),
        [
            {
                "digest_id": digest_id,
                "first_id": start,
                "last_id": min(start + size - 1, last),
                "done": False,
                "runs": 0,
            }
            for start in range(first, last + 1, size)
        ],
    )


def enqueue_batches(digest_id: int, only_idle_for: timedelta | None = None) -> int:
    """Enqueue the digest's unfinished batches not under lease (and, if given, idle that long)."""
    now = utcnow()
    query = select(Batch.id).where(
        Batch.digest_id == digest_id,
        Batch.done.is_(False),
        or_(Batch.lease_until.is_(None), Batch.lease_until < now),
    )
    if only_idle_for is not None:
        query = query.where(
            or_(Batch.enqueued_at.is_(None), Batch.enqueued_at < now - only_idle_for)
        )
    batch_ids = list(db.session.scalars(query.order_by(Batch.id)))
    if batch_ids:
        _enqueue(batch_ids)
    return len(batch_ids)


def _enqueue(batch_ids: list[int], at: datetime | None = None) -> None:
    """Put the batches' jobs on the queue, or have RQ's scheduler do so at `at`; note when.

    The sweeper leaves a batch alone until long after that time, so a batch waiting for its
    deferred deliveries' next try is not run early beside the job scheduled for it.
    """
    send_queue = queues.queue(queues.SEND)
    options = {"retry": BATCH_RETRY, "result_ttl": 600, "failure_ttl": 86400}
    if at is not None and at > utcnow():
        for batch_id in batch_ids:
            send_queue.enqueue_at(
                at.replace(tzinfo=UTC), Jobs.SEND_BATCH, batch_id, job_timeout=3600, **options
            )
    else:
        at = utcnow()
        with send_queue.connection.pipeline() as pipe:
            send_queue.enqueue_many(
                [
                    Queue.prepare_data(Jobs.SEND_BATCH, (batch_id,), timeout=3600, **options)
                    for batch_id in batch_ids
                ],
                pipeline=pipe,
            )
            pipe.execute()
    db.session.execute(update(Batch).where(Batch.id.in_(batch_ids)).values(enqueued_at=at))
    db.session.commit()


def finish_if_complete(digest_id: int) -> bool:
    """sending → sent once no delivery is pending."""
    pending = exists().where(
        Delivery.digest_id == digest_id, Delivery.status == DeliveryStatus.PENDING
    )
    done = db.session.execute(
        update(Digest)
        .where(Digest.id == digest_id, Digest.status == DigestStatus.SENDING, ~pending)
        .values(status=DigestStatus.SENT, finished_at=utcnow())
    ).rowcount
    db.session.commit()
    return bool(done)


# -- sending a batch -----------------------------------------------------------------------


def _claim_batch(batch_id: int) -> Batch | None:
    now = utcnow()
    won = db.session.execute(
        update(Batch)
        .where(
            Batch.id == batch_id,
            Batch.done.is_(False),
            or_(Batch.lease_until.is_(None), Batch.lease_until < now),
        )
        .values(lease_until=now + _lease(), runs=Batch.runs + 1)
    ).rowcount
    db.session.commit()
    return db.session.get(Batch, batch_id) if won else None


def _release(batch: Batch, done: bool = False) -> None:
    batch.lease_until = None
    batch.done = done
    db.session.commit()


def _load_recipients(batch: Batch, digest: Digest) -> list[Recipient]:
    """Pending deliveries in the batch with their subscribers and followed topics: one query."""
    topic_ids = [topic.id for topic in digest.topics]
    joined = and_(
        Subscription.subscriber_id == Delivery.subscriber_id, Subscription.topic_id.in_(topic_ids)
    )
    if digest.kind == DigestKind.ANNOUNCEMENT:
        joined = and_(joined, Subscription.frequency == Frequency.EVERY_ANNOUNCEMENT)
    rows = db.session.execute(
        select(
            Delivery.id,
            Subscriber.id,
            Subscriber.email,
            Subscriber.token_version,
            Subscriber.status,
            Subscription.topic_id,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .outerjoin(Subscription, joined)
        .where(
            Delivery.digest_id == digest.id,
            Delivery.id.between(batch.first_id, batch.last_id),
            Delivery.status == DeliveryStatus.PENDING,
            or_(Delivery.retry_at.is_(None), Delivery.retry_at <= utcnow()),
        )
        .order_by(Delivery.id)
    )
    people: dict[int, tuple] = {}
    topics: dict[int, set[int]] = defaultdict(set)
    for delivery_id, subscriber_id, email, version, status, topic_id in rows:
        people[delivery_id] = (subscriber_id, email, version, status)
        if topic_id is not None:
            topics[delivery_id].add(topic_id)
    already = _already_sent(batch, digest)
    recipients, gone = [], []
    for delivery_id, (subscriber_id, email, version, status) in people.items():
        if status != SubscriberStatus.ACTIVE or not email or not topics[delivery_id]:
            gone.append(delivery_id)
        else:
            recipients.append(
                Recipient(
                    delivery_id,
                    subscriber_id,
                    email,
                    version,
                    frozenset(topics[delivery_id]),
                    frozenset(already.get(delivery_id, ())),
                )
            )
    suppressed = suppressed_among([r.email for r in recipients])
    gone += [r.delivery_id for r in recipients if r.email in suppressed]
    if gone:
        _mark(gone, DeliveryStatus.SKIPPED, SkipReason.GONE)
    return [r for r in recipients if r.email not in suppressed]


def _already_sent(batch: Batch, digest: Digest) -> dict[int, set[int]]:
    """Delivery id → the digest's updates its reader was sent by other digests: one query,
    and none at all when no other digest carried any of them (the ordinary digest)."""
    update_ids = [item.update_id for item in digest.items]
    every, earlier = carriers(update_ids, digest.id)
    if not every:
        return {}
    batch_readers = (
        select(Delivery.id.label("delivery_id"), Delivery.subscriber_id)
        .where(
            Delivery.digest_id == digest.id,
            Delivery.id.between(batch.first_id, batch.last_id),
            Delivery.status == DeliveryStatus.PENDING,
        )
        .subquery()
    )
    had = received(update_ids, every, earlier, select(batch_readers.c.subscriber_id)).subquery()
    rows = db.session.execute(
        select(batch_readers.c.delivery_id, had.c.update_id).join(
            had, had.c.subscriber_id == batch_readers.c.subscriber_id
        )
    )
    already: dict[int, set[int]] = defaultdict(set)
    for delivery_id, update_id in rows:
        already[delivery_id].add(update_id)
    return already


def _mark(delivery_ids: list[int], status: str, error: str | None = None) -> None:
    values: dict[str, object] = {"status": status, "last_error": error}
    if status == DeliveryStatus.SENT:
        values["sent_at"] = utcnow()
    db.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(delivery_ids))
        .values(attempts=Delivery.attempts + 1, **values)
    )
    db.session.commit()


def _defer(delivery_id: int, error: str) -> bool:
    """Record a 4xx: the delivery waits for its next try on RETRY_SCHEDULE, or is failed after
    the last; True if it will be tried again."""
    attempts = db.session.scalar(select(Delivery.attempts).where(Delivery.id == delivery_id))
    if attempts >= len(RETRY_SCHEDULE):
        _mark([delivery_id], DeliveryStatus.FAILED, error[:300])
        return False
    retry_at = utcnow() + timedelta(seconds=RETRY_SCHEDULE[attempts])
    db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(attempts=Delivery.attempts + 1, last_error=error[:300], retry_at=retry_at)
    )
    db.session.commit()
    return True


def _next_try(batch: Batch) -> datetime | None:
    """When the batch's earliest pending delivery may be tried; None when none is pending."""
    count, earliest = db.session.execute(
        select(func.count(), func.min(Delivery.retry_at)).where(
            Delivery.digest_id == batch.digest_id,
            Delivery.id.between(batch.first_id, batch.last_id),
            Delivery.status == DeliveryStatus.PENDING,
        )
    ).one()
    if not count:
        return None
    return earliest or utcnow()


def _still_sending(batch: Batch, digest_id: int) -> bool:
    """Look at the digest's status (pause, cancel) and renew the lease."""
    status = db.session.scalar(select(Digest.status).where(Digest.id == digest_id))
    db.session.execute(
        update(Batch).where(Batch.id == batch.id).values(lease_until=utcnow() + _lease())
    )
    db.session.commit()
    return status == DigestStatus.SENDING


@job
def send_batch(batch_id: int) -> str:
    """Send every pending delivery of the batch over one SMTP connection."""
    with logs.bound(batch_id=batch_id):
        batch = _claim_batch(batch_id)
        if batch is None:
            return "not due"
        with logs.bound(digest_id=batch.digest_id):
            return _send_claimed(batch_id, batch)


def _send_claimed(batch_id: int, batch: Batch) -> str:
    digest = db.session.get(Digest, batch.digest_id)
    if digest.status != DigestStatus.SENDING:
        _release(batch)
        return f"digest {digest.status}"
    recipients = _load_recipients(batch, digest)
    try:
        with closing(open_ledger()) as ledger:  # closing settles the last record
            _send(batch, digest, recipients, ledger)
    except Stopped:
        _release(batch)
        return "paused or cancelled"
    except TransientFailure as error:
        # Put back behind other work, to look again in a moment: a long outage is waited out
        # a few minutes at a time, without RQ's backoff, which would stretch to half an hour.
        _release(batch)
        _enqueue([batch_id], at=utcnow() + timedelta(seconds=RELAY_PROBE_SECONDS))
        log.warning("batch %s waits for a relay: %s", batch_id, error)
        return "waiting for a relay"
    next_try = _next_try(batch)
    _release(batch, done=next_try is None)
    if next_try is not None:
        _enqueue([batch_id], at=next_try)
        return f"deferred deliveries wait until {next_try:%H:%M:%S}"
    finish_if_complete(batch.digest_id)
    return f"sent {len(recipients)}"


def _send(batch: Batch, digest: Digest, recipients: list[Recipient], ledger: Ledger) -> None:
    """The sending loop, over as many relay sessions as it takes.

    A session that is lost moves to the next relay, resuming with the message whose answer
    never came. Raises Stopped, or TransientFailure when no relay has served for
    SMTP_OUTAGE_WAIT seconds.
    """
    digest_id = digest.id  # read once: attributes of ORM objects reload after every commit
    # Every variant of the batch, rendered before the first message, and the updates each holds
    # recorded in one commit, before any delivery names its variant.
    variants = {key: Variant(digest, *key) for key in dict.fromkeys(r.variant for r in recipients)}
    _record_variants(digest_id, [v for v in variants.values() if not v.empty])
    rate = SendRate(queues.redis_connection(), current_app.config["SEND_RATE"])
    sender = envelope_sender()
    sign = dkim_signer()
    outgoing = []
    for recipient in recipients:
        variant = variants[recipient.variant]
        if variant.empty:
            reason = SkipReason.ALREADY_SENT if variant.all_sent else SkipReason.NO_UPDATES
            ledger.ended(recipient.delivery_id, DeliveryStatus.SKIPPED, reason)
        else:
            outgoing.append(recipient)
    stopped = False

    def messages(start: int) -> Iterator[tuple[int, str, str, bytes]]:
        nonlocal stopped
        checked = time.monotonic()
        for position in range(start, len(outgoing)):
            if time.monotonic() - checked > CHECK_SECONDS:
                checked = time.monotonic()
                if not _still_sending(batch, digest_id):
                    stopped = True
                    return
            recipient = outgoing[position]
            message = variants[recipient.variant].message_for(recipient)
            if sign is not None:
                message = sign(message)
            rate.take()
            envelope = verp_sender(digest_id, recipient.subscriber_id) or sender
            yield position, envelope, recipient.email, message

    counts: Counter[str] = Counter()
    position, first_relay, idle_since = 0, 0, None
    while position < len(outgoing):
        relay = _open_relay(batch, digest_id, first_relay, idle_since)
        with relay:
            began = position
            # The previous delivery is on record before the relay can accept the next one.
            for at, failure in relay.send_many(messages(began), before_final_dot=ledger.settle):
                recipient, position = outgoing[at], at + 1
                log.debug("delivery %s: %s", recipient.delivery_id, failure or "sent")
                if failure is None:
                    ledger.sent(recipient.delivery_id, variants[recipient.variant].record_id)
                    counts["sent"] += 1
                elif isinstance(failure, PermanentFailure):
                    counts["failed"] += 1
                    ledger.ended(recipient.delivery_id, DeliveryStatus.FAILED, str(failure))
                    if failure.unknown_mailbox:
                        suppress(recipient.email, SuppressionReason.BOUNCE)
                        db.session.commit()
                elif isinstance(failure, ConnectionLost):
                    position = at  # unanswered: it goes again, to the next relay
                else:
                    counts["deferred"] += _defer(recipient.delivery_id, str(failure))
            lost = relay.smtp is None
        if stopped:
            raise Stopped
        if not lost:
            break
        log.warning("batch %s lost relay %s; moving on", batch.id, relay.hosts[relay.index])
        first_relay = relay.index + 1
        idle_since = None if position > began else idle_since or time.monotonic()
    log.info(
        "batch %s: %s sent, %s failed, %s deferred",
        batch.id,
        counts["sent"],
        counts["failed"],
        counts["deferred"],
    )


def _open_relay(batch: Batch, digest_id: int, first: int, idle_since: float | None) -> Relay:
    """A session with a relay, `first` tried first.

    `idle_since` is when the relays stopped serving (None: they serve). While none answers,
    look again every RELAY_PROBE_SECONDS, so that sending resumes within seconds of one coming
    back; after SMTP_OUTAGE_WAIT seconds of that, raise TransientFailure.
    """
    relay = Relay(first)
    patience = current_app.config["SMTP_OUTAGE_WAIT"]
    while True:
        if idle_since is not None:
            if time.monotonic() - idle_since >= patience:
                raise TransientFailure(f"no relay has served for {patience:.0f} s")
            if not _still_sending(batch, digest_id):
                raise Stopped
            time.sleep(RELAY_PROBE_SECONDS)
        try:
            relay.connect()
            return relay
        except TransientFailure as error:
            if idle_since is None:
                log.warning("batch %s: no relay answers (%s); looking again", batch.id, error)
                idle_since = time.monotonic()


def _record_variants(digest_id: int, variants: list[Variant]) -> None:
    """A row per distinct set of updates held, and the updates in it; two statements, one commit.
    Variants that differ only in topics followed (and so in unsubscribe links) share a row."""
    held = list(dict.fromkeys(v.update_ids for v in variants))
    if not held:
        return
    ids = db.session.scalars(
        insert(SentVariant).returning(SentVariant.id, sort_by_parameter_order=True),
        [{"digest_id": digest_id} for _ in held],
    ).all()
    record = dict(zip(held, ids, strict=True))
    db.session.execute(
        insert(variant_updates),
        [{"variant_id": record[updates], "update_id": u} for updates in held for u in updates],
    )
    db.session.commit()
    for variant in variants:
        variant.record_id = record[variant.update_ids]


# -- periodic ------------------------------------------------------------------------------


@job
def sweep_batches() -> int:
    """Re-enqueue batches of sending digests that no worker holds and RQ seems to have lost."""
    idle = _lease() * 2
    digest_ids = db.session.scalars(select(Digest.id).where(Digest.status == DigestStatus.SENDING))
    total = 0
    for digest_id in list(digest_ids):
        total += enqueue_batches(digest_id, only_idle_for=idle)
        finish_if_complete(digest_id)
    return total


@job
def start_due_digests() -> int:
    """Start scheduled digests whose time has come, in case Redis lost their scheduled job."""
    due = db.session.scalars(
        select(Digest.id).where(
            Digest.status == DigestStatus.SCHEDULED, Digest.scheduled_at <= utcnow()
        )
    )
    started = 0
    for digest_id in list(due):
        started += queues.try_enqueue(queues.SEND, Jobs.START_DIGEST, digest_id, job_timeout=600)
    return started


@job
def send_test(digest_id: int, address: str, topic_ids: list[int] | None = None) -> str:
    """A test copy of a digest for the staff member at `address`, who asked for it: the variant
    for `topic_ids` (all topics if None), marked as a test."""
    digest = db.session.get(Digest, digest_id)
    if digest is None:
        return "gone"
    chosen = frozenset(topic_ids or [topic.id for topic in digest.topics])
    variant = StaffTestCopy(digest, chosen, address)
    message = variant.message_for(Recipient(0, 0, address, 0, chosen))
    # Each test copy gets its own Message-ID, or mail clients would hide the second one.
    message = message.replace(
        f"Message-ID: {message_id(digest_id, 0)}".encode(),
        f"Message-ID: <test-{uuid.uuid4().hex}@{message_domain()}>".encode(),
    )
    with Relay() as relay:
        relay.send(envelope_sender(), address, message)
    return "sent"
