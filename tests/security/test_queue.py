"""Queued applications (issue 9): nothing lost, nothing blocked. An unreadable row goes to a
dead-letter state staff can list and the rest go on; 408, 429 and 5xx are retried with
back-off; any other 4xx is final and told to the resident through the outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from actions import submissions
from actions.submissions import DEAD_LETTER, DELIVERED, QUEUED, REJECTED, PendingApplication, deliver_due, queue
from cases.app import build_app
from common.case_client import CaseClient
from common.crypto import FieldCipher
from common.db import create_all, make_engine, make_session_factory, session_scope
from common.outbox import OutboxMessage, message_of
from common.settings import Settings
from tests.cases.conftest import ACTIONS, CHEN, HUANG, WANG, Clock, application, make_settings, staff_client
from tools import dead_letters

KEY = Fernet.generate_key().decode()
CIPHER = FieldCipher([KEY])


class Scripted(httpx.AsyncBaseTransport):
    """The real case API (in process), except for idempotency keys scripted to fail."""

    def __init__(self, app: object, script: Dict[str, List[int]]):
        self._app = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.script = script
        self.calls: List[Tuple[str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = request.headers.get("Idempotency-Key", "")
        statuses = self.script.get(key) or []
        if statuses:
            status = statuses.pop(0)
            self.calls.append((key, status))
            return httpx.Response(status, json={"error": f"scripted {status}"})
        response = await self._app.handle_async_request(request)
        self.calls.append((key, response.status_code))
        return response


@pytest.fixture()
def sessions(tmp_path: Path) -> Iterator[sessionmaker]:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def _queue(sessions: sessionmaker, key: str, person: Dict[str, str], cipher: FieldCipher = CIPHER) -> None:
    with session_scope(sessions) as session:
        queue(application(person), key, f"web-{key}", "web", "zh_Hans", cipher, session=session)


def _rows(sessions: sessionmaker) -> Dict[str, PendingApplication]:
    with session_scope(sessions) as session:
        rows = session.execute(select(PendingApplication)).scalars().all()
        session.expunge_all()
        return {row.idempotency_key: row for row in rows}


def _told(sessions: sessionmaker, sender: str) -> List[str]:
    with session_scope(sessions) as session:
        rows = session.execute(select(OutboxMessage).where(OutboxMessage.sender_id == sender)).scalars().all()
        return [message_of(row)["text"] for row in rows]


def _run(tmp_path: Path, sessions: sessionmaker, script: Dict[str, List[int]], rounds: int = 1) -> Scripted:
    settings = make_settings(tmp_path)
    app = build_app(settings, clock=Clock(dt.datetime.now(dt.timezone.utc)))
    transport = Scripted(app, script)

    async def deliver() -> None:
        async with httpx.AsyncClient(transport=transport) as http:
            client = CaseClient("http://cases", ACTIONS["X-Api-Key"], http)
            for _ in range(rounds):
                await deliver_due(client, sessions, CIPHER, Settings(app_env="test"))
                with session_scope(sessions) as session:  # make every waiting row due again
                    session.execute(update(PendingApplication).values(next_attempt_at=submissions.utcnow()))

    with staff_client(app):
        asyncio.run(deliver())
    return transport


def test_an_unreadable_row_is_dead_lettered_and_the_rest_go_on(tmp_path: Path, sessions: sessionmaker) -> None:
    _queue(sessions, "old-key-row", CHEN, cipher=FieldCipher([Fernet.generate_key().decode()]))
    _queue(sessions, "good-1", HUANG)
    _queue(sessions, "good-2", WANG)
    _run(tmp_path, sessions, {})
    rows = _rows(sessions)
    assert rows["old-key-row"].status == DEAD_LETTER and "unreadable" in rows["old-key-row"].last_error
    assert rows["good-1"].status == DELIVERED and rows["good-2"].status == DELIVERED
    assert _told(sessions, "web-old-key-row")  # the resident hears it is not lost
    # Staff see it, masked, and can put it back once the key is listed again.
    with session_scope(sessions) as session:
        listed = dead_letters.lines(submissions.dead_letters(session=session))
        assert len(listed) == 1 and "old-key-row" in listed[0] and "web-old-key-row" not in listed[0]
        assert dead_letters.requeue("all", session=session) == 1
    assert _rows(sessions)["old-key-row"].status == QUEUED


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
def test_temporary_refusals_are_retried_not_dropped(tmp_path: Path, sessions: sessionmaker, status: int) -> None:
    _queue(sessions, "flaky", CHEN)
    transport = _run(tmp_path, sessions, {"flaky": [status, status]}, rounds=3)
    assert [s for _, s in transport.calls] == [status, status, 201]
    row = _rows(sessions)["flaky"]
    assert row.status == DELIVERED and row.attempts == 2
    assert not any("未被业务系统受理" in text for text in _told(sessions, "web-flaky"))


def test_a_final_refusal_is_told_to_the_resident(tmp_path: Path, sessions: sessionmaker) -> None:
    _queue(sessions, "refused", CHEN)
    _queue(sessions, "after", HUANG)
    _run(tmp_path, sessions, {"refused": [422]})
    rows = _rows(sessions)
    assert rows["refused"].status == REJECTED and rows["after"].status == DELIVERED
    assert any("未被业务系统受理" in text for text in _told(sessions, "web-refused"))
