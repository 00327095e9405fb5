"""Staff email jobs: send a password-reset link, and sweep up what Redis lost."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from updates.mail.messages import message_bytes
from updates.mail.relay import PermanentFailure, Relay, TransientFailure, envelope_sender
from updates.models import EmailState
from updates.staff import resets, signin
from updates.worker import job

log = logging.getLogger(__name__)


@job
def send_password_reset(reset_id: int) -> str:
    """Send a reset link if the address is an active account's; transient failures retry."""
    reset = resets.claim(reset_id)
    if reset is None:
        return "not due"
    staff = resets.decide(reset)
    if staff is None:
        return "cancelled"
    message = resets.compose(reset, staff)
    try:
        with Relay() as relay:
            relay.send(envelope_sender(), staff.email, message_bytes(message))
    except TransientFailure as error:
        resets.release(reset, str(error))
        log.warning("password reset %s deferred: %s", reset_id, error)
        raise
    except PermanentFailure as error:
        resets.finish(reset, EmailState.FAILED, str(error))
        log.warning("password reset %s refused: %s", reset_id, error)
        return "failed"
    resets.finish(reset, EmailState.SENT)
    log.info("password reset %s sent", reset_id)
    return "sent"


@job
def sweep_staff_sign_in() -> int:
    """Re-enqueue reset emails Redis lost; forget old resets and stale sign-in backoffs."""
    grace = timedelta(seconds=current_app.config["SWEEP_GRACE_SECONDS"])
    count = resets.redispatch_overdue(grace)
    resets.forget_old()
    signin.forget_stale_backoffs()
    return count
