"""start_estimates (issue #17, item 4): the start time Slurm gives a create form's request
(`sbatch --test-only` as the user, run by the worker, never on the page's path)

Revision ID: 0037_startest
Revises: 0014
Create Date: 2026-12-05 17:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0037_startest'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'start_estimates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('signature', sa.String(length=64), nullable=False),
        sa.Column('spec', sa.JSON(), nullable=False),
        sa.Column('requested_at', sa.DateTime(), nullable=False),
        sa.Column('computed_at', sa.DateTime(), nullable=True),
        sa.Column('start_at', sa.DateTime(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'signature', name='uq_start_estimates_request'),
    )
    op.create_index('ix_start_estimates_requested_at', 'start_estimates', ['requested_at'])


def downgrade() -> None:
    op.drop_index('ix_start_estimates_requested_at', table_name='start_estimates')
    op.drop_table('start_estimates')
