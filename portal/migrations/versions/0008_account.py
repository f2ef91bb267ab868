"""account: activation state, profile contact, admin-edited site texts

Users who exist at upgrade time are marked activated: they were working before activation
existed and must not be locked out (the next check of their page keeps it up to date).

Revision ID: 0008
Revises: 0002
Create Date: 2026-11-29 06:20:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('activations',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('activated_at', sa.DateTime(), nullable=True),
    sa.Column('checked_at', sa.DateTime(), nullable=True),
    sa.Column('checks', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('user_contacts',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('contact', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('site_texts',
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    # Existing users keep working: they count as activated (checks unknown until viewed).
    op.execute(
        "INSERT INTO activations (user_id, activated_at, checked_at, checks) "
        "SELECT id, CURRENT_TIMESTAMP, NULL, '[]' FROM users"
    )


def downgrade() -> None:
    op.drop_table('site_texts')
    op.drop_table('user_contacts')
    op.drop_table('activations')
