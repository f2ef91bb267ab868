"""submission reliability (issue #13): sbatch attempt times on jobs and sessions, and
idempotency keys for API/CLI creates

Revision ID: 0029_submitrel
Revises: 0014
Create Date: 2026-12-05 12:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0029_submitrel'
down_revision = '0014'
branch_labels = None
depends_on = '0005'  # the jobs table (0014 descends from 0006 only)


def upgrade() -> None:
    for table in ('jobs', 'sessions'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('submit_started_at', sa.DateTime(), nullable=True))
            batch.add_column(sa.Column('submit_ended_at', sa.DateTime(), nullable=True))
    op.create_table('idempotency_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('resource', sa.String(length=64), nullable=True),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'key', name='uq_idempotency_user_key')
    )
    op.create_index('ix_idempotency_keys_created_at', 'idempotency_keys', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_idempotency_keys_created_at', table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
    for table in ('jobs', 'sessions'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('submit_ended_at')
            batch.drop_column('submit_started_at')
