"""sessions.writable (F4): a per-session choice to keep changes (committable) or not

Revision ID: 0014
Revises: 0006
Create Date: 2026-11-29 07:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing sessions were started read-only as far as this column knows: false.
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('writable', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('writable')
