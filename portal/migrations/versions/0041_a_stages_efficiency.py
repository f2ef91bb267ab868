"""time to ready per stage and efficiency at the end (issue #17, items 5 and 6)

sessions.container_up_at: when the job's services listened (its connection file says);
sessions.app_ready_at: when Jupyter first answered through the portal's path. The
efficiency table holds what an ended job or session used against what it held.

Revision ID: 0041_a_stages_efficiency
Revises: 0040_idlereclaim
Create Date: 2026-12-06 01:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0041_a_stages_efficiency'
down_revision = '0040_idlereclaim'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sessions') as batch:
        batch.add_column(sa.Column('container_up_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('app_ready_at', sa.DateTime(), nullable=True))
    op.create_table(
        'efficiency',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('ref_id', sa.Integer(), nullable=False),
        sa.Column('slurm_job_id', sa.String(length=32), nullable=False),
        sa.Column('state', sa.String(length=32), nullable=False),
        sa.Column('elapsed_s', sa.Integer(), nullable=False),
        sa.Column('total_cpu_s', sa.Float(), nullable=False),
        sa.Column('alloc_cpus', sa.Integer(), nullable=False),
        sa.Column('max_rss_mb', sa.Float(), nullable=True),
        sa.Column('alloc_mem_mb', sa.Integer(), nullable=False),
        sa.Column('gpus', sa.Integer(), nullable=False),
        sa.Column('gpu_util', sa.Float(), nullable=True),
        sa.Column('gpu_samples', sa.Integer(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('kind', 'ref_id', name='uq_efficiency_kind_ref'),
    )


def downgrade() -> None:
    op.drop_table('efficiency')
    with op.batch_alter_table('sessions') as batch:
        batch.drop_column('app_ready_at')
        batch.drop_column('container_up_at')
