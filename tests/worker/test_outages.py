"""Outages of Redis and the database: real workers ride them out and every email goes out.

Redis is a redis-server of the test's own, killed with SIGKILL (it keeps nothing on disk, so an
empty Redis comes back); the database outage is PostgreSQL refusing and dropping every
connection to the test's database.
"""

from __future__ import annotations

import re
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from redis import Redis
from rq import Worker
from sqlalchemy import create_engine, select, text

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import digest_status, sign_up
from tests.mailserver import PipeliningMailServer
from tests.workers import start_worker, stop
from updates.dev.embedded_redis import EmbeddedRedis
from updates.extensions import db
from updates.models import Batch, Digest
from updates.news import digests

# Short leases and grace, so that what an outage cut off is swept back within seconds.
WORKER_SETTINGS = {"BATCH_SIZE": "40", "BATCH_LEASE_SECONDS": "2", "SWEEP_GRACE_SECONDS": "1"}
PROCESSES_PER_WORKER = 3  # the worker, its periodic ticker and RQ's scheduler


@pytest.fixture(scope="module")
def mail_server() -> Iterator[PipeliningMailServer]:
    """A relay that pipelines, as production relays do."""
    server = PipeliningMailServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_server() -> Iterator[EmbeddedRedis]:
    """A redis-server of this test's own, which it may kill and start again on the same port."""
    server = EmbeddedRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config: dict[str, object], redis_server: EmbeddedRedis) -> dict[str, object]:
    return {
        **app_config,
        "REDIS_URL": redis_server.url,
        "RATELIMIT_STORAGE_URI": redis_server.url,
        "SIGNUP_LIMIT_PER_IP": "100000/minute",
    }


def crash(server: EmbeddedRedis) -> None:
    """kill -9: no shutdown, nothing saved."""
    assert server.process is not None
    server.process.kill()
    server.process.wait()
    server.stop()  # only its folder is left to remove


@contextmanager
def database_outage() -> Iterator[None]:
    """PostgreSQL refuses new connections to the test's database and drops every open one."""
    name = db.engine.url.database
    admin = create_engine(db.engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            terminate_connections(connection, name)
        yield
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()


def terminate_connections(connection, database: str) -> int:
    """pg_terminate_backend for every other connection to the database; how many there were."""
    return len(
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": database},
        ).all()
    )


def needs_postgresql() -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("only a database server can drop its connections; SQLite has none to drop")


def wait_until(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def audience(count: int) -> list[str]:
    addresses = [f"p{n:04d}@example.org" for n in range(count)]
    for address in addresses:
        create_subscriber(address, ["lps"])
    return addresses


def sign_up_many(client: FlaskClient, label: str, count: int) -> list[str]:
    addresses = [f"s-{label}-{n:03d}@example.org" for n in range(count)]
    for address in addresses:
        assert sign_up(client, address, ["lps"]).status_code == 200
    return addresses


def received_counts(mail_server: PipeliningMailServer) -> Counter:
    return Counter(r for m in list(mail_server.received) for r in m.recipients)


def digest_mail_sent(mail_server: PipeliningMailServer, readers: list[str]) -> int:
    counts = received_counts(mail_server)
    return sum(counts[a] for a in readers)


def batch_reruns() -> int:
    """Runs of a batch after its first: each may repeat at most the one message in flight."""
    db.session.expire_all()
    return sum(max(runs - 1, 0) for runs in db.session.scalars(select(Batch.runs)))


def outage_lines(log: Path, dependency: str) -> list[str]:
    return re.findall(rf".*{dependency}\S* is unreachable.*", log.read_text())


@pytest.mark.slow  # a redis-server and two `python worker.py` processes, restarted mid-send
def test_workers_ride_out_a_redis_restart_mid_send_and_all_mail_goes_out(
    app, client, app_config, mail_server, redis_server, tmp_path
):
    create_topics("lps")
    readers = audience(400)
    digest_id = create_test_digest([create_news("Budgets", ["lps"])], ["lps"]).id
    mail_server.delay = 0.02  # a slow relay, so the crash lands mid-send
    logs = [tmp_path / f"worker-{n}.log" for n in range(2)]
    workers = [start_worker(app_config, log=log, **WORKER_SETTINGS) for log in logs]
    try:
        digests.send(db.session.get(Digest, digest_id))
        signers = sign_up_many(client, "before", 40)
        wait_until(lambda: digest_mail_sent(mail_server, readers) >= 80)
        crash(redis_server)
        assert digest_mail_sent(mail_server, readers) < len(readers)
        signers += sign_up_many(client, "during", 20)  # the web answers while Redis is gone
        time.sleep(3)
        redis_server.start()
        signers += sign_up_many(client, "after", 20)

        def everyone_has_mail() -> bool:
            counts = received_counts(mail_server)
            return all(counts[a] for a in readers + signers)

        wait_until(everyone_has_mail)
        wait_until(lambda: digest_status(digest_id) == "sent")
        assert [worker.poll() for worker in workers] == [None, None]  # both still running
        assert Worker.count(connection=Redis.from_url(redis_server.url)) == 2  # as staff see it
    finally:
        for worker in workers:
            stop(worker)

    counts = received_counts(mail_server)
    assert [a for a in signers if counts[a] != 1] == []  # one confirmation each
    repeats = sum(counts[a] - 1 for a in readers)
    assert repeats <= batch_reruns()  # the ledger's bound: one per batch cut off and run again
    for log in logs:
        assert 1 <= len(outage_lines(log, "Redis")) <= PROCESSES_PER_WORKER, log.read_text()
        assert "Traceback" not in log.read_text()


@pytest.mark.slow  # a `python worker.py` process, cut off from PostgreSQL mid-send
def test_a_worker_waits_out_a_database_outage_mid_send_and_all_mail_goes_out(
    app, client, app_config, mail_server, tmp_path
):
    needs_postgresql()
    create_topics("lps")
    readers = audience(200)
    digest_id = create_test_digest([create_news("Budgets", ["lps"])], ["lps"]).id
    mail_server.delay = 0.02
    log = tmp_path / "worker.log"
    worker = start_worker(app_config, log=log, **WORKER_SETTINGS)
    try:
        signers = sign_up_many(client, "before", 5)
        wait_until(lambda: all(received_counts(mail_server)[a] for a in signers))
        digests.send(db.session.get(Digest, digest_id))
        wait_until(lambda: digest_mail_sent(mail_server, readers) >= 40)
        with database_outage():
            time.sleep(4)
        assert digest_mail_sent(mail_server, readers) < len(readers)
        signers += sign_up_many(client, "after", 10)

        def everyone_has_mail() -> bool:
            counts = received_counts(mail_server)
            return all(counts[a] for a in readers + signers)

        wait_until(everyone_has_mail)
        wait_until(lambda: digest_status(digest_id) == "sent")
        assert worker.poll() is None
    finally:
        stop(worker)

    counts = received_counts(mail_server)
    assert [a for a in signers if counts[a] != 1] == []
    repeats = sum(counts[a] - 1 for a in readers)
    assert repeats <= batch_reruns()
    assert len(outage_lines(log, "The database")) == 1, log.read_text()
    assert "Traceback" not in log.read_text()


def test_the_first_request_after_the_database_drops_its_connections_succeeds(app, client):
    needs_postgresql()
    create_topics("lps")
    path = f"/updates/{create_news('Budgets for 2027', ['lps']).id}"
    db.session.close()  # no transaction of the test's own is left open on a dropped connection
    assert client.get(path).status_code == 200  # the app's pool now holds a connection
    with db.engine.connect() as connection:
        assert terminate_connections(connection, db.engine.url.database) >= 1
    response = client.get(path)
    assert response.status_code == 200
    assert "Budgets for 2027" in response.text


@pytest.mark.slow  # a redis-server and a `python worker.py` process
def test_a_worker_waiting_for_redis_still_stops_on_sigterm(
    app, client, app_config, mail_server, redis_server, tmp_path
):
    create_topics("lps")
    log = tmp_path / "worker.log"
    worker = start_worker(app_config, log=log)
    try:
        [address] = sign_up_many(client, "ready", 1)
        wait_until(lambda: received_counts(mail_server)[address])  # the worker is at work
        crash(redis_server)
        wait_until(lambda: outage_lines(log, "Redis"), 30)
        assert worker.poll() is None  # waiting, not gone
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0
    finally:
        stop(worker)
    assert "Traceback" not in log.read_text()
