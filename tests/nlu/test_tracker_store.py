"""The encrypted tracker store keeps conversations readable to Rasa and unreadable on disk."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from nlu import tracker_store
from nlu.tracker_store import EncryptedSQLTrackerStore, TrackerDecryptionError

ID_NUMBER = "11010519491231002X"
PHONE = "13800138000"
DOMAIN = Domain.from_dict(
    {"intents": ["inform"], "slots": {"name": {"type": "text", "mappings": [{"type": "custom"}]}}}
)


def _tracker(sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker(sender, DOMAIN.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered(f"身份证{ID_NUMBER} 电话{PHONE}", {"name": "inform", "confidence": 0.9}))
    tracker.update(SlotSet("name", "张三"))
    return tracker


def _raw_rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT type_name, data FROM events").fetchall()


def test_events_are_encrypted_on_disk_and_read_back(tmp_path: Path) -> None:
    db = tmp_path / "tracker.db"
    store = EncryptedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(db))
    asyncio.run(store.save(_tracker("alice")))

    rows = _raw_rows(db)
    assert [type_name for type_name, _ in rows] == ["action", "user", "slot"]
    on_disk = db.read_bytes()
    for secret in (ID_NUMBER, PHONE, "张三"):
        assert secret.encode() not in on_disk

    again = asyncio.run(store.retrieve("alice"))
    assert again is not None
    assert again.latest_message.text == f"身份证{ID_NUMBER} 电话{PHONE}"
    assert again.get_slot("name") == "张三"


def test_appending_keeps_rasas_incremental_save(tmp_path: Path) -> None:
    store = EncryptedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "t.db"))
    tracker = _tracker("bob")
    asyncio.run(store.save(tracker))
    tracker.update(ActionExecuted("action_listen"))
    asyncio.run(store.save(tracker))
    assert len(_raw_rows(tmp_path / "t.db")) == 4
    assert len(asyncio.run(store.retrieve("bob")).events) == 4


def test_rows_written_before_encryption_are_still_read(tmp_path: Path) -> None:
    db = str(tmp_path / "legacy.db")
    asyncio.run(SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=db).save(_tracker("carol")))
    tracker = asyncio.run(EncryptedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=db).retrieve("carol"))
    assert tracker is not None and ID_NUMBER in tracker.latest_message.text


def test_a_different_key_cannot_read_the_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = str(tmp_path / "keyed.db")
    asyncio.run(EncryptedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=db).save(_tracker("dave")))
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    tracker_store._cipher.cache_clear()
    try:
        with pytest.raises(TrackerDecryptionError):
            asyncio.run(EncryptedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=db).retrieve("dave"))
    finally:
        monkeypatch.undo()
        tracker_store._cipher.cache_clear()


def test_endpoints_sql_url_moves_the_store_to_either_engine(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """endpoints.yml's `sql_url: ${RASA_TRACKER_URL}` as Rasa loads it: SQLite or PostgreSQL."""
    import sqlalchemy as sa
    from rasa.core.tracker_store import TrackerStore
    from rasa.utils.endpoints import read_endpoint_config

    from common.settings import ROOT

    monkeypatch.setenv("RASA_TRACKER_URL", database_url)
    monkeypatch.setenv("SERVICE_CALL_SECRET", "s" * 32)  # endpoints.yml sends it to the action server
    monkeypatch.setenv("RASA_TRACKER_DB", str(tmp_path / "unused.db"))
    monkeypatch.setenv("ACTION_SERVER_URL", "http://127.0.0.1:9/webhook")
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    store = TrackerStore.create(config, DOMAIN)
    inner = getattr(store, "_tracker_store", store)
    assert isinstance(inner, EncryptedSQLTrackerStore)
    assert inner.engine.url.get_backend_name() == sa.engine.make_url(database_url).get_backend_name()
    asyncio.run(store.save(_tracker("erin")))
    with inner.engine.connect() as conn:
        data = [row[0] for row in conn.execute(sa.text("SELECT data FROM events"))]
    assert len(data) == 3 and not any(ID_NUMBER in d or PHONE in d for d in data)
    again = asyncio.run(store.retrieve("erin"))
    assert again is not None and again.get_slot("name") == "张三"
    assert not (tmp_path / "unused.db").exists()
    inner.engine.dispose()
