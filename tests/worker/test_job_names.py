"""Job names: one registry, each name resolves to a job, and names from before still run."""

from __future__ import annotations

import ast
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.utils import import_attribute
from sqlalchemy import select

from tests.workers import start_worker, stop
from updates import ROOT, queues
from updates.addresses import address_key
from updates.config import bounce_settings
from updates.extensions import db
from updates.models import Subscriber, SubscriberStatus, utcnow
from updates.worker.periodic import PERIODIC_JOBS, configured

DOTTED_NAME = re.compile(r"^updates(\.\w+){2,}$")


def test_every_registered_job_resolves_to_a_job_function():
    assert queues.ALL_JOBS
    for name in queues.ALL_JOBS:
        function = import_attribute(name)
        assert callable(function), name
        assert function.__wrapped__, name  # through @job: a fresh session, none left behind


def test_every_periodic_job_and_every_old_name_points_at_a_registered_job():
    assert {periodic.func for periodic in PERIODIC_JOBS} <= set(queues.ALL_JOBS)
    assert set(queues.RENAMED_JOBS.values()) <= set(queues.ALL_JOBS)
    for old in queues.RENAMED_JOBS:
        with pytest.raises((ImportError, AttributeError, ValueError)):
            import_attribute(old)  # gone: only the alias keeps such a job running


def test_job_names_are_written_only_in_the_registry():
    written = {}
    for path in Path(ROOT, "updates").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and DOTTED_NAME.match(str(node.value)):
                written.setdefault(path.relative_to(ROOT).as_posix(), []).append(node.value)
    assert set(written) == {"updates/queues.py"}, written


@pytest.mark.slow  # starts a real `python worker.py` process
def test_a_job_queued_under_its_old_name_still_runs_in_the_worker(app, app_config, redis_url):
    stale = utcnow() - timedelta(days=60)
    db.session.add(
        Subscriber(
            email="never@example.org",
            email_key=address_key("never@example.org"),
            status=SubscriberStatus.PENDING,
            created_at=stale,
            updated_at=stale,
        )
    )
    db.session.commit()
    connection = Redis.from_url(redis_url)
    # The worker's own periodic purge must not be what purges: its period is taken already.
    connection.set("updates:periodic:purge-unconfirmed", 1, ex=3600)
    old = Queue(queues.DEFAULT, connection=connection).enqueue("updates.jobs.purge_unconfirmed")
    worker = start_worker(app_config)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and remaining():
            time.sleep(0.2)
    finally:
        stop(worker)
    assert remaining() == []
    assert old.get_status() == "finished"


def remaining() -> list[str]:
    db.session.remove()
    return list(db.session.scalars(select(Subscriber.email)))


def test_the_bounce_mailbox_is_polled_only_where_one_is_configured():
    unset = {job.name for job in configured(bounce_settings({}))}
    assert "poll-bounce-mailbox" not in unset
    assert unset == {job.name for job in PERIODIC_JOBS} - {"poll-bounce-mailbox"}
    mailbox = bounce_settings({"BOUNCE_IMAP_URL": "imaps://bounces:secret@mail.example.org/INBOX"})
    assert {job.name for job in configured(mailbox)} == {job.name for job in PERIODIC_JOBS}
