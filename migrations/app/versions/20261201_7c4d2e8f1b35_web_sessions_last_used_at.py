"""web sessions: last use (idle expiry after WEB_SESSION_IDLE_DAYS)

Sessions issued before this revision have no recorded use: they get the upgrade's time, so
each has a full idle period from now rather than expiring at once by its age.

Revision ID: 7c4d2e8f1b35
Revises: 5b1e7c3d9a20
Create Date: 2026-12-01 12:50:00.000000

"""
import datetime as dt
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '7c4d2e8f1b35'
down_revision: Union[str, Sequence[str], None] = '5b1e7c3d9a20'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True))
    op.get_bind().execute(sa.text("UPDATE web_sessions SET last_used_at = :now WHERE last_used_at IS NULL"),
                          {"now": dt.datetime.now(dt.timezone.utc)})
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.alter_column('last_used_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_column('last_used_at')
