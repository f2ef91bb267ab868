"""api_tokens.scope (issue #12 finding 11): read / write / admin personal access tokens

Existing tokens keep what they could do, minus minting tokens (no token can any more):
an admin's tokens become `admin`, everybody else's `write`. New tokens choose their scope.

Revision ID: 0024_tokscope
Revises: 0014
Create Date: 2026-12-05 14:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0024_tokscope'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope', sa.String(length=8), server_default='write',
                                      nullable=False))
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('is_admin', sa.Boolean))
    tokens = sa.table('api_tokens', sa.column('user_id', sa.Integer),
                      sa.column('scope', sa.String))
    admins = sa.select(users.c.id).where(users.c.is_admin.is_(True))
    op.execute(tokens.update().where(tokens.c.user_id.in_(admins)).values(scope='admin'))


def downgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('scope')
