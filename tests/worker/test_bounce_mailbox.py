"""The bounce mailbox job, against a real Dovecot: bounces read, suppressed, moved away.

Without dovecot installed these tests are skipped, unless UPDATES_REQUIRE_DOVECOT=1 (as in CI).
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
from flask import current_app
from imapclient import IMAPClient

from tests.helpers import missing_part
from tests.imapserver import PASSWORD, Dovecot, available
from tests.subscribers.bounce_samples import (
    deliver_digest,
    postfix_delayed_notice,
    postfix_hard_bounce,
    status_of,
    suppressions,
)
from tests.workers import start_worker, stop
from updates.config import bounce_mailbox
from updates.queues import Jobs, queue, redis_connection
from updates.subscribers.soft_bounces import soft_bounce_count
from updates.worker.bounce_mailbox import LOCK, poll_bounce_mailbox

NOT_A_BOUNCE = b"From: someone@example.com\r\nSubject: Hello\r\n\r\nJust saying hello.\r\n"
NOT_AN_EMAIL = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def _start(capability: str = ""):
    if not available():
        reason = "dovecot is not installed (apt-get install dovecot-imapd)"
        missing_part(reason, "UPDATES_REQUIRE_DOVECOT")
    server = Dovecot(capability)
    try:
        server.start()
    except Exception:
        server.stop()  # leave no process or folder behind
        raise
    return server


@pytest.fixture(scope="module")
def dovecot():
    server = _start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(dovecot):
    return dovecot.mailbox()


@pytest.fixture
def app_config(app_config, mailbox):
    app_config.update(BOUNCE_IMAP=mailbox, BOUNCE_IMAP_IDLE_SECONDS=0)
    return app_config


@pytest.fixture
def sent(app, run_jobs, mail_server):
    return deliver_digest(run_jobs, mail_server)


def imap(settings) -> IMAPClient:
    client = IMAPClient(settings["host"], port=settings["port"], ssl=False, timeout=10)
    client.login(settings["username"], settings["password"])
    return client


def deliver_to_mailbox(settings, *messages: bytes) -> None:
    with imap(settings) as client:
        for message in messages:
            client.append(settings["folder"], message)


def count_in(settings, folder: str) -> int:
    with imap(settings) as client:
        if not client.folder_exists(folder):
            return 0
        return client.select_folder(folder, readonly=True)[b"EXISTS"]


def as_received(returned: str) -> bytes:
    return returned.replace("\n", "\r\n").encode()


def test_a_bounce_in_the_mailbox_suppresses_its_subscriber_and_every_message_is_moved(
    sent, mailbox, run_jobs, mail_server
):
    bounce = as_received(postfix_hard_bounce(sent.returned))
    deliver_to_mailbox(mailbox, bounce, NOT_A_BOUNCE, NOT_AN_EMAIL)
    assert count_in(mailbox, "INBOX") == 3

    queue("default").enqueue(Jobs.POLL_BOUNCE_MAILBOX)
    run_jobs()

    assert suppressions() == [("nobody@example.net", "bounce")]
    assert status_of("nobody@example.net") == "bounced"
    assert status_of("ok@example.net") == "active"
    assert count_in(mailbox, "INBOX") == 0
    assert count_in(mailbox, "Processed") == 3


def test_a_soft_bounce_in_the_mailbox_counts_once_and_no_address_is_logged(sent, mailbox, caplog):
    deliver_to_mailbox(mailbox, as_received(postfix_delayed_notice(sent.returned)))

    with caplog.at_level(logging.INFO):
        assert poll_bounce_mailbox() == 1
        assert poll_bounce_mailbox() == 0  # moved: never read twice

    assert "read 1 messages from the bounce mailbox" in caplog.text
    assert "@example" not in caplog.text

    assert soft_bounce_count(sent.nobody) == 1
    assert status_of("nobody@example.net") == "active"


def test_an_empty_mailbox_gets_its_processed_folder_and_nothing_changes(app, mailbox):
    assert poll_bounce_mailbox() == 0
    assert count_in(mailbox, "Processed") == 0
    with imap(mailbox) as client:
        assert client.folder_exists("Processed")


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_the_mailbox_is_read_over_tls(sent, app, dovecot, tls):
    settings = dovecot.mailbox(tls)
    current_app.config.update(BOUNCE_IMAP=settings, BOUNCE_IMAP_CA_FILE=dovecot.ca_file)
    plain = {**settings, "port": dovecot.imap_port}
    deliver_to_mailbox(plain, as_received(postfix_hard_bounce(sent.returned)))

    assert poll_bounce_mailbox() == 1
    assert status_of("nobody@example.net") == "bounced"


def test_a_server_whose_certificate_is_not_trusted_is_refused(sent, app, dovecot):
    settings = dovecot.mailbox("ssl")
    current_app.config.update(BOUNCE_IMAP=settings)  # the system's CAs know no such certificate
    plain = {**settings, "port": dovecot.imap_port}
    deliver_to_mailbox(plain, as_received(postfix_hard_bounce(sent.returned)))

    assert poll_bounce_mailbox() == 0
    assert status_of("nobody@example.net") == "active"
    assert count_in(plain, "INBOX") == 1


def test_while_idling_a_bounce_that_arrives_is_read_at_once(sent, mailbox):
    current_app.config.update(BOUNCE_IMAP_IDLE_SECONDS=4)
    bounce = as_received(postfix_hard_bounce(sent.returned))
    arrival = threading.Timer(1.0, deliver_to_mailbox, (mailbox, bounce))
    arrival.start()
    started = time.monotonic()

    assert poll_bounce_mailbox() == 1

    arrival.join()
    assert 3.5 < time.monotonic() - started < 10
    assert status_of("nobody@example.net") == "bounced"
    assert count_in(mailbox, "Processed") == 1


def test_one_run_at_a_time_another_worker_leaves_the_mailbox_alone(sent, mailbox, app):
    deliver_to_mailbox(mailbox, as_received(postfix_hard_bounce(sent.returned)))
    lock = redis_connection().lock(LOCK, timeout=30)
    assert lock.acquire(blocking=False)

    assert poll_bounce_mailbox() == 0
    assert count_in(mailbox, "INBOX") == 1

    lock.release()
    assert poll_bounce_mailbox() == 1


def test_a_server_without_move_gets_copy_delete_and_expunge(sent, app):
    server = _start(capability="IMAP4rev1 LITERAL+ SASL-IR IDLE UIDPLUS")
    try:
        settings = server.mailbox()
        current_app.config.update(BOUNCE_IMAP=settings)
        deliver_to_mailbox(settings, as_received(postfix_hard_bounce(sent.returned)), NOT_A_BOUNCE)
        with imap(settings) as client:
            assert not client.has_capability("MOVE")

        assert poll_bounce_mailbox() == 2

        assert count_in(settings, "INBOX") == 0
        assert count_in(settings, "Processed") == 2
        assert status_of("nobody@example.net") == "bounced"
    finally:
        server.stop()


def test_without_a_mailbox_configured_the_job_does_nothing(app):
    current_app.config.update(BOUNCE_IMAP=None)
    assert poll_bounce_mailbox() == 0


def test_bounce_imap_url_names_the_mailbox_the_job_reads(sent, dovecot):
    user = dovecot.mailbox()["username"]
    url = f"imap://{user}:{PASSWORD}@127.0.0.1:{dovecot.imap_port}/INBOX?tls=none&processed=Done"
    settings = bounce_mailbox(url)
    current_app.config.update(BOUNCE_IMAP=settings)
    deliver_to_mailbox(settings, as_received(postfix_hard_bounce(sent.returned)))

    assert poll_bounce_mailbox() == 1

    assert count_in(settings, "Done") == 1
    assert status_of("nobody@example.net") == "bounced"


@pytest.mark.slow  # starts a real `python worker.py` process
def test_a_worker_process_reads_the_mailbox_on_its_own(sent, dovecot, app_config, tmp_path):
    user = dovecot.mailbox()["username"]
    url = f"imap://{user}:{PASSWORD}@127.0.0.1:{dovecot.imap_port}/INBOX?tls=none"
    deliver_to_mailbox(bounce_mailbox(url), as_received(postfix_hard_bounce(sent.returned)))
    log = tmp_path / "worker.log"
    worker = start_worker(app_config, log, BOUNCE_IMAP_URL=url, BOUNCE_IMAP_IDLE_SECONDS="1")
    try:
        deadline = time.monotonic() + 30
        while status_of("nobody@example.net") != "bounced" and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop(worker)
    assert status_of("nobody@example.net") == "bounced", log.read_text()[-3000:]
    assert count_in(bounce_mailbox(url), "Processed") == 1
