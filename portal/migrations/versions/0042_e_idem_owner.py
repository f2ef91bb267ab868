"""the process holding an Idempotency-Key claim (issue #13)

idempotency_keys.owner_host / owner_pid / owner_started: which process works on a claim,
so that a retry after that process was killed takes over at once instead of waiting for
SUBMIT_INFLIGHT_SECONDS.

Revision ID: 0042_e_idem_owner
Revises: 0041_a_stages_efficiency
Create Date: 2026-12-06 02:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0042_e_idem_owner'
down_revision = '0041_a_stages_efficiency'
branch_labels = None
depends_on = '0029_submitrel'  # the idempotency_keys table (a branch of its own)


def upgrade() -> None:
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.add_column(sa.Column('owner_host', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('owner_pid', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('owner_started', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.drop_column('owner_started')
        batch.drop_column('owner_pid')
        batch.drop_column('owner_host')
