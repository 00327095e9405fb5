"""Staff sign-in: Argon2 passwords, and a backoff per address and IP after repeated failures.

Failures are counted per pair of address and IP, never per account, so nobody can keep the
owner out from elsewhere: a guesser slows down only themselves. Every answer does the same
work, whether the address is unknown, the password wrong, the pair backed off or the account
deactivated: one look-up of the account, one of the backoff, one Argon2 verification, so the
time an answer takes does not tell who has an account.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from updates.addresses import address_key
from updates.extensions import db
from updates.models import LoginBackoff, StaffUser, utcnow
from updates.staff.accounts import find_staff, password_hasher
from updates.transaction import autocommit

FREE_FAILURES = 5  # then each failure doubles the wait, from the first to the longest
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(minutes=15)
FORGET_AFTER = timedelta(days=1)  # a pair with no failure for this long starts afresh


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt opened: the account, or nothing and how long to wait first."""

    staff: StaffUser | None
    wait_seconds: int = 0


@cache
def _decoy(hasher: PasswordHasher) -> str:
    """Verified against whenever no real hash may be, so every answer costs one verification.

    Made on first use: an Argon2 hash takes its full memory cost, which workers never need.
    """
    return hasher.hash("not a password anyone has")


def backoff_key(email: str, ip: str | None) -> str:
    """The keyed hash that names one address from one IP: neither is stored as such."""
    key = hashlib.sha256(f"updates.login-backoff{current_app.config['SECRET_KEY']}".encode())
    message = f"{address_key(email)}\n{ip or ''}".encode()
    return hmac.digest(key.digest(), message, "sha256").hex()


def wait_after(failures: int) -> timedelta:
    """How long a pair waits after this many failures in a row."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    return min(FIRST_WAIT * 2 ** (failures - FREE_FAILURES), LONGEST_WAIT)


def _seconds_left(backoff: LoginBackoff | None, now: datetime) -> int:
    if backoff is None or backoff.retry_at is None or backoff.retry_at <= now:
        return 0
    return max(1, int((backoff.retry_at - now).total_seconds() + 0.999))


@autocommit
def authenticate(email: str, password: str, ip: str | None) -> SignIn:
    """Check a password; failures count towards this address-and-IP pair's backoff, which
    `clear_backoff` lifts once the whole sign-in (second factor too) has succeeded."""
    now = utcnow()
    key = backoff_key(email, ip)
    backoff = db.session.get(LoginBackoff, key)
    wait = _seconds_left(backoff, now)
    staff = find_staff(email) if email else None
    usable = staff if staff is not None and staff.active and not wait else None
    verified = _verify(usable.password_hash if usable else _decoy(password_hasher()), password)
    if wait:
        return SignIn(None, wait)
    if usable is None or not verified:
        record_failure(key, backoff, now)
        return SignIn(None)
    if password_hasher().check_needs_rehash(usable.password_hash):
        usable.password_hash = password_hasher().hash(password)
    return SignIn(usable)


def waiting(email: str, ip: str | None) -> int:
    """Seconds this address-and-IP pair must wait before another attempt, or 0."""
    return _seconds_left(db.session.get(LoginBackoff, backoff_key(email, ip)), utcnow())


@autocommit
def record_failure(key: str, backoff: LoginBackoff | None, now: datetime) -> None:
    """Count one more failure for the pair, and set how long it waits."""
    if backoff is None:
        backoff = LoginBackoff(key=key, failures=0, last_failure_at=now)
        try:
            with db.session.begin_nested():
                db.session.add(backoff)
        except IntegrityError:  # a concurrent failure made the row first
            backoff = db.session.get(LoginBackoff, key, populate_existing=True)
    elif backoff.last_failure_at < now - FORGET_AFTER:
        backoff.failures = 0
    backoff.failures += 1
    backoff.last_failure_at = now
    wait = wait_after(backoff.failures)
    backoff.retry_at = now + wait if wait else None


@autocommit
def count_failure(email: str, ip: str | None) -> None:
    """Count a failure for the pair outside a password check: a wrong second-factor code."""
    key = backoff_key(email, ip)
    record_failure(key, db.session.get(LoginBackoff, key), utcnow())


@autocommit
def clear_backoff(email: str, ip: str | None) -> None:
    """Forget the pair's failures: it signed in, or its owner reset the password."""
    db.session.execute(delete(LoginBackoff).where(LoginBackoff.key == backoff_key(email, ip)))


@autocommit
def forget_stale_backoffs() -> int:
    """Delete pairs with no failure for a day; returns how many."""
    stale = delete(LoginBackoff).where(LoginBackoff.last_failure_at < utcnow() - FORGET_AFTER)
    return db.session.execute(stale).rowcount


def verify_password(staff: StaffUser, password: str) -> bool:
    """Whether this is the account's password (for actions that ask for it again)."""
    return _verify(staff.password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return password_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
