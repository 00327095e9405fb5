"""addresses stored with their domain in ASCII (punycode), as they are now normalised

Rows written before kept an international domain in Unicode (`user@bücher.de`). Their keys and
hashes would no longer match the same address typed again (`user@xn--bcher-kva.de` now): a
second subscriber, a suppression that no longer holds, a staff member who cannot sign in. This
rewrites them in the form the code now gives, and the hash of a suppression whose address is
kept. An erased address is kept only as a hash and cannot be rewritten.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 11:30:00.000000

"""
import hashlib
import logging

from alembic import op
import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

subscribers = sa.table(
    "subscribers", sa.column("id"), sa.column("email"), sa.column("email_key")
)
suppressions = sa.table(
    "suppressions", sa.column("id"), sa.column("email"), sa.column("email_hash")
)
staff_users = sa.table("staff_users", sa.column("id"), sa.column("email"))
deferred_signups = sa.table("deferred_signups", sa.column("id"), sa.column("email"))


def _converted(address, to_ascii):
    """The address with its domain in ASCII (or, going down, in Unicode); None if unchanged."""
    if not address or (to_ascii and address.isascii()) or (not to_ascii and "xn--" not in address):
        return None
    try:
        result = validate_email(
            address, check_deliverability=False, allow_smtputf8=True, allow_display_name=False
        )
    except EmailNotValidError:
        return None
    domain = result.ascii_domain if to_ascii else result.domain
    converted = f"{result.local_part}@{domain}"
    return converted if converted != address else None


def _hash(key):
    return hashlib.sha256(key.encode()).hexdigest()


def _rewrite(to_ascii):
    connection = op.get_bind()
    keys = set(connection.scalars(sa.select(subscribers.c.email_key)))
    for id_, email in connection.execute(sa.select(subscribers.c.id, subscribers.c.email)).all():
        converted = _converted(email, to_ascii)
        if converted is None:
            continue
        if converted.lower() in keys:
            log.warning("subscriber %s: %s is already a subscriber; left as it was", id_, converted)
            continue
        keys.add(converted.lower())
        connection.execute(
            subscribers.update()
            .where(subscribers.c.id == id_)
            .values(email=converted, email_key=converted.lower())
        )

    hashes = set(connection.scalars(sa.select(suppressions.c.email_hash)))
    for id_, email in connection.execute(sa.select(suppressions.c.id, suppressions.c.email)).all():
        converted = _converted(email, to_ascii)
        if converted is None or _hash(converted.lower()) in hashes:
            continue  # unchanged, or already on the list in its new spelling
        hashes.add(_hash(converted.lower()))
        connection.execute(
            suppressions.update()
            .where(suppressions.c.id == id_)
            .values(email=converted.lower(), email_hash=_hash(converted.lower()))
        )

    staff = set(connection.scalars(sa.select(staff_users.c.email)))
    for id_, email in connection.execute(sa.select(staff_users.c.id, staff_users.c.email)).all():
        converted = _converted(email, to_ascii)
        if converted is not None and converted.lower() not in staff:
            staff.add(converted.lower())
            connection.execute(
                staff_users.update()
                .where(staff_users.c.id == id_)
                .values(email=converted.lower())
            )

    for id_, email in connection.execute(
        sa.select(deferred_signups.c.id, deferred_signups.c.email)
    ).all():
        converted = _converted(email, to_ascii)
        if converted is not None:
            connection.execute(
                deferred_signups.update()
                .where(deferred_signups.c.id == id_)
                .values(email=converted)
            )


def upgrade():
    _rewrite(to_ascii=True)


def downgrade():
    _rewrite(to_ascii=False)
