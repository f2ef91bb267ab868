"""wallet: transactions (top-ups, charges once per Slurm job) and the Slurm budget per project

Revision ID: 0011
Revises: 0004
Create Date: 2026-11-29 06:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('wallet_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=16, scale=4), nullable=False),
    sa.Column('occurred_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=True),
    sa.Column('service', sa.String(length=16), nullable=True),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('qos', sa.String(length=64), nullable=False),
    sa.Column('billing', sa.Integer(), nullable=False),
    sa.Column('elapsed_s', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id')
    )
    op.create_index('ix_wallet_transactions_project_at', 'wallet_transactions',
                    ['project_id', 'occurred_at'], unique=False)
    op.create_table('wallet_budgets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('qos', sa.String(length=64), nullable=False),
    sa.Column('baseline_minutes', sa.BigInteger(), nullable=False),
    sa.Column('limit_minutes', sa.BigInteger(), nullable=True),
    sa.Column('used_minutes', sa.BigInteger(), nullable=False),
    sa.Column('synced_at', sa.DateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('project_id')
    )


def downgrade() -> None:
    op.drop_table('wallet_budgets')
    op.drop_index('ix_wallet_transactions_project_at', table_name='wallet_transactions')
    op.drop_table('wallet_transactions')
