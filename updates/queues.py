"""Queue and job names, the Redis connection, and enqueueing that never breaks a request."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry

from updates import logs

log = logging.getLogger(__name__)

MAIL = "mail"  # transactional: confirmations, links; small and urgent
SEND = "send"  # newsletter batches
DEFAULT = "default"  # housekeeping

ALL_QUEUES = (MAIL, SEND, DEFAULT)  # the order a worker takes them in

MAIL_RETRY = Retry(max=5, interval=[10, 30, 120, 600, 1800])


class Jobs:
    """Every job, by the name RQ stores: the web enqueues by name and never imports worker code."""

    SEND_EMAIL = "updates.worker.outbound.send_outbound_email"
    HAND_OFF_EMAILS = "updates.worker.outbound.hand_off_owed_emails"
    SWEEP_EMAILS = "updates.worker.outbound.sweep_outbound_emails"
    DECIDE_SIGNUP = "updates.worker.signups.decide_deferred_signup"
    PURGE_UNCONFIRMED = "updates.worker.signups.purge_unconfirmed"
    FORGET_UNSUBSCRIBED = "updates.worker.retention.forget_unsubscribed"
    START_DIGEST = "updates.worker.delivery.start_digest"
    SEND_BATCH = "updates.worker.delivery.send_batch"
    SEND_TEST = "updates.worker.delivery.send_test"
    SWEEP_BATCHES = "updates.worker.delivery.sweep_batches"
    START_DUE_DIGESTS = "updates.worker.delivery.start_due_digests"
    RUN_DUE_SCHEDULES = "updates.worker.schedules.run_due_schedules"
    RUN_IMPORT = "updates.worker.imports.run_import"
    SWEEP_UPLOADS = "updates.worker.imports.sweep_abandoned_uploads"
    SEND_PASSWORD_RESET = "updates.worker.staff_mail.send_password_reset"
    SWEEP_STAFF_SIGN_IN = "updates.worker.staff_mail.sweep_staff_sign_in"
    POLL_BOUNCE_MAILBOX = "updates.worker.bounce_mailbox.poll_bounce_mailbox"


ALL_JOBS = tuple(value for key, value in vars(Jobs).items() if key.isupper())

# Names jobs had before the package was laid out in wings. Jobs queued under them before an
# upgrade still run; drop these once a release has passed.
RENAMED_JOBS = {
    "updates.jobs.send_outbound_email": Jobs.SEND_EMAIL,
    "updates.jobs.hand_off_owed_emails": Jobs.HAND_OFF_EMAILS,
    "updates.jobs.sweep_outbound_emails": Jobs.SWEEP_EMAILS,
    "updates.jobs.decide_deferred_signup": Jobs.DECIDE_SIGNUP,
    "updates.jobs.purge_unconfirmed": Jobs.PURGE_UNCONFIRMED,
    "updates.delivery.start_digest": Jobs.START_DIGEST,
    "updates.delivery.send_batch": Jobs.SEND_BATCH,
    "updates.delivery.send_test": Jobs.SEND_TEST,
    "updates.delivery.sweep_batches": Jobs.SWEEP_BATCHES,
    "updates.delivery.start_due_digests": Jobs.START_DUE_DIGESTS,
    "updates.import_jobs.run_import": Jobs.RUN_IMPORT,
    "updates.import_jobs.sweep_abandoned_uploads": Jobs.SWEEP_UPLOADS,
}


def redis_connection() -> Redis:
    """The app's Redis client, made once per app."""
    client = current_app.extensions.get("updates.redis")
    if client is None:
        client = Redis.from_url(
            current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=10
        )
        current_app.extensions["updates.redis"] = client
    return client


def queue(name: str) -> Queue:
    return Queue(name, connection=redis_connection())


def try_enqueue(name: str, func: str, *args: Any, **options: Any) -> bool:
    """Enqueue after the row is committed; if Redis is down the sweeper will enqueue it later."""
    try:
        with redis_connection().pipeline() as pipeline:  # one round trip instead of two
            options.setdefault("meta", logs.job_meta())  # the request id, into the job's lines
            queue(name).enqueue(func, *args, pipeline=pipeline, **options)
            pipeline.execute()
    except RedisError as error:
        log.warning("could not enqueue %s%s: %s; the sweeper will retry", func, args, error)
        return False
    return True


def health() -> dict[str, object]:
    """Queued, running and failed jobs per queue, and the workers alive; None if Redis is down."""
    from rq import Worker

    try:
        connection = redis_connection()
        queues = {}
        for name in ALL_QUEUES:
            q = Queue(name, connection=connection)
            queues[name] = {
                "queued": q.count,
                "running": q.started_job_registry.count,
                "failed": q.failed_job_registry.count,
            }
        return {"queues": queues, "workers": Worker.count(connection=connection)}
    except RedisError:
        return {"queues": None, "workers": None}
