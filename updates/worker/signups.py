"""Sign-up jobs: decide a known address's sign-up, and forget those never confirmed."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from updates.mail import outbox
from updates.models import utcnow
from updates.subscribers import signup
from updates.worker import job


@job
def decide_deferred_signup(deferred_id: int) -> str:
    return decide(deferred_id)


def decide(deferred_id: int) -> str:
    """Decide a known address's sign-up, and hand on the email it is owed, if any."""
    email_id = signup.decide_deferred(deferred_id)
    if email_id is None:
        return "nothing owed"
    outbox.dispatch(email_id)
    return f"owes email {email_id}"


@job
def purge_unconfirmed() -> str:
    """Forget sign-ups never confirmed within the retention period: keep no data without consent,
    and every consent trail there is."""
    cutoff = utcnow() - timedelta(days=current_app.config["PENDING_RETENTION_DAYS"])
    purged = signup.purge_unconfirmed(cutoff)
    return f"forgot {purged.subscribers} subscribers and {purged.requests} other requests"
