"""The submitting turn's journal on a real SQLite file: written before the call, not due for
the queue's worker while the turn may still run, settled by the turn's outcome."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.fernet import Fernet

from actions import submitting
from actions.submissions import DELIVERED, QUEUED, REJECTED, PendingApplication, due, utcnow
from common.crypto import FieldCipher
from common.db import create_all, make_engine, make_session_factory, session_scope

CIPHER = FieldCipher([Fernet.generate_key().decode()])
BODY = {"name": "陈海明", "id_number": "440802198003120310"}


def sessions(tmp_path: Path):  # noqa: ANN201
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_all(engine)
    return make_session_factory(engine)


def begin(factory, key: str = "k1", body=BODY):  # noqa: ANN001, ANN201
    with session_scope(factory) as session:
        return submitting.begin(body, key, "s1", "web", "zh_Hans", CIPHER, 20.0, session=session)


def test_a_begun_submission_is_due_only_after_the_grace(tmp_path: Path) -> None:
    factory = sessions(tmp_path)
    begin(factory)
    with session_scope(factory) as session:
        assert due(utcnow(), 10, session=session) == []
        later = due(utcnow() + dt.timedelta(seconds=21), 10, session=session)
        assert [row.idempotency_key for row in later] == ["k1"]
        assert CIPHER.decrypt(later[0].sealed_body).startswith("{")  # sealed, not plain text
        assert "440802" not in later[0].sealed_body


def test_landed_refused_and_deferred_settle_the_row(tmp_path: Path) -> None:
    factory = sessions(tmp_path)
    for key in ("landed", "refused", "deferred"):
        begin(factory, key)
    with session_scope(factory) as session:
        submitting.landed("landed", "C-1", session=session)
        submitting.refused("refused", 422, session=session)
        submitting.defer("deferred", session=session)
    with session_scope(factory) as session:
        rows = {r.idempotency_key: r for r in session.query(PendingApplication)}
        assert (rows["landed"].status, rows["landed"].case_id) == (DELIVERED, "C-1")
        assert rows["refused"].status == REJECTED
        assert rows["deferred"].status == QUEUED
        assert [r.idempotency_key for r in due(utcnow(), 10, session=session)] == ["deferred"]


def test_a_repeated_submission_keeps_one_row(tmp_path: Path) -> None:
    factory = sessions(tmp_path)
    begin(factory)
    with session_scope(factory) as session:
        submitting.landed("k1", "C-1", session=session)
    # The same form confirmed again after a lost reply, with a new confirmation time: the
    # body written down first is the one submitted again (same request under the same key).
    again = begin(factory, body={**BODY, "consent": {"confirmed_at": "later"}})
    assert again == BODY
    with session_scope(factory) as session:
        rows = list(session.query(PendingApplication))
        assert len(rows) == 1 and rows[0].status == DELIVERED
