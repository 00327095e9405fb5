"""`python worker.py`: every queue, periodic work, a clean stop on SIGTERM."""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flask import current_app
from redis import Redis
from rq import Queue

from tests.helpers import links_in, sign_up
from tests.workers import descendants
from updates import ROOT, queues
from updates.news.topics import add_topic
from updates.worker.periodic import PERIODIC_JOBS, tick


def queue_names_used_in_code() -> set[str]:
    """Every queues.<NAME> constant that the package passes anywhere."""
    used = set()
    for path in Path(ROOT, "updates").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "queues"
                and node.attr.isupper()
                and node.attr not in {"ALL_QUEUES", "MAIL_RETRY"}
            ):
                used.add(getattr(queues, node.attr))
    return used


def test_the_worker_listens_to_every_queue_the_code_uses():
    used = queue_names_used_in_code() | {job.queue for job in PERIODIC_JOBS}
    assert used
    assert used <= set(queues.ALL_QUEUES)


def test_each_periodic_job_is_enqueued_once_per_period_across_workers(app, redis_url):
    connection = Redis.from_url(redis_url)
    assert tick(connection) == [job.name for job in PERIODIC_JOBS]
    assert tick(connection) == []  # a second worker in the same period
    for job in PERIODIC_JOBS:
        assert Queue(job.queue, connection=connection).count >= 1


@pytest.mark.slow  # starts a real `python worker.py` process
def test_a_worker_process_sends_the_confirmation_and_stops_on_sigterm(
    app, client, app_config, mail_server, tmp_path
):
    add_topic("events", "Events and Summits")
    env = {
        **os.environ,
        "UPDATES_ENV": "test",
        "DATABASE_URL": str(app_config["SQLALCHEMY_DATABASE_URI"]),
        "REDIS_URL": str(app_config["REDIS_URL"]),
        "SMTP_HOST": mail_server.host,
        "SMTP_PORT": str(mail_server.port),
        "BASE_URL": str(app_config["BASE_URL"]),
    }
    log = (tmp_path / "worker.log").open("wb")  # a file: a pipe nobody reads can fill and block
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "worker.py")],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert sign_up(client, "worker@example.org", ["events"]).status_code == 200
        deadline = time.monotonic() + 30
        while not mail_server.messages_to("worker@example.org") and time.monotonic() < deadline:
            time.sleep(0.1)
        [message] = mail_server.messages_to("worker@example.org")
        assert any("/confirm/" in link for link in links_in(message))
    finally:
        children = descendants(worker.pid)  # its scheduler and periodic ticker
        worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(timeout=30)
        finally:
            worker.kill()
            log.close()
    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "a process was left"


forks_seen: list[int] = []
watching_forks = False


def _note_fork() -> None:
    if watching_forks:
        forks_seen.append(os.getpid())


os.register_at_fork(before=_note_fork)


def test_mail_jobs_run_in_the_worker_process_itself(app, client, redis_url, mail_server):
    global watching_forks
    import worker

    class QuietWorker(worker.Worker):  # no pub/sub thread to wait for at the end of the burst
        def subscribe(self) -> None:
            pass

        def unsubscribe(self) -> None:
            pass

    add_topic("events", "Events and Summits")
    for n in range(3):
        assert sign_up(client, f"inproc{n}@example.org", ["events"]).status_code == 200
    connection = Redis.from_url(redis_url)
    mail = Queue(queues.MAIL, connection=connection)
    assert mail.count == 1  # one job hands the three emails on
    watching_forks = True
    try:
        with current_app.app_context():
            QuietWorker([mail], connection=connection).work(burst=True, logging_level="WARNING")
    finally:
        watching_forks = False
    assert forks_seen == []
    assert mail.count == 0
    assert all(mail_server.messages_to(f"inproc{n}@example.org") for n in range(3))
