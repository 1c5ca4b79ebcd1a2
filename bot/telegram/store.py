"""Telegram tables in the app database: button payloads, seen updates, pending case links.

- Telegram's `callback_data` is at most 64 bytes; the assistant's button payloads can be
  longer (`/inform{"region": "..."}`), so long ones are stored here under a short token.
- Telegram may deliver an update twice (a lost getUpdates answer, a webhook retry, a gateway
  killed before it confirmed the offset); the ids seen in the last days are kept to ignore
  repeats across restarts.
- A deep link `/start case_<number>` waits for the last four ID characters; the wait is
  stored so a restart in between does not lose it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Optional

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, Text, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.telegram.render import MAX_CALLBACK_DATA
from common.db import Base

PAYLOAD_PREFIX = "p:"
TOKEN_PREFIX = "t:"
# Telegram keeps undelivered updates for 24 hours; a repeat can only come within that.
SEEN_UPDATES_KEPT = dt.timedelta(days=2)
# Buttons older than this answer "expired" instead of replaying a stale choice.
CALLBACK_TOKENS_KEPT = dt.timedelta(days=30)
PENDING_LINK_KEPT = dt.timedelta(minutes=30)
PRUNE_EVERY = 500


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; they were stored in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


class CallbackToken(Base):
    __tablename__ = "tg_callback_tokens"

    token = Column(String(16), primary_key=True)
    payload = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_now, index=True)


class SeenUpdate(Base):
    __tablename__ = "tg_seen_updates"

    update_id = Column(BigInteger, primary_key=True, autoincrement=False)
    seen_at = Column(DateTime(timezone=True), nullable=False, default=_now, index=True)


class PendingLink(Base):
    __tablename__ = "tg_pending_links"

    chat_id = Column(BigInteger, primary_key=True, autoincrement=False)
    case_id = Column(String(64), nullable=False)
    tries = Column(Integer, nullable=False, default=0)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_now)


def callback_data(payload: str, *, session: Session) -> str:
    """The callback_data of a button that posts `payload` back: inline, or a stored token."""
    inline = PAYLOAD_PREFIX + payload
    if len(inline.encode()) <= MAX_CALLBACK_DATA:
        return inline
    token = secrets.token_urlsafe(9)  # 12 characters
    session.add(CallbackToken(token=token, payload=payload))
    if secrets.randbelow(PRUNE_EVERY) == 0:
        session.execute(delete(CallbackToken).where(CallbackToken.created_at < _now() - CALLBACK_TOKENS_KEPT))
    return TOKEN_PREFIX + token


def payload_of(data: str, *, session: Session) -> Optional[str]:
    """The payload a button's callback_data stands for; None when unknown or expired."""
    if data.startswith(PAYLOAD_PREFIX):
        return data[len(PAYLOAD_PREFIX):]
    if data.startswith(TOKEN_PREFIX):
        row = session.get(CallbackToken, data[len(TOKEN_PREFIX):])
        if row is not None and _aware(row.created_at) >= _now() - CALLBACK_TOKENS_KEPT:
            return str(row.payload)
    return None


def was_handled(update_id: int, *, session: Session) -> bool:
    """Whether `update_id` was handled to the end before (a repeated delivery)."""
    return session.get(SeenUpdate, update_id) is not None


def first_sighting(update_id: int, *, session: Session) -> bool:
    """Records `update_id`; False when it was seen before (a duplicate delivery)."""
    if session.get(SeenUpdate, update_id) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(SeenUpdate(update_id=update_id))
    except IntegrityError:  # seen by a concurrent handler in between
        return False
    if update_id % PRUNE_EVERY == 0:
        session.execute(delete(SeenUpdate).where(SeenUpdate.seen_at < _now() - SEEN_UPDATES_KEPT))
    return True


def start_link(chat_id: int, case_id: str, *, session: Session) -> None:
    """Remembers that `chat_id` was asked for the ID check of `case_id`."""
    row = session.get(PendingLink, chat_id)
    if row is None:
        session.add(PendingLink(chat_id=chat_id, case_id=case_id, tries=0))
    else:
        row.case_id, row.tries, row.created_at = case_id, 0, _now()


def pending_link(chat_id: int, *, session: Session) -> Optional[PendingLink]:
    """The link `chat_id` is completing, unless it is too old."""
    row = session.get(PendingLink, chat_id)
    if row is not None and _aware(row.created_at) < _now() - PENDING_LINK_KEPT:
        session.delete(row)
        return None
    return row


def end_link(chat_id: int, *, session: Session) -> None:
    session.execute(delete(PendingLink).where(PendingLink.chat_id == chat_id))


def seen_count(*, session: Session) -> int:
    """How many update ids are remembered (for tests)."""
    return len(session.execute(select(SeenUpdate.update_id)).all())
