"""A submitting turn interrupted by the gateway's death is journalled, and at the next start
its reply (read from Rasa's tracker) goes out through the outbox once; other turns are not
journalled, and a finished turn leaves nothing behind."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from sqlalchemy import select

from bot import turn_journal
from bot.chat import ChatService
from common import outbox
from common.db import create_all, make_engine, make_session_factory, session_scope
from common.settings import Settings
from tests.bot.conftest import FakeRasa


class TrackerRasa(FakeRasa):
    def __init__(self, events: List[Dict[str, Any]]) -> None:
        super().__init__()
        self._events = events
        self.reads = 0

    async def events(self, sender_id: str) -> Optional[List[Dict[str, Any]]]:
        self.reads += 1
        return self._events


def sessions(tmp_path: Path):  # noqa: ANN201
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_all(engine)
    return make_session_factory(engine)


@pytest.mark.asyncio
async def test_an_interrupted_turn_is_delivered_through_the_outbox_once(tmp_path: Path) -> None:
    factory = sessions(tmp_path)
    with session_scope(factory) as session:
        turn_journal.begin("s1", "web", session=session)
    started = time.time() - 0.5
    events = [
        {"event": "user", "text": "确认", "timestamp": started - 10},
        {"event": "bot", "text": "old reply", "timestamp": started - 9},
        {"event": "bot", "text": "受理成功 C-1", "data": {"buttons": []}, "timestamp": time.time()},
        {"event": "bot", "text": None, "data": {"image": "http://x/qr.png"}, "timestamp": time.time()},
        {"event": "bot", "data": {"custom": {"meta": {"case_id": "C-1"}}}, "timestamp": time.time()},
    ]
    rasa = TrackerRasa(events)
    assert await turn_journal.recover(rasa, factory, settle_s=0.0) == 1  # type: ignore[arg-type]
    assert await turn_journal.recover(rasa, factory, settle_s=0.0) == 0  # type: ignore[arg-type]
    with session_scope(factory) as session:
        pushed = outbox.updates_after("s1", 0, 10, session=session)
        assert session.execute(select(turn_journal.TurnInFlight)).first() is None
    assert [m["text"] for m in pushed] == ["受理成功 C-1", ""]
    assert pushed[1]["image_url"] == "http://x/qr.png"


@pytest.mark.asyncio
async def test_only_the_submitting_turn_is_journalled_and_a_finished_one_is_crossed_out(tmp_path: Path) -> None:
    factory = sessions(tmp_path)
    seen: List[int] = []

    class Watching(FakeRasa):
        async def send(self, sender_id: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
            with session_scope(factory) as session:
                seen.append(len(session.execute(select(turn_journal.TurnInFlight)).all()))
            return await super().send(sender_id, text, metadata)

    chat = ChatService(dataclasses.replace(Settings(app_env="test")), Watching(), factory)  # type: ignore[arg-type]
    await chat.handle("s1", "你好", "web")
    chat._asking["s1"] = "confirm"  # the last reply showed the summary
    await chat.handle("s1", "确认", "web")
    assert seen == [0, 1]
    with session_scope(factory) as session:
        assert session.execute(select(turn_journal.TurnInFlight)).first() is None
