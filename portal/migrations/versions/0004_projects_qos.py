"""projects: quota, limits, project QOS, expiry; extension requests

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-29 02:44:29.606760
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('extension_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('PENDING', 'APPROVED', 'REJECTED', name='extensionstatus', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_message', sa.Text(), nullable=False),
    sa.Column('old_end_date', sa.Date(), nullable=True),
    sa.Column('new_end_date', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('extension_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_extension_requests_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_extension_requests_status'), ['status'], unique=False)

    # Existing rows (e.g. the demo projects) get the defaults: no limits, active.
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gpu_limit', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cpu_limit', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('mem_limit_gb', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('gpu_per_user', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_wall_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('idle_reclaim_minutes', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('members_see_sessions', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('qos_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('extra_qos', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('status', sa.Enum('ACTIVE', 'EXPIRED', name='projectstatus', native_enum=False, length=16), nullable=False, server_default='ACTIVE'))
        batch_op.add_column(sa.Column('blocked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('blocked_reason', sa.Text(), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_column('blocked_reason')
        batch_op.drop_column('blocked_at')
        batch_op.drop_column('status')
        batch_op.drop_column('extra_qos')
        batch_op.drop_column('qos_name')
        batch_op.drop_column('members_see_sessions')
        batch_op.drop_column('idle_reclaim_minutes')
        batch_op.drop_column('max_wall_minutes')
        batch_op.drop_column('gpu_per_user')
        batch_op.drop_column('mem_limit_gb')
        batch_op.drop_column('cpu_limit')
        batch_op.drop_column('gpu_limit')

    with op.batch_alter_table('extension_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_extension_requests_status'))
        batch_op.drop_index(batch_op.f('ix_extension_requests_project_id'))

    op.drop_table('extension_requests')
