"""The bounce mailbox: read BOUNCE_IMAP_URL's folder over IMAP, hand each message to the bounce
reader, and move it to the processed folder.

One run at a time across all workers (a Redis lock). A run reads what is waiting and then, where
the server offers IDLE, waits up to BOUNCE_IMAP_IDLE_SECONDS for more, reading each arrival at
once; the periodic ticker starts the next run a few seconds after it ends. Every message read
is moved, a bounce or not, an email or not, so the folder holds only what is still to read; one
whose reading failed for another reason (the database away) stays for the next run. The log
says how many messages were read, never what they hold.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from contextlib import suppress

from flask import current_app
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from redis.exceptions import LockError

from updates.queues import redis_connection
from updates.subscribers import bounces
from updates.worker import job

log = logging.getLogger(__name__)

LOCK = "updates:bounce-mailbox"
TIMEOUT = 30  # seconds for any one IMAP round trip
CHUNK = 50  # messages fetched at a time
MAX_MESSAGE_BYTES = 1024 * 1024  # larger is no bounce of ours: moved unread


@job
def poll_bounce_mailbox() -> int:
    """Read the bounce mailbox, if one is configured and no other worker is reading it."""
    settings = current_app.config.get("BOUNCE_IMAP")
    if not settings:
        return 0
    idle = max(current_app.config["BOUNCE_IMAP_IDLE_SECONDS"], 0)
    lock = redis_connection().lock(LOCK, timeout=4 * TIMEOUT, blocking=False)  # renewed as it runs
    if not lock.acquire():
        return 0
    try:
        with connect(settings) as client:
            read = drain(client, settings["folder"], settings["processed"], idle, lock.reacquire)
    except (IMAPClientError, OSError, LockError) as error:  # the next run tries again
        log.warning("could not read the bounce mailbox: %s", error)
        return 0
    finally:
        with suppress(LockError):  # it lapsed while we idled; another run may hold it now
            lock.release()
    log.info("read %s messages from the bounce mailbox", read)
    return read


def connect(settings: dict) -> IMAPClient:
    """A signed-in connection: TLS from the start (imaps), after STARTTLS (imap), or plain."""
    context = ssl.create_default_context(cafile=current_app.config["BOUNCE_IMAP_CA_FILE"] or None)
    client = IMAPClient(
        settings["host"],
        port=settings["port"],
        ssl=settings["tls"] == "ssl",
        ssl_context=context,
        timeout=TIMEOUT,
    )
    if settings["tls"] == "starttls":
        client.starttls(context)
    client.login(settings["username"], settings["password"])
    return client


def drain(
    client: IMAPClient,
    folder: str,
    processed: str,
    idle_seconds: float,
    keep_lock: Callable[[], object] = lambda: None,
) -> int:
    """Read what the folder holds, then what arrives while idling; how many messages were read.
    `keep_lock` renews the run's lock, called often enough that it never lapses mid-run."""
    if not client.folder_exists(processed):
        client.create_folder(processed)
    client.select_folder(folder)
    read = read_waiting(client, processed, keep_lock)
    if idle_seconds <= 0 or not client.has_capability("IDLE"):
        return read
    deadline = time.monotonic() + idle_seconds
    while (left := deadline - time.monotonic()) > 0:
        client.idle()
        try:
            news = client.idle_check(timeout=min(left, TIMEOUT))
        finally:
            client.idle_done()
        keep_lock()
        if news:
            read += read_waiting(client, processed, keep_lock)
    return read


def read_waiting(
    client: IMAPClient, processed: str, keep_lock: Callable[[], object] = lambda: None
) -> int:
    """Read every message in the selected folder, a chunk at a time, moving each one read."""
    uids = client.search(["NOT", "DELETED"])
    read = 0
    for start in range(0, len(uids), CHUNK):
        keep_lock()
        chunk = uids[start : start + CHUNK]
        sizes = client.fetch(chunk, ["RFC822.SIZE"])
        small = [
            uid for uid in chunk if sizes.get(uid, {}).get(b"RFC822.SIZE", 0) <= MAX_MESSAGE_BYTES
        ]
        done = [uid for uid in chunk if uid not in small]
        for uid, data in client.fetch(small, ["BODY.PEEK[]"]).items() if small else ():
            if _read_one(data.get(b"BODY[]", b"")):
                done.append(uid)
        move(client, done, processed)
        read += len(done)
    return read


def _read_one(raw: bytes) -> bool:
    """Hand one message to the bounce reader; False to leave it for the next run."""
    try:
        bounces.process(raw)
    except bounces.NotAnEmail:
        log.info("a message in the bounce mailbox is not an email; moved unread")
    except Exception:  # one message must not stop the others; it stays and is tried again
        log.warning(
            "could not read a message in the bounce mailbox; left for the next run", exc_info=True
        )
        return False
    return True


def move(client: IMAPClient, uids: list[int], folder: str) -> None:
    """MOVE where the server offers it, else COPY, flag \\Deleted and expunge those messages."""
    if not uids:
        return
    if client.has_capability("MOVE"):
        client.move(uids, folder)
        return
    client.copy(uids, folder)
    client.delete_messages(uids)
    if client.has_capability("UIDPLUS"):
        client.uid_expunge(uids)
    else:
        client.expunge()
