"""`python -m tools.dead_letters`: the queued applications no key could read, for staff.

Lists each dead-lettered row of the application database (`actions/submissions.py`): its id,
when it was queued, the channel, the sender (masked: the id is a chat's credential on some
channels), the form's idempotency key and the reason. Nothing sealed is shown. Once the key
the row was sealed with is listed again in `DATA_ENCRYPTION_KEYS`, `--requeue ID` (or
`--requeue all`) puts rows back in the queue; the action server delivers them with their
original idempotency key, so a case is never made twice.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from sqlalchemy import update

from actions.submissions import DEAD_LETTER, QUEUED, PendingApplication, dead_letters, utcnow
from common import migrate
from common.db import make_engine, make_session_factory, session_scope
from common.settings import Settings
from tools import secrets_env


def mask_sender(sender_id: str) -> str:
    """`tg:5001234` → `tg:50*****`, `web-3f9a…` → `web-3f9a*…`: enough to tell rows apart."""
    keep = max(2, len(sender_id) // 3)
    return sender_id[:keep] + "*" * (len(sender_id) - keep)


def lines(rows: List[PendingApplication]) -> List[str]:
    if not rows:
        return ["no dead-lettered applications"]
    return [
        f"#{row.id}  queued {row.created_at:%Y-%m-%d %H:%M}  {row.channel}  {mask_sender(row.sender_id)}  "
        f"key={row.idempotency_key}  {row.last_error or ''}"
        for row in rows
    ]


def requeue(which: str, *, session) -> int:  # noqa: ANN001 - a SQLAlchemy session
    query = update(PendingApplication).where(PendingApplication.status == DEAD_LETTER)
    if which != "all":
        query = query.where(PendingApplication.id == int(which))
    done = session.execute(query.values(status=QUEUED, next_attempt_at=utcnow(), last_error="requeued by staff"))
    return int(done.rowcount or 0)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requeue", metavar="ID|all", help="put dead-lettered rows back in the queue")
    args = parser.parse_args(argv)
    for name, value in secrets_env.read().items():
        if not os.environ.get(name):
            os.environ[name] = value
    url = Settings.from_env().database_url
    migrate.upgrade(url)
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        if args.requeue:
            print(f"{requeue(args.requeue, session=session)} row(s) requeued")
        else:
            print("\n".join(lines(dead_letters(session=session))))
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
