"""Staff accounts and console sessions (gateway database, on `common.db.Base`).

Kept apart from the hand-off tables: the case-work console reuses the same accounts.
A session row stores only a hash of the cookie's token, so a copy of the database cannot be
used to log in.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Column, DateTime, Integer, String

from common.db import Base

ROLE_AGENT = "agent"
ROLE_SUPERVISOR = "supervisor"
ROLES = (ROLE_AGENT, ROLE_SUPERVISOR)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class StaffAccount(Base):
    __tablename__ = "staff_accounts"

    id = Column(Integer, primary_key=True, autoincrement=True)
    username = Column(String(64), nullable=False, unique=True)
    password_hash = Column(String(255), nullable=False)  # argon2id (argon2-cffi)
    role = Column(String(16), nullable=False, default=ROLE_AGENT)  # agent | supervisor
    disabled = Column(Boolean, nullable=False, default=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    updated_at = Column(DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow)


class StaffSession(Base):
    __tablename__ = "staff_sessions"

    token_hash = Column(String(64), primary_key=True)  # sha256 of the cookie's random token
    username = Column(String(64), nullable=False, index=True)
    csrf_token = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=utcnow)
    expires_at = Column(DateTime(timezone=True), nullable=False)
