"""Riding out outages of Redis and the database: what counts as one, and waiting one out.

A worker process that loses Redis or its database pauses with backoff and goes on where it was;
it never exits for a lost connection. Each process says once that a dependency has gone and once
that it is back, instead of logging a traceback every time it looks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg
from redis import exceptions as redis_errors
from rq.scheduler import RQScheduler
from sqlalchemy import exc as sql_errors
from sqlalchemy import text

from updates.extensions import db

REDIS_DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError)
FIRST_PAUSE = 0.5  # seconds before the first look after a connection is lost
LONGEST_PAUSE = 5.0  # the backoff stops doubling here, so recovery is seen within seconds
STOP_CHECK = 0.1  # how often a pause looks whether the process has been asked to stop


def lost_redis(error: BaseException) -> bool:
    """Whether the error is a refused, dropped or timed-out connection to Redis."""
    return isinstance(error, REDIS_DOWN)


def lost_database(error: BaseException) -> bool:
    """Whether the error is a refused or dropped database connection (SQLAlchemy's or libpq's)."""
    if isinstance(error, sql_errors.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, sql_errors.OperationalError | psycopg.OperationalError)


def ping_database() -> None:
    """One round trip to the database through the app's pool; raises if it does not answer."""
    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))


class Outage:
    """A dependency as one process sees it: a line when it goes, a line when it is back."""

    def __init__(
        self,
        name: str,
        lost: Callable[[BaseException], bool],
        log: logging.Logger,
        on_back: Callable[[], object] | None = None,
    ) -> None:
        self.name = name
        self.lost = lost
        self.log = log
        self.on_back = on_back
        self.since: float | None = None
        self.pause = FIRST_PAUSE

    @property
    def ongoing(self) -> bool:
        return self.since is not None

    def down(self, error: BaseException) -> None:
        if self.since is None:
            self.since = time.monotonic()
            self.log.warning("%s is unreachable (%s); waiting for it", self.name, one_line(error))

    def up(self) -> None:
        if self.since is not None:
            down_for = time.monotonic() - self.since
            self.log.warning("%s is back after %.1f seconds", self.name, down_for)
            self.since = None
            if self.on_back is not None:
                self.on_back()
        self.pause = FIRST_PAUSE

    def backoff(self) -> float:
        """Seconds to pause before the next look: doubling from FIRST_PAUSE to LONGEST_PAUSE."""
        pause = self.pause
        self.pause = min(pause * 2, LONGEST_PAUSE)
        return pause

    def wait(
        self, look: Callable[[], object], stopping: Callable[[], bool] = lambda: False
    ) -> bool:
        """Call `look` until it answers, pausing with backoff while the connection is lost.

        True once it answers; False if `stopping()` turns true first. Other errors propagate.
        """
        while True:
            try:
                look()
            except Exception as error:
                if not self.lost(error):
                    raise
                self.down(error)
            else:
                self.up()
                return True
            deadline = time.monotonic() + self.backoff()
            while time.monotonic() < deadline:
                if stopping():
                    return False
                time.sleep(STOP_CHECK)


def one_line(error: BaseException) -> str:
    """The driver's own words for a connection error, on one line, without SQLAlchemy's links."""
    cause = getattr(error, "orig", None) or error
    return " ".join(str(cause).split())[:300] or type(cause).__name__


class Scheduler(RQScheduler):
    """RQ's scheduler, whose process waits out a Redis outage instead of ending."""

    def work(self) -> None:
        redis = Outage("Redis", lost_redis, self.log)
        while True:
            try:
                super().work()
                return
            except REDIS_DOWN as error:
                if self._stop_requested:  # asked to stop: the locks it held expire by themselves
                    return
                redis.down(error)
            if not redis.wait(self.connection.ping, lambda: self._stop_requested):
                return
