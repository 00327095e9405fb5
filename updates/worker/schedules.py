"""The periodic job that runs every schedule whose time has come (`news/schedules.run_due`)."""

from __future__ import annotations

import logging

from updates.news.schedules import run_due
from updates.worker import job

log = logging.getLogger(__name__)


@job
def run_due_schedules() -> int:
    """Claim and run each due slot; another worker running this at once wins none of them twice."""
    digests = run_due()
    for digest in digests:
        log.info("schedule %s composed digest %s", digest.schedule_id, digest.id)
    return len(digests)
