"""custom_images.digest (issue #12): the SHA-256 of the committed image file, recorded when
the portal stores it and compared before a session or job starts from it

Revision ID: 0027_imgdigest
Revises: 0014 (and needs 0013, which made custom_images)
Create Date: 2026-12-05 13:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0027_imgdigest'
down_revision = '0014'
branch_labels = None
depends_on = ('0013',)


def upgrade() -> None:
    # Images committed before this have no digest ('') and are refused at start: their
    # files were the committer's, in a store everybody could write (issue #12).
    with op.batch_alter_table('custom_images', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digest', sa.String(length=80), server_default='',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('custom_images', schema=None) as batch_op:
        batch_op.drop_column('digest')
