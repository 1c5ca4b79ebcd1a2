"""Under overload the gateway refuses early and politely: a turn beyond MAX_TURNS_IN_FLIGHT is
answered "busy" at once (503 with Retry-After on the web API), the turns already admitted
finish normally, and turns are admitted again as soon as they do."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import Any, Dict, List

import httpx
import pytest

from bot.app import build_app
from bot.chat import ChatService
from common.db import create_all, make_engine, make_session_factory
from common.i18n import t
from common.settings import Settings
from tests.bot.conftest import FakeRasa


class SlowRasa(FakeRasa):
    """Holds every turn until `release` is set, like a saturated Rasa."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def send(self, sender_id: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        await self.release.wait()
        return await super().send(sender_id, text, metadata)


def service(tmp_path: Path, limit: int) -> tuple[ChatService, SlowRasa]:
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_all(engine)
    settings = dataclasses.replace(Settings(app_env="test", var_dir=tmp_path), max_turns_in_flight=limit)
    rasa = SlowRasa()
    return ChatService(settings, rasa, make_session_factory(engine)), rasa  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_turns_beyond_the_bound_are_answered_busy_at_once(tmp_path: Path) -> None:
    chat, rasa = service(tmp_path, limit=3)
    admitted = [asyncio.create_task(chat.handle(f"s{i}", "你好", "web")) for i in range(3)]
    await asyncio.sleep(0.05)
    started = time.monotonic()
    shed = await chat.handle("s9", "你好", "web")
    assert time.monotonic() - started < 0.1
    assert shed.shed and shed.meta.fallback
    assert [m["text"] for m in shed.messages] == [t("service.busy", "zh_Hans")]
    english = await chat.handle("s10", "hello there", "web")
    assert english.messages[0]["text"] == t("service.busy", "en")
    rasa.release.set()
    done = await asyncio.gather(*admitted)
    assert all(not turn.shed and turn.messages[0]["text"] == "ECHO 你好" for turn in done)
    assert not (await chat.handle("s9", "你好", "web")).shed  # admitted again once they finished


@pytest.mark.asyncio
async def test_the_web_api_answers_503_with_retry_after(tmp_path: Path) -> None:
    settings = dataclasses.replace(
        Settings(app_env="test", var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'app.db'}"),
        max_turns_in_flight=1,
    )
    app = build_app(settings)
    async with app.router.lifespan_context(app):
        rasa = SlowRasa()
        app.state.chat = ChatService(settings, rasa, app.state.sessions)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            a, b = [(await client.post("/api/chat/sessions")).json() for _ in range(2)]

            def turn(session: Dict[str, str]) -> Any:
                return client.post("/api/chat", json={"sender_id": session["sender_id"], "text": "你好"},
                                   headers={"Authorization": f"Bearer {session['token']}"})

            first = asyncio.create_task(turn(a))
            await asyncio.sleep(0.05)
            refused = await turn(b)
            rasa.release.set()
            assert (await first).status_code == 200
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "2"
    body = refused.json()
    assert body["error"] == t("service.busy", "zh_Hans")
    assert body["messages"][0]["text"] == body["error"] and body["meta"]["fallback"] is True
