"""Password resets by email: asked for in a request, decided and sent by a worker, used once.

A request writes the same row whether or not the address has an account, and hands it to a
worker, so the answer and its cost never tell who is on the staff. The worker sends the link to
an active account only. A link names its row; it works for an hour from the request, once:
using it spends every other link the account was sent.
"""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import delete, or_, select, update

from updates import links, queues, tokens
from updates.addresses import address_key
from updates.extensions import db
from updates.mail.messages import build_message, render_email, tagged_message_id
from updates.models import EmailState, PasswordReset, StaffUser, utcnow
from updates.queues import Jobs
from updates.service_metrics import count_email_outcome
from updates.staff.accounts import find_staff, set_password
from updates.staff.signin import clear_backoff
from updates.transaction import after_commit, autocommit

PURPOSE = "staff-password-reset"
LINK_LIFETIME = timedelta(hours=1)
RESEND_GAP = timedelta(minutes=1)  # one email a minute per account, however often it is asked
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 8
PASSWORD_RESET = "password_reset"  # the kind its outcomes are counted under in the metrics
KEPT_FOR = timedelta(days=1)  # rows hold an address someone typed: gone a day later


def job_id(reset_id: int) -> str:
    return f"password-reset-{reset_id}"


@autocommit
def request_reset(email: str) -> None:
    """Owe a reset email to whoever has this address; a worker decides if anyone does."""
    reset = PasswordReset(email=address_key(email))
    db.session.add(reset)
    db.session.flush()
    after_commit(lambda: dispatch(reset.id))


def dispatch(reset_id: int) -> bool:
    """Hand the row to the workers; if Redis refuses, the sweeper will."""
    return queues.try_enqueue(
        queues.MAIL,
        Jobs.SEND_PASSWORD_RESET,
        reset_id,
        job_id=job_id(reset_id),
        retry=queues.MAIL_RETRY,
    )


def claim(reset_id: int) -> PasswordReset | None:
    """Take a lease on a pending row, or None if it is done or leased elsewhere."""
    now = utcnow()
    claimed = db.session.execute(
        update(PasswordReset)
        .where(
            PasswordReset.id == reset_id,
            PasswordReset.state == EmailState.PENDING,
            or_(PasswordReset.claimed_until.is_(None), PasswordReset.claimed_until < now),
        )
        .values(claimed_until=now + LEASE, attempts=PasswordReset.attempts + 1)
    ).rowcount
    # The lease commits on its own, before the send, as the outbox's does.
    db.session.commit()
    return db.session.get(PasswordReset, reset_id) if claimed else None


@autocommit
def decide(reset: PasswordReset) -> StaffUser | None:
    """The active account this row's email goes to, or None (and the row is finished)."""
    staff = find_staff(reset.email)
    if staff is None or not staff.active:
        finish(reset, EmailState.CANCELLED, "no active staff account")
        return None
    recent = db.session.scalar(
        select(PasswordReset.id).where(
            PasswordReset.staff_id == staff.id,
            PasswordReset.sent_at > utcnow() - RESEND_GAP,
        )
    )
    if recent is not None:
        finish(reset, EmailState.CANCELLED, "a link was sent moments ago")
        return None
    reset.staff_id = staff.id
    return staff


def compose(reset: PasswordReset, staff: StaffUser) -> EmailMessage:
    """The email with the reset link; the same Message-ID on every attempt."""
    token = tokens.make_token(PURPOSE, [reset.id])
    url = links.external_url("console.reset_password", token=token)
    rendered = render_email("password_reset", reset_url=url, email=staff.email)
    message_id = tagged_message_id(f"password-reset-{reset.id}")
    return build_message(rendered, to=staff.email, message_id=message_id)


@autocommit
def finish(reset: PasswordReset, state: str, error: str | None = None) -> None:
    reset.state = state
    count_email_outcome(PASSWORD_RESET, state)
    reset.claimed_until = None
    reset.last_error = error[:500] if error else None
    if state == EmailState.SENT:
        reset.sent_at = utcnow()


@autocommit
def release(reset: PasswordReset, error: str) -> None:
    """Give the lease back after a transient failure so a retry can claim it."""
    if reset.attempts >= MAX_ATTEMPTS:
        finish(reset, EmailState.FAILED, error)
        return
    reset.claimed_until = None
    reset.last_error = error[:500]


def redispatch_overdue(grace: timedelta) -> int:
    """Enqueue again every pending row older than `grace` that no worker holds."""
    now = utcnow()
    overdue = db.session.scalars(
        select(PasswordReset.id).where(
            PasswordReset.state == EmailState.PENDING,
            PasswordReset.created_at < now - grace,
            PasswordReset.created_at > now - LINK_LIFETIME,  # too late to be of use after
            or_(PasswordReset.claimed_until.is_(None), PasswordReset.claimed_until < now),
        )
    )
    return sum(dispatch(reset_id) for reset_id in overdue)


@autocommit
def forget_old() -> int:
    """Delete rows older than a day; returns how many."""
    old = delete(PasswordReset).where(PasswordReset.created_at < utcnow() - KEPT_FOR)
    return db.session.execute(old).rowcount


def usable_reset(token: str) -> PasswordReset | None:
    """The row a link names, if the link is ours, unused, within its hour, for an active account."""
    try:
        payload = tokens.read_token(PURPOSE, token)
    except (tokens.InvalidToken, tokens.ExpiredToken):
        return None
    if not (isinstance(payload, list) and len(payload) == 1 and type(payload[0]) is int):
        return None
    reset = db.session.get(PasswordReset, payload[0])
    if (
        reset is None
        or reset.staff_id is None
        or reset.state != EmailState.SENT
        or reset.used_at is not None
        or reset.created_at < utcnow() - LINK_LIFETIME
    ):
        return None
    staff = db.session.get(StaffUser, reset.staff_id)
    return reset if staff is not None and staff.active else None


class ResetSpent(ValueError):
    """The link was used already, by a concurrent request."""


@autocommit
def complete_reset(reset: PasswordReset, password: str, ip: str | None) -> StaffUser:
    """Set the new password (StaffError if unfit) and spend every link the account was sent."""
    now = utcnow()
    spent = db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent != 1:  # a concurrent request used it first
        raise ResetSpent("this link has been used already")
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.staff_id == reset.staff_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    staff = db.session.get(StaffUser, reset.staff_id)
    set_password(staff, password)
    clear_backoff(staff.email, ip)
    return staff
