"""A digest sent through a real Postfix, the relay most operators run, with its pipelining.

Postfix comes from Debian's package and runs from a private configuration: smtpd on a loopback
port, every accepted message discarded, and an access map that defers one recipient (450, as
postgrey does) and rejects another as unknown (550 5.1.1). It must run as root. Without Postfix
the test is skipped, unless UPDATES_REQUIRE_POSTFIX=1 (as in CI), when it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import create_news, create_subscriber, create_test_digest, create_topics
from tests.helpers import digest_status, missing_part
from updates.dev.embedded_redis import free_port
from updates.extensions import db
from updates.models import Delivery, Subscriber, utcnow
from updates.news import digests
from updates.worker import delivery

POSTFIX = Path("/usr/sbin/postfix")
DEBIAN_CONFIG = Path("/etc/postfix")

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {folder}/queue
data_directory = {folder}/data
meta_directory = {folder}/etc
maillog_file_prefixes = {folder}
maillog_file = {folder}/maillog
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
default_transport = discard
relay_transport = discard
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
    check_recipient_access texthash:{folder}/etc/recipients, permit_mynetworks, reject
"""

# No service is chrooted (the fifth column), so none needs a copy of the system in the queue.
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

RECIPIENTS = """\
grey@example.org    450 4.2.0 Greylisted, see http://postgrey.schweikert.ch/
nobody@example.org  550 5.1.1 User unknown
"""


@dataclass
class Postfix:
    host: str
    port: int
    folder: Path

    @property
    def log(self) -> str:
        path = self.folder / "maillog"
        return path.read_text() if path.exists() else ""

    def command(self, action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(POSTFIX), "-c", str(self.folder / "etc"), action],
            capture_output=True,
            text=True,
            timeout=60,
        )


def missing() -> str | None:
    """Why Postfix cannot run here, or None."""
    if not POSTFIX.exists() or not (DEBIAN_CONFIG / "postfix-files").exists():
        return "Postfix is not installed (apt-get install postfix)"
    if os.geteuid() != 0:
        return "Postfix starts only as root"
    return None


def configure(folder: Path, port: int) -> None:
    """A private configuration and queue in `folder`, readable by the postfix user."""
    etc = folder / "etc"
    etc.mkdir()
    shutil.copy(DEBIAN_CONFIG / "postfix-files", etc)
    for optional in ("postfix-files.d", "dynamicmaps.cf", "dynamicmaps.cf.d"):
        source = DEBIAN_CONFIG / optional
        if source.is_dir():
            shutil.copytree(source, etc / optional)
        elif source.exists():
            shutil.copy(source, etc)
    (etc / "main.cf").write_text(MAIN_CF.format(folder=folder))
    (etc / "master.cf").write_text(MASTER_CF.format(port=port))
    (etc / "recipients").write_text(RECIPIENTS)
    (folder / "queue").mkdir()
    (folder / "data").mkdir()
    shutil.chown(folder / "data", user="postfix")


def wait_for_port(host: str, port: int, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"Postfix did not listen on {host}:{port}"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def postfix() -> Iterator[Postfix]:
    reason = missing()
    if reason:
        missing_part(reason, "UPDATES_REQUIRE_POSTFIX")
    folder = Path(tempfile.mkdtemp(prefix="updates-postfix-"))
    folder.chmod(0o755)  # the postfix user reaches its queue through it
    server = Postfix("127.0.0.1", free_port(), folder)
    configure(folder, server.port)
    try:
        started = server.command("start")
        assert started.returncode == 0, started.stdout + started.stderr + server.log
        wait_for_port(server.host, server.port)
        yield server
    finally:
        server.command("stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def app_config(app_config, postfix):
    return {**app_config, "SMTP_HOST": postfix.host, "SMTP_PORT": postfix.port}


def wait_for_log(postfix: Postfix, text: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while text not in postfix.log:
        assert time.monotonic() < deadline, f"not in Postfix's log: {text}"
        time.sleep(0.1)


def test_a_digest_through_postfix_sends_defers_and_fails_each_as_postfix_answers(
    app, postfix, run_jobs
):
    create_topics("lps")
    for address in ("ada@example.org", "grey@example.org", "nobody@example.org"):
        create_subscriber(address, ["lps"])
    create_subscriber("zoe@example.org", ["lps"])
    digest = create_test_digest([create_news("Budgets", ["lps"])], ["lps"])
    digests.send(digest)
    run_jobs()

    rows = {
        email: delivery
        for email, delivery in db.session.execute(
            select(Subscriber.email, Delivery).join(
                Delivery, Delivery.subscriber_id == Subscriber.id
            )
        )
    }
    assert {email: row.status for email, row in rows.items()} == {
        "ada@example.org": "sent",
        "grey@example.org": "pending",
        "nobody@example.org": "failed",
        "zoe@example.org": "sent",
    }
    grey = rows["grey@example.org"]
    assert grey.attempts == 1
    assert 13 < (grey.retry_at - utcnow()).total_seconds() <= 15
    assert grey.last_error.startswith("450 4.2.0 <grey@example.org>: Recipient address rejected")
    assert rows["nobody@example.org"].last_error.startswith("550 5.1.1")
    statuses = dict(db.session.execute(select(Subscriber.email, Subscriber.status)).all())
    assert statuses["nobody@example.org"] == "bounced"  # an unknown mailbox is suppressed
    assert digest_status(digest.id) == "sending"

    # Postfix took the two, delivered them (to its discard transport), and found nothing
    # wrong with how the client pipelined its commands.
    for address in ("ada@example.org", "zoe@example.org"):
        wait_for_log(postfix, f"to=<{address}>, relay=none")
    assert "improper command pipelining" not in postfix.log
    assert "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 450 4.2.0 <grey@" in postfix.log

    # Fifteen seconds on (the clock driven), the batch tries the deferred one alone, and
    # Postfix defers it again: the next try is a minute away.
    grey.retry_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    delivery.enqueue_batches(digest.id)  # what RQ's scheduler does at that time
    run_jobs()
    db.session.refresh(grey)
    assert (grey.status, grey.attempts) == ("pending", 2)
    assert 58 < (grey.retry_at - utcnow()).total_seconds() <= 60
    assert postfix.log.count("450 4.2.0 <grey@example.org>") == 2
    assert postfix.log.count("to=<ada@example.org>, relay=none") == 1
