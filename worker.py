"""`python worker.py`: an RQ worker for every queue, with RQ's scheduler and the periodic ticker.

SIGTERM lets the current job finish, then exits. Run as many as you like, on as many machines.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time

from redis.exceptions import RedisError
from rq import Worker
from sqlalchemy.orm import configure_mappers

from updates import create_app
from updates.extensions import db
from updates.periodic import run_ticker
from updates.queues import ALL_QUEUES, redis_connection

log = logging.getLogger("worker")


def wait_for_redis() -> None:
    while True:
        try:
            redis_connection().ping()
            return
        except RedisError as error:
            log.warning("waiting for Redis: %s", error)
            time.sleep(2)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app()
    with app.app_context():
        configure_mappers()
        db.engine.dispose()  # each job runs in a fork; no connection may cross it
        wait_for_redis()
        ticker = multiprocessing.get_context("fork").Process(
            target=run_ticker,
            args=(app.config["REDIS_URL"], os.getpid()),
            daemon=True,
            name="periodic-ticker",
        )
        ticker.start()
        Worker(list(ALL_QUEUES), connection=redis_connection()).work(with_scheduler=True)


if __name__ == "__main__":
    main()
