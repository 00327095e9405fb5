"""Fixtures on real services: SQLite or PostgreSQL, Redis, an SMTP server, an RQ worker.

The database is SQLite unless TEST_DATABASE_URL names a PostgreSQL server; Redis is a private
redis-server unless TEST_REDIS_URL names one. Each xdist worker gets its own database.
"""

from __future__ import annotations

import os

os.environ["UPDATES_ENV"] = "test"

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import pytest
from flask import Flask, current_app
from flask.testing import FlaskClient
from flask_migrate import upgrade
from redis import Redis
from rq import Queue, SimpleWorker
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.helpers import BASE_URL
from tests.mailserver import MailServer
from updates import create_app
from updates.config import database_url as normalise_database_url
from updates.dev.embedded_redis import EmbeddedRedis
from updates.extensions import db
from updates.news.topics import add_topic
from updates.queues import ALL_QUEUES
from updates.worker import Job


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        yield given
        return
    with EmbeddedRedis() as url:
        yield url


@pytest.fixture(scope="session")
def mail_server() -> Iterator[MailServer]:
    server = MailServer()
    server.start()
    yield server
    server.stop()


@contextmanager
def _postgres_database(base_url: str, name: str) -> Iterator[str]:
    """An empty database beside the given one, dropped afterwards."""
    url = make_url(normalise_database_url({"DATABASE_URL": base_url}, None))  # type: ignore[arg-type]
    admin = create_engine(url, isolation_level="AUTOCOMMIT")

    def run(statement: str) -> None:
        with admin.connect() as connection:
            connection.execute(text(statement))

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of this test process's own, migrated from empty by the project's migrations."""
    with ExitStack() as stack:
        base = os.environ.get("TEST_DATABASE_URL")
        if base:
            url = stack.enter_context(_postgres_database(base, f"updates_test_{os.getpid()}"))
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'updates.db'}"
        app = create_app({"SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade()
            db.engine.dispose()
        yield url


@pytest.fixture
def app_config(database_url: str, redis_url: str, mail_server: MailServer) -> dict[str, object]:
    """Settings for the app under test; a test may change them before `app` is built."""
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url,
        "SMTP_HOST": mail_server.host,
        "SMTP_PORT": mail_server.port,
        "SMTP_TIMEOUT": 5.0,
        "BASE_URL": BASE_URL,
        "MAIL_FROM": "Example Updates <updates@example.org>",
        "ORG_NAME": "Example Trade Body",
        "ORG_ADDRESS": "10 Test Street, London, EC1A 1AA",
        "SWEEP_GRACE_SECONDS": 0,
    }


@pytest.fixture
def app(app_config: dict[str, object], redis_url: str, mail_server: MailServer) -> Iterator[Flask]:
    """The app the test client talks to.

    The test body itself runs in the context of a twin app built from the same settings, so
    requests get their own app context, `g` and database session, as they would in a server,
    and the test reads the database from outside like any other process.
    """
    served = create_app(app_config)
    observer = create_app(app_config)
    Redis.from_url(redis_url).flushdb()
    mail_server.reset()
    with observer.app_context():
        yield served
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
        db.engine.dispose()
    with served.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class DrainingWorker(SimpleWorker):
    """A real RQ worker, minus the pub/sub listener for remote commands, whose thread takes a
    second to join on every stop; the tests send it no commands."""

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


@pytest.fixture
def run_jobs(app: Flask, redis_url: str) -> Callable[[], None]:
    """Drain every queue with a real RQ worker, in this process."""

    def run() -> None:
        connection = Redis.from_url(redis_url)
        queues = [Queue(name, connection=connection) for name in ALL_QUEUES]
        # A context of its own, as in a worker process: jobs never share the test's session.
        with current_app.app_context():
            worker = DrainingWorker(queues, connection=connection, job_class=Job)
            worker.work(burst=True, logging_level="WARNING")
        db.session.expire_all()

    return run


@pytest.fixture
def topics(app: Flask) -> None:
    """Three public topics, in this order on the forms, and one hidden from the public."""
    add_topic("local-public-services", "Local Public Services", "Councils and suppliers.")
    add_topic("social-care", "Social Care Working Group")
    add_topic("events", "Events and Summits")
    add_topic("board-only", "Board papers", public=False)
