"""updates keep their revisions and may be withdrawn; a digest pins what it sent

Every update gets a first revision holding what it says now. A digest that already started
sending (or sent) is pinned to those revisions, so a correction made after this upgrade never
changes what it shows, in a re-run batch, a preview or a test copy.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 00:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('update_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('update_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('body_markdown', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=False),
    sa.Column('topic_ids', sa.JSON(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_update_revisions_staff_id_staff_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['update_id'], ['updates.id'], name=op.f('fk_update_revisions_update_id_updates'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_update_revisions'))
    )
    with op.batch_alter_table('update_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_update_revisions_update_id'), ['update_id'], unique=False)

    with op.batch_alter_table('updates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revised_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(), nullable=True))

    with op.batch_alter_table('digest_updates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_digest_updates_revision_id_update_revisions'), 'update_revisions', ['revision_id'], ['id'])

    _first_revisions()


def _first_revisions():
    """One revision per existing update, and the digests that started sending pinned to it."""
    connection = op.get_bind()
    updates = sa.table(
        'updates', sa.column('id'), sa.column('title'), sa.column('body_markdown'),
        sa.column('body_html'), sa.column('created_at'),
    )
    update_topics = sa.table('update_topics', sa.column('update_id'), sa.column('topic_id'))
    revisions = sa.table(
        'update_revisions', sa.column('id'), sa.column('update_id'), sa.column('title'),
        sa.column('body_markdown'), sa.column('body_html'), sa.column('topic_ids', sa.JSON()),
        sa.column('created_at'),
    )
    topics_of = {}
    for update_id, topic_id in connection.execute(
        sa.select(update_topics.c.update_id, update_topics.c.topic_id)
    ):
        topics_of.setdefault(update_id, []).append(topic_id)
    rows = [
        {
            'update_id': row.id,
            'title': row.title,
            'body_markdown': row.body_markdown,
            'body_html': row.body_html,
            'topic_ids': sorted(topics_of.get(row.id, [])),
            'created_at': row.created_at,
        }
        for row in connection.execute(sa.select(updates))
    ]
    if rows:
        connection.execute(revisions.insert(), rows)
    digests = sa.table('digests', sa.column('id'), sa.column('started_at'))
    digest_updates = sa.table(
        'digest_updates', sa.column('digest_id'), sa.column('update_id'), sa.column('revision_id')
    )
    first = (
        sa.select(sa.func.min(revisions.c.id))
        .where(revisions.c.update_id == digest_updates.c.update_id)
        .scalar_subquery()
    )
    started = sa.select(digests.c.id).where(digests.c.started_at.is_not(None))
    connection.execute(
        digest_updates.update()
        .where(digest_updates.c.digest_id.in_(started))
        .values(revision_id=first)
    )


def downgrade():
    with op.batch_alter_table('digest_updates', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_digest_updates_revision_id_update_revisions'), type_='foreignkey')
        batch_op.drop_column('revision_id')

    with op.batch_alter_table('updates', schema=None) as batch_op:
        batch_op.drop_column('withdrawn_at')
        batch_op.drop_column('revised_at')

    with op.batch_alter_table('update_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_update_revisions_update_id'))

    op.drop_table('update_revisions')
