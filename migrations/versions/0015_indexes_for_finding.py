"""indexes for finding: the audit log by action, a topic's updates and digests

The console filters the audit log by action (and lists the actions it holds), and the lists of
updates and digests by topic; the keys of update_topics and digest_topics lead with the update
or digest, so a topic's rows had no index of their own.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 02:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_audit_events_action', 'audit_events', ['action'], unique=False)
    op.create_index('ix_update_topics_topic_id', 'update_topics', ['topic_id'], unique=False)
    op.create_index('ix_digest_topics_topic_id', 'digest_topics', ['topic_id'], unique=False)


def downgrade():
    op.drop_index('ix_digest_topics_topic_id', table_name='digest_topics')
    op.drop_index('ix_update_topics_topic_id', table_name='update_topics')
    op.drop_index('ix_audit_events_action', table_name='audit_events')
