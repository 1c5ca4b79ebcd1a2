"""Web conversations bound to their owner: the gateway issues each id with a secret token.

A web client cannot choose its `sender_id`: `POST /api/chat/sessions` draws a random one
(128 bits) and a bearer token (256 bits), and only the token's holder may speak in that
conversation or read its updates. The token is stored as its SHA-256 digest (a random 256-bit
secret needs no slow hash), so a copied database does not let anyone speak as a resident.
Only ids of the form `web:<random>` are ever issued; the `tg:` namespace and any other channel's
ids are unreachable from the web API because no token exists for them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Optional

from sqlalchemy import Column, DateTime, String
from sqlalchemy.orm import Session

from common.db import Base

WEB_PREFIX = "web:"
ID_BYTES = 16  # 128 bits
TOKEN_BYTES = 32  # 256 bits


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class WebSession(Base):
    __tablename__ = "web_sessions"

    sender_id = Column(String(64), primary_key=True)
    token_sha256 = Column(String(64), nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False, default=_now)


@dataclass(frozen=True)
class Issued:
    sender_id: str
    token: str


class Access(Enum):
    """The outcome of checking a request's token against a conversation."""

    GRANTED = "granted"
    MISSING = "missing"  # no usable bearer token: 401
    FORBIDDEN = "forbidden"  # a token, but not this conversation's (or an id never issued): 403


def issue(*, session: Session) -> Issued:
    """Creates a conversation: a random `web:` id and the token that owns it."""
    sender_id = WEB_PREFIX + secrets.token_urlsafe(ID_BYTES)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(WebSession(sender_id=sender_id, token_sha256=_digest(token)))
    return Issued(sender_id, token)


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
    """Conversations this process has already seen their token for (id → token digest), so a
    turn costs no database read; bounded, oldest forgotten first. Issued tokens never change,
    so a cached grant stays true (a database that cannot be opened, a full disk, does not shut
    out residents who are already talking)."""

    def __init__(self, size: int = 20_000):
        self._size = size
        self._digests: OrderedDict[str, str] = OrderedDict()

    def granted(self, sender_id: str, authorization: Optional[str]) -> bool:
        token = bearer_token(authorization)
        known = self._digests.get(sender_id)
        if token is None or known is None or not hmac.compare_digest(known, _digest(token)):
            return False
        self._digests.move_to_end(sender_id)
        return True

    def remember(self, sender_id: str, authorization: Optional[str]) -> None:
        token = bearer_token(authorization)
        if token is None:
            return
        self._digests[sender_id] = _digest(token)
        self._digests.move_to_end(sender_id)
        while len(self._digests) > self._size:
            self._digests.popitem(last=False)


def check(sender_id: str, authorization: Optional[str], *, session: Session) -> Access:
    """Whether the request's `Authorization` header owns the conversation `sender_id`."""
    token = bearer_token(authorization)
    if token is None:
        return Access.MISSING
    if not sender_id.startswith(WEB_PREFIX):
        return Access.FORBIDDEN
    row = session.get(WebSession, sender_id)
    expected = row.token_sha256 if row is not None else _digest("")  # compare anyway: same cost
    if hmac.compare_digest(expected, _digest(token)) and row is not None:
        return Access.GRANTED
    return Access.FORBIDDEN
