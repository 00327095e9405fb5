"""`python worker.py`: an RQ worker for every queue, with RQ's scheduler and the periodic ticker.

SIGTERM lets the current job finish, then exits. Run as many as you like, on as many machines.
Redis and database outages, of any length, are waited out (updates/worker/outages.py).

`python worker.py --check` is a container's health check: it exits 0 when the database and
Redis answer within HEALTH_TIMEOUT, and 1 (saying which failed) when either does not.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing
import os
import signal
import sys
from typing import Any

import rq
from redis.client import Pipeline
from rq import worker_registration
from rq.queue import Queue
from rq.worker import WorkerStatus
from sqlalchemy.orm import configure_mappers

from updates import create_app, health, instruments, logs
from updates.extensions import db
from updates.queues import ALL_QUEUES, MAIL, redis_connection
from updates.worker import Job
from updates.worker.outages import (
    LONGEST_PAUSE,
    REDIS_DOWN,
    Outage,
    Scheduler,
    lost_database,
    lost_redis,
    one_line,
    ping_database,
)
from updates.worker.periodic import PERIODIC_JOBS, configured, run_ticker

log = logging.getLogger("worker")

SCHEDULER_STOP_SECONDS = 10
RQ_RETRY_NOTICE = "Worker %s: could not connect to Redis instance"  # RQ's line per retry


class Worker(rq.Worker):
    """RQ's worker, which forks a work horse per job, except for transactional mail.

    A confirmation email is a few milliseconds of work; a fork, a new database connection and a
    new process's first imports cost several times that. So mail jobs run in the worker itself
    (as RQ's SimpleWorker runs every job), keeping its connection pool, while newsletter batches
    and housekeeping keep the isolation of a horse. A warm shutdown waits for either kind.

    RQ's loop ends the worker on a Redis error between jobs; here every Redis call of the loop
    notes an outage instead, and the worker waits for Redis (and, after a job lost its database
    connection, for the database) before it takes the next job. A job cut off by an outage runs
    again: RQ retries it, or the sweepers re-enqueue what the database says is still owed.
    """

    max_connection_wait_time = LONGEST_PAUSE  # RQ's backoff while a blocking dequeue fails

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.redis = Outage("Redis", lost_redis, log, on_back=self._register_again)
        self.database = Outage("The database", lost_database, log)
        self.look_at_database = False
        self._quiet_retries = _RetryNotices(self.redis)

    # -- taking jobs -----------------------------------------------------------------------

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        stopping = lambda: self._stop_requested  # noqa: E731
        if self.redis.ongoing and not self.redis.wait(self.connection.ping, stopping):
            return None  # asked to stop during the outage: RQ's loop ends cleanly
        if self.look_at_database:
            if not self.database.wait(ping_database, stopping):
                return None
            self.look_at_database = False
        return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            if queue.name == MAIL:
                execution = self.prepare_execution(job)
                self.perform_job(job, queue, execution)
                self.set_state(WorkerStatus.IDLE)
            else:
                super().execute_job(job, queue)
                # A horse's job fails in the horse; one look before the next job tells whether
                # it lost the database (a fork costs far more than the look).
                self.look_at_database = True
        except REDIS_DOWN as error:
            # The job ran, or never started, but RQ could not record it. The database's
            # sweepers re-enqueue whatever is still owed once Redis is back.
            self.redis.down(error)
            if self.horse_pid:  # never leave a horse unwatched
                self.wait_for_horse()
            self.executions.clear()
            self.set_state(WorkerStatus.IDLE)

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        error = exc_info[1]
        if error is not None and (lost_redis(error) or lost_database(error)):
            self.look_at_database = self.look_at_database or lost_database(error)
            self.log.warning(
                "job %s (%s) lost its connection: %s; it will run again",
                job.func_name,
                job.id,
                one_line(error),
            )
            return
        super().handle_exception(job, *exc_info)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        if job.origin == MAIL:  # no horse to watch, so no heartbeat until the job ends
            return rq.SimpleWorker.get_heartbeat_ttl(self, job, working_time)
        return super().get_heartbeat_ttl(job, working_time)

    # -- RQ's bookkeeping between jobs, which an outage skips ------------------------------

    def heartbeat(self, timeout: int | None = None, pipeline: Pipeline | None = None) -> None:
        if pipeline is not None:  # only queues commands; whoever executes the pipeline answers
            super().heartbeat(timeout, pipeline)
            return
        if self._redis_call(super().heartbeat, timeout):
            self.redis.up()

    def maintain_heartbeats(self, job: Job, execution: Any) -> None:
        self._redis_call(super().maintain_heartbeats, job, execution)

    def set_state(self, state: str, pipeline: Pipeline | None = None) -> None:
        self._redis_call(super().set_state, state, pipeline)

    def check_for_suspension(self, burst: bool) -> None:
        self._redis_call(super().check_for_suspension, burst)

    def run_maintenance_tasks(self) -> None:
        self._redis_call(super().run_maintenance_tasks)

    def set_shutdown_requested_date(self) -> None:
        self._redis_call(super().set_shutdown_requested_date)

    def register_death(self) -> None:
        self._redis_call(super().register_death)

    def unsubscribe(self) -> None:
        """Stop listening for RQ's remote commands, and never wait for the listener for long.

        RQ unsubscribes and then stops the listener thread; redis-py 8's stop waits for the
        thread, which once unsubscribed sleeps up to a minute before it looks again, and the
        worker would neither exit nor take jobs meanwhile. So the thread is told to stop first,
        the UNSUBSCRIBE reply wakes it, and a thread that still sleeps (a daemon) ends with us.
        """
        thread = self.pubsub_thread
        if thread is None:
            return
        self.log.info("Worker %s: unsubscribing from %s", self.name, self.pubsub_channel_name)
        thread.stop(timeout=0)
        self._redis_call(self.pubsub.unsubscribe)
        thread.join(timeout=1)

    def stop_scheduler(self) -> None:
        """Stop RQ's scheduler process, and never wait for it for long: its locks expire by
        themselves, while a worker stuck here would neither exit nor take jobs."""
        process = self.scheduler._process if self.scheduler else None
        if process is None or not process.pid:
            return
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGTERM)
        process.join(SCHEDULER_STOP_SECONDS)
        if process.is_alive():
            self.log.warning("scheduler %s did not stop; ending it", process.pid)
            process.kill()
            process.join()

    def bootstrap(self, *args: Any, **kwargs: Any) -> None:
        self.log.addFilter(self._quiet_retries)
        super().bootstrap(*args, **kwargs)

    def teardown(self) -> None:
        super().teardown()
        self.log.removeFilter(self._quiet_retries)

    def _register_again(self) -> None:
        """Redis may be back empty: list this worker again, as the staff dashboard counts it."""
        try:
            with self.connection.pipeline() as pipeline:
                pipeline.hset(self.key, mapping={**self.serialize(), "state": self.get_state()})
                pipeline.expire(self.key, self.worker_ttl + 60)
                worker_registration.register(self, pipeline)
                pipeline.execute()
        except REDIS_DOWN as error:
            self.redis.down(error)

    def _redis_call(self, call: Any, *args: Any) -> bool:
        """Make one of RQ's own Redis calls; during an outage, note it and go on without."""
        try:
            call(*args)
        except REDIS_DOWN as error:
            self.redis.down(error)
            return False
        return True


class _RetryNotices(logging.Filter):
    """Folds RQ's line per failed retry of Redis into the worker's one line per outage."""

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(RQ_RETRY_NOTICE) and len(record.args or ()) > 1:
            self.outage.down(record.args[1])  # type: ignore[index]
            return False
        return True


def check() -> int:
    """Whether the worker's dependencies answer: 0 if so, 1 if not; the answer on stdout."""
    app = create_app()
    with app.app_context():
        answer = health.readiness()
    print(json.dumps(answer))
    return 1 if answer.get("failed") else 0


def main(worker_class: type[rq.Worker] = Worker) -> None:
    app = create_app()
    periodic = [job.func for job in PERIODIC_JOBS]
    logs.configure(str(app.config["LOG_FORMAT"]), str(app.config["LOG_LEVEL"]), quiet_jobs=periodic)
    if app.config["WORKER_METRICS_PORT"]:
        instruments.serve_for_worker(
            str(app.config["WORKER_METRICS_ADDRESS"]), int(app.config["WORKER_METRICS_PORT"])
        )
    with app.app_context():
        configure_mappers()
        engine = db.engine
        # A forked child (work horse, scheduler, ticker) must not use the parent's connections:
        # it starts with an empty pool, leaving those sockets to the parent.
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
        connection = redis_connection()
        redis = Outage("Redis", lost_redis, log)
        redis.wait(connection.ping)
        ticker = multiprocessing.get_context("fork").Process(
            target=run_ticker,
            args=(app.config["REDIS_URL"], os.getpid(), configured(app.config)),
            daemon=True,
            name="periodic-ticker",
        )
        ticker.start()
        worker = worker_class(list(ALL_QUEUES), connection=connection, job_class=Job)
        # RQ's scheduler process, made here to be one that waits out Redis outages; RQ's
        # maintenance restarts it if it ever dies, and the worker stops it on the way out.
        worker.scheduler = Scheduler(worker.queues, connection=connection)
        while True:
            try:
                worker.scheduler.acquire_locks(auto_start=True)
                worker.work(logging_level=str(app.config["LOG_LEVEL"]))
                return
            except REDIS_DOWN as error:  # while registering, before RQ's loop began
                redis.down(error)
                redis.wait(connection.ping)
                worker.register_death()  # so that registering again finds no live namesake


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    main()
