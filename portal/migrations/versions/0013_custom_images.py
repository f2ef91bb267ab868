"""custom images (F4): sessions committed to images shared within a project

Revision ID: 0013
Revises: 0006
Create Date: 2026-11-29 06:25:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('custom_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=True),
    sa.Column('session_name', sa.String(length=64), nullable=False),
    sa.Column('building_session_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('owner_unix', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('tag', sa.String(length=20), nullable=False),
    sa.Column('display_name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('framework', sa.String(length=64), nullable=False),
    sa.Column('services', sa.JSON(), nullable=False),
    sa.Column('auth_methods', sa.JSON(), nullable=False),
    sa.Column('shell', sa.String(length=255), nullable=False),
    sa.Column('base_image', sa.String(length=64), nullable=False),
    sa.Column('base_path', sa.String(length=1024), nullable=False),
    sa.Column('source_root', sa.String(length=1024), nullable=False),
    sa.Column('runtime', sa.String(length=16), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('bytes_expected', sa.BigInteger(), nullable=False),
    sa.Column('bytes_done', sa.BigInteger(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('building_session_id'),
    sa.UniqueConstraint('project_id', 'name', 'tag')
    )
    with op.batch_alter_table('custom_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_custom_images_project_id'), ['project_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_custom_images_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('custom_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_custom_images_state'))
        batch_op.drop_index(batch_op.f('ix_custom_images_project_id'))
    op.drop_table('custom_images')
