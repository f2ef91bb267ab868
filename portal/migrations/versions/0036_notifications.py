"""notification_settings and notifications_sent (issue #17, item 3): what each user wants
notified, and one row per (user, event kind, object) sent, so nothing is sent twice

Revision ID: 0036_notify
Revises: 0014
Create Date: 2026-12-05 17:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0036_notify'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'notification_settings',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kinds', sa.JSON(), nullable=False),
        sa.Column('email', sa.Boolean(), nullable=False),
        sa.Column('webhook_url', sa.String(length=2048), nullable=False),
        sa.Column('webhook_secret', sa.String(length=64), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('user_id'),
    )
    op.create_table(
        'notifications_sent',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('object_key', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('email_status', sa.String(length=255), nullable=False),
        sa.Column('webhook_status', sa.String(length=255), nullable=False),
        sa.Column('details', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'kind', 'object_key',
                            name='uq_notifications_sent_event'),
    )
    op.create_index('ix_notifications_sent_user_id', 'notifications_sent', ['user_id'])


def downgrade() -> None:
    op.drop_index('ix_notifications_sent_user_id', table_name='notifications_sent')
    op.drop_table('notifications_sent')
    op.drop_table('notification_settings')
