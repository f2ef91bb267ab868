"""jobs.time_limit_min and job_templates.time_limit_min (issue #16): the run-job form's
time limit (sbatch --time, minutes)

Revision ID: 0031_jobtime
Revises: 0014
Create Date: 2026-12-06 10:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0031_jobtime'
down_revision = '0014'
branch_labels = None
depends_on = '0005'  # the jobs tables (0014 descends from 0006 only)


def upgrade() -> None:
    # Existing rows: NULL, i.e. the project's MaxWall (else the partition default), which
    # is what they were submitted with before the field existed.
    for table in ('jobs', 'job_templates'):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column('time_limit_min', sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in ('jobs', 'job_templates'):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('time_limit_min')
