"""Issue 9: personal data never reaches Rasa. The gateway swaps ID numbers and phones (any
form the form accepts) for opaque tokens; the values are kept sealed in the application
database and only the actions turn the tokens of their own sender back.

Before: Rasa received the typed text as it was (NLU text and raw-text metadata)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.orm import sessionmaker

import actions.context as action_context
import actions.services as action_services
from actions.forms.application import ValidateApplicationForm
from common import pii_vault
from common.crypto import FieldCipher
from common.db import create_all, make_engine, make_session_factory, session_scope
from common.settings import DEV_SECRETS
from tests.actions.conftest import slot_events
from tests.actions.forms.conftest import form_tracker
from tests.security.conftest import bearer, open_session

FORMS = ["440802198003120310", "440802 19800312 0310", "440802-19800312-0310", "４４０８０２１９８００３１２０３１０",
         "13800138000", "138 0013 8000", "138-0013-8000", "+86 138 0013 8000", "１３８００１３８０００"]
CIPHER = FieldCipher([DEV_SECRETS["DATA_ENCRYPTION_KEYS"]])


def _digits(value: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKC", value) if c.isdigit())


@pytest.fixture()
def sessions(tmp_path: Path) -> Iterator[sessionmaker]:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.mark.parametrize("value", FORMS)
def test_every_form_becomes_a_token_and_back(value: str, sessions: sessionmaker, tmp_path: Path) -> None:
    text = f"我的号码是{value}，谢谢"
    with session_scope(sessions) as session:
        tokenized = pii_vault.tokenize(text, "web:a", CIPHER, session=session)
    assert _digits(value)[-8:] not in _digits(tokenized) and pii_vault.has_tokens(tokenized)
    with session_scope(sessions) as session:
        assert pii_vault.resolve(tokenized, "web:a", CIPHER, session=session) == text
        assert pii_vault.resolve(tokenized, "web:b", CIPHER, session=session) == tokenized  # not theirs
    with sqlite3.connect(tmp_path / "app.db") as conn:
        stored = repr(conn.execute("SELECT * FROM pii_values").fetchall())
    assert value not in stored and _digits(value) not in stored


def test_case_numbers_and_short_numbers_stay(sessions: sessionmaker) -> None:
    text = "查一下案件 440800-20261124-0001，户号12345"
    with session_scope(sessions) as session:
        assert pii_vault.tokenize(text, "web:a", CIPHER, session=session) == text


def test_the_gateway_sends_rasa_tokens_only(gateway: TestClient) -> None:
    session = open_session(gateway)
    for value in FORMS:
        reply = gateway.post("/api/chat", json={"sender_id": session["sender_id"], "text": f"电话 {value}"},
                             headers=bearer(session))
        assert reply.status_code == 200
    received = gateway.app.state.rasa.received  # type: ignore[attr-defined]
    assert len(received) == len(FORMS)
    for turn, value in zip(received, FORMS, strict=True):
        for field in ("text",):
            assert _digits(value)[-8:] not in _digits(turn[field]), turn
        assert pii_vault.has_tokens(turn["text"])


@pytest.mark.asyncio
async def test_the_form_reads_the_values_behind_the_tokens(sessions: sessionmaker, monkeypatch) -> None:
    monkeypatch.setattr(action_services.current(), "_sessions", sessions)
    with session_scope(sessions) as session:
        typed = pii_vault.tokenize("我叫张三，身份证440802 19800312 0310，手机138-0013-8000", "form-sender", CIPHER,
                                   session=session)
    events = await ValidateApplicationForm().run(CollectingDispatcher(), form_tracker(typed, requested="name"), {})
    slots = slot_events(events)
    assert slots["name"] == "张三"
    assert action_context.unseal(slots["id_number"]) == "440802198003120310"
    assert action_context.unseal(slots["phone"]) == "13800138000"


def test_values_are_deleted_after_a_day(sessions: sessionmaker) -> None:
    import datetime as dt

    with session_scope(sessions) as session:
        token = pii_vault.tokenize("13800138000", "web:a", CIPHER, session=session)
    later = dt.datetime.now(dt.timezone.utc) + pii_vault.KEPT + dt.timedelta(minutes=1)
    with session_scope(sessions) as session:
        assert pii_vault.prune(session=session, now=dt.datetime.now(dt.timezone.utc)) == 0
        assert pii_vault.prune(session=session, now=later) == 1
    with session_scope(sessions) as session:
        assert pii_vault.resolve(token, "web:a", CIPHER, session=session) == token
