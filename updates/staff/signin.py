"""Staff sign-in: Argon2 passwords, and an account locked for a while after repeated failures."""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from updates.models import StaffUser, utcnow
from updates.staff.accounts import find_staff
from updates.transaction import autocommit

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)

_hasher = PasswordHasher()


@cache
def _decoy() -> str:
    """Verified against when the address is unknown, so timing does not tell who has an account.

    Made on first use: an Argon2 hash takes its full memory cost, which workers never need.
    """
    return _hasher.hash("not a password anyone has")


@autocommit
def authenticate(email: str, password: str) -> StaffUser | None:
    """The active account these credentials open, or None; failures count towards a lockout."""
    staff = find_staff(email) if email else None
    if staff is None or not staff.active:
        _verify(_decoy(), password)
        return None
    now = utcnow()
    if staff.locked_until is not None and staff.locked_until > now:
        return None
    if not _verify(staff.password_hash, password):
        staff.failed_logins += 1
        if staff.failed_logins >= MAX_FAILURES:
            staff.locked_until = now + LOCKOUT
            staff.failed_logins = 0
        return None
    staff.failed_logins = 0
    staff.locked_until = None
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = _hasher.hash(password)
    return staff


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
