"""the suppression list's hashes keyed with SUPPRESSION_KEY (HMAC-SHA256)

A row held the plain SHA-256 of its address, so anyone with a copy of the database could test
whether a guessed address was on the list. Each row now holds HMAC-SHA256(SUPPRESSION_KEY, that
SHA-256), which is what updates.addresses.address_hash computes: an erased address is gone and
cannot be hashed again, but its old hash can be keyed in place, so every row, old or new, has the
one form and no unkeyed hash is left behind. It runs after 0007, which rewrites the plain hashes
of international domains.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 11:10:00.000000

"""
import hashlib
import hmac

from alembic import op
import sqlalchemy as sa
from flask import current_app


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

suppressions = sa.table("suppressions", sa.column("id"), sa.column("email_hash"))


def upgrade():
    key = current_app.config["SUPPRESSION_KEY"].encode()
    connection = op.get_bind()
    rows = connection.execute(sa.select(suppressions.c.id, suppressions.c.email_hash)).all()
    keyed = [
        {"row_id": id_, "keyed": hmac.new(key, plain.encode(), hashlib.sha256).hexdigest()}
        for id_, plain in rows
    ]
    if keyed:
        connection.execute(
            suppressions.update()
            .where(suppressions.c.id == sa.bindparam("row_id"))
            .values(email_hash=sa.bindparam("keyed")),
            keyed,
        )


def downgrade():
    raise RuntimeError(
        "0008 cannot be undone: a keyed hash cannot be turned back into the plain one. "
        "Restore the backup taken before the upgrade instead."
    )
