"""An experiment for the worker side: worker.py with RQ's SimpleWorker for every queue.

`python worker.py` runs transactional mail in the worker process and forks a work horse for each
newsletter batch and housekeeping job. This runs every queue in process, with the same app,
scheduler and periodic ticker, for comparison; signup_load.py uses it with
`--mail-worker simple`. It is never used outside bench/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rq import SimpleWorker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import worker  # the project's worker.py, from the repository root added above

if __name__ == "__main__":
    worker.main(SimpleWorker)
