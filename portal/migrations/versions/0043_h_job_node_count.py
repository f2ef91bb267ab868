"""multi-node batch jobs (issue #15)

jobs.node_count / job_templates.node_count: sbatch --nodes; the GPUs, CPUs and memory of
a job are per node. Existing rows are one-node jobs.

Revision ID: 0043_h_job_node_count
Revises: 0042_e_idem_owner
Create Date: 2026-12-06 02:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0043_h_job_node_count'
down_revision = '0042_e_idem_owner'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('jobs', 'job_templates'):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column('node_count', sa.Integer(), nullable=False,
                                       server_default='1'))


def downgrade() -> None:
    for table in ('jobs', 'job_templates'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('node_count')
