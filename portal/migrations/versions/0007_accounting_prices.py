"""accounting records and prices

Revision ID: 0007
Revises: 0002
Create Date: 2026-11-29 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounting_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('partition', sa.String(length=64), nullable=False),
    sa.Column('qos', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('submit_at', sa.DateTime(), nullable=True),
    sa.Column('start_at', sa.DateTime(), nullable=True),
    sa.Column('end_at', sa.DateTime(), nullable=True),
    sa.Column('elapsed_s', sa.Integer(), nullable=False),
    sa.Column('alloc_cpus', sa.Integer(), nullable=False),
    sa.Column('alloc_mem_mb', sa.Integer(), nullable=False),
    sa.Column('alloc_gpus', sa.Integer(), nullable=False),
    sa.Column('gpu_model', sa.String(length=32), nullable=True),
    sa.Column('billing', sa.Integer(), nullable=False),
    sa.Column('comment', sa.String(length=255), nullable=False),
    sa.Column('service', sa.String(length=16), nullable=False),
    sa.Column('imported_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('job_id')
    )
    op.create_index('ix_accounting_records_account_end', 'accounting_records', ['account', 'end_at'], unique=False)
    op.create_index('ix_accounting_records_user_end', 'accounting_records', ['user', 'end_at'], unique=False)
    op.create_index(op.f('ix_accounting_records_start_at'), 'accounting_records', ['start_at'], unique=False)
    op.create_index(op.f('ix_accounting_records_end_at'), 'accounting_records', ['end_at'], unique=False)
    op.create_index(op.f('ix_accounting_records_service'), 'accounting_records', ['service'], unique=False)
    op.create_table('prices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('resource', sa.String(length=48), nullable=False),
    sa.Column('hourly', sa.Numeric(precision=14, scale=4), nullable=False),
    sa.Column('effective_from', sa.DateTime(), nullable=False),
    sa.Column('set_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['set_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_prices_resource_from', 'prices', ['resource', 'effective_from'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_prices_resource_from', table_name='prices')
    op.drop_table('prices')
    op.drop_index(op.f('ix_accounting_records_service'), table_name='accounting_records')
    op.drop_index(op.f('ix_accounting_records_end_at'), table_name='accounting_records')
    op.drop_index(op.f('ix_accounting_records_start_at'), table_name='accounting_records')
    op.drop_index('ix_accounting_records_user_end', table_name='accounting_records')
    op.drop_index('ix_accounting_records_account_end', table_name='accounting_records')
    op.drop_table('accounting_records')
