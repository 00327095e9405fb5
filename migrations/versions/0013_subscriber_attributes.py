"""subscribers may carry a name and an organisation, as an imported list gives them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 01:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('organisation', sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('organisation')
        batch_op.drop_column('name')
