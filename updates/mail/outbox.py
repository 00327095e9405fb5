"""Transactional email owed to subscribers: written with the change that owes it, sent by a job.

The row is the promise; the RQ job is only the fastest way to keep it. If Redis is down when a
row is written, or loses the job, the sweeper finds the row still pending and enqueues it again.
A job claims its row with a lease before sending, so two jobs for one row send once.

A request does not build that job itself: it pushes the email's id onto a Redis list, one cheap
round trip, and a hand-off job on the mail queue moves the waiting ids into send jobs in bulk.
A hand-off job is queued only when none is waiting already, so under load most requests cost
the push alone.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.queue import EnqueueData, Queue
from sqlalchemy import or_, select, update
from sqlalchemy.orm import joinedload

from updates import logs, queues
from updates.extensions import db
from updates.models import EmailState, OutboundEmail, SignupRequest, Subscriber, utcnow
from updates.queues import Jobs
from updates.service_metrics import count_email_outcome
from updates.transaction import autocommit

log = logging.getLogger(__name__)

DEFERRED = "d"  # marks a deferred sign-up's id on the list, beside the emails' ids
REQUEST = " "  # parts an id on the list from the request id that owed it
OWED_IDS = "updates:owed-emails"  # ids pushed by requests, waiting for a hand-off job
HANDOFF_QUEUED = "updates:owed-emails:hand-off-queued"  # set while a hand-off job waits
HANDOFF_QUEUED_SECONDS = 30  # if that job is lost, the next push queues another after this
HANDOFF_BATCH = 200
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
LIVE_JOB_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def owe(kind: str, subscriber: Subscriber, request: SignupRequest | None = None) -> OutboundEmail:
    """Add an email to the caller's transaction; dispatch it after the commit."""
    email = OutboundEmail(kind=kind, subscriber=subscriber, signup_request=request)
    db.session.add(email)
    return email


def job_id(email_id: int) -> str:
    return f"outbound-email-{email_id}"


def dispatch(email_id: int) -> bool:
    """Hand the email to the workers after the commit; False when Redis refused (the sweeper
    will retry)."""
    return _push(str(email_id))


def dispatch_signup(email_id: int | None, deferred_id: int | None) -> bool:
    """Hand a sign-up's write to the workers: its email, or the sign-up for them to decide.
    Both cost the request the same push."""
    if email_id is not None:
        return _push(str(email_id))
    return _push(f"{DEFERRED}{deferred_id}")


def _push(item: str) -> bool:
    request_id = logs.job_meta().get(logs.REQUEST_ID)
    if request_id:  # so that the send job's lines carry the request's id
        item = f"{item}{REQUEST}{request_id}"
    try:
        pipeline = queues.redis_connection().pipeline(transaction=False)
        pipeline.lpush(OWED_IDS, item)
        pipeline.set(HANDOFF_QUEUED, 1, nx=True, ex=HANDOFF_QUEUED_SECONDS)
        _, no_handoff_was_queued = pipeline.execute()
    except RedisError as error:
        log.warning("%s not handed to the workers (%s); the sweeper will", item, error)
        return False
    if no_handoff_was_queued:  # behind the sends already queued, so that ids gather meanwhile
        return queues.try_enqueue(queues.MAIL, Jobs.HAND_OFF_EMAILS)
    return True


def hand_off_owed() -> int:
    """Enqueue a send job for every id waiting on the list, in bulk; return how many."""
    connection = queues.redis_connection()
    connection.delete(HANDOFF_QUEUED)  # first, so that an id pushed from now on queues a hand-off
    handed = 0
    while items := connection.rpop(OWED_IDS, HANDOFF_BATCH):
        jobs = [_job_for(item.decode()) for item in items]
        with connection.pipeline() as pipeline:
            queues.queue(queues.MAIL).enqueue_many(jobs, pipeline=pipeline)
            pipeline.execute()
        handed += len(jobs)
    return handed


def _job_for(item: str) -> EnqueueData:
    item, _, request_id = item.partition(REQUEST)
    meta = {logs.REQUEST_ID: request_id} if request_id else {}
    if item.startswith(DEFERRED):
        deferred_id = int(item.removeprefix(DEFERRED))
        return Queue.prepare_data(
            Jobs.DECIDE_SIGNUP,
            (deferred_id,),
            job_id=f"deferred-signup-{deferred_id}",
            retry=queues.MAIL_RETRY,
            meta=meta,
        )
    return Queue.prepare_data(
        Jobs.SEND_EMAIL, (int(item),), job_id=job_id(int(item)), retry=queues.MAIL_RETRY, meta=meta
    )


def claim(email_id: int) -> OutboundEmail | None:
    """Take a lease on a pending email, or None if it is sent, failed or leased elsewhere."""
    now = utcnow()
    claimed = db.session.execute(
        update(OutboundEmail)
        .where(
            OutboundEmail.id == email_id,
            OutboundEmail.state == EmailState.PENDING,
            or_(OutboundEmail.claimed_until.is_(None), OutboundEmail.claimed_until < now),
        )
        .values(claimed_until=now + LEASE, attempts=OutboundEmail.attempts + 1)
    ).rowcount
    # The lease commits on its own, before the send: a worker that dies holding it leaves a
    # row that the sweeper takes back once the lease has run out.
    db.session.commit()
    if not claimed:
        return None
    # With its subscriber and request: one round trip instead of three.
    loads = [joinedload(OutboundEmail.subscriber), joinedload(OutboundEmail.signup_request)]
    return db.session.get(OutboundEmail, email_id, options=loads)


@autocommit
def finish(email: OutboundEmail, state: str, error: str | None = None) -> None:
    email.state = state
    count_email_outcome(email.kind, state)
    email.claimed_until = None
    email.last_error = error[:500] if error else None
    if state == EmailState.SENT:
        email.sent_at = utcnow()


@autocommit
def release(email: OutboundEmail, error: str) -> None:
    """Give the lease back after a transient failure so a retry can claim it."""
    if email.attempts >= MAX_ATTEMPTS:
        finish(email, EmailState.FAILED, error)
        return
    email.claimed_until = None
    email.last_error = error[:500]


def overdue(grace: timedelta, limit: int = 500) -> list[int]:
    """Pending emails old enough that their job should have run."""
    query = (
        select(OutboundEmail.id)
        .where(
            OutboundEmail.state == EmailState.PENDING,
            OutboundEmail.created_at < utcnow() - grace,
            or_(OutboundEmail.claimed_until.is_(None), OutboundEmail.claimed_until < utcnow()),
        )
        .order_by(OutboundEmail.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def _job_is_live(email_id: int) -> bool:
    try:
        job = Job.fetch(job_id(email_id), connection=queues.redis_connection())
    except NoSuchJobError:
        return False
    return job.get_status(refresh=False) in LIVE_JOB_STATES


def redispatch_overdue(grace: timedelta) -> int:
    """Enqueue every overdue email whose job Redis no longer holds; return how many."""
    missing = [email_id for email_id in overdue(grace) if not _job_is_live(email_id)]
    enqueued = [
        queues.try_enqueue(
            queues.MAIL, Jobs.SEND_EMAIL, email_id, job_id=job_id(email_id), retry=queues.MAIL_RETRY
        )
        for email_id in missing
    ]
    return sum(enqueued)
