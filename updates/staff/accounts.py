"""Staff accounts and their API tokens: passwords hashed with Argon2, tokens kept as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher, profiles
from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from updates import limits
from updates.addresses import InvalidAddress, address_key, normalise_address
from updates.extensions import db
from updates.models import ApiToken, StaffRole, StaffUser, utcnow
from updates.transaction import autocommit

ROLES = (StaffRole.ADMIN, StaffRole.EDITOR)
MIN_PASSWORD_LENGTH = 12
MAX_TOKEN_LENGTH = 200
# Recording every use would make each API call a write; a minute is precise enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class StaffError(ValueError):
    """A staff account or token cannot be made as asked."""


HASHING = {"recommended": profiles.RFC_9106_LOW_MEMORY, "cheapest": profiles.CHEAPEST}


def password_hasher() -> PasswordHasher:
    """The app's Argon2id hasher, with the parameters its configuration names."""
    hasher = current_app.extensions.get("updates.password_hasher")
    if hasher is None:
        parameters = HASHING[current_app.config["PASSWORD_HASHING"]]
        hasher = current_app.extensions["updates.password_hasher"] = PasswordHasher.from_parameters(
            parameters
        )
    return hasher


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
    _check_password(password)
    duplicate = StaffError(f"a staff account for {address} already exists")
    if find_staff(address) is not None:
        raise duplicate
    staff = StaffUser(email=address, role=role, password_hash=password_hasher().hash(password))
    try:
        with db.session.begin_nested():
            db.session.add(staff)
    except IntegrityError as error:  # a concurrent twin got there first
        raise duplicate from error
    return staff


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= limits.PASSWORD:
        raise StaffError(
            f"the password must be {MIN_PASSWORD_LENGTH} to {limits.PASSWORD} characters"
        )


def all_staff() -> list[StaffUser]:
    return list(db.session.scalars(select(StaffUser).order_by(StaffUser.email)))


@autocommit
def set_password(staff: StaffUser, password: str) -> None:
    """Give the account a new password (StaffError if too short or long).

    Every session the account has open ends with the old password.
    """
    _check_password(password)
    staff.password_hash = password_hasher().hash(password)
    staff.session_version += 1


@autocommit
def end_sessions(staff: StaffUser) -> None:
    """End every session the account has open, wherever its cookie has been copied to."""
    staff.session_version += 1


@autocommit
def deactivate_staff(staff: StaffUser, by: StaffUser) -> bool:
    """Stop the account signing in or using its API tokens; returns if it changed.

    Nobody may deactivate themselves, so an admin always remains to undo it.
    """
    if staff.id == by.id:
        raise StaffError("you cannot deactivate your own account; ask another admin")
    if not staff.active:
        return False
    staff.active = False
    end_sessions(staff)  # so that reactivating the account revives none of them
    return True


@autocommit
def reactivate_staff(staff: StaffUser) -> bool:
    """Let the account sign in again; its unrevoked API tokens work again too."""
    if staff.active:
        return False
    staff.active = True
    return True


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(email: str) -> str:
    """A new bearer token for an active staff account; only its hash is stored."""
    staff = find_staff(email)
    if staff is None:
        raise StaffError(f"no active staff account for {email}")
    return issue_api_token(staff)[1]


@autocommit
def issue_api_token(staff: StaffUser) -> tuple[ApiToken, str]:
    """A new token row for an active account, and the token itself: it is never seen again."""
    if not staff.active:
        raise StaffError(f"no active staff account for {staff.email}")
    token = secrets.token_urlsafe(32)
    row = ApiToken(staff_id=staff.id, token_hash=_token_hash(token))
    db.session.add(row)
    return row, token


def all_api_tokens() -> list[ApiToken]:
    """Every token, live ones first, newest first, with their owners loaded."""
    query = (
        select(ApiToken)
        .options(joinedload(ApiToken.staff))
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    )
    return list(db.session.scalars(query))


@autocommit
def revoke_api_token(token: ApiToken) -> bool:
    """The token stops working at once, for good; returns if it was live."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    return True


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
