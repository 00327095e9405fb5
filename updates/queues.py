"""Queue names, the Redis connection, and enqueueing that never breaks a request."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry

log = logging.getLogger(__name__)

MAIL = "mail"  # transactional: confirmations, links; small and urgent
SEND = "send"  # newsletter batches
DEFAULT = "default"  # housekeeping

ALL_QUEUES = (MAIL, SEND, DEFAULT)  # the order a worker takes them in

MAIL_RETRY = Retry(max=5, interval=[10, 30, 120, 600, 1800])


def redis_connection() -> Redis:
    """The app's Redis client, made once per app."""
    client = current_app.extensions.get("updates.redis")
    if client is None:
        client = Redis.from_url(
            current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=10
        )
        current_app.extensions["updates.redis"] = client
    return client


def queue(name: str) -> Queue:
    return Queue(name, connection=redis_connection())


def try_enqueue(name: str, func: str, *args: Any, **options: Any) -> bool:
    """Enqueue after the row is committed; if Redis is down the sweeper will enqueue it later."""
    try:
        with redis_connection().pipeline() as pipeline:  # one round trip instead of two
            queue(name).enqueue(func, *args, pipeline=pipeline, **options)
            pipeline.execute()
    except RedisError as error:
        log.warning("could not enqueue %s%s: %s; the sweeper will retry", func, args, error)
        return False
    return True


def health() -> dict[str, object]:
    """Queued, running and failed jobs per queue, and the workers alive; None if Redis is down."""
    from rq import Worker

    try:
        connection = redis_connection()
        queues = {}
        for name in ALL_QUEUES:
            q = Queue(name, connection=connection)
            queues[name] = {
                "queued": q.count,
                "running": q.started_job_registry.count,
                "failed": q.failed_job_registry.count,
            }
        return {"queues": queues, "workers": Worker.count(connection=connection)}
    except RedisError:
        return {"queues": None, "workers": None}
