"""Periodic work as data, and the ticker that enqueues it from every worker without duplicates.

The ticker lives in the worker process, not in Redis, so a Redis that restarts empty loses no
schedule: the next tick after it is back enqueues the sweeper, which re-enqueues what is owed.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue

from updates import queues
from updates.queues import Jobs
from updates.worker.outages import Outage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: str
    every_seconds: int
    queue: str = queues.DEFAULT
    needs: str | None = None  # a setting without which the job has nothing to do


PERIODIC_JOBS = (
    PeriodicJob("sweep-outbound-emails", Jobs.SWEEP_EMAILS, 30, queues.MAIL),
    PeriodicJob("purge-unconfirmed", Jobs.PURGE_UNCONFIRMED, 3600),
    PeriodicJob("forget-unsubscribed", Jobs.FORGET_UNSUBSCRIBED, 3600),
    PeriodicJob("sweep-batches", Jobs.SWEEP_BATCHES, 15, queues.SEND),
    PeriodicJob("start-due-digests", Jobs.START_DUE_DIGESTS, 30, queues.SEND),
    PeriodicJob("run-due-schedules", Jobs.RUN_DUE_SCHEDULES, 30, queues.SEND),
    PeriodicJob("sweep-import-uploads", Jobs.SWEEP_UPLOADS, 3600),
    PeriodicJob("sweep-staff-sign-in", Jobs.SWEEP_STAFF_SIGN_IN, 60, queues.MAIL),
    # A run may idle for its mail a while.
    PeriodicJob("poll-bounce-mailbox", Jobs.POLL_BOUNCE_MAILBOX, 5, needs="BOUNCE_IMAP"),
)


def configured(config: Mapping[str, object]) -> tuple[PeriodicJob, ...]:
    """The periodic jobs this configuration has work for: no mailbox, no polling it."""
    return tuple(job for job in PERIODIC_JOBS if job.needs is None or config.get(job.needs))


def tick(connection: Redis, jobs: tuple[PeriodicJob, ...] = PERIODIC_JOBS) -> list[str]:
    """Enqueue each job whose period has passed; one worker wins each period (SET NX EX)."""
    enqueued = []
    for periodic in jobs:
        key = f"updates:periodic:{periodic.name}"
        if connection.set(key, os.getpid(), nx=True, ex=periodic.every_seconds):
            Queue(periodic.queue, connection=connection).enqueue(
                periodic.func, job_id=f"periodic-{periodic.name}", result_ttl=0
            )
            enqueued.append(periodic.name)
    return enqueued


def run_ticker(
    redis_url: str,
    parent_pid: int,
    jobs: tuple[PeriodicJob, ...] = PERIODIC_JOBS,
    interval: float = 1.0,
) -> None:
    """Tick until the worker that started us is gone; Redis outages are waited out."""
    connection = Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    redis = Outage("Redis (periodic ticker)", lambda error: isinstance(error, RedisError), log)
    while os.getppid() == parent_pid:
        try:
            tick(connection, jobs)
        except RedisError as error:
            redis.down(error)
            time.sleep(redis.backoff())
            continue
        redis.up()
        time.sleep(interval)
