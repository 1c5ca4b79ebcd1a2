"""web sessions: an index on last use (long-expired conversations are deleted)

`bot.web_sessions.prune` deletes, a batch at each new conversation, the rows unused for
longer than the idle limit plus `NOTICE_KEPT`: without the index each of those deletes would
read the whole table.

Revision ID: 9d3a6b2c4e71
Revises: 7c4d2e8f1b35
Create Date: 2026-12-01 17:10:00.000000

"""
from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = '9d3a6b2c4e71'
down_revision: Union[str, Sequence[str], None] = '7c4d2e8f1b35'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_web_sessions_last_used_at'), ['last_used_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('web_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_web_sessions_last_used_at'))
