"""Tables of the hand-off to staff (gateway database, on `common.db.Base`).

A `Handoff` is one request for a person in one conversation (`sender_id`): it waits in the
queue, is claimed by one staff member (active), and is closed. Its `HandoffMessage`s are the
transcript staff read (texts masked before they are stored); a `Rating` is the resident's
score after closing, one per hand-off. `StaffAccount` (in `bot/staff/models.py`) holds the
people who may log in to the console (password hashed with argon2id, see `bot/staff/auth.py`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text

from bot.staff.models import StaffAccount  # noqa: F401  (re-exported: the staff accounts)
from common.db import Base

STATE_WAITING = "waiting"
STATE_ACTIVE = "active"
STATE_CLOSED = "closed"
STATES = (STATE_WAITING, STATE_ACTIVE, STATE_CLOSED)
OPEN_STATES = (STATE_WAITING, STATE_ACTIVE)
# The rows the one-open-hand-off-per-conversation index covers (the same SQL on both engines).
OPEN_WHERE = "state IN ('waiting', 'active')"

PRIORITY_URGENT = "urgent"
PRIORITY_HIGH = "high"
PRIORITY_NORMAL = "normal"
PRIORITIES = (PRIORITY_URGENT, PRIORITY_HIGH, PRIORITY_NORMAL)

ROLE_RESIDENT = "resident"
ROLE_BOT = "bot"
ROLE_STAFF = "staff"
ROLE_NOTE = "note"
ROLE_SYSTEM = "system"
ROLES = (ROLE_RESIDENT, ROLE_BOT, ROLE_STAFF, ROLE_NOTE, ROLE_SYSTEM)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes; every stored time is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


class Handoff(Base):
    __tablename__ = "handoffs"
    # One open hand-off per conversation, held by the database itself, so two gateways (or
    # two concurrent turns) cannot both open one: the second insert fails and the service
    # returns the first (`HandoffService.request`).
    __table_args__ = (
        Index("uq_handoffs_open_sender", "sender_id", unique=True,
              sqlite_where=text(OPEN_WHERE), postgresql_where=text(OPEN_WHERE)),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    sender_id = Column(String(128), nullable=False, index=True)
    channel = Column(String(16), nullable=False)
    state = Column(String(8), nullable=False, default=STATE_WAITING, index=True)
    reason = Column(String(32), nullable=False)
    priority = Column(String(8), nullable=False, default=PRIORITY_NORMAL)
    emergency = Column(Boolean, nullable=False, default=False)
    locale = Column(String(8), nullable=False)
    # A high-voltage application: a customer-manager lead (staff call the applicant back).
    lead = Column(Boolean, nullable=False, default=False)
    # Opened outside staff hours (or a lead): the bot keeps answering until someone claims it.
    deferred = Column(Boolean, nullable=False, default=False)
    opened_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    claimed_at = Column(DateTime(timezone=True), nullable=True)
    first_staff_reply_at = Column(DateTime(timezone=True), nullable=True)
    closed_at = Column(DateTime(timezone=True), nullable=True)
    closed_by = Column(String(64), nullable=True)  # a staff username, or "resident" (cancelled)
    assignee = Column(String(64), nullable=True)
    # The Telegram staff supergroup's forum topic for this hand-off (branch handoff-tg).
    staff_thread_id = Column(Integer, nullable=True)
    # Rating flow after closing: "score" (buttons sent), "comment" (score given), None.
    rating_step = Column(String(8), nullable=True)

    @property
    def ticket(self) -> str:
        """The readable ticket number staff and residents quote: H000042."""
        return f"H{self.id:06d}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def waiting_s(self, now: dt.datetime | None = None) -> float:
        """Seconds the resident has waited for a person (until claimed, or until now)."""
        end = aware(self.claimed_at) or aware(self.closed_at) or (now or utcnow())
        return max(0.0, (end - aware(self.opened_at)).total_seconds())  # type: ignore[operator]


class HandoffMessage(Base):
    __tablename__ = "handoff_messages"

    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False, index=True)
    role = Column(String(8), nullable=False)
    author = Column(String(64), nullable=True)  # staff username for staff messages and notes
    text = Column(Text, nullable=False)  # masked (common.pii) before it is stored
    photo_url = Column(String(500), nullable=True)
    at = Column(DateTime(timezone=True), nullable=False, default=utcnow)


class Rating(Base):
    __tablename__ = "handoff_ratings"
    __table_args__ = (UniqueConstraint("handoff_id", name="uq_rating_handoff"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False)
    score = Column(Integer, nullable=False)
    solved = Column(Boolean, nullable=True)
    comment = Column(Text, nullable=True)  # masked
    # 1-2: a supervisor calls the resident back (回访).
    flagged = Column(Boolean, nullable=False, default=False)
    assignee = Column(String(64), nullable=True)  # who handled the hand-off (for per-staff figures)
    at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
