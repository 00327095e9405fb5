"""sign-ups from known addresses, written as sent and decided by a worker

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 03:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('deferred_signups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('topic_ids', sa.JSON(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=True),
    sa.Column('user_agent', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['statement_id'], ['consent_statements.id'], name=op.f('fk_deferred_signups_statement_id_consent_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deferred_signups'))
    )
    with op.batch_alter_table('deferred_signups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deferred_signups_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('deferred_signups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deferred_signups_created_at'))

    op.drop_table('deferred_signups')
