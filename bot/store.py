"""Gateway tables: who the senders are (channel, locale).

Conversations themselves live in Rasa's tracker store; the gateway keeps only what a channel
needs: the locale to answer in. Messages pushed after a turn go through `common.outbox`.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import Column, DateTime, String
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
