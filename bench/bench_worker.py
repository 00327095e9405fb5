"""An experiment for the mail side: worker.py with RQ's SimpleWorker (no fork per job).

`python worker.py` runs RQ's default Worker, which forks a work horse for every job; the horse
opens its own PostgreSQL connection (the parent disposed of its pool before forking), so each
confirmation email pays for a fork, a new database connection and a new SMTP session.
This runs the same queues with the same app, scheduler and periodic ticker, but executes jobs in
the worker process itself, where the connection pool survives from one job to the next.
signup_load.py uses it with `--mail-worker simple`; it is never used outside bench/.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

from rq import SimpleWorker
from sqlalchemy.orm import configure_mappers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import worker  # the project's worker.py, from the repository root added above
from updates import create_app
from updates.extensions import db
from updates.periodic import run_ticker
from updates.queues import ALL_QUEUES, redis_connection


def main() -> None:
    app = create_app()
    with app.app_context():
        configure_mappers()
        db.engine.dispose()  # the ticker is forked below; no connection may cross it
        worker.wait_for_redis()
        ticker = multiprocessing.get_context("fork").Process(
            target=run_ticker,
            args=(app.config["REDIS_URL"], os.getpid()),
            daemon=True,
            name="periodic-ticker",
        )
        ticker.start()
        SimpleWorker(list(ALL_QUEUES), connection=redis_connection()).work(with_scheduler=True)


if __name__ == "__main__":
    main()
