"""A digest's progress as the console shows it: its stage in plain words, counts, rate and time
left."""

from __future__ import annotations

from datetime import datetime

from updates.models import Digest, DigestStatus, utcnow
from updates.news import digests

STARTING = "starting"  # scheduled, and its time has come: a worker is about to take it
LABELS = {
    DigestStatus.DRAFT: "Draft",
    DigestStatus.SCHEDULED: "Scheduled",
    STARTING: "Starting",
    DigestStatus.SENDING: "Sending",
    DigestStatus.PAUSED: "Paused",
    DigestStatus.SENT: "Sent",
    DigestStatus.CANCELLED: "Cancelled",
}
FINAL = frozenset({DigestStatus.SENT, DigestStatus.CANCELLED})


def stage(digest: Digest, now: datetime | None = None) -> str:
    """The digest's status, but `starting` for a scheduled one whose time has come."""
    due = digest.scheduled_at is not None and digest.scheduled_at <= (now or utcnow())
    return STARTING if digest.status == DigestStatus.SCHEDULED and due else digest.status


def pace(
    digest: Digest, progress: digests.Progress, now: datetime | None = None
) -> tuple[float | None, int | None]:
    """Messages a second since it started (sent or failed), and seconds left at that rate.

    Both None while it is not under way; a finished digest keeps its final average rate.
    """
    if digest.started_at is None or digest.status not in (DigestStatus.SENDING, *FINAL):
        return None, None
    end = digest.finished_at if digest.status in FINAL and digest.finished_at else now or utcnow()
    elapsed = max((end - digest.started_at).total_seconds(), 0.001)
    rate = (progress.sent + progress.failed) / elapsed
    if digest.status in FINAL:
        return round(rate, 1), 0
    return round(rate, 1), round(progress.pending / rate) if rate else None


def snapshot(digest: Digest) -> dict[str, object]:
    """Everything the progress bar shows, as its page's script reads it."""
    now = utcnow()
    progress = digests.progress(digest.id)
    rate, seconds_left = pace(digest, progress, now)
    done = progress.recipients - progress.pending
    current = stage(digest, now)
    return {
        "status": digest.status,
        "stage": current,
        "label": LABELS[current],
        "final": digest.status in FINAL,
        "recipients": progress.recipients,
        "sent": progress.sent,
        "failed": progress.failed,
        "skipped": progress.skipped,
        "already_sent": progress.already_sent,
        "pending": progress.pending,
        "done": done,
        "percent": done * 100 // progress.recipients if progress.recipients else 0,
        "rate": rate,
        "seconds_left": seconds_left,
        "time_left": None if seconds_left is None else duration(seconds_left),
    }


def duration(seconds: int) -> str:
    """A time left in plain words: seconds under two minutes, then minutes, then hours."""
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"

