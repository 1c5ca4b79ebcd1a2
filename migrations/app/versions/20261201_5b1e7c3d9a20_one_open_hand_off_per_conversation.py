"""one open hand-off per conversation, held by the database (partial unique index)

Until now only a lock inside one gateway process kept a conversation to one open hand-off,
so two gateways could open two. Rows written that way would stop the index from being
built: before creating it, every conversation with several open hand-offs keeps only its
newest open (the one the service has been using: `open_handoff_of` reads the newest), and
the older ones are closed by "system" with a note in their transcript (no rating asked).

Revision ID: 5b1e7c3d9a20
Revises: 2692f585ad3e
Create Date: 2026-12-01 12:30:00.000000

"""
import datetime as dt
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '5b1e7c3d9a20'
down_revision: Union[str, Sequence[str], None] = '2692f585ad3e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN_WHERE = "state IN ('waiting', 'active')"
# An open hand-off with a newer open one in the same conversation.
OLDER_DUPLICATE = (
    f"{OPEN_WHERE} AND id < (SELECT MAX(newer.id) FROM handoffs newer "
    "WHERE newer.sender_id = handoffs.sender_id AND newer.state IN ('waiting', 'active'))"
)
NOTE = "closed on upgrade: a newer hand-off of this conversation is open"


def upgrade() -> None:
    """Upgrade schema."""
    now = dt.datetime.now(dt.timezone.utc)
    bind = op.get_bind()
    bind.execute(
        sa.text(f"INSERT INTO handoff_messages (handoff_id, role, text, at) "
                f"SELECT id, 'system', :note, :now FROM handoffs WHERE {OLDER_DUPLICATE}"),
        {"note": NOTE, "now": now},
    )
    bind.execute(
        sa.text(f"UPDATE handoffs SET state = 'closed', closed_at = :now, closed_by = 'system' "
                f"WHERE {OLDER_DUPLICATE}"),
        {"now": now},
    )
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.create_index('uq_handoffs_open_sender', ['sender_id'], unique=True,
                              sqlite_where=sa.text(OPEN_WHERE), postgresql_where=sa.text(OPEN_WHERE))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_index('uq_handoffs_open_sender', sqlite_where=sa.text(OPEN_WHERE),
                            postgresql_where=sa.text(OPEN_WHERE))
