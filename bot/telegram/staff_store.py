"""Where each hand-off lives in the Telegram staff group: its forum topic and its messages.

Telegram cannot tell the bot which hand-off a staff message belongs to: inside a topic every
message's `reply_to_message` is the topic's creation message, and a deleted topic sends no
update at all. So the bot keeps its own map: one row per hand-off with the topic it has now
(replaced when a deleted topic is recreated), and one row per message it posted there (the
claim card first), so a press or a reply finds its hand-off without asking Telegram.
"""

from __future__ import annotations

import datetime as dt
from typing import Optional

from sqlalchemy import BigInteger, Column, DateTime, Integer, String, delete, select
from sqlalchemy.orm import Session

from common.db import Base


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class StaffTopic(Base):
    """The forum topic of a hand-off (one at a time; a recreated topic replaces the old one)."""

    __tablename__ = "tg_staff_topics"

    handoff_id = Column(Integer, primary_key=True, autoincrement=False)
    chat_id = Column(BigInteger, nullable=False)
    thread_id = Column(Integer, nullable=False, index=True)
    # The claim card's message id (edited when someone claims).
    card_message_id = Column(Integer, nullable=True)
    # "open" or "closed", as far as the bot knows (staff may close or delete it by hand).
    state = Column(String(8), nullable=False, default="open")
    created_at = Column(DateTime(timezone=True), nullable=False, default=_now)


class StaffMessage(Base):
    """A message the bot posted in the staff group, and the hand-off it belongs to."""

    __tablename__ = "tg_staff_messages"

    chat_id = Column(BigInteger, primary_key=True, autoincrement=False)
    message_id = Column(Integer, primary_key=True, autoincrement=False)
    handoff_id = Column(Integer, nullable=False, index=True)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_now)


def topic_of(handoff_id: int, *, session: Session) -> Optional[StaffTopic]:
    return session.get(StaffTopic, handoff_id)


def handoff_of_thread(chat_id: int, thread_id: int, *, session: Session) -> Optional[int]:
    """The hand-off whose topic `thread_id` is (None for a topic the bot did not open)."""
    return session.execute(
        select(StaffTopic.handoff_id).where(StaffTopic.chat_id == chat_id, StaffTopic.thread_id == thread_id)
    ).scalar_one_or_none()


def handoff_of_message(chat_id: int, message_id: int, *, session: Session) -> Optional[int]:
    row = session.get(StaffMessage, (chat_id, message_id))
    return row.handoff_id if row is not None else None


def set_topic(handoff_id: int, chat_id: int, thread_id: int, *, session: Session) -> StaffTopic:
    """Records the hand-off's (new) topic; a replaced topic's card is forgotten with it."""
    row = session.get(StaffTopic, handoff_id)
    if row is None:
        row = StaffTopic(handoff_id=handoff_id, chat_id=chat_id, thread_id=thread_id, state="open")
        session.add(row)
    else:
        row.chat_id, row.thread_id, row.state, row.card_message_id = chat_id, thread_id, "open", None
        row.created_at = _now()
    session.flush()
    return row


def forget_topic(handoff_id: int, *, session: Session) -> None:
    """The topic is gone (deleted in Telegram): the next post recreates it."""
    session.execute(delete(StaffTopic).where(StaffTopic.handoff_id == handoff_id))


def set_state(handoff_id: int, state: str, *, session: Session) -> None:
    row = session.get(StaffTopic, handoff_id)
    if row is not None:
        row.state = state


def set_card(handoff_id: int, message_id: int, *, session: Session) -> None:
    row = session.get(StaffTopic, handoff_id)
    if row is not None:
        row.card_message_id = message_id


def remember_message(chat_id: int, message_id: int, handoff_id: int, *, session: Session) -> None:
    if session.get(StaffMessage, (chat_id, message_id)) is None:
        session.add(StaffMessage(chat_id=chat_id, message_id=message_id, handoff_id=handoff_id))
