"""Work claims in the database, so background work runs once with any number of instances.

Several gateways (each with a notifier and a Telegram delivery worker) and several action
servers (each with a submission queue worker) share one application database. Before a
worker touches a piece of work it claims it here: a row per claim name (`notifier:feed`,
`outbox:telegram:tg:42`, `submission:7`) holding the claimant and when the claim lapses.
A claim is taken only if nobody holds it or the holder's lease has lapsed (a crashed
worker's work is taken over after `ttl_s`); the holder renews it by claiming again, and
releases it when done.

On PostgreSQL the candidate rows are locked with `SELECT … FOR UPDATE SKIP LOCKED`, so
concurrent claimants never wait for each other and never take the same name; on SQLite,
which serialises writers, the conditional `UPDATE … WHERE holder IS NULL OR lapsed` is the
lease. Each claim is committed in its own short transaction (`claim_now`), before the work
and its network calls start: a long transaction would hold SQLite's write lock.

A claim does not make work idempotent: after claiming, re-read the work's state (it may
have been done by the previous holder), and keep the dedupe keys of the outbox.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from typing import Iterable, List

from sqlalchemy import Column, DateTime, String, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from common.db import Base, session_scope

DEFAULT_TTL_S = 60.0


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_holder() -> str:
    """A name for one worker of one process, unique across machines and restarts."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class WorkClaim(Base):
    __tablename__ = "work_claims"

    name = Column(String(160), primary_key=True)
    holder = Column(String(80), nullable=True)
    expires_at = Column(DateTime(timezone=True), nullable=True)


def _insert_missing(names: List[str], *, session: Session) -> None:
    dialect = session.get_bind().dialect.name
    rows = [{"name": name, "holder": None, "expires_at": None} for name in names]
    if dialect == "postgresql":
        session.execute(pg_insert(WorkClaim).values(rows).on_conflict_do_nothing(index_elements=["name"]))
    elif dialect == "sqlite":
        session.execute(sqlite_insert(WorkClaim).values(rows).on_conflict_do_nothing(index_elements=["name"]))
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        existing = set(session.execute(select(WorkClaim.name).where(WorkClaim.name.in_(names))).scalars())
        session.add_all(WorkClaim(name=name) for name in names if name not in existing)
        session.flush()


def claim(names: Iterable[str], holder: str, ttl_s: float = DEFAULT_TTL_S, *, session: Session) -> List[str]:
    """Claims (or renews) those of `names` that are free, lapsed or already `holder`'s;
    returns them in the order given. Commit promptly: the claim counts from the commit."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return []
    now = utcnow()
    _insert_missing(wanted, session=session)
    claimable = or_(WorkClaim.holder.is_(None), WorkClaim.holder == holder, WorkClaim.expires_at < now)
    until = now + dt.timedelta(seconds=ttl_s)
    if session.get_bind().dialect.name == "postgresql":
        free = set(
            session.execute(
                select(WorkClaim.name)
                .where(WorkClaim.name.in_(wanted), claimable)
                .with_for_update(skip_locked=True)
            ).scalars()
        )
        if free:
            session.execute(
                update(WorkClaim).where(WorkClaim.name.in_(free)).values(holder=holder, expires_at=until)
            )
        return [name for name in wanted if name in free]
    got = []
    for name in wanted:
        result = session.execute(
            update(WorkClaim).where(WorkClaim.name == name, claimable).values(holder=holder, expires_at=until)
        )
        if result.rowcount:
            got.append(name)
    return got


def release(names: Iterable[str], holder: str, *, session: Session) -> None:
    """Gives up `holder`'s claims on `names` (others' claims are left alone)."""
    wanted = list(names)
    if wanted:
        session.execute(
            update(WorkClaim)
            .where(WorkClaim.name.in_(wanted), WorkClaim.holder == holder)
            .values(holder=None, expires_at=None)
        )


def claim_now(sessions: sessionmaker, names: Iterable[str], holder: str, ttl_s: float = DEFAULT_TTL_S) -> List[str]:
    """`claim` in its own committed transaction."""
    with session_scope(sessions) as session:
        return claim(names, holder, ttl_s, session=session)


def release_now(sessions: sessionmaker, names: Iterable[str], holder: str) -> None:
    """`release` in its own committed transaction."""
    with session_scope(sessions) as session:
        release(names, holder, session=session)
