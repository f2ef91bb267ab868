"""worker heartbeat (issue #13): the time and per-step results of the worker's last cycle

Revision ID: 0021_heartbeat
Revises: 0014
Create Date: 2026-12-01 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0021_heartbeat'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('worker_heartbeats',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('beat_at', sa.DateTime(), nullable=False),
    sa.Column('cycle_started_at', sa.DateTime(), nullable=False),
    sa.Column('duration', sa.Float(), nullable=False),
    sa.Column('interval', sa.Float(), nullable=False),
    sa.Column('cycles', sa.Integer(), nullable=False),
    sa.Column('process_started_at', sa.DateTime(), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('steps', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('worker_heartbeats')
