"""schedules, the digests they compose, and which updates each delivery sent

A delivery sent names its variant; a variant lists the updates it held. Deliveries sent before
this revision have none: their digest's updates stand for what they held.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 00:50:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('cadence', sa.String(length=10), nullable=False),
    sa.Column('weekday', sa.Integer(), nullable=True),
    sa.Column('day', sa.Integer(), nullable=True),
    sa.Column('time', sa.String(length=5), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('subject_template', sa.String(length=300), nullable=False),
    sa.Column('intro_markdown', sa.Text(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('next_run', sa.DateTime(), nullable=True),
    sa.Column('last_run_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.create_index('ix_schedules_active_next_run', ['active', 'next_run'], unique=False)

    op.create_table('schedule_topics',
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('topic_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['topic_id'], ['topics.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('schedule_id', 'topic_id')
    )
    with op.batch_alter_table('digests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('schedule_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_digests_schedule_id'), ['schedule_id'], unique=False)
        batch_op.create_foreign_key(
            'fk_digests_schedule_id_schedules', 'schedules', ['schedule_id'], ['id'],
            ondelete='SET NULL',
        )
    with op.batch_alter_table('digest_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_digest_updates_update_id'), ['update_id'], unique=False)

    op.create_table('variants',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('digest_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['digest_id'], ['digests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_variants_digest_id'), ['digest_id'], unique=False)
    op.create_table('variant_updates',
    sa.Column('variant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['update_id'], ['updates.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['variant_id'], ['variants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('variant_id', 'update_id')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('variant_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))


def downgrade():
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('variant_id')
    op.drop_table('variant_updates')
    with op.batch_alter_table('variants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_variants_digest_id'))
    op.drop_table('variants')
    with op.batch_alter_table('digest_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_digest_updates_update_id'))
    with op.batch_alter_table('digests', schema=None) as batch_op:
        batch_op.drop_constraint('fk_digests_schedule_id_schedules', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_digests_schedule_id'))
        batch_op.drop_column('schedule_id')
    op.drop_table('schedule_topics')
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.drop_index('ix_schedules_active_next_run')
    op.drop_table('schedules')
