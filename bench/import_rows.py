"""Import benchmark: rows per second of `subscribers import`, into an empty list and a full one.

    .venv/bin/python bench/import_rows.py --rows 1000000 --existing 1000000

It builds its own PostgreSQL database (postgresql://postgres@127.0.0.1:5432/updates_bench_import,
dropped at the end), fills it with `--existing` subscribers by the same import, then times an
import of `--rows` new rows through the CLI's own function, as `flask subscribers import` runs it
(with `--console`, as the console's upload and import job run it).
The file is made the way real lists are: about 1 % invalid lines, 1 % duplicates, 1 % of
addresses suppressed and 1 % that unsubscribed before. It prints rows per second, the skips
counted, and the process's peak RSS (the import streams, so memory should not grow with rows).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB_NAME = "updates_bench_import"
DB_URL = f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}"
sys.path.insert(0, str(ROOT))


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


def write_csv(path: Path, rows: int, prefix: str, mark_every: int = 100) -> None:
    """`rows` lines: mostly new addresses; every `mark_every`th an invalid, a duplicate, a
    suppressed (`sup…`) or an unsubscribed (`left…`) one, in turn."""
    with path.open("w") as out:
        out.write("email,name\n")
        for n in range(rows):
            if n % mark_every == 1:
                out.write(f"not an address {n},x\n")
            elif n % mark_every == 2:
                out.write(f"{prefix}{n - 2}@example.org,dup\n")
            elif n % mark_every == 3:
                out.write(f"sup{n // mark_every}@example.org,s\n")
            elif n % mark_every == 4:
                out.write(f"left{n // mark_every}@example.org,l\n")
            else:
                out.write(f"{prefix}{n}@example.org,Reader {n}\n")


def prepare_marks(rows: int, mark_every: int = 100) -> None:
    """The suppressed and the unsubscribed addresses the file will name."""
    from sqlalchemy import update

    from updates.extensions import db
    from updates.models import Subscriber, SubscriberStatus
    from updates.subscribers.importer import import_subscribers
    from updates.subscribers.suppression import suppress
    from updates.transaction import transaction

    marks = rows // mark_every + 1
    import_subscribers(((f"left{n}@example.org", "", "") for n in range(marks)), ["news"], "bench")
    with transaction():
        db.session.execute(
            update(Subscriber)
            .where(Subscriber.email_key.like("left%"))
            .values(status=SubscriberStatus.UNSUBSCRIBED)
        )
        for n in range(marks):
            suppress(f"sup{n}@example.org", "bounce")


def backend_cpu() -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend of the bench database (the server
    runs on this machine); the import writes through more than one."""
    from sqlalchemy import text

    from updates.extensions import db

    pids = db.session.scalars(
        text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": DB_NAME}
    ).all()
    db.session.commit()  # the import takes the same pooled connection back
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def timed_import(path: Path) -> tuple[float, float, float, str]:
    """Wall seconds, this process's CPU seconds and its backends', and the report."""
    from updates.subscribers.importer import import_subscribers, read_rows

    backend = backend_cpu()
    started, cpu = time.perf_counter(), time.process_time()
    with path.open(newline="") as stream:
        report = import_subscribers(read_rows(stream), ["news"], "bench list, opted in")
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    spent = sum(seconds - backend.get(pid, 0.0) for pid, seconds in backend_cpu().items())
    return wall, cpu, spent, report.summary()


def timed_console_import(path: Path) -> tuple[float, float, float, str]:
    """The same, as the console's upload runs it: the file kept and its start checked, as the
    request does, then the job (counting the rows, importing them, recording progress) run here,
    as a worker would."""
    from werkzeug.datastructures import FileStorage

    from updates import queues
    from updates.staff.accounts import add_staff
    from updates.subscribers.import_uploads import import_status, start_import
    from updates.worker.imports import run_import

    staff_id = add_staff("bench@example.org", "admin", "a long bench password").id
    topics, consent = ["news"], "bench list, opted in"
    backend = backend_cpu()
    started, cpu = time.perf_counter(), time.process_time()
    with path.open("rb") as stream:
        status = start_import(FileStorage(stream, filename=path.name), topics, consent, staff_id)
    run_import(status.id, topics, consent, staff_id)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    spent = sum(seconds - backend.get(pid, 0.0) for pid, seconds in backend_cpu().items())
    queues.queue(queues.DEFAULT).empty()  # the job queued for a worker, run here instead
    done = import_status(status.id)
    assert done is not None and done.state == "done", done
    return (
        wall,
        cpu,
        spent,
        f"imported {done.imported}, already subscribed {done.unchanged}, skipped {done.skipped}"
        f" ({done.processed:,} of {done.total:,} rows read)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--existing", type=int, default=0)
    parser.add_argument(
        "--console", action="store_true", help="import as the console's upload and job do"
    )
    options = parser.parse_args()
    os.environ.update(
        UPDATES_ENV="production",
        SECRET_KEY="bench-secret",
        SUPPRESSION_KEY="bench-suppression-key",
        REDIS_URL="redis://127.0.0.1:6379/15",
        BASE_URL="https://bench.example",
    )
    with bench_database() as url, tempfile.TemporaryDirectory() as folder:
        os.environ["DATABASE_URL"] = url
        from flask_migrate import upgrade

        from updates import create_app
        from updates.news.topics import add_topic

        app = create_app()
        with app.app_context():
            upgrade(directory=str(ROOT / "migrations"))
            add_topic("news", "News")
            prepare_marks(options.rows)
            if options.existing:
                existing = Path(folder) / "existing.csv"
                write_csv(existing, options.existing, "old", mark_every=10**12)
                seconds, *_ = timed_import(existing)
                print(f"filled: {options.existing:,} subscribers in {seconds:.1f} s")
            path = Path(folder) / "import.csv"
            write_csv(path, options.rows, "new")
            load = os.getloadavg()[0]
            timed = timed_console_import if options.console else timed_import
            seconds, cpu, backend, report = timed(path)
            load = max(load, os.getloadavg()[0])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = options.rows / seconds
    print(f"imported: {options.rows:,} rows onto {options.existing:,} in {seconds:.1f} s")
    print(f"rate: {rate:,.0f} rows/s, {rate / 30_000:.2f} of the 30,000 target")
    print(f"load average (1 min, the higher of before and after): {load:.1f}")
    print(f"CPU: Python {cpu:.1f} s, PostgreSQL backends {backend:.1f} s")
    print(f"report: {report}")
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
