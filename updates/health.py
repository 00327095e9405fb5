"""Readiness: whether the database and Redis answer within a short timeout, cheaply enough to
be asked every second by a load balancer (`GET /readyz`) or a container (`worker.py --check`).

Each check has connections of its own, made once per process and kept: a busy request pool
must not make the service look down, and a dependency that hangs must not hold the answer for
longer than HEALTH_TIMEOUT.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

DATABASE = "database"
REDIS = "redis"


def _timeout() -> float:
    return float(current_app.config["HEALTH_TIMEOUT"])


def _database_engine() -> Engine:
    engine = current_app.extensions.get("updates.health_engine")
    if engine is None:
        url = current_app.config["SQLALCHEMY_DATABASE_URI"]
        timeout = _timeout()
        if url.startswith("postgresql"):
            # libpq waits at least 2 s to connect. The server ends a statement that runs too
            # long; a server that answers nothing at all is given up by the kernel, once what
            # was sent has gone unacknowledged that long (TCP_USER_TIMEOUT).
            milliseconds = max(int(timeout * 1000), 1)
            connect_args: dict[str, object] = {
                "connect_timeout": max(int(timeout + 0.999), 2),
                "options": f"-c statement_timeout={milliseconds}",
                "tcp_user_timeout": milliseconds,
            }
        else:
            connect_args = {"timeout": timeout}  # SQLite: how long a locked file is waited for
        engine = create_engine(
            url,
            pool_size=1,  # one poll at a time, as a load balancer sends them…
            max_overflow=2,  # …and room for a second and third at once, closed afterwards
            pool_timeout=timeout,
            pool_pre_ping=False,  # the check is itself the ping; a broken connection is dropped
            pool_recycle=1800,
            connect_args=connect_args,
        )
        current_app.extensions["updates.health_engine"] = engine
    return engine


def _redis_client() -> Redis:
    client = current_app.extensions.get("updates.health_redis")
    if client is None:
        timeout = _timeout()
        client = Redis.from_url(
            current_app.config["REDIS_URL"],
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry_on_timeout=False,
        )
        current_app.extensions["updates.health_redis"] = client
    return client


def check_database() -> None:
    """`SELECT 1`; raises if the database does not answer in time."""
    engine = _database_engine()
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        engine.dispose()  # the next poll starts from a fresh connection
        raise


def check_redis() -> None:
    """PING; raises if Redis does not answer in time."""
    _redis_client().ping()


CHECKS: dict[str, Callable[[], None]] = {DATABASE: check_database, REDIS: check_redis}
FAILURES = (SQLAlchemyError, RedisError, OSError)


def failed_checks() -> dict[str, str]:
    """The checks that failed, each with a short reason; empty when all answered."""
    failed = {}
    for name, check in CHECKS.items():
        try:
            check()
        except FAILURES as error:
            failed[name] = type(getattr(error, "orig", None) or error).__name__
    return failed


def readiness() -> dict[str, object]:
    """The answer both /readyz and `worker.py --check` give: a status and every check."""
    failed = failed_checks()
    return {
        "status": "unavailable" if failed else "ok",
        "checks": {name: failed.get(name, "ok") for name in CHECKS},
        **({"failed": sorted(failed)} if failed else {}),
    }
