"""Staff authentication: accounts (argon2id), cookie sessions with CSRF tokens, roles.

- Passwords are hashed with argon2id (`argon2-cffi`, memory-hard); a hash made with older
  parameters is upgraded at the next login.
- A login gives a random session token in an HttpOnly, SameSite=Strict cookie (Secure when
  the public address is https) and a CSRF token the client sends as `X-CSRF-Token` on every
  state-changing call. Sessions expire (`STAFF_SESSION_MINUTES`); only a hash of the token is
  stored.
- Failed logins are slowed: each failure for a username or a client address makes the next
  answer wait longer (up to `MAX_DELAY_S`), and the delay is paid before the password is
  even checked, so guessing costs time whichever account is tried.
- Roles: `agent` (hand-offs) and `supervisor` (also ratings of everyone, flagged call-backs).

Used by the staff API (`bot/staff/api.py`) and meant for the case-work console too:
`current_staff` and `require_csrf` are FastAPI dependencies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from fastapi import Depends, HTTPException, Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.staff.models import ROLE_AGENT, ROLE_SUPERVISOR, ROLES, StaffAccount, StaffSession, utcnow
from common.db import session_scope

logger = logging.getLogger(__name__)
COOKIE = "staff_session"
CSRF_HEADER = "X-CSRF-Token"
BASE_DELAY_S = 0.25
MAX_DELAY_S = 8.0
FAILURE_WINDOW_S = 900.0
MIN_PASSWORD_CHARS = 10
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")

_hasher = PasswordHasher()  # argon2id, the library's current recommended parameters
# A hash to verify against when the account does not exist, so both cases take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class AccountError(ValueError):
    """A username or password that cannot be used (the message says why)."""


@dataclass(frozen=True)
class Staff:
    """The staff member a request acts as."""

    username: str
    role: str
    csrf_token: str

    @property
    def is_supervisor(self) -> bool:
        return self.role == ROLE_SUPERVISOR


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not 2 <= len(name) <= 64 or not set(name) <= USERNAME_CHARS:
        raise AccountError("username: 2-64 characters of a-z, 0-9, '.', '_' or '-'")
    return name


def set_account(username: str, password: str, role: str = ROLE_AGENT, *, session: Session) -> StaffAccount:
    """Creates the account or resets its password (and role); enables it again."""
    name = check_username(username)
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"password: at least {MIN_PASSWORD_CHARS} characters")
    if role not in ROLES:
        raise AccountError(f"role: one of {', '.join(ROLES)}")
    account = session.execute(select(StaffAccount).where(StaffAccount.username == name)).scalar_one_or_none()
    if account is None:
        account = StaffAccount(username=name, password_hash=hash_password(password), role=role)
        session.add(account)
    else:
        account.password_hash, account.role, account.disabled = hash_password(password), role, False
    # A reset password ends the sessions made with the old one.
    session.execute(delete(StaffSession).where(StaffSession.username == name))
    session.flush()
    return account


def disable_account(username: str, *, session: Session) -> bool:
    account = session.execute(
        select(StaffAccount).where(StaffAccount.username == username.strip().lower())
    ).scalar_one_or_none()
    if account is None:
        return False
    account.disabled = True
    session.execute(delete(StaffSession).where(StaffSession.username == account.username))
    return True


def list_accounts(*, session: Session) -> List[StaffAccount]:
    return list(session.execute(select(StaffAccount).order_by(StaffAccount.username)).scalars())


def verify(username: str, password: str, *, session: Session) -> Optional[StaffAccount]:
    """The enabled account whose password this is, else None (same work either way)."""
    account = session.execute(
        select(StaffAccount).where(StaffAccount.username == username.strip().lower())
    ).scalar_one_or_none()
    try:
        _hasher.verify(account.password_hash if account else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if account is None or account.disabled:
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
    return account


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(account: StaffAccount, minutes: int, *, session: Session) -> tuple[str, str]:
    """A new session for `account`: (cookie token, CSRF token)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    now = utcnow()
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))  # sweep expired ones
    session.add(StaffSession(token_hash=_token_hash(token), username=account.username, csrf_token=csrf,
                             expires_at=now + dt.timedelta(minutes=minutes)))
    return token, csrf


def close_session(token: str, *, session: Session) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))


def staff_of(token: str, *, session: Session) -> Optional[Staff]:
    """The staff member of a live session token (expired or disabled: None)."""
    row = session.get(StaffSession, _token_hash(token))
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.timezone.utc)
    if expires <= utcnow():
        session.delete(row)
        return None
    account = session.execute(select(StaffAccount).where(StaffAccount.username == row.username)).scalar_one_or_none()
    if account is None or account.disabled:
        return None
    return Staff(account.username, account.role, row.csrf_token)


class LoginThrottle:
    """Slows repeated failed logins per username and per client address (in memory)."""

    def __init__(self, base_s: float = BASE_DELAY_S, cap_s: float = MAX_DELAY_S):
        self._base, self._cap = base_s, cap_s
        self._failures: Dict[str, List[float]] = defaultdict(list)

    def _recent(self, key: str, now: float) -> int:
        kept = [t for t in self._failures.get(key, []) if now - t < FAILURE_WINDOW_S]
        if kept:
            self._failures[key] = kept
        else:
            self._failures.pop(key, None)
        return len(kept)

    def delay(self, username: str, client: str) -> float:
        now = time.monotonic()
        failures = max(self._recent(f"u:{username.lower()}", now), self._recent(f"c:{client}", now))
        return 0.0 if failures == 0 else min(self._cap, self._base * 2 ** (failures - 1))

    def failed(self, username: str, client: str) -> None:
        now = time.monotonic()
        self._failures[f"u:{username.lower()}"].append(now)
        self._failures[f"c:{client}"].append(now)

    def succeeded(self, username: str) -> None:
        self._failures.pop(f"u:{username.lower()}", None)

    async def wait(self, username: str, client: str) -> None:
        pause = self.delay(username, client)
        if pause:
            await asyncio.sleep(pause)


# --- FastAPI dependencies -----------------------------------------------------------------------

def current_staff(request: Request) -> Staff:
    """The logged-in staff member, else 401."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise HTTPException(401, "login required")
    with session_scope(request.app.state.sessions) as session:
        staff = staff_of(token, session=session)
    if staff is None:
        raise HTTPException(401, "session expired or invalid; log in again")
    return staff


def require_csrf(request: Request, staff: Staff = Depends(current_staff)) -> Staff:
    """`current_staff`, and the session's CSRF token in `X-CSRF-Token`, else 403."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent, staff.csrf_token):
        raise HTTPException(403, f"missing or wrong {CSRF_HEADER} header")
    return staff


def require_supervisor(staff: Staff = Depends(current_staff)) -> Staff:
    if not staff.is_supervisor:
        raise HTTPException(403, "supervisors only")
    return staff
