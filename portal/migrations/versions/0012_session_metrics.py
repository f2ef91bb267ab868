"""session monitoring: metric buckets and ingestion cursors (F3)

Revision ID: 0012
Revises: 0006
Create Date: 2026-11-29 06:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('session_metrics',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('resolution', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('n', sa.Integer(), nullable=False),
    sa.Column('cpu', sa.Float(), nullable=True),
    sa.Column('mem', sa.Float(), nullable=True),
    sa.Column('node_cpu', sa.Float(), nullable=True),
    sa.Column('disk_ws', sa.Float(), nullable=True),
    sa.Column('disk_scratch', sa.Float(), nullable=True),
    sa.Column('net_rx', sa.Float(), nullable=True),
    sa.Column('net_tx', sa.Float(), nullable=True),
    sa.Column('gpu_util', sa.Float(), nullable=True),
    sa.Column('gpu_mem', sa.Float(), nullable=True),
    sa.Column('gpu_mem_total', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('session_id', 'resolution', 'at', name='uq_session_metrics_bucket')
    )
    op.create_table('session_metric_cursors',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.Column('last_n', sa.Integer(), nullable=False),
    sa.Column('last_at', sa.DateTime(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=True),
    sa.Column('ncpu', sa.Integer(), nullable=True),
    sa.Column('mem_limit', sa.BigInteger(), nullable=True),
    sa.Column('gpu_note', sa.String(length=255), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id')
    )


def downgrade() -> None:
    op.drop_table('session_metric_cursors')
    op.drop_table('session_metrics')
