"""Staff accounts and their API tokens: passwords hashed with Argon2, tokens kept as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from .addresses import InvalidAddress, address_key, normalise_address
from .extensions import db
from .models import ApiToken, StaffRole, StaffUser, utcnow
from .transaction import autocommit

ROLES = (StaffRole.ADMIN, StaffRole.EDITOR)
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
MAX_TOKEN_LENGTH = 200
# Recording every use would make each API call a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_hasher = PasswordHasher()


class StaffError(ValueError):
    """A staff account or token cannot be made as asked."""


def find_staff(email: str) -> StaffUser | None:
    return db.session.scalar(select(StaffUser).where(StaffUser.email == address_key(email)))


@autocommit
def add_staff(email: str, role: str, password: str) -> StaffUser:
    """Create a staff account; StaffError for a bad address, role or password, or a duplicate."""
    try:
        address = address_key(normalise_address(email))
    except InvalidAddress as error:
        raise StaffError(str(error)) from error
    if role not in ROLES:
        raise StaffError(f"role must be one of {', '.join(ROLES)}")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise StaffError(
            f"the password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    duplicate = StaffError(f"a staff account for {address} already exists")
    if find_staff(address) is not None:
        raise duplicate
    staff = StaffUser(email=address, role=role, password_hash=_hasher.hash(password))
    try:
        with db.session.begin_nested():
            db.session.add(staff)
    except IntegrityError as error:  # a concurrent twin got there first
        raise duplicate from error
    return staff


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@autocommit
def create_api_token(email: str) -> str:
    """A new bearer token for an active staff account; only its hash is stored."""
    staff = find_staff(email)
    if staff is None or not staff.active:
        raise StaffError(f"no active staff account for {email}")
    token = secrets.token_urlsafe(32)
    db.session.add(ApiToken(staff_id=staff.id, token_hash=_token_hash(token)))
    return token


def staff_for_token(token: str) -> StaffUser | None:
    """The active staff account a live token belongs to, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = db.session.execute(
        select(ApiToken.id, ApiToken.last_used_at, StaffUser)
        .join(StaffUser, ApiToken.staff_id == StaffUser.id)
        .where(
            ApiToken.token_hash == _token_hash(token),
            ApiToken.revoked_at.is_(None),
            StaffUser.active.is_(True),
        )
    ).first()
    if row is None:
        return None
    token_id, last_used_at, staff = row
    if last_used_at is None or last_used_at <= utcnow() - LAST_USED_RESOLUTION:
        _record_use(token_id)
    return staff


@autocommit
def _record_use(token_id: int) -> None:
    now = utcnow()
    db.session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(
                ApiToken.last_used_at.is_(None),
                ApiToken.last_used_at <= now - LAST_USED_RESOLUTION,
            ),
        )
        .values(last_used_at=now)
    )
