"""`python worker.py`: an RQ worker for every queue, with RQ's scheduler and the periodic ticker.

SIGTERM lets the current job finish, then exits. Run as many as you like, on as many machines.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time

import rq
from redis.exceptions import RedisError
from rq.queue import Queue
from rq.worker import WorkerStatus
from sqlalchemy.orm import configure_mappers

from updates import create_app
from updates.extensions import db
from updates.queues import ALL_QUEUES, MAIL, redis_connection
from updates.worker import Job
from updates.worker.periodic import run_ticker

log = logging.getLogger("worker")


class Worker(rq.Worker):
    """RQ's worker, which forks a work horse per job, except for transactional mail.

    A confirmation email is a few milliseconds of work; a fork, a new database connection and a
    new process's first imports cost several times that. So mail jobs run in the worker itself
    (as RQ's SimpleWorker runs every job), keeping its connection pool, while newsletter batches
    and housekeeping keep the isolation of a horse. A warm shutdown waits for either kind.
    """

    def execute_job(self, job: Job, queue: Queue) -> None:
        if queue.name != MAIL:
            super().execute_job(job, queue)
            return
        execution = self.prepare_execution(job)
        self.perform_job(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if job.origin == MAIL:  # no horse to watch, so no heartbeat until the job ends
            return rq.SimpleWorker.get_heartbeat_ttl(self, job, working_time)
        return super().get_heartbeat_ttl(job, working_time)


def wait_for_redis() -> None:
    while True:
        try:
            redis_connection().ping()
            return
        except RedisError as error:
            log.warning("waiting for Redis: %s", error)
            time.sleep(2)


def main(worker_class: type[rq.Worker] = Worker) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app()
    with app.app_context():
        configure_mappers()
        engine = db.engine
        # A forked child (work horse, scheduler, ticker) must not use the parent's connections:
        # it starts with an empty pool, leaving those sockets to the parent.
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
        wait_for_redis()
        ticker = multiprocessing.get_context("fork").Process(
            target=run_ticker,
            args=(app.config["REDIS_URL"], os.getpid()),
            daemon=True,
            name="periodic-ticker",
        )
        ticker.start()
        worker = worker_class(list(ALL_QUEUES), connection=redis_connection(), job_class=Job)
        worker.work(with_scheduler=True)


if __name__ == "__main__":
    main()
