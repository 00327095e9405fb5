"""Two-factor sign-in: TOTP codes (RFC 6238) and single-use recovery codes.

The TOTP secret is stored encrypted (Fernet) under a key derived from SECRET_KEY, so a database
dump alone does not reveal it; every key in the SECRET_KEY list decrypts, and a secret sealed
under an older key is sealed again under the first at its next use. Recovery codes carry 80
random bits and are stored as SHA-256 digests, shown once when made.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import current_app
from markupsafe import Markup
from sqlalchemy import delete, func, select, update

from updates.extensions import db
from updates.models import RecoveryCode, StaffUser, utcnow
from updates.transaction import autocommit

RECOVERY_CODES = 10
STEP_SECONDS = 30
DRIFT_STEPS = 1  # a code from the step before or after is accepted too: clocks drift


class TwoFactorError(ValueError):
    """Two-factor cannot be set up or checked as asked."""


def _fernet() -> MultiFernet:
    keys = current_app.config["SECRET_KEYS"]
    derived = [hmac.digest(key.encode(), b"updates.totp-secret", "sha256") for key in keys]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(key)) for key in derived])


def _seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def _open(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken as error:
        raise TwoFactorError("the two-factor secret cannot be read with any SECRET_KEY") from error


@autocommit
def start_enrolment(staff: StaffUser) -> None:
    """Give the account a new secret to confirm with a code; two-factor is off until then."""
    if staff.has_two_factor:
        raise TwoFactorError("two-factor is already on for this account")
    staff.totp_secret = _seal(pyotp.random_base32())
    staff.totp_last_step = None


def pending_secret(staff: StaffUser) -> str | None:
    """The secret waiting to be confirmed, in the Base32 form an app takes, or None."""
    if staff.has_two_factor or staff.totp_secret is None:
        return None
    try:
        return _open(staff.totp_secret)
    except TwoFactorError:  # sealed under a key since removed: set up afresh
        return None


def qr_code(staff: StaffUser, secret: str) -> Markup:
    """The secret as an otpauth:// QR code, inline SVG made here: no outside service sees it."""
    uri = pyotp.TOTP(secret).provisioning_uri(
        name=staff.email, issuer_name=current_app.config["ORG_NAME"]
    )
    svg = segno.make(uri, error="m").svg_inline(scale=4, title="QR code of the secret")
    return Markup(svg)  # segno builds this markup itself, from our URI


@autocommit
def confirm_enrolment(staff: StaffUser, code: str) -> list[str]:
    """Turn two-factor on if the code matches the pending secret; returns new recovery codes."""
    secret = pending_secret(staff)
    if secret is None:
        raise TwoFactorError("set up two-factor first")
    if not _accept_totp(staff, secret, code):
        raise TwoFactorError("that code does not match; check the time on your phone")
    staff.totp_enabled_at = utcnow()
    return replace_recovery_codes(staff)


@autocommit
def turn_off(staff: StaffUser) -> bool:
    """Forget the secret and recovery codes; returns whether two-factor was on or pending."""
    was_set = staff.totp_secret is not None
    staff.totp_secret = None
    staff.totp_enabled_at = None
    staff.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == staff.id))
    return was_set


@autocommit
def replace_recovery_codes(staff: StaffUser) -> list[str]:
    """New recovery codes for the account, replacing every old one; only their hashes are kept."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.staff_id == staff.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(staff_id=staff.id, code_hash=_digest(c)) for c in codes)
    return codes


def _new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode()  # 16 characters, 80 bits
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _normalise(code: str) -> str:
    return "".join(code.split()).replace("-", "").upper()


def _digest(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def unused_recovery_codes(staff: StaffUser) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.staff_id == staff.id, RecoveryCode.used_at.is_(None))
    )


@autocommit
def check_second_factor(staff: StaffUser, code: str) -> str | None:
    """Accept a current TOTP code or an unused recovery code, once; returns which, or None."""
    code = code.strip()
    if not staff.has_two_factor or staff.totp_secret is None or not code or len(code) > 40:
        return None
    if code.isdigit():
        try:
            secret = _open(staff.totp_secret)
        except TwoFactorError:  # sealed under a key since removed: recovery codes still work
            return None
        return "code" if _accept_totp(staff, secret, code) else None
    used = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.staff_id == staff.id,
            RecoveryCode.code_hash == _digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=utcnow())
    ).rowcount
    return "recovery code" if used == 1 else None


def _accept_totp(staff: StaffUser, secret: str, code: str) -> bool:
    """Whether the code is the secret's for a step near now that no code was accepted for."""
    totp = pyotp.TOTP(secret)
    now = int(time.time()) // STEP_SECONDS
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if staff.totp_last_step is not None and step <= staff.totp_last_step:
            continue  # a code works once: a step at or before the last one accepted is spent
        if hmac.compare_digest(totp.generate_otp(step), code):
            staff.totp_last_step = step
            if staff.totp_secret is not None:
                staff.totp_secret = _fernet().rotate(staff.totp_secret.encode()).decode()
            return True
    return False
