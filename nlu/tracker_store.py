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
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Optional

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore, _create_sequence
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import declarative_base

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


class EncryptedSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` whose events table keeps each event's JSON encrypted."""

    Base: Any = declarative_base()

    def __init__(self, *args: Any, sql_url: Optional[str] = None, **kwargs: Any) -> None:
        # Not `url`: Rasa passes an endpoint's `url` as `host`.
        if sql_url:
            kwargs.update(url_parts(sql_url))
        super().__init__(*args, **kwargs)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_fast_commits)

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
