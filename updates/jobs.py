"""RQ jobs. Each takes ids, reloads, and checks state first, so running one twice does no harm."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app
from sqlalchemy import delete, select

from . import outbox, signup
from .emails import message_bytes
from .extensions import db
from .mailer import PermanentFailure, Relay, TransientFailure, envelope_sender
from .models import EmailState, Subscriber, SubscriberStatus, utcnow
from .signup import NOT_MAILABLE
from .transactional import compose

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def job(func: Callable[P, R]) -> Callable[P, R]:
    """Give each job a fresh database session and leave none behind."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        finally:
            db.session.remove()

    return wrapper


@job
def send_outbound_email(email_id: int) -> str:
    """Send one transactional email; transient failures raise so RQ retries with backoff."""
    email = outbox.claim(email_id)
    if email is None:
        return "not due"
    if email.subscriber.status in NOT_MAILABLE or not email.subscriber.email:
        outbox.finish(email, EmailState.CANCELLED, "subscriber cannot be mailed")
        return "cancelled"
    message = compose(email)
    try:
        with Relay() as relay:
            relay.send(envelope_sender(), email.subscriber.email, message_bytes(message))
    except TransientFailure as error:
        outbox.release(email, str(error))
        log.warning("email %s deferred: %s", email_id, error)
        raise
    except PermanentFailure as error:
        outbox.finish(email, EmailState.FAILED, str(error))
        log.warning("email %s refused: %s", email_id, error)
        return "failed"
    outbox.finish(email, EmailState.SENT)
    log.info("email %s sent", email_id)
    return "sent"


@job
def hand_off_owed_emails() -> int:
    """Turn the email ids that requests pushed onto Redis into send jobs, in bulk."""
    return outbox.hand_off_owed()


@job
def decide_deferred_signup(deferred_id: int) -> str:
    return _decide(deferred_id)


def _decide(deferred_id: int) -> str:
    """Decide a known address's sign-up, and hand on the email it is owed, if any."""
    email_id = signup.decide_deferred(deferred_id)
    if email_id is None:
        return "nothing owed"
    outbox.dispatch(email_id)
    return f"owes email {email_id}"


@job
def sweep_outbound_emails() -> int:
    """Decide sign-ups whose job Redis never got, and re-enqueue email it never got or lost."""
    grace = timedelta(seconds=current_app.config["SWEEP_GRACE_SECONDS"])
    for deferred_id in signup.overdue_deferred(grace):
        _decide(deferred_id)
    count = outbox.redispatch_overdue(grace)
    if count:
        log.info("swept %s overdue emails back onto the queue", count)
    return count


@job
def purge_unconfirmed() -> int:
    """Forget sign-ups never confirmed within the retention period: keep no data without consent."""
    cutoff = utcnow() - timedelta(days=current_app.config["PENDING_RETENTION_DAYS"])
    stale = select(Subscriber.id).where(
        Subscriber.status == SubscriberStatus.PENDING, Subscriber.updated_at < cutoff
    )
    deleted = db.session.execute(
        delete(Subscriber)
        .where(Subscriber.id.in_(stale))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return deleted
