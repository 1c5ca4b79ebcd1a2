"""One SQLAlchemy engine and session factory per process (SQLAlchemy 1.4 in 2.0 style).

Sessions are opened by the outermost caller (a request handler, a start-up hook) and passed
down; data functions take a keyword-only `session` and never open one themselves.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeMeta, Session, registry, sessionmaker
from sqlalchemy.pool import QueuePool

mapper_registry = registry()
Base: DeclarativeMeta = mapper_registry.generate_base()


def make_engine(url: str) -> Engine:
    """Creates an engine; SQLite gets WAL and a busy timeout so several processes can share it."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # A pool of open connections (SQLAlchemy 1.4 opens a new one per session for SQLite
        # files): cheaper per turn, and a full disk, on which no new connection can be opened,
        # still lets the open ones read.
        engine = create_engine(
            url, future=True, connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=QueuePool, pool_size=5, max_overflow=20,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # WAL is kept in the file: set it once. Setting it again writes, which fails on a
            # full disk and would stop every new connection, reads included.
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit costs no fsync (about 5 ms each here, on the gateway's event
            # loop); still safe against any process crash, only the last commits can be lost
            # with the machine's power.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker:
    """Returns a factory of 2.0-style sessions bound to `engine`."""
    return sessionmaker(engine, class_=Session, future=True, expire_on_commit=False)


def create_all(engine: Engine) -> None:
    """Creates every table of the application database at once, for tests (the services and
    tools migrate: `common.migrate.upgrade`). Every table module is imported first, so the
    result is today's whole schema, which `migrate.upgrade` recognises and stamps as the head."""
    from common import migrate  # noqa: PLC0415 - imports the table modules of every package

    migrate.APP.metadata().create_all(engine)


@contextmanager
def session_scope(factory: sessionmaker) -> Iterator[Session]:
    """Opens a session, commits on success and rolls back on error."""
    session: Session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
