"""Gateway tables of the staff case work, on `common.db.Base`.

- `case_warnings`: one row per case, stage and level (`amber` at 80 % of the stage's time
  limit, `red` when overdue). The unique key is the claim that makes a warning be raised once,
  across restarts and with several gateway processes (inserted with conflict-ignore); the
  digest and the escalation to supervisors are claimed the same way, with a token.
- `fallback_questions`: turns that ended in a fallback, the text masked (`common.pii`), for
  the report of questions the knowledge base does not answer yet.
- `resident_activity`: when a resident last wrote, so reminders (催办) stop once they act.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Column, Date, DateTime, Index, Integer, String, Text, UniqueConstraint

from common.db import Base

AMBER, RED = "amber", "red"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class CaseWarning(Base):
    __tablename__ = "case_warnings"
    __table_args__ = (
        UniqueConstraint("case_id", "stage", "level", name="uq_case_warning"),
        Index("ix_case_warnings_digest", "digested_at", "digest_token"),
        Index("ix_case_warnings_open", "acked_at", "level", "raised_at"),
    )

    id = Column(Integer, primary_key=True, autoincrement=True)
    case_id = Column(String(64), nullable=False)
    stage = Column(String(64), nullable=False)
    level = Column(String(8), nullable=False)  # amber | red
    region = Column(String(32), nullable=False, default="")
    process = Column(String(64), nullable=False, default="")
    stage_names = Column(JSON, nullable=False, default=dict)
    stage_deadline = Column(Date, nullable=True)
    working_days_left = Column(Integer, nullable=True)
    raised_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    digest_token = Column(String(32), nullable=True)
    digest_claimed_at = Column(DateTime(timezone=True), nullable=True)
    digested_at = Column(DateTime(timezone=True), nullable=True)
    acked_at = Column(DateTime(timezone=True), nullable=True)
    acked_by = Column(String(64), nullable=True)
    escalation_token = Column(String(32), nullable=True)
    escalation_claimed_at = Column(DateTime(timezone=True), nullable=True)
    escalated_at = Column(DateTime(timezone=True), nullable=True)
    # Set when the case left the stage (moved on, completed) or an amber warning turned red:
    # the warning leaves the console's list and is never escalated.
    resolved_at = Column(DateTime(timezone=True), nullable=True)


class FallbackQuestion(Base):
    __tablename__ = "fallback_questions"
    __table_args__ = (Index("ix_fallback_questions_at", "at"),)

    id = Column(Integer, primary_key=True, autoincrement=True)
    at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    channel = Column(String(16), nullable=False)
    locale = Column(String(8), nullable=False)
    text = Column(Text, nullable=False)  # masked: no ID number or phone
    intent = Column(String(128), nullable=True)


class ResidentActivity(Base):
    __tablename__ = "resident_activity"

    sender_id = Column(String(128), primary_key=True)
    last_turn_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
