"""Web conversations bound to their owner: the gateway issues each id with a secret token.

A web client cannot choose its `sender_id`: `POST /api/chat/sessions` draws a random one
(128 bits) and a bearer token (256 bits), and only the token's holder may speak in that
conversation or read its updates. The token is stored as its SHA-256 digest (a random 256-bit
secret needs no slow hash), so a copied database does not let anyone speak as a resident.
Only ids of the form `web:<random>` are ever issued; the `tg:` namespace and any other channel's
ids are unreachable from the web API because no token exists for them.

A conversation nobody used for `WEB_SESSION_IDLE_DAYS` (30 by default) is over: its token is
answered 401 with reason `session_expired` (the page then opens a new conversation and says
so), so a token copied from an old browser or log does not open the conversation forever.
Last use is recorded cheaply: `last_used_at` is written at most once per `TOUCH_EVERY` per
conversation (a conditional update, so several gateways do not all write), not on every turn;
the `GrantCache` holds a grant no longer than `TOUCH_EVERY` and never past the expiry, so a
turn served from the cache is still seen within the hour.

Expired conversations do not stay forever: each new conversation deletes a batch of those
unused for longer than the idle limit plus `NOTICE_KEPT` (90 days), so the table holds the
live ones and the recently expired ones, whose returning browser is still told "this
conversation has ended" (401 `session_expired`); an older token gets 403, on which the page
opens a new conversation without the notice. No job to schedule: the deleting keeps pace with
the creating.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Optional, Tuple

from sqlalchemy import Column, DateTime, String, delete, select, update
from sqlalchemy.orm import Session

from common.db import Base

WEB_PREFIX = "web:"
ID_BYTES = 16  # 128 bits
TOKEN_BYTES = 32  # 256 bits
# How stale `last_used_at` may be (and how long a cached grant lasts): an hour in 30 days.
TOUCH_EVERY = dt.timedelta(hours=1)
# How long an expired conversation's row is kept (its token answered "expired", not "unknown").
NOTICE_KEPT = dt.timedelta(days=90)
PRUNE_BATCH = 200  # rows deleted at most per new conversation


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def now() -> dt.datetime:
    """The current time, as sessions compare it (UTC, aware)."""
    return _now()


def _aware(value: dt.datetime) -> dt.datetime:
    """SQLite returns naive datetimes; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def idle_limit(days: float) -> Optional[dt.timedelta]:
    """`WEB_SESSION_IDLE_DAYS` as a duration; None (never expire) for 0 or less."""
    return dt.timedelta(days=days) if days > 0 else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class WebSession(Base):
    __tablename__ = "web_sessions"

    sender_id = Column(String(64), primary_key=True)
    token_sha256 = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_now)
    # Last use, to within TOUCH_EVERY (written at most that often).
    last_used_at = Column(DateTime(timezone=True), nullable=False, default=_now, index=True)


@dataclass(frozen=True)
class Issued:
    sender_id: str
    token: str


class Access(Enum):
    """The outcome of checking a request's token against a conversation."""

    GRANTED = "granted"
    MISSING = "missing"  # no usable bearer token: 401
    FORBIDDEN = "forbidden"  # a token, but not this conversation's (or an id never issued): 403
    EXPIRED = "expired"  # the right token of a conversation idle too long: 401, session_expired


@dataclass(frozen=True)
class Verdict:
    """A checked token: the access, when the conversation expires, whether to record its use."""

    access: Access
    expires_at: Optional[dt.datetime] = None  # None: never (or not granted)
    touch_due: bool = False


def issue(*, session: Session) -> Issued:
    """Creates a conversation: a random `web:` id and the token that owns it."""
    sender_id = WEB_PREFIX + secrets.token_urlsafe(ID_BYTES)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    at = _now()
    session.add(WebSession(sender_id=sender_id, token_sha256=_digest(token), created_at=at, last_used_at=at))
    return Issued(sender_id, token)


def prune(idle: Optional[dt.timedelta], *, session: Session, now: Optional[dt.datetime] = None) -> int:
    """Deletes up to `PRUNE_BATCH` conversations unused for longer than `idle` plus
    `NOTICE_KEPT` (none when conversations never expire); returns how many."""
    if idle is None:
        return 0
    cutoff = (now or _now()) - idle - NOTICE_KEPT
    oldest = select(WebSession.sender_id).where(WebSession.last_used_at < cutoff).limit(PRUNE_BATCH)
    result = session.execute(delete(WebSession).where(WebSession.sender_id.in_(oldest.scalar_subquery()))
                             .execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def bearer_token(authorization: Optional[str]) -> Optional[str]:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        return None
    return token


class GrantCache:
    """Conversations this process has recently seen their token for (id → token digest), so a
    turn costs no database read; bounded, oldest forgotten first. A grant is fresh for
    `lifetime` (TOUCH_EVERY: then the database is read again and the last use recorded) and
    never outlives the conversation's expiry. Issued tokens never change, so when the
    database cannot be read (a full disk, an outage) a grant past its freshness but before its
    expiry still lets in residents who are already talking (`stale_ok`)."""

    def __init__(self, size: int = 20_000, lifetime: dt.timedelta = TOUCH_EVERY):
        self._size = size
        self._lifetime = lifetime
        # id -> (token digest, fresh until, expires at or None)
        self._grants: OrderedDict[str, Tuple[str, dt.datetime, Optional[dt.datetime]]] = OrderedDict()

    def granted(self, sender_id: str, authorization: Optional[str], at: dt.datetime, *, stale_ok: bool = False) -> bool:
        token = bearer_token(authorization)
        known = self._grants.get(sender_id)
        if token is None or known is None or not hmac.compare_digest(known[0], _digest(token)):
            return False
        _, fresh_until, expires_at = known
        if (expires_at is not None and at >= expires_at) or (at >= fresh_until and not stale_ok):
            return False
        self._grants.move_to_end(sender_id)
        return True

    def remember(self, sender_id: str, authorization: Optional[str], at: dt.datetime,
                 expires_at: Optional[dt.datetime] = None) -> None:
        token = bearer_token(authorization)
        if token is None:
            return
        self._grants[sender_id] = (_digest(token), at + self._lifetime, expires_at)
        self._grants.move_to_end(sender_id)
        while len(self._grants) > self._size:
            self._grants.popitem(last=False)


def verify(sender_id: str, authorization: Optional[str], *, session: Session,
           idle: Optional[dt.timedelta] = None, at: Optional[dt.datetime] = None) -> Verdict:
    """Whether the request's `Authorization` header owns the conversation `sender_id`, and
    whether that conversation is still open (used within `idle`)."""
    token = bearer_token(authorization)
    if token is None:
        return Verdict(Access.MISSING)
    if not sender_id.startswith(WEB_PREFIX):
        return Verdict(Access.FORBIDDEN)
    row = session.get(WebSession, sender_id)
    expected = row.token_sha256 if row is not None else _digest("")  # compare anyway: same cost
    if not (hmac.compare_digest(expected, _digest(token)) and row is not None):
        return Verdict(Access.FORBIDDEN)
    at = at or _now()
    last_used = _aware(row.last_used_at or row.created_at)
    expires_at = last_used + idle if idle is not None else None
    if expires_at is not None and at >= expires_at:
        return Verdict(Access.EXPIRED)
    touch_due = at - last_used >= TOUCH_EVERY
    if touch_due and expires_at is not None:
        expires_at = at + idle  # type: ignore[operator]  # idle is set: expires_at was computed from it
    return Verdict(Access.GRANTED, expires_at, touch_due)


def check(sender_id: str, authorization: Optional[str], *, session: Session,
          idle: Optional[dt.timedelta] = None) -> Access:
    """`verify`'s access alone."""
    return verify(sender_id, authorization, session=session, idle=idle).access


def touch(sender_id: str, *, session: Session, at: Optional[dt.datetime] = None) -> None:
    """Records a use of the conversation, unless one was recorded within TOUCH_EVERY (so of
    several gateways granting it at once only one writes)."""
    at = at or _now()
    session.execute(
        update(WebSession).where(WebSession.sender_id == sender_id, WebSession.last_used_at <= at - TOUCH_EVERY)
        .values(last_used_at=at)
    )
