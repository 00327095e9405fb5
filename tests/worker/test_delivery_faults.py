"""Faults on real processes: two workers at once, and a worker killed with SIGKILL mid-send."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import create_engine, func, select

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import digest_status
from tests.mailserver import PipeliningMailServer
from tests.workers import kill_hard, start_worker, stop
from updates.extensions import db
from updates.models import Delivery, Digest, utcnow
from updates.news import digests
from updates.worker import delivery


@pytest.fixture(scope="module")
def mail_server() -> Iterator[PipeliningMailServer]:
    """A relay that pipelines, as production relays do: the sending path these faults hit."""
    server = PipeliningMailServer()
    server.start()
    yield server
    server.stop()


def wait_until(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def audience(count: int) -> list[str]:
    create_topics("lps")
    addresses = [f"p{n:04d}@example.org" for n in range(count)]
    for address in addresses:
        create_subscriber(address, ["lps"])
    return addresses


def received_counts(mail_server) -> Counter:
    return Counter(r for m in list(mail_server.received) for r in m.recipients)


@pytest.mark.slow  # starts real `python worker.py` processes
def test_two_workers_share_the_batches_and_send_nobody_two_emails(app, app_config, mail_server):
    addresses = audience(120)
    digest = create_test_digest([create_news("Budgets", ["lps"])], ["lps"])
    workers = [start_worker(app_config, BATCH_SIZE="7") for _ in range(2)]
    try:
        digests.send(digest)
        wait_until(lambda: digest_status(digest.id) == "sent")
    finally:
        for worker in workers:
            stop(worker)
    assert received_counts(mail_server) == Counter(addresses)
    progress = digests.progress(digest.id)
    assert (progress.recipients, progress.sent) == (120, 120)


@pytest.mark.slow  # starts real `python worker.py` processes
def test_a_worker_killed_mid_batch_loses_nothing(app, app_config, mail_server):
    addresses = audience(60)
    digest_id = create_test_digest([create_news("Budgets", ["lps"])], ["lps"]).id
    mail_server.delay = 0.03  # a slow relay, so the kill lands mid-batch
    settings = {"BATCH_SIZE": "500", "BATCH_LEASE_SECONDS": "1"}
    first = start_worker(app_config, **settings)
    try:
        digests.send(db.session.get(Digest, digest_id))
        wait_until(lambda: len(mail_server.received) >= 15)
        kill_hard(first)
    finally:
        stop(first)
    sent_before = len(mail_server.received)
    assert sent_before < len(addresses)
    assert digest_status(digest_id) == "sending"

    # RQ still believes the dead worker's job is running; the ledger and the sweeper know
    # better once the lease has lapsed.
    time.sleep(2.2)
    current_app.config["BATCH_LEASE_SECONDS"] = 1
    with current_app.app_context():
        assert delivery.sweep_batches() == 1
    second = start_worker(app_config, **settings)
    try:
        wait_until(lambda: digest_status(digest_id) == "sent")
    finally:
        stop(second)

    counts = received_counts(mail_server)
    assert set(counts) == set(addresses)
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= 1  # at most the one message in flight on the killed connection
    statuses = db.session.scalars(select(Delivery.status)).all()
    assert set(statuses) == {"sent"}


def test_the_sweeper_leaves_a_batch_under_lease_alone(app, run_jobs, mail_server):
    audience(3)
    digest = create_test_digest([create_news("Budgets", ["lps"])], ["lps"])
    digests.send(digest)
    with current_app.app_context():
        delivery.start_digest(digest.id)
    batch = db.session.scalar(select(delivery.Batch))
    batch.lease_until = utcnow() + timedelta(minutes=5)  # another worker holds it
    batch.enqueued_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    with current_app.app_context():
        assert delivery.sweep_batches() == 0


@pytest.mark.slow  # starts real `python worker.py` processes
def test_pause_takes_effect_within_a_running_batch(app, app_config, mail_server):
    addresses = audience(40)
    digest_id = create_test_digest([create_news("Budgets", ["lps"])], ["lps"]).id
    mail_server.delay = 0.05
    worker = start_worker(app_config)
    try:
        digests.send(db.session.get(Digest, digest_id))
        wait_until(lambda: len(mail_server.received) >= 5)
        digests.pause(db.session.get(Digest, digest_id))
        time.sleep(2)  # the batch looks at the digest at least once a second
        held = len(mail_server.received)
        time.sleep(1)
        assert len(mail_server.received) == held < len(addresses)
        assert digest_status(digest_id) == "paused"

        digests.resume(db.session.get(Digest, digest_id))
        wait_until(lambda: digest_status(digest_id) == "sent")
    finally:
        stop(worker)
    assert received_counts(mail_server) == Counter(addresses)


@pytest.mark.slow  # starts real `python worker.py` processes
def test_each_delivery_is_on_record_before_the_relay_takes_the_next(app, app_config, mail_server):
    """What bounds a killed worker's repeats to one: never two accepted and unrecorded."""
    audience(30)
    digest_id = create_test_digest([create_news("Budgets", ["lps"])], ["lps"]).id
    observer = create_engine(str(app_config["SQLALCHEMY_DATABASE_URI"]))
    on_record_at_each_dot: list[int] = []

    def count_sent() -> None:
        with observer.connect() as connection:
            sent = select(func.count()).where(Delivery.status == "sent")
            on_record_at_each_dot.append(connection.scalar(sent))

    mail_server.before_accepting = count_sent
    worker = start_worker(app_config)
    try:
        digests.send(db.session.get(Digest, digest_id))
        wait_until(lambda: digest_status(digest_id) == "sent")
    finally:
        stop(worker)
        mail_server.before_accepting = None
        observer.dispose()
    assert on_record_at_each_dot == list(range(30))
