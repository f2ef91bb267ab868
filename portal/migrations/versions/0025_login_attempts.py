"""login_attempts (issue #12 finding 5): login limits per account and per address, shared
by every gunicorn worker through the database

Revision ID: 0025_loginlimit
Revises: 0014
Create Date: 2026-12-05 14:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0025_loginlimit'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=45), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_login_attempts_at'), 'login_attempts', ['at'], unique=False)
    op.create_index('ix_login_attempts_username_at', 'login_attempts', ['username', 'at'],
                    unique=False)
    op.create_index('ix_login_attempts_address_at', 'login_attempts', ['address', 'at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_login_attempts_address_at', table_name='login_attempts')
    op.drop_index('ix_login_attempts_username_at', table_name='login_attempts')
    op.drop_index(op.f('ix_login_attempts_at'), table_name='login_attempts')
    op.drop_table('login_attempts')
