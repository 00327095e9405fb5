"""An experiment for the worker side: worker.py with RQ's SimpleWorker for every queue.

`python worker.py` runs transactional mail in the worker process and forks a work horse for each
newsletter batch and housekeeping job. This runs every queue in process, with the same app,
scheduler and periodic ticker, for comparison; signup_load.py uses it with
`--mail-worker simple`. It is never used outside bench/.
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
