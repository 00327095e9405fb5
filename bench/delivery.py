"""Delivery benchmark: one digest to N subscribers with W workers, against a plain-smtplib limit.

    .venv/bin/python bench/delivery.py --recipients 100000 --workers 2
    .venv/bin/python bench/delivery.py --recipients 100000 --topics 10 --already-sent
    .venv/bin/python bench/delivery.py --recipients 100000 --topics 10 --paired
    .venv/bin/python bench/delivery.py --audience-only 1000000

With --already-sent, a third of the readers were sent some of the digest's updates before, in
one announcement per topic (its first update) to that topic's followers, so their copies leave
those out and each batch reads who has what from the ledger: the at-most-once cost.

It builds its own PostgreSQL database (updates_bench_delivery_PID on postgres@127.0.0.1:5432,
dropped at the end) and uses Redis database 14 on 127.0.0.1:6379, or BENCH_REDIS_URL. Mail goes
to Postfix's smtp-sink (a C sink, fast enough not to be the bottleneck), taken from Debian's
postfix package with `apt-get download` and unpacked under bench/.cache; without it, aiosmtpd
(bench/smtp_sink.py) stands in. It prints messages per second, each worker's peak RSS and the
time to build the audience, then the limit measured in the same run: the same number of plain
smtplib clients sending as many pre-built messages of the same size over one connection each.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from multiprocessing import Process, Queue
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB_NAME = f"updates_bench_delivery_{os.getpid()}"  # runs beside each other never collide
DB_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the sink -------------------------------------------------------------------------------


def smtp_sink_binary() -> Path | None:
    """Postfix's smtp-sink, unpacked from Debian's package into bench/.cache on first use."""
    binary = CACHE / "postfix" / "usr" / "sbin" / "smtp-sink"
    if binary.exists():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["apt-get", "download", "postfix"], cwd=CACHE, check=True, capture_output=True
        )
        package = next(CACHE.glob("postfix_*.deb"))
        subprocess.run(["dpkg", "-x", str(package), str(CACHE / "postfix")], check=True)
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return None
    return binary if binary.exists() else None


class Sink:
    """smtp-sink with its message counter, or the aiosmtpd stand-in."""

    def __init__(self) -> None:
        self.port = free_port()
        self.binary = smtp_sink_binary()
        self.output = CACHE / f"sink-{self.port}.out"
        env = dict(os.environ)
        if self.binary:
            env["LD_LIBRARY_PATH"] = str(self.binary.parent.parent / "lib" / "postfix")
            command = [str(self.binary), "-c", "-u", "nobody", f"127.0.0.1:{self.port}", "1024"]
            self.kind = "postfix smtp-sink"
        else:
            command = [
                sys.executable,
                str(ROOT / "bench" / "smtp_sink.py"),
                "--port",
                str(self.port),
                "--recipients",
                str(self.output) + ".rcpt",
            ]
            self.kind = "aiosmtpd"
        CACHE.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            command, env=env, stdout=self.output.open("wb"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("the SMTP sink did not start")

    def count(self) -> int:
        """Messages received so far."""
        if self.binary:
            found = re.findall(rb"mesg=(\d+)", self.output.read_bytes()[-200:])
            return int(found[-1]) if found else 0
        path = Path(str(self.output) + ".rcpt")
        return sum(1 for _ in path.open()) if path.exists() else 0

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)


# -- the database ---------------------------------------------------------------------------


@contextmanager
def bench_database():
    from sqlalchemy import create_engine, text

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    try:
        yield DB_URL
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        admin.dispose()


def environment(sink_port: int, batch_size: int) -> dict[str, str]:
    return {
        **os.environ,
        "UPDATES_ENV": "production",
        "SECRET_KEY": "bench-secret",
        "SUPPRESSION_KEY": "bench-suppression-key",
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "BASE_URL": "https://bench.example",
        "MAIL_FROM": "Bench <updates@bench.example>",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(sink_port),
        "ORG_NAME": "Bench Org",
        "ORG_ADDRESS": "1 Bench Street, Benchtown",
        "BATCH_SIZE": str(batch_size),
    }


def populate(app, recipients: int, topics: int) -> None:
    """N active subscribers, each following one to `topics` topics, written set-based."""
    from sqlalchemy import text

    from updates.extensions import db
    from updates.news.topics import add_topic

    with app.app_context():
        for n in range(topics):
            add_topic(f"topic-{n}", f"Topic {n}", f"Programme news number {n}.")
        db.session.execute(
            text(
                "INSERT INTO subscribers (email, email_key, status, token_version, created_at,"
                " updated_at, confirmed_at) SELECT 'reader' || g || '@example.org',"
                " 'reader' || g || '@example.org', 'active', 1, now(), now(), now()"
                " FROM generate_series(1, :n) AS g"
            ),
            {"n": recipients},
        )
        db.session.execute(
            text(
                "INSERT INTO subscriptions (subscriber_id, topic_id, frequency, created_at)"
                " SELECT s.id, t.id, 'all', now() FROM subscribers s JOIN topics t"
                " ON t.position = 1 + (s.id % :k) OR (t.position = 1 + ((s.id / :k) % :k)"
                "    AND s.id % 3 = 0)"
            ),
            {"k": topics},
        )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def announce_to_a_third(app, digest_id: int) -> int:
    """One sent announcement per topic, of the digest's first update in it, to the followers of
    that topic whose id is a multiple of 3; returns how many readers were sent one."""
    from sqlalchemy import text

    from updates.extensions import db
    from updates.models import Digest, DigestKind, DigestStatus
    from updates.news.digests import create_digest

    with app.app_context():
        digest = db.session.get(Digest, digest_id)
        announced = []
        for topic in digest.topics:
            first = next(i.update for i in digest.items if topic in i.update.topics)
            announcement = create_digest(
                first.title, "", [first.id], [topic.slug], DigestKind.ANNOUNCEMENT
            )
            announcement.status = DigestStatus.SENT
            announced.append(announcement.id)
            db.session.execute(
                text(
                    "INSERT INTO deliveries (digest_id, subscriber_id, status, attempts, sent_at)"
                    " SELECT :digest, subscriber_id, 'sent', 1, now() FROM subscriptions"
                    " WHERE topic_id = :topic AND subscriber_id % 3 = 0"
                ),
                {"digest": announcement.id, "topic": topic.id},
            )
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return db.session.scalar(
            text(
                "SELECT count(DISTINCT subscriber_id) FROM deliveries"
                " WHERE digest_id = ANY(:announced)"
            ),
            {"announced": announced},
        )


def compose(app, topics: int) -> int:
    from updates.news.digests import create_digest
    from updates.news.publishing import create_update

    body = (
        "Councils and suppliers met to discuss **digital inclusion**, shared services and "
        "what the next spending review means for local technology budgets.\n\n"
    ) * 6
    with app.app_context():
        updates = [
            create_update(f"Update {n}: programme news", body, [f"topic-{n % topics}"])
            for n in range(topics * 2)
        ]
        digest = create_digest(
            "Monthly programme digest",
            "This month's *highlights*.",
            [u.id for u in updates],
            [f"topic-{n}" for n in range(topics)],
        )
        return digest.id


# -- workers and their memory ---------------------------------------------------------------


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def descendants(pid: int) -> list[int]:
    """Children, grandchildren, …, read from /proc/PID/task/*/children (cheap enough to poll)."""
    found, stack = [], [pid]
    while stack:
        parent = stack.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                children = [int(child) for child in task.read_text().split()]
            except OSError:
                continue
            found += children
            stack += children
    return found


# -- the limit: plain smtplib ---------------------------------------------------------------


def _plain_client(port: int, message: bytes, count: int, results: Queue) -> None:
    import smtplib

    smtp = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for n in range(count):
        smtp.sendmail("updates@bench.example", [f"reader{n}@example.org"], message)
    results.put(time.perf_counter() - started)
    smtp.quit()


def plain_smtplib_rate(port: int, message: bytes, total: int, clients: int) -> float:
    results: Queue = Queue()
    each = total // clients
    processes = [
        Process(target=_plain_client, args=(port, message, each, results)) for _ in range(clients)
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    return each * clients / elapsed


def sample_message(app, digest_id: int) -> bytes:
    """One real message of the digest, to size the plain clients' messages."""
    from updates.extensions import db
    from updates.mail.newsletter import Recipient, Variant
    from updates.models import Digest

    with app.test_request_context():
        digest = db.session.get(Digest, digest_id)
        variant = Variant(digest, frozenset(t.id for t in digest.topics))
        return variant.message_for(Recipient(1, 1, "reader1@example.org", 1, variant.topic_ids))


# -- runs -----------------------------------------------------------------------------------


def schedule_now(digest) -> None:
    """Due now, without enqueueing its start: the benchmark times the start itself."""
    from updates.extensions import db
    from updates.models import DigestStatus, utcnow

    digest.status = DigestStatus.SCHEDULED
    digest.scheduled_at = utcnow()
    db.session.commit()


def upgraded_app(env: dict[str, str]) -> Flask:
    """The app for `env` (set in this process too), on an upgraded database and an empty Redis."""
    from redis import Redis

    os.environ.update(env)
    from updates import create_app

    Redis.from_url(env["REDIS_URL"]).flushdb()
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "updates", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return create_app()


def send_run(args: argparse.Namespace) -> dict[str, object]:
    sink = Sink()
    env = environment(sink.port, args.batch_size)
    app = upgraded_app(env)
    print(f"populating {args.recipients} subscribers over {args.topics} topics ...", flush=True)
    populate(app, args.recipients, args.topics)
    digest_id = compose(app, args.topics)
    message = sample_message(app, digest_id)

    workers = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(args.workers)
    ]
    peaks = {worker.pid: 0.0 for worker in workers}
    runs = []
    try:
        time.sleep(2)  # workers up and idle
        # --paired: ordinary and at-most-once digests in turn, each of fresh updates, on the
        # same workers and database, so that both kinds meet the same load.
        kinds = (
            ["ordinary", "already sent", "ordinary", "already sent"]
            if args.paired
            else ["already sent" if args.already_sent else "ordinary"]
        )
        for n, kind in enumerate(kinds):
            if n:
                digest_id = compose(app, args.topics)
            already = announce_to_a_third(app, digest_id) if kind == "already sent" else 0
            run = time_digest(app, digest_id, workers, peaks, args.timeout)
            runs.append({"kind": kind, "readers_already_sent_some": already, **run})
            print(json.dumps(runs[-1]), flush=True)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            worker.wait(timeout=30)
    time.sleep(0.5)
    received = sink.count()
    limit = plain_smtplib_rate(sink.port, message, min(args.recipients, 40000), args.workers)
    sink.stop()
    first = runs[0]
    result = {
        "recipients": first["recipients"],
        "topics": args.topics,
        "workers": args.workers,
        "batch_size": args.batch_size,
        "sink": sink.kind,
        "message_bytes": len(message),
        "runs": runs,
        "sent": sum(run["sent"] for run in runs),
        "received": received,
        "worker_peak_rss_mb": [round(p, 1) for p in peaks.values()],
        "plain_smtplib_messages_per_second": round(limit),
    }
    if not args.paired:
        result["messages_per_second"] = first["messages_per_second"]
        result["ratio_to_plain_smtplib"] = round(first["messages_per_second"] / limit, 2)
        return result
    rates = {kind: [r["messages_per_second"] for r in runs if r["kind"] == kind] for kind in kinds}
    ordinary = sum(rates["ordinary"]) / len(rates["ordinary"])
    at_most_once = sum(rates["already sent"]) / len(rates["already sent"])
    result["already_sent_to_ordinary"] = round(at_most_once / ordinary, 3)
    return result


def time_digest(app, digest_id: int, workers, peaks: dict, timeout: float) -> dict:
    """Start the digest, wait until it is sent; its timings and counts."""
    from sqlalchemy import func, select

    from updates.extensions import db
    from updates.models import Delivery, Digest
    from updates.news import digests
    from updates.worker import delivery

    with app.app_context():
        digest = db.session.get(Digest, digest_id)
        schedule_now(digest)
        started = time.perf_counter()
        assert delivery._claim_start(digest_id)
        recipients = delivery._materialise(digest_id, digest.kind)
        audience_seconds = time.perf_counter() - started
        sending_started = time.perf_counter()
        delivery.enqueue_batches(digest_id)
        while True:
            for worker in workers:
                for pid in [worker.pid, *descendants(worker.pid)]:
                    peaks[worker.pid] = max(peaks[worker.pid], peak_rss_mb(pid))
            db.session.expire_all()
            if db.session.get(Digest, digest_id).status == "sent":
                break
            if time.perf_counter() - sending_started > timeout:
                raise RuntimeError("timed out waiting for the digest to be sent")
            time.sleep(0.2)
        sending_seconds = time.perf_counter() - sending_started
        sent = db.session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.digest_id == digest_id, Delivery.status == "sent")
        )
        progress = digests.progress(digest_id)
    return {
        "recipients": recipients,
        "audience_seconds": round(audience_seconds, 2),
        "sending_seconds": round(sending_seconds, 2),
        "sent": sent,
        "skipped": progress.skipped,
        "left_out_having_all": progress.already_sent,
        "messages_per_second": round(sent / sending_seconds),
    }


def audience_run(args: argparse.Namespace) -> dict[str, object]:
    env = environment(free_port(), args.batch_size)
    os.environ.update(env)
    from updates import create_app
    from updates.extensions import db
    from updates.models import Digest
    from updates.worker import delivery

    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "updates", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    app = create_app()
    print(f"populating {args.audience_only} subscribers ...", flush=True)
    populate(app, args.audience_only, args.topics)
    digest_id = compose(app, args.topics)
    with app.app_context():
        digest = db.session.get(Digest, digest_id)
        schedule_now(digest)
        started = time.perf_counter()
        assert delivery._claim_start(digest_id)
        recipients = delivery._materialise(digest_id, digest.kind)
        seconds = time.perf_counter() - started
    return {
        "audience": recipients,
        "ledger_and_batches_seconds": round(seconds, 2),
        "limit_seconds": 15,
        "ratio_to_limit": round(seconds / 15, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--topics", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument(
        "--paired",
        action="store_true",
        help="ordinary and --already-sent digests in turn, twice, on the same workers",
    )
    parser.add_argument(
        "--already-sent",
        action="store_true",
        help="a third of the readers were sent some of the digest's updates already",
    )
    parser.add_argument(
        "--audience-only",
        type=int,
        default=0,
        help="only time writing an audience of this size into the ledger",
    )
    args = parser.parse_args()
    with bench_database():
        result = audience_run(args) if args.audience_only else send_run(args)
    for key, value in result.items():
        print(f"{key:36} {value}")
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    with (ROOT / "bench" / "results" / "delivery.jsonl").open("a") as log:
        log.write(json.dumps({"when": time.strftime("%Y-%m-%dT%H:%M:%S"), **result}) + "\n")


if __name__ == "__main__":
    main()
