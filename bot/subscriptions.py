"""Who follows which case, where the notifier is in the case API's event feed, and what the
followed cases are waiting for.

The sender that applied is subscribed when the case API reports `case.created`; a Telegram
chat subscribes by deep link after the ID check. The cursor and the followed cases' current
stage live in the same database as the outbox, so advancing the cursor and queueing the
messages it produced commit together.
"""

from __future__ import annotations

import datetime as dt
from typing import List, Optional

from sqlalchemy import Column, Date, DateTime, Integer, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from common.db import Base

EVENT_CURSOR = "case_events"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class CaseSubscription(Base):
    __tablename__ = "case_subscriptions"
    __table_args__ = (UniqueConstraint("case_id", "sender_id", name="uq_case_subscription"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    case_id = Column(String(64), nullable=False, index=True)
    sender_id = Column(String(128), nullable=False)
    channel = Column(String(16), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_now)


class FollowedCase(Base):
    """A followed case's current stage, kept from the events (for deadline reminders)."""

    __tablename__ = "followed_cases"

    case_id = Column(String(64), primary_key=True)
    stage = Column(String(64), nullable=True)
    waits_on = Column(String(16), nullable=True)
    status = Column(String(16), nullable=False, default="open")
    deadline = Column(Date, nullable=True)
    locale = Column(String(8), nullable=True)
    stage_since = Column(DateTime(timezone=True), nullable=False, default=_now)
    last_event_id = Column(Integer, nullable=False, default=0)


class NotifierCursor(Base):
    __tablename__ = "notifier_cursors"

    name = Column(String(32), primary_key=True)
    value = Column(Integer, nullable=False, default=0)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=_now, onupdate=_now)


def subscribe(case_id: str, sender_id: str, channel: str, *, session: Session) -> bool:
    """Subscribes `sender_id` to `case_id`; False when it already was."""
    existing = session.execute(
        select(CaseSubscription.id).where(CaseSubscription.case_id == case_id, CaseSubscription.sender_id == sender_id)
    ).scalar_one_or_none()
    if existing is not None:
        return False
    try:
        with session.begin_nested():
            session.add(CaseSubscription(case_id=case_id, sender_id=sender_id, channel=channel))
    except IntegrityError:
        return False
    return True


def subscribers(case_id: str, *, session: Session) -> List[CaseSubscription]:
    """The case's subscribers, in the order they subscribed."""
    return list(
        session.execute(
            select(CaseSubscription).where(CaseSubscription.case_id == case_id).order_by(CaseSubscription.id)
        ).scalars()
    )


def get_cursor(*, session: Session, name: str = EVENT_CURSOR) -> int:
    row = session.get(NotifierCursor, name)
    return int(row.value) if row else 0


def set_cursor(value: int, *, session: Session, name: str = EVENT_CURSOR) -> None:
    row = session.get(NotifierCursor, name)
    if row is None:
        session.add(NotifierCursor(name=name, value=value))
    else:
        row.value = value


def follow(
    case_id: str,
    *,
    session: Session,
    stage: Optional[str],
    waits_on: Optional[str],
    status: str,
    deadline: Optional[dt.date],
    locale: Optional[str] = None,
    event_id: int = 0,
) -> FollowedCase:
    """Records the case's current stage (a newer event id wins; a stage change resets `stage_since`)."""
    row = session.get(FollowedCase, case_id)
    if row is None:
        row = FollowedCase(case_id=case_id, stage=stage, waits_on=waits_on, status=status, deadline=deadline,
                           locale=locale, stage_since=_now(), last_event_id=event_id)
        session.add(row)
        return row
    if event_id and event_id < row.last_event_id:
        return row
    if stage != row.stage:
        row.stage_since = _now()
    row.stage, row.waits_on, row.status, row.deadline = stage, waits_on, status, deadline
    row.locale = locale or row.locale
    row.last_event_id = max(event_id, row.last_event_id or 0)
    return row


def waiting_on_customer(*, session: Session) -> List[FollowedCase]:
    """Open followed cases whose current stage waits on the resident."""
    return list(
        session.execute(
            select(FollowedCase).where(FollowedCase.waits_on == "customer", FollowedCase.status == "open")
        ).scalars()
    )
