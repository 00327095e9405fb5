"""Where a sign-up request spends its time: `.venv/bin/python bench/profile_signup.py [-n 2000]`.

One process, one request at a time, against the same PostgreSQL and Redis set-up as
bench/signup_load.py (a fresh `updates_bench` database, Redis db 15, production settings),
through the real WSGI app with Flask's test client. For the POST it reports, per request:
wall and CPU milliseconds, SQL statements and their time, Redis calls and their time, and the
time inside each step (rate limits, CSRF, form, topics, sign-up statement, hand-off to the
workers, page). `--sql` prints the statements of one sign-up; `--cprofile FILE` writes the
hottest functions; `--variant` applies the measure-only experiments of bench/bench_app.py
first, to see what a part costs.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import json
import os
import pstats
import re
import sys
import time
from typing import Any

import bench_app
import signup_load
from redis import Redis
from redis.client import Pipeline
from sqlalchemy import event

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Timers:
    """Inclusive wall time and call counts per label, for the request being measured."""

    def __init__(self) -> None:
        self.seconds: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self.statements: list[str] = []
        self.active = False

    def add(self, label: str, seconds: float) -> None:
        if self.active:
            self.seconds[label] += seconds
            self.calls[label] += 1

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)
        timers = self

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                timers.add(label, time.perf_counter() - started)

        setattr(owner, name, timed)


def instrument(timers: Timers) -> None:
    """Wrap the steps of a sign-up; must run before the app and views are imported."""
    from flask_limiter import Limiter
    from flask_wtf.csrf import CSRFProtect

    from updates import ratelimits
    from updates.mail import outbox
    from updates.public import forms, views

    timers.wrap(Limiter, "_check_request_limit", "flask-limiter before_request (no limit)")
    timers.wrap(ratelimits, "_hit_all", "rate limits: one Redis script")
    timers.wrap(Limiter, "_Limiter__inject_headers", "limiter: X-RateLimit headers")
    timers.wrap(CSRFProtect, "protect", "CSRF check")
    timers.wrap(forms.SignupForm, "__init__", "form: build")
    timers.wrap(forms.SignupForm, "validate", "form: validate (email_validator)")
    timers.wrap(views, "offered_topics", "offered_topics() (cached)")
    timers.wrap(views, "request_signup", "request_signup() transaction")
    timers.wrap(outbox, "dispatch_signup", "hand-off (Redis LPUSH)")
    timers.wrap(views, "render_template", "render check_inbox.html")
    timers.wrap(Redis, "execute_command", "redis: commands")
    timers.wrap(Pipeline, "execute", "redis: pipelines")


def watch_sql(engine: Any, timers: Timers) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        timers.add("sql: statements", time.perf_counter() - conn.info.pop("bench_started"))
        if timers.active:
            timers.statements.append(" ".join(statement.split())[:110])

    for name in ("begin", "commit", "rollback"):

        def transaction_event(conn, name: str = name) -> None:
            if timers.active:
                timers.statements.append(name.upper() + " (connection)")

        event.listen(engine, name, transaction_event)


def run(args: argparse.Namespace) -> None:
    env = signup_load.service_env(
        argparse.Namespace(limit=args.limit, variant=args.variant), smtp_port=2525
    )
    signup_load.create_database()
    try:
        signup_load.flask(env, "db", "upgrade")
        for slug, name in signup_load.TOPICS:
            signup_load.flask(env, "topics", "add", slug, name)
        Redis.from_url(signup_load.REDIS_URL).flushdb()
        os.environ.update(env)
        timers = Timers()
        instrument(timers)
        app = bench_app.create_app()
        with app.app_context():
            from updates.extensions import db

            watch_sql(db.engine, timers)
        measure(app, args, timers)
    finally:
        Redis.from_url(signup_load.REDIS_URL).flushdb()
        signup_load.drop_database()


def measure(app: Any, args: argparse.Namespace, timers: Timers) -> None:
    client = app.test_client()
    page = client.get("/")
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    slugs = [slug for slug, _ in signup_load.TOPICS]

    def post(n: int) -> None:
        form = {"csrf_token": token, "email": f"unique-{n}@example.org", "topics": slugs[n % 2]}
        response = client.post("/", data=form)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]

    for n in range(args.warmup):  # warm caches, pools and psycopg's prepared statements
        post(n)
    profiler = cProfile.Profile() if args.cprofile else None
    timers.active = True
    wall = cpu = 0.0
    for n in range(args.warmup, args.warmup + args.n):
        timers.statements = []
        started, started_cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        post(n)
        if profiler:
            profiler.disable()
        wall += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
    timers.active = False
    statements = timers.statements
    per = 1000.0 / args.n
    gets = measure_get(client, args, timers)
    variant = f" with variant {args.variant}" if args.variant else ""
    print(f"POST / sign-up{variant}: {args.n} requests, one at a time, after {args.warmup} warm-up")
    print(f"  {'wall per request':42} {wall * per:7.3f} ms")
    print(f"  {'CPU per request (this process)':42} {cpu * per:7.3f} ms")
    for label in sorted(timers.seconds, key=lambda key: -timers.seconds[key]):
        calls = timers.calls[label] / args.n
        print(f"  {label:42} {timers.seconds[label] * per:7.3f} ms  ({calls:.1f} calls)")
    print(f"GET / sign-up form: {gets:.3f} ms wall per request")
    if args.sql:
        print("Statements of the last sign-up:")
        for statement in statements:
            print(f"  {statement}")
    if args.json:
        record = {
            "variant": args.variant,
            "n": args.n,
            "wall_ms": wall * per,
            "cpu_ms": cpu * per,
            "get_wall_ms": gets,
            "sql_statements": timers.calls["sql: statements"] / args.n,
            "steps_ms": {label: seconds * per for label, seconds in timers.seconds.items()},
        }
        with open(args.json, "a") as out:
            out.write(json.dumps(record) + "\n")
    if profiler:
        with open(args.cprofile, "w") as out:
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("tottime").print_stats(40)
            stats.sort_stats("cumulative").print_stats(60)
        print(f"cProfile written to {args.cprofile}")


def measure_get(client: Any, args: argparse.Namespace, timers: Timers) -> float:
    started = time.perf_counter()
    count = max(1, args.n // 4)
    for _ in range(count):
        assert client.get("/").status_code == 200
    return (time.perf_counter() - started) * 1000.0 / count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="measured sign-ups (2000)")
    parser.add_argument("--warmup", type=int, default=300, help="unmeasured sign-ups (300)")
    parser.add_argument("--limit", default="1000000/minute")
    parser.add_argument("--variant", default="", help="experiments from bench/bench_app.py")
    parser.add_argument("--sql", action="store_true", help="print one sign-up's statements")
    parser.add_argument("--cprofile", default="", help="write a cProfile report to this file")
    parser.add_argument("--json", default="", help="append the figures as JSON to this file")
    run(parser.parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
