"""Gateway tables: who the senders are (channel, locale) and the outbox of later messages.

Conversations themselves live in Rasa's tracker store; the gateway keeps only what a channel
needs: the locale to answer in, and messages pushed after a turn (status updates, staff
replies), each with an increasing `seq` that web clients poll with `?after=`.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Dict, List, Optional

from sqlalchemy import Column, DateTime, Integer, String, Text, select
from sqlalchemy.orm import Session

from common.db import Base


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Sender(Base):
    __tablename__ = "chat_senders"

    sender_id = Column(String(128), primary_key=True)
    channel = Column(String(16), nullable=False)
    locale = Column(String(8), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_now)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=_now, onupdate=_now)


class OutboxMessage(Base):
    __tablename__ = "outbox"

    seq = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    kind = Column(String(32), nullable=False)
    payload = Column(Text, nullable=False)  # a JSON Message
    dedupe_key = Column(String(128), nullable=True, unique=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_now)
    delivered_at = Column(DateTime(timezone=True), nullable=True)


def get_locale(sender_id: str, *, session: Session) -> Optional[str]:
    row = session.get(Sender, sender_id)
    return row.locale if row else None


def remember_sender(sender_id: str, channel: str, locale: str, *, session: Session) -> None:
    """Records the sender's channel and the locale of their latest message."""
    row = session.get(Sender, sender_id)
    if row is None:
        session.add(Sender(sender_id=sender_id, channel=channel, locale=locale))
    elif row.locale != locale or row.channel != channel:
        row.locale, row.channel = locale, channel


def enqueue(
    sender_id: str, channel: str, kind: str, message: Dict[str, Any], dedupe_key: Optional[str] = None,
    *, session: Session,
) -> Optional[int]:
    """Adds a message to the outbox once per `dedupe_key`; returns its seq (None if a duplicate)."""
    if dedupe_key is not None:
        existing = session.execute(
            select(OutboxMessage.seq).where(OutboxMessage.dedupe_key == dedupe_key)
        ).scalar_one_or_none()
        if existing is not None:
            return None
    row = OutboxMessage(
        sender_id=sender_id, channel=channel, kind=kind,
        payload=json.dumps(message, ensure_ascii=False), dedupe_key=dedupe_key,
    )
    session.add(row)
    session.flush()
    return int(row.seq)


def updates_after(sender_id: str, after: int, limit: int, *, session: Session) -> List[Dict[str, Any]]:
    """Messages for `sender_id` with seq > `after`, oldest first."""
    rows = session.execute(
        select(OutboxMessage)
        .where(OutboxMessage.sender_id == sender_id, OutboxMessage.seq > after)
        .order_by(OutboxMessage.seq)
        .limit(limit)
    ).scalars()
    return [{"seq": row.seq, **json.loads(row.payload)} for row in rows]
