"""Key rotation (issue 9): `tools.rotate_keys` re-encrypts the application database, Rasa's
tracker store (the form's sealed slots inside its events too) and the case API's database,
and recomputes the ID fingerprints under the new fingerprint key; after it the old keys can go."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from actions.submissions import PendingApplication, queue
from cases.app import build_app
from common.crypto import FieldCipher, assistant_cipher, case_cipher
from common.db import create_all, make_engine, make_session_factory, session_scope
from common.settings import Settings
from nlu import tracker_store
from nlu.tracker_store import EncryptedSQLTrackerStore, TrackerDecryptionError
from tests.cases.conftest import CASE_API_KEYS, CHEN, Clock, application, new_key, staff_client
from tools.rotate_keys import rotate_all

DOMAIN = Domain.from_dict(
    {"intents": ["inform"], "slots": {"id_number": {"type": "text", "mappings": [{"type": "custom"}]}}}
)
ID_NUMBER = CHEN["id_number"]


def _settings(tmp_path: Path, data: list[str], case_data: list[str], fingerprint: list[str]) -> Settings:
    return Settings(
        app_env="test", var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'app.db'}",
        case_database_url=f"sqlite:///{tmp_path / 'cases.db'}",
        secrets={
            "CASE_API_KEYS": CASE_API_KEYS, "WEBHOOK_SECRET": "w" * 40,
            "DATA_ENCRYPTION_KEYS": ",".join(data), "CASE_DATA_ENCRYPTION_KEYS": ",".join(case_data),
            "CASE_FINGERPRINT_KEYS": ",".join(fingerprint),
        },
    )


def _save_tracker(db: Path, keys: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", ",".join(keys))
    tracker_store._cipher.cache_clear()
    sealed_slot = FieldCipher(keys).encrypt(ID_NUMBER)
    tracker = DialogueStateTracker("web-sender-1", DOMAIN.slots)
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(UserUttered("我要报装", {"name": "inform", "confidence": 0.9}))
    tracker.update(SlotSet("id_number", sealed_slot))
    asyncio.run(EncryptedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(db)).save(tracker))


def _read_tracker(db: Path, keys: list[str], monkeypatch: pytest.MonkeyPatch) -> DialogueStateTracker:
    monkeypatch.setenv("DATA_ENCRYPTION_KEYS", ",".join(keys))
    tracker_store._cipher.cache_clear()
    try:
        found = asyncio.run(EncryptedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(db)).retrieve(
            "web-sender-1"))
    finally:
        tracker_store._cipher.cache_clear()
    assert found is not None
    return found


def test_rotation_moves_every_store_to_the_new_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    case_old, case_new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    fp_old, fp_new = "f" * 40, "g" * 40
    before = _settings(tmp_path, [old], [case_old], [fp_old])
    # Written under the old keys: a case, a queued application, a conversation.
    with staff_client(build_app(before, clock=Clock())) as client:
        case_id = client.post("/cases", json=application(CHEN), headers=new_key()).json()["case_id"]
    engine = make_engine(before.database_url)
    create_all(engine)
    with session_scope(make_session_factory(engine)) as session:
        queue(application(CHEN), "form-key-1", "web-sender-1", "web", "zh_Hans", assistant_cipher(before),
              session=session)
    tracker_db = tmp_path / "tracker.db"
    _save_tracker(tracker_db, [old], monkeypatch)

    during = _settings(tmp_path, [new, old], [case_new, case_old], [fp_new, fp_old])
    report = rotate_all(during, tracker_db_url=f"sqlite:///{tracker_db}")
    assert not report.unreadable, report.lines()
    assert report.rotated["app.pending_applications.sealed_body"] == 1
    assert report.rotated["tracker.events.data"] == 3
    assert report.rotated["cases.cases.applicant"] == 1

    # The old keys dropped: everything is still readable, and the old keys alone read nothing.
    after = _settings(tmp_path, [new], [case_new], [fp_new])
    with session_scope(make_session_factory(engine)) as session:
        row = session.query(PendingApplication).one()
        assert json.loads(assistant_cipher(after).decrypt(row.sealed_body))["id_number"] == ID_NUMBER
    engine.dispose()
    tracker = _read_tracker(tracker_db, [new], monkeypatch)
    assert FieldCipher([new]).decrypt(tracker.get_slot("id_number")) == ID_NUMBER
    with pytest.raises(TrackerDecryptionError):
        _read_tracker(tracker_db, [old], monkeypatch)
    cipher = case_cipher(after)
    with sqlite3.connect(tmp_path / "cases.db") as conn:
        name_enc, id_enc, fingerprint = conn.execute(
            "SELECT name_enc, id_number_enc, id_fingerprint FROM cases").fetchone()
    assert cipher.decrypt(name_enc) == CHEN["name"] and cipher.decrypt(id_enc) == ID_NUMBER
    assert fingerprint == cipher.fingerprint(ID_NUMBER) != FieldCipher([case_old], [fp_old]).fingerprint(ID_NUMBER)
    with staff_client(build_app(after, clock=Clock())) as client:
        assert client.get(f"/cases/{case_id}").json()["applicant"]["name"] == CHEN["name"]
        # The re-seeded local registry still recognises the applicant under the new fingerprint key.
        again = client.post("/cases", json=application(CHEN), headers=new_key()).json()
        assert again["documents"] == {"identity": "verified", "property": "verified"}


def test_a_value_no_listed_key_reads_is_reported_not_destroyed(tmp_path: Path) -> None:
    stranger = Fernet.generate_key().decode()
    settings = _settings(tmp_path, [Fernet.generate_key().decode()], [Fernet.generate_key().decode()], ["h" * 40])
    engine = make_engine(settings.database_url)
    create_all(engine)
    with session_scope(make_session_factory(engine)) as session:
        queue(application(CHEN), "form-key-2", "web-sender-2", "web", "zh_Hans", FieldCipher([stranger]),
              session=session)
    report = rotate_all(settings, tracker_db_url=f"sqlite:///{tmp_path / 'none.db'}")
    assert report.unreadable == {"app.pending_applications.sealed_body": 1}
    with session_scope(make_session_factory(engine)) as session:
        row = session.query(PendingApplication).one()
        assert FieldCipher([stranger]).decrypt(row.sealed_body)  # left as it was
    engine.dispose()
