"""The one outbox of every message sent to a resident outside a turn's reply.

Status updates, queued-application receipts, reminders and (later) staff replies are written
here first, in the same transaction as whatever caused them, and delivered from here: web
clients poll `GET /api/chat/{sender_id}/updates?after=<seq>`; channel workers (Telegram)
send the rows of their channel and mark them delivered, retrying with back-off. A
`dedupe_key` (e.g. `event:<event id>:<sender>`) makes each logical message exist once, so a
restart or a replayed event never sends it twice.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Dict, List, Optional

from sqlalchemy import Column, DateTime, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.db import Base


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class OutboxMessage(Base):
    __tablename__ = "outbox"

    seq = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(16), nullable=False, index=True)
    kind = Column(String(32), nullable=False)
    payload = Column(Text, nullable=False)  # a JSON Message of the web chat contract
    dedupe_key = Column(String(160), nullable=True, unique=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    # Channel delivery (web messages are read by polling and keep these empty).
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime(timezone=True), nullable=True)
    last_error = Column(String(200), nullable=True)
    delivered_at = Column(DateTime(timezone=True), nullable=True)


def enqueue(
    sender_id: str,
    channel: str,
    kind: str,
    message: Dict[str, Any],
    dedupe_key: Optional[str] = None,
    *,
    session: Session,
) -> Optional[int]:
    """Adds a message once per `dedupe_key`; returns its seq, or None if it was a duplicate."""
    if dedupe_key is not None:
        existing = session.execute(
            select(OutboxMessage.seq).where(OutboxMessage.dedupe_key == dedupe_key)
        ).scalar_one_or_none()
        if existing is not None:
            return None
    row = OutboxMessage(
        sender_id=sender_id,
        channel=channel,
        kind=kind,
        payload=json.dumps(message, ensure_ascii=False),
        dedupe_key=dedupe_key,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another process enqueued the same key in between
        return None
    return int(row.seq)


def updates_after(sender_id: str, after: int, limit: int, *, session: Session) -> List[Dict[str, Any]]:
    """Messages for `sender_id` with seq > `after`, oldest first, as `{"seq", **message}`."""
    rows = session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.sender_id == sender_id, OutboxMessage.seq > after)
        .order_by(OutboxMessage.seq)
        .limit(limit)
    ).scalars()
    return [{"seq": row.seq, **json.loads(row.payload)} for row in rows]


def message_of(row: OutboxMessage) -> Dict[str, Any]:
    """The stored Message of a row."""
    return json.loads(row.payload)
