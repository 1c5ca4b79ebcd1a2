"""Rasa's SQL tracker store with every event encrypted at rest.

A conversation's events hold what the resident typed, ID numbers and phones included (the
form reads them from the message text), so Rasa's plain `SQLTrackerStore` would keep them
readable in `var/rasa_tracker.db` or a PostgreSQL table. This store is the same class with
the `data` column (the event as JSON) sealed with Fernet under `DATA_ENCRYPTION_KEYS`
(`common.crypto`), the key the case API and the form's slots use. The other columns (sender,
event type, timestamp, intent and action names) stay plain, so Rasa's own queries (latest
session, event counts) work unchanged; none of them holds personal data.

Only the column type changes: every query and method is Rasa's own, because they all go
through `self.SQLEvent`. Rows written before encryption was switched on (plain JSON) are
still read. Configured in `endpoints.yml` as `type: nlu.tracker_store.EncryptedSQLTrackerStore`
with the same keys as Rasa's `type: SQL`, plus `sql_url` (`RASA_TRACKER_URL`, a SQLAlchemy URL
such as `postgresql+psycopg2://power@db:5432/power?options=-csearch_path%3Drasa`) which,
when set, replaces dialect, host, port, db, username, password and query: one setting
moves the tracker store from the SQLite file to PostgreSQL.

**Reads and writes per turn, made cheap.** Rasa's store re-reads, decrypts and parses a
conversation's whole latest session on every turn, counts it again on save, and writes
through ORM objects on a connection opened and closed each time (SQLite's `NullPool`): under
load that was half of Rasa's CPU per turn (py-spy: retrieve 21 %, save 31 %). This store keeps
each recent conversation's latest session in memory, decrypted (`_Session`), each event
parsed once (`_Row`: a turn no longer decodes every event of the session), and on each read
fetches only the rows with a higher id than it has seen, so events written by another Rasa
server (the scaled-out profile) are picked up, and writes new events with one Core
`INSERT` without counting. It relies on what Rasa's lock store already guarantees: one
conversation's turns (and event appends) are handled one at a time, whichever Rasa server
takes them, so a conversation's ids grow in the order its rows are committed. A save whose
conversation has rows it has not seen (an unlocked writer, a restore) reloads the session
from the database first. SQLite connections are pooled (WAL set once per connection).
"""

from __future__ import annotations

import functools
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, _create_sequence
from rasa.shared.core import events
from rasa.shared.core.events import Event, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import declarative_base, sessionmaker
from sqlalchemy.pool import QueuePool

from common import fast_json
from common.crypto import DecryptionError, FieldCipher, assistant_cipher
from common.settings import Settings


class TrackerDecryptionError(RuntimeError):
    """Stored events cannot be decrypted: none of `DATA_ENCRYPTION_KEYS` is the writer's.

    Not a `ValueError` on purpose: Rasa's `session_scope` turns any `ValueError` into a
    "PostgreSQL schema not found" message and exits the server.
    """


@functools.lru_cache(maxsize=1)
def _cipher() -> FieldCipher:
    return assistant_cipher(Settings.from_env())


class SealedText(sa.types.TypeDecorator):
    """Text stored as a Fernet token, returned decrypted; plain JSON rows pass through."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Optional[str], dialect: Dialect) -> Optional[str]:
        return None if value is None else _cipher().encrypt(value)

    def process_result_value(self, value: Optional[str], dialect: Dialect) -> Optional[str]:
        if value is None or value.lstrip().startswith("{"):
            return value  # written before encryption was switched on
        try:
            return _cipher().decrypt(value)
        except DecryptionError as exc:
            raise TrackerDecryptionError(
                "conversation events cannot be decrypted: none of DATA_ENCRYPTION_KEYS is the key "
                "they were written with"
            ) from exc


def url_parts(url: str) -> Dict[str, Any]:
    """`SQLTrackerStore`'s keyword arguments for a SQLAlchemy URL."""
    parsed = make_url(url)
    return {
        "dialect": parsed.drivername,
        "host": parsed.host,
        "port": parsed.port,
        "db": parsed.database or "",
        "username": parsed.username,
        "password": parsed.password,
        "query": dict(parsed.query) or None,
    }


def _sqlite_fast_commits(dbapi_connection: Any, _record: Any) -> None:
    """WAL with synchronous=NORMAL, as the application database (`common.db`): Rasa's own
    engine fsyncs every commit, about 7 % of its time per turn under load (py-spy); a
    process crash still loses nothing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


SESSION_STARTED = SessionStarted.type_name
CACHE_SIZE_ENV = "RASA_TRACKER_CACHE_SIZE"


class _Row:
    """One stored event of a cached session: its timestamp, and the event parsed from its
    JSON once, on the first read that needs it (the same objects serve every later read:
    Rasa replays events onto a new tracker and does not change them)."""

    __slots__ = ("timestamp", "_data", "_events")

    def __init__(self, timestamp: Optional[float], data: str) -> None:
        self.timestamp = timestamp
        self._data: Optional[str] = data
        self._events: Optional[List[Event]] = None

    def events(self) -> List[Event]:
        """The row's event (none when Rasa does not know its type, as `from_dict` skips it)."""
        if self._events is None:
            self._events = events.deserialise_events([fast_json.loads(self._data or "null")])
            self._data = None
        return self._events


@dataclass
class _Session:
    """A conversation's latest session as stored: what Rasa's `_event_query` would return."""

    last_id: int = 0  # the highest id of the conversation's rows read (any session)
    started_at: Optional[float] = None  # the latest `session_started` row's timestamp
    rows: List[_Row] = field(default_factory=list)

    def add(self, timestamp: Optional[float], type_name: str, data: str) -> None:
        if type_name == SESSION_STARTED and timestamp is not None:
            if self.started_at is None or timestamp > self.started_at:
                self.started_at = timestamp
                # Rasa's filter: `timestamp >= the latest session start` (NULL never matches)
                self.rows = [r for r in self.rows if r.timestamp is not None and r.timestamp >= timestamp]
        if self.started_at is None or (timestamp is not None and timestamp >= self.started_at):
            self.rows.append(_Row(timestamp, data))


class EncryptedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` whose events table keeps each event's JSON encrypted, with the
    latest sessions of recent conversations kept in memory (see the module's docstring)."""

    Base: Any = declarative_base()

    def __init__(self, *args: Any, sql_url: Optional[str] = None, **kwargs: Any) -> None:
        # Not `url`: Rasa passes an endpoint's `url` as `host`.
        if sql_url:
            kwargs.update(url_parts(sql_url))
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(
                url, poolclass=QueuePool, pool_size=4, max_overflow=4,
                connect_args={"check_same_thread": False},
            )
            sa.event.listen(self.engine, "connect", _sqlite_fast_commits)
            self.sessionmaker = sessionmaker(bind=self.engine)
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._cache_size = max(0, int(os.environ.get(CACHE_SIZE_ENV) or 2000))

    # --- reads ---------------------------------------------------------------------------

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> Optional[DialogueStateTracker]:
        if fetch_events_from_all_sessions or self._cache_size == 0:
            return await super()._retrieve(sender_id, fetch_events_from_all_sessions)
        with self.session_scope() as session:
            cached = self._sessions.get(sender_id)
            if cached is None:
                cached = self._load(session, sender_id)
            else:
                self._read_newer(session, sender_id, cached)
            self._keep(sender_id, cached)
        stored = [event for row in cached.rows for event in row.events()]
        if self.domain and stored:
            return DialogueStateTracker.from_events(sender_id, stored, self.domain.slots)
        return None

    def _table(self) -> sa.Table:
        return self.SQLEvent.__table__

    def _load(self, session: Any, sender_id: str) -> _Session:
        """The latest session as Rasa's query selects it, read up to one id (a snapshot)."""
        table = self._table()
        mine = table.c.sender_id == sender_id
        last_id = session.execute(sa.select(sa.func.max(table.c.id)).where(mine)).scalar()
        cached = _Session(last_id=int(last_id or 0))
        if last_id is None:
            return cached
        upto = sa.and_(mine, table.c.id <= last_id)
        cached.started_at = session.execute(
            sa.select(sa.func.max(table.c.timestamp)).where(upto, table.c.type_name == SESSION_STARTED)
        ).scalar()
        query = sa.select(table.c.timestamp, table.c.data).where(upto).order_by(table.c.id)
        if cached.started_at is not None:
            query = query.where(table.c.timestamp >= cached.started_at)
        cached.rows = [_Row(row.timestamp, row.data) for row in session.execute(query)]
        return cached

    def _read_newer(self, session: Any, sender_id: str, cached: _Session) -> None:
        """Adds the conversation's rows written since `cached` was read (by any server)."""
        table = self._table()
        query = (
            sa.select(table.c.id, table.c.type_name, table.c.timestamp, table.c.data)
            .where(table.c.sender_id == sender_id, table.c.id > cached.last_id)
            .order_by(table.c.id)
        )
        for row in session.execute(query):
            cached.add(row.timestamp, row.type_name, row.data)
            cached.last_id = int(row.id)

    def _keep(self, sender_id: str, cached: _Session) -> None:
        self._sessions[sender_id] = cached
        self._sessions.move_to_end(sender_id)
        while len(self._sessions) > self._cache_size:
            self._sessions.popitem(last=False)

    # --- writes --------------------------------------------------------------------------

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Stores the events Rasa's `save` would store (those after the ones already stored
        in the latest session), with one INSERT."""
        if self._cache_size == 0:
            return await super().save(tracker)
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        table = self._table()
        mine = table.c.sender_id == sender_id
        with self.session_scope() as session:
            last_id = int(session.execute(sa.select(sa.func.max(table.c.id)).where(mine)).scalar() or 0)
            cached = self._sessions.get(sender_id)
            if cached is None or cached.last_id != last_id:
                cached = self._load(session, sender_id)
            rows = []
            for event in list(tracker.events)[len(cached.rows):]:
                data = event.as_dict()
                rows.append({
                    "sender_id": sender_id,
                    "type_name": event.type_name,
                    "timestamp": data.get("timestamp"),
                    "intent_name": data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
                    "action_name": data.get("name"),
                    "data": fast_json.dumps(data),
                })
            if rows:
                session.execute(table.insert(), rows)
                written = int(session.execute(sa.select(sa.func.max(table.c.id)).where(mine)).scalar() or 0)
            session.commit()
        if not rows:
            self._keep(sender_id, cached)
            return
        # Only once committed: a failed write leaves the cache as the database is.
        for row in rows:
            cached.add(row["timestamp"], row["type_name"], row["data"])
        cached.last_id = written
        self._keep(sender_id, cached)

    class SQLEvent(Base):  # type: ignore[valid-type,misc]
        """Rasa's `events` table, column for column, with `data` sealed."""

        __tablename__ = "events"

        id = sa.Column(sa.Integer, _create_sequence(__tablename__), primary_key=True)
        sender_id = sa.Column(sa.String(255), nullable=False, index=True)
        type_name = sa.Column(sa.String(255), nullable=False)
        timestamp = sa.Column(sa.Float)
        intent_name = sa.Column(sa.String(255))
        action_name = sa.Column(sa.String(255))
        data = sa.Column(SealedText)
