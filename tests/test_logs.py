"""Structured logs: JSON lines with ids that follow the work, and no address or token in them."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from flask import current_app
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue

from tests.conftest import DrainingWorker
from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import only_link, path_of, sign_up, submit_only_form
from updates import ROOT, logs
from updates.models import Batch, OutboundEmail
from updates.news import digests
from updates.queues import ALL_QUEUES
from updates.worker import Job
from updates.worker.periodic import PERIODIC_JOBS, tick


class Lines:
    """What the production handler wrote, one parsed JSON object a line."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def raw(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    @property
    def all(self) -> list[dict]:
        return [json.loads(line) for line in self.raw]

    def saying(self, text: str) -> list[dict]:
        return [line for line in self.all if text in line["message"]]


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """The root logger as production sets it up: JSON lines at INFO, into a buffer."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    logs.configure("json", "INFO", stream, quiet_jobs=[job.func for job in PERIODIC_JOBS])
    yield Lines(stream)
    for handler in [h for h in root.handlers if getattr(h, "updates_handler", False)]:
        root.removeHandler(handler)
    root.setLevel(level)


def work(redis_url: str) -> None:
    """A real RQ worker that logs at INFO, as `python worker.py` does."""
    connection = Redis.from_url(redis_url)
    queues = [Queue(name, connection=connection) for name in ALL_QUEUES]
    with current_app.app_context():  # a context of its own, as in a worker process
        DrainingWorker(queues, connection=connection, job_class=Job).work(
            burst=True, logging_level="INFO"
        )


def test_a_sign_ups_request_id_follows_it_into_the_job_that_sends_its_email(
    client: FlaskClient, topics, redis_url: str, log_lines: Lines, mail_server
):
    response = sign_up(client, "visitor@example.org", ["events"])
    request_id = response.headers["X-Request-ID"]
    assert len(request_id) == 32
    work(redis_url)

    email_id = OutboundEmail.query.one().id
    (sent,) = log_lines.saying(f"email {email_id} sent")
    assert sent["request_id"] == request_id
    assert sent["job_id"] == f"outbound-email-{email_id}"
    assert sent["level"] == "INFO" and sent["logger"] == "updates.worker.outbound"
    # Job names are not mistaken for tokens and stay readable.
    assert log_lines.saying("updates.worker.outbound.hand_off_owed_emails")


def test_a_request_id_from_the_proxy_is_kept_and_a_strange_one_replaced(client: FlaskClient):
    given = "proxy-0123456789abcdef"
    assert client.get("/healthz", headers={"X-Request-ID": given}).headers["X-Request-ID"] == given
    strange = client.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["X-Request-ID"]
    assert strange != "<script>" and len(strange) == 32


def test_every_delivery_line_carries_its_digest_and_batch(
    app, redis_url: str, log_lines: Lines, mail_server
):
    create_topics("lps")
    for n in range(3):
        create_subscriber(f"reader{n}@example.org", ["lps"])
    digest = create_test_digest([create_news("Budgets", ["lps"])], ["lps"])
    digests.send(digest)
    logging.getLogger("updates.worker.delivery").setLevel(logging.DEBUG)
    try:
        work(redis_url)
    finally:
        logging.getLogger("updates.worker.delivery").setLevel(logging.NOTSET)

    (batch,) = Batch.query.all()
    deliveries = log_lines.saying("delivery ")
    assert len(deliveries) == 3
    (summary,) = log_lines.saying(": 3 sent, 0 failed, 0 deferred")
    for line in [*deliveries, summary]:
        assert line["digest_id"] == digest.id
        assert line["batch_id"] == batch.id
    assert all(line["level"] == "DEBUG" for line in deliveries)


def test_no_line_holds_an_address_or_a_token(
    client: FlaskClient, topics, redis_url: str, log_lines: Lines, mail_server
):
    sign_up(client, "visitor@example.org", ["events"])
    work(redis_url)
    confirm_link = only_link(mail_server.messages_to("visitor@example.org")[-1])
    submit_only_form(client, path_of(confirm_link))
    client.get(path_of(confirm_link))  # a token in a request's path, logged by the server
    logging.getLogger("updates").warning("relay said 550 <visitor@example.org>: %s", confirm_link)
    work(redis_url)

    text = "\n".join(log_lines.raw)
    assert log_lines.all, "the test saw no lines at all"
    assert "visitor@example.org" not in text
    token = path_of(confirm_link).rsplit("/", 1)[1]
    assert token not in text
    assert logs.ADDRESS in text  # the warning's address, replaced


def test_periodic_jobs_chatter_at_debug_only(redis_url: str, app, log_lines: Lines):
    tick(Redis.from_url(redis_url))
    work(redis_url)
    rq_lines = [line for line in log_lines.all if line["logger"] == "rq.worker"]
    assert rq_lines, "the worker said nothing at all"
    periodic = ("periodic-", *(job.func for job in PERIODIC_JOBS))
    assert not [line for line in rq_lines if any(name in line["message"] for name in periodic)]


def test_text_lines_in_development_carry_the_ids_too():
    stream = io.StringIO()
    handler = logs.make_handler(stream, "text")
    log = logging.getLogger("tests.text")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        with logs.bound(request_id="abc123", digest_id=7):
            log.info("digest %s for someone@example.org", 7)
    finally:
        log.removeHandler(handler)
    line = stream.getvalue().strip()
    assert line.endswith("digest 7 for [address] [request_id=abc123 digest_id=7]")


def test_in_production_the_app_writes_each_line_once_as_json(tmp_path):
    """As gunicorn runs it: Flask's own handler is gone, the root's writes the line."""
    script = (
        "from updates import create_app\n"
        "create_app().logger.error('could not mail someone@example.org')\n"
    )
    env = {
        **os.environ,
        "UPDATES_ENV": "production",  # JSON lines by default
        "SECRET_KEY": "a-key-for-this-test",
        "REDIS_URL": "redis://127.0.0.1:1/0",  # never reached
        "DATABASE_URL": f"sqlite:///{tmp_path / 'updates.db'}",
    }
    ran = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    (line,) = ran.stderr.splitlines()
    parsed = json.loads(line)
    assert (parsed["level"], parsed["logger"]) == ("ERROR", "updates")
    assert parsed["message"] == "could not mail [address]"
