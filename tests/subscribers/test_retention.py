"""Retention: an address that unsubscribed is kept UNSUBSCRIBED_RETENTION_DAYS, then only its hash.

The clock is driven by the cutoff each call is given; the job itself is run by a real worker.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from redis import Redis
from sqlalchemy import func, select

from tests.helpers import only_link, sign_up, submit_only_form, subscriber
from tests.subscribers.test_consent import (
    ADDRESS,
    cli_import,
    confirmed,
    subjects,
    unsubscribe_everything,
)
from updates.addresses import address_hash
from updates.extensions import db
from updates.models import ConsentEvent, Subscriber, Suppression, utcnow
from updates.subscribers.retention import forget_unsubscribed
from updates.worker.periodic import PERIODIC_JOBS, tick

LATER = timedelta(days=1)  # a cutoff this far ahead finds every unsubscribe "long ago"


def rows_for(address: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Subscriber).where(Subscriber.email_key == address)
    )


def suppression_for(address: str) -> Suppression | None:
    query = select(Suppression).where(Suppression.email_hash == address_hash(address))
    return db.session.scalar(query)


def events_of(subscriber_id: int) -> list[str]:
    query = select(ConsentEvent.action).where(ConsentEvent.subscriber_id == subscriber_id)
    return list(db.session.scalars(query.order_by(ConsentEvent.id)))


def test_past_the_period_only_the_hash_is_left_and_the_consent_trail_stays(
    app, client, topics, run_jobs, mail_server
):
    unsubscribe_everything(client, confirmed(client, run_jobs, mail_server))
    confirmed(client, run_jobs, mail_server, "stays@example.org")
    left = subscriber(ADDRESS)
    assert forget_unsubscribed(utcnow() - LATER) == 0  # not yet: they left a moment ago

    assert forget_unsubscribed(utcnow() + LATER) == 1
    db.session.expire_all()
    assert rows_for(ADDRESS) == 0
    forgotten = db.session.get(Subscriber, left.id)
    assert (forgotten.email, forgotten.status) == (None, "erased")
    assert events_of(left.id) == ["requested", "confirmed", "unsubscribed", "forgotten"]
    kept = suppression_for(ADDRESS)
    assert kept is not None and (kept.email, kept.reason) == (None, "unsubscribed")
    assert subscriber("stays@example.org").status == "active"  # an active reader is kept
    assert forget_unsubscribed(utcnow() + LATER) == 0  # and it is done once


def test_a_forgotten_address_is_not_imported_and_comes_back_only_by_confirming(
    app, client, topics, run_jobs, mail_server, tmp_path
):
    unsubscribe_everything(client, confirmed(client, run_jobs, mail_server))
    forget_unsubscribed(utcnow() + LATER)

    output = cli_import(app, tmp_path, ADDRESS)
    assert "imported 0" in output
    assert rows_for(ADDRESS) == 0

    sign_up(client, ADDRESS, ["social-care"])
    run_jobs()
    assert "Confirm" in subjects(mail_server)[-1]  # the one email a suppression lets through
    submit_only_form(client, only_link(mail_server.messages_to(ADDRESS)[-1]))
    run_jobs()
    db.session.expire_all()
    assert subscriber(ADDRESS).status == "active"
    assert suppression_for(ADDRESS) is None  # their own confirmation lifted it


@pytest.fixture
def forget_at_once(app_config) -> None:
    app_config["UNSUBSCRIBED_RETENTION_DAYS"] = 0


def test_the_hourly_job_forgets_whoever_left_before_the_period(
    forget_at_once, app, client, topics, run_jobs, mail_server, redis_url
):
    unsubscribe_everything(client, confirmed(client, run_jobs, mail_server))
    [forgetting] = [job for job in PERIODIC_JOBS if job.name == "forget-unsubscribed"]
    assert tick(Redis.from_url(redis_url), (forgetting,)) == [forgetting.name]
    run_jobs()
    db.session.expire_all()
    assert rows_for(ADDRESS) == 0
    assert suppression_for(ADDRESS).reason == "unsubscribed"


def test_a_newer_sign_up_by_the_address_starts_the_period_again(
    app, client, topics, run_jobs, mail_server
):
    unsubscribe_everything(client, confirmed(client, run_jobs, mail_server))
    after_leaving = utcnow()
    sign_up(client, ADDRESS, ["events"])  # not confirmed yet, but theirs to confirm
    run_jobs()
    assert forget_unsubscribed(after_leaving) == 0
    assert rows_for(ADDRESS) == 1
    assert forget_unsubscribed(utcnow() + LATER) == 1
