"""What one /metrics scrape costs on a big ledger.

    .venv/bin/python bench/scrape.py --deliveries 1000000

It builds its own PostgreSQL database (postgresql://postgres@127.0.0.1:5432/updates_bench_scrape,
dropped at the end) with a private Redis, fills the ledger with generate_series (ten digests,
one of them still sending), VACUUM ANALYZEs it as autovacuum would, then times the scrape's
database queries one by one and whole scrapes of /metrics through the app.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DB_NAME = "updates_bench_scrape"
DB_URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DB_NAME}"
DIGESTS = 10


def run_admin(statement: str) -> None:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(statement))
    admin.dispose()


def fill(deliveries: int) -> None:
    """Subscribers, ten digests (the last one sending) and the ledger between them."""
    per_digest = deliveries // DIGESTS
    engine = create_engine(DB_URL)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO subscribers (email, email_key, status, token_version, created_at,"
                " updated_at)"
                " SELECT 'p' || n || '@example.org', 'p' || n || '@example.org',"
                " CASE WHEN n % 10 = 0 THEN 'unsubscribed' ELSE 'active' END, 1, now(), now()"
                " FROM generate_series(1, :n) AS n"
            ),
            {"n": per_digest},
        )
        for number in range(1, DIGESTS + 1):
            status = "sending" if number == DIGESTS else "sent"
            connection.execute(
                text(
                    "INSERT INTO digests (subject, intro_markdown, intro_html, kind, status,"
                    " created_at, started_at, finished_at) VALUES (:s, '', '', 'digest', :status,"
                    " now(), now(), CASE WHEN :finished THEN now() END)"
                ),
                {"s": f"Digest {number}", "status": status, "finished": status == "sent"},
            )
        connection.execute(
            text(
                "INSERT INTO deliveries (digest_id, subscriber_id, status, attempts)"
                " SELECT d.id, s.id,"
                " CASE WHEN d.status = 'sending' AND s.id % 2 = 0 THEN 'pending'"
                " WHEN s.id % 50 = 0 THEN 'failed' WHEN s.id % 40 = 0 THEN 'skipped'"
                " ELSE 'sent' END, 1"
                " FROM digests d CROSS JOIN subscribers s"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def timed(call, repeat: int) -> tuple[float, float]:
    """Median and worst of `repeat` calls, in milliseconds, after one warm-up call."""
    call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=20)
    options = parser.parse_args()

    from flask_migrate import upgrade

    from updates import create_app, service_metrics
    from updates.dev.embedded_redis import EmbeddedRedis
    from updates.extensions import db

    run_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    run_admin(f'CREATE DATABASE "{DB_NAME}"')
    try:
        with EmbeddedRedis() as redis_url:
            app = create_app({"SQLALCHEMY_DATABASE_URI": DB_URL, "REDIS_URL": redis_url})
            with app.app_context():
                upgrade()
            started = time.perf_counter()
            fill(options.deliveries)
            print(
                f"filled {options.deliveries:,} deliveries in {time.perf_counter() - started:.1f}s"
            )
            with app.app_context():

                def cold() -> None:  # a process's first scrape: every finished digest counted
                    app.extensions.pop("updates.finished_digests", None)
                    list(service_metrics.delivery_metrics())

                for name, reader in [
                    ("deliveries, first scrape", cold),
                    ("deliveries, later scrapes", service_metrics.delivery_metrics),
                    ("pending emails by kind", service_metrics.pending_email_metrics),
                    ("subscribers by status", service_metrics.subscriber_metrics),
                    ("digests by status", service_metrics.digest_metrics),
                    ("Redis: queues, email outcomes", service_metrics.redis_metrics),
                ]:
                    median, worst = timed(lambda r=reader: list(r() or ()), options.repeat)
                    print(f"  {name:28} median {median:7.1f} ms  worst {worst:7.1f} ms")
                    db.session.remove()
            client = app.test_client()
            median, worst = timed(lambda: client.get("/metrics"), options.repeat)
            print(f"  {'whole /metrics scrape':28} median {median:7.1f} ms  worst {worst:7.1f} ms")
            with app.app_context():
                db.engine.dispose()
    finally:
        run_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()
