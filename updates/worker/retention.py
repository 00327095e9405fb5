"""Retention jobs: an address that unsubscribed is kept for UNSUBSCRIBED_RETENTION_DAYS."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from updates.models import utcnow
from updates.subscribers.retention import BATCH
from updates.subscribers.retention import forget_unsubscribed as forget
from updates.worker import job


@job
def forget_unsubscribed() -> str:
    """Reduce every address unsubscribed past the retention period to its hash, a batch a
    transaction so a long backlog never holds one open."""
    cutoff = utcnow() - timedelta(days=current_app.config["UNSUBSCRIBED_RETENTION_DAYS"])
    forgotten = 0
    while (done := forget(cutoff)) == BATCH:
        forgotten += done
    return f"forgot {forgotten + done} unsubscribed addresses"
