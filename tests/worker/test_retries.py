"""A recipient deferred with a 4xx is tried again on the schedule, and only on it.

The clock is driven by moving the stored times back, as if that long had passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import current_app
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import digest_status
from updates import queues
from updates.extensions import db
from updates.models import Batch, Delivery, utcnow
from updates.news import digests
from updates.worker import delivery

GREYLISTED = "450 4.2.0 Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/"


@pytest.fixture
def digest_id(app, mail_server):
    create_topics("lps")
    create_subscriber("grey@example.org", ["lps"])
    create_subscriber("ok@example.org", ["lps"])
    return create_test_digest([create_news("Budgets", ["lps"])], ["lps"]).id


def later(seconds: float) -> None:
    """Move every stored time back by `seconds`, as if that long had passed."""
    shift = timedelta(seconds=seconds)
    for row in db.session.scalars(select(Delivery).where(Delivery.retry_at.is_not(None))):
        row.retry_at -= shift
    for row in db.session.scalars(select(Batch).where(Batch.enqueued_at.is_not(None))):
        row.enqueued_at -= shift
    db.session.commit()


def grey() -> Delivery:
    db.session.expire_all()
    return db.session.scalars(select(Delivery).order_by(Delivery.id)).first()


def waits_for(when: datetime) -> float:
    return (when - utcnow()).total_seconds()


def scheduled_at() -> list[datetime]:
    """When RQ's scheduler is to enqueue the send jobs waiting in it."""
    registry = ScheduledJobRegistry(queue=queues.queue(queues.SEND))
    return [registry.get_scheduled_time(job_id) for job_id in registry.get_job_ids()]


def try_again(run_jobs) -> None:
    delivery.enqueue_batches(grey().digest_id)  # what RQ's scheduler does when the time comes
    run_jobs()


def test_a_deferred_recipient_waits_while_the_rest_of_the_batch_is_sent(
    digest_id, mail_server, run_jobs
):
    mail_server.refuse("grey@example.org", GREYLISTED)
    digests.send(db.session.get(delivery.Digest, digest_id))
    run_jobs()
    assert len(mail_server.messages_to("ok@example.org")) == 1
    deferred = grey()
    assert (deferred.status, deferred.attempts) == ("pending", 1)
    assert 13 < waits_for(deferred.retry_at) <= 15
    assert deferred.last_error.startswith("450 4.2.0")
    # The batch is handed to RQ's scheduler for that time, and nothing else holds it.
    [due] = scheduled_at()
    assert abs((due.replace(tzinfo=None) - deferred.retry_at).total_seconds()) < 1
    batch = db.session.scalar(select(Batch))
    assert (batch.done, batch.lease_until) == (False, None)
    assert digest_status(digest_id) == "sending"


def test_the_sweeper_does_not_run_a_batch_early_beside_its_scheduled_retry(
    digest_id, mail_server, run_jobs
):
    current_app.config["BATCH_LEASE_SECONDS"] = 5  # the sweeper takes batches idle for 10 s
    mail_server.refuse("grey@example.org", GREYLISTED, times=3)
    digests.send(db.session.get(delivery.Digest, digest_id))
    run_jobs()
    later(15)
    try_again(run_jobs)
    later(60)
    try_again(run_jobs)
    assert grey().attempts == 3  # the next try is 300 s away
    for _ in range(5):
        later(50)
        assert delivery.sweep_batches() == 0
    run_jobs()
    assert grey().attempts == 3


def test_a_batch_run_early_leaves_a_deferred_recipient_alone(digest_id, mail_server, run_jobs):
    mail_server.refuse("grey@example.org", GREYLISTED)
    digests.send(db.session.get(delivery.Digest, digest_id))
    run_jobs()
    later(10)
    try_again(run_jobs)  # five seconds before its time: say a resume or a lost job re-enqueued
    assert (grey().attempts, grey().status) == (1, "pending")
    assert mail_server.messages_to("grey@example.org") == []
    assert len(mail_server.messages_to("ok@example.org")) == 1
    later(5)
    try_again(run_jobs)
    assert (grey().attempts, grey().status) == (2, "sent")
    assert digest_status(digest_id) == "sent"


def test_the_schedule_outlasts_greylisting_then_gives_up(digest_id, mail_server, run_jobs):
    mail_server.refuse("grey@example.org", GREYLISTED, times=6)
    digests.send(db.session.get(delivery.Digest, digest_id))
    run_jobs()
    tried_at, waits = 0, []
    while grey().status == "pending":
        wait = round(waits_for(grey().retry_at))
        waits.append(wait)
        later(wait)
        tried_at += wait
        try_again(run_jobs)
    assert waits == [15, 60, 300, 900, 1800]
    assert tried_at > 300  # greylisting lets a sender through after 300 s
    assert (grey().status, grey().attempts) == ("failed", 6)
    assert digest_status(digest_id) == "sent"
    assert len(mail_server.messages_to("ok@example.org")) == 1


def test_a_greylisted_recipient_is_delivered_once_the_relay_lets_it_through(
    digest_id, mail_server, run_jobs
):
    mail_server.refuse("grey@example.org", GREYLISTED, times=3)  # 0, 15 and 75 s; 375 s is past
    digests.send(db.session.get(delivery.Digest, digest_id))
    run_jobs()
    while grey().status == "pending":
        later(round(waits_for(grey().retry_at)))
        try_again(run_jobs)
    assert (grey().status, grey().attempts) == ("sent", 4)
    assert len(mail_server.messages_to("grey@example.org")) == 1
