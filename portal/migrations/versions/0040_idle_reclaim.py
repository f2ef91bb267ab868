"""idle reclaim (issue #17, item 2): per-project idle policy and each session's idle state

Revision ID: 0040_idlereclaim
Revises: 0014
Create Date: 2026-12-05 17:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0040_idlereclaim'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'idle_policies',
        sa.Column('project_id', sa.Integer(), nullable=False),
        sa.Column('limit_s', sa.Integer(), nullable=False),
        sa.Column('warn_s', sa.JSON(), nullable=False),
        sa.Column('gpu_threshold', sa.Float(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('project_id'),
    )
    op.create_table(
        'session_idle',
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('last_activity_at', sa.DateTime(), nullable=True),
        sa.Column('last_activity_kind', sa.String(length=16), nullable=True),
        sa.Column('kept_at', sa.DateTime(), nullable=True),
        sa.Column('period_start', sa.DateTime(), nullable=True),
        sa.Column('warned', sa.JSON(), nullable=False),
        sa.Column('reclaimed_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('session_id'),
    )


def downgrade() -> None:
    op.drop_table('session_idle')
    op.drop_table('idle_policies')
