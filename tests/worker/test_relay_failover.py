"""Relays that fail: a batch moves to the next relay, and waits out an outage by looking often.

The relays are real SMTP servers in-process; one is stopped mid-batch (its sessions dropped,
its port refusing) and, in the recovery test, started again on the same port.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from flask import current_app
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import digest_status, sign_up
from tests.mailserver import PipeliningMailServer, _PipeliningHandler
from tests.workers import start_worker, stop
from updates import queues
from updates.dev.embedded_redis import free_port
from updates.extensions import db
from updates.models import Batch, Delivery, Digest, utcnow
from updates.news import digests
from updates.worker import delivery


class Relay(PipeliningMailServer):
    """A pipelining relay that can be stopped and started again on the same port."""

    running = False

    def start(self) -> None:
        self._controller = Controller(_PipeliningHandler(self), hostname=self.host, port=self.port)
        super().start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            super().stop()
            self.running = False


def running_relay() -> Iterator[Relay]:
    server = Relay()
    server.start()
    yield server
    server.stop()


first = pytest.fixture(running_relay, name="first")
second = pytest.fixture(running_relay, name="second")


@pytest.fixture
def app_config(app_config, first, second):
    return {**app_config, "SMTP_HOSTS": [(first.host, first.port), (second.host, second.port)]}


def audience(count: int) -> list[str]:
    create_topics("lps")
    addresses = [f"p{n:03d}@example.org" for n in range(count)]
    for address in addresses:
        create_subscriber(address, ["lps"])
    return addresses


def received(*relays: Relay) -> Counter:
    return Counter(r for relay in relays for m in list(relay.received) for r in m.recipients)


def stop_after(relay: Relay, messages: int, then: float | None = None) -> threading.Thread:
    """In the background: stop the relay once it has taken `messages`; start it `then` s later."""

    def run() -> None:
        while len(relay.received) < messages:
            time.sleep(0.005)
        relay.stop()
        if then is not None:
            time.sleep(then)
            relay.start()
            relay.back_at = time.monotonic()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def send(run_jobs) -> int:
    digest = create_test_digest([create_news("Budgets", ["lps"])], ["lps"])
    digests.send(digest)
    run_jobs()
    return digest.id


def test_a_relay_that_refuses_connections_is_passed_over_for_the_next(app_config, first, run_jobs):
    current_app.config["SMTP_HOSTS"] = [("127.0.0.1", free_port()), (first.host, first.port)]
    addresses = audience(5)
    digest_id = send(run_jobs)
    assert received(first) == Counter(addresses)
    assert digest_status(digest_id) == "sent"


@pytest.fixture
def silent() -> Iterator[tuple[str, int]]:
    """An address that drops connection attempts unanswered, as a relay behind a dead link or a
    firewall does: a listening socket whose one-place queue is full (Linux drops the SYN)."""
    with socket.create_server(("127.0.0.1", 0), backlog=0) as listener:
        address = listener.getsockname()
        with socket.create_connection(address, timeout=1):  # fills the queue; never accepted
            with pytest.raises(TimeoutError):
                socket.create_connection(address, timeout=0.2)
            yield address


def test_a_relay_that_drops_packets_costs_the_connect_timeout_not_the_conversations(
    app_config, first, silent, run_jobs
):
    current_app.config.update(
        SMTP_HOSTS=[silent, (first.host, first.port)], SMTP_TIMEOUT=30.0, SMTP_CONNECT_TIMEOUT=0.5
    )
    addresses = audience(3)
    started = time.monotonic()
    digest_id = send(run_jobs)
    assert time.monotonic() - started < 15  # SMTP_TIMEOUT, had it applied, would be 30 s
    assert received(first) == Counter(addresses)
    assert digest_status(digest_id) == "sent"


@pytest.mark.slow  # starts a real `python worker.py` process
def test_a_worker_reads_its_relays_from_smtp_hosts(app, app_config, first, second):
    addresses = audience(5)
    digest_id = create_test_digest([create_news("Budgets", ["lps"])], ["lps"]).id
    first.stop()
    hosts = f"{first.host}:{first.port}, {second.host}:{second.port}"
    worker = start_worker(app_config, SMTP_HOSTS=hosts)
    try:
        digests.send(db.session.get(Digest, digest_id))
        deadline = time.monotonic() + 60
        while digest_status(digest_id) != "sent":
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.1)
    finally:
        stop(worker)
    assert received(second) == Counter(addresses)


def test_transactional_email_fails_over_too(app_config, topics, client, first, second, run_jobs):
    first.stop()
    sign_up(client, "ada@example.org", ["events"])
    run_jobs()
    assert [m.recipients for m in second.received] == [["ada@example.org"]]


def test_a_batch_whose_relay_dies_moves_to_the_next_and_repeats_at_most_one(
    app, first, second, run_jobs
):
    addresses = audience(60)
    first.delay = 0.01
    stopping = stop_after(first, 20)
    digest_id = send(run_jobs)
    stopping.join()
    assert 20 <= len(first.received) < 60
    counts = received(first, second)
    assert set(counts) == set(addresses)
    assert sum(counts.values()) - len(addresses) <= 1
    assert digest_status(digest_id) == "sent"
    assert set(db.session.scalars(select(Delivery.status))) == {"sent"}


def test_sending_resumes_within_seconds_of_the_relay_coming_back(app_config, first, run_jobs):
    current_app.config["SMTP_HOSTS"] = [(first.host, first.port)]
    addresses = audience(40)
    first.delay = 0.01
    outage = stop_after(first, 10, then=3.0)
    digest_id = send(run_jobs)
    done_at = time.monotonic()
    outage.join()
    counts = received(first)
    assert set(counts) == set(addresses)
    assert sum(counts.values()) - len(addresses) <= 1
    # It looks every two seconds, and what is left takes well under a second to send.
    assert done_at - first.back_at < 6
    assert digest_status(digest_id) == "sent"


def test_a_long_outage_puts_the_batch_back_to_look_again_in_a_moment(app_config, run_jobs):
    current_app.config.update(SMTP_HOSTS=[("127.0.0.1", free_port())], SMTP_OUTAGE_WAIT=1)
    audience(3)
    started = time.monotonic()
    digest_id = send(run_jobs)
    assert 1 <= time.monotonic() - started < 10
    batch = db.session.scalar(select(Batch))
    assert (batch.done, batch.lease_until) == (False, None)
    assert batch.enqueued_at > utcnow()  # when RQ's scheduler puts it back, in two seconds
    registry = ScheduledJobRegistry(queue=queues.queue(queues.SEND))
    assert len(registry.get_job_ids()) == 1
    with current_app.app_context():
        assert delivery.sweep_batches() == 0  # the scheduled job is not doubled
    assert digest_status(digest_id) == "sending"
    assert set(db.session.scalars(select(Delivery.attempts))) == {0}


def test_pausing_during_an_outage_stops_the_wait(app_config, run_jobs):
    current_app.config.update(SMTP_HOSTS=[("127.0.0.1", free_port())], SMTP_OUTAGE_WAIT=60)
    audience(3)
    digest = create_test_digest([create_news("Budgets", ["lps"])], ["lps"])
    digests.send(digest)

    observer = current_app._get_current_object()

    def pause_soon() -> None:
        time.sleep(1)
        with observer.app_context():
            digests.pause(db.session.get(type(digest), digest.id))

    pausing = threading.Thread(target=pause_soon)
    pausing.start()
    started = time.monotonic()
    run_jobs()
    pausing.join()
    assert time.monotonic() - started < 6
    assert digest_status(digest.id) == "paused"
    assert db.session.scalar(select(Batch.lease_until)) is None
