"""Transactional email jobs: send an owed email, hand owed ids to send jobs, sweep the lost."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from updates.mail import outbox
from updates.mail.messages import message_bytes
from updates.mail.relay import PermanentFailure, Relay, TransientFailure, envelope_sender
from updates.mail.transactional import compose
from updates.models import EmailState
from updates.news.topics import topics_by_ids
from updates.subscribers import signup
from updates.subscribers.suppression import may_receive
from updates.worker import job
from updates.worker.signups import decide

log = logging.getLogger(__name__)


@job
def send_outbound_email(email_id: int) -> str:
    """Send one transactional email; transient failures raise so RQ retries with backoff."""
    email = outbox.claim(email_id)
    if email is None:
        return "not due"
    if not may_receive(email):  # checked now: a suppression may have come since it was owed
        outbox.finish(email, EmailState.CANCELLED, "subscriber cannot be mailed")
        return "cancelled"
    request = email.signup_request
    message = compose(email, topics_by_ids(request.topic_ids) if request else [])
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
def sweep_outbound_emails() -> int:
    """Decide sign-ups whose job Redis never got, and re-enqueue email it never got or lost."""
    grace = timedelta(seconds=current_app.config["SWEEP_GRACE_SECONDS"])
    for deferred_id in signup.overdue_deferred(grace):
        decide(deferred_id)
    count = outbox.redispatch_overdue(grace)
    if count:
        log.info("swept %s overdue emails back onto the queue", count)
    return count
