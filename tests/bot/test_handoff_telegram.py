"""The resident's side of a hand-off on Telegram: the real bot against the Bot API emulator.

`/human` opens the hand-off (the queue message with its inline "leave the queue" button);
the staff reply, written to the outbox, is sent by the delivery worker (text, and a photo);
while staff own the chat the bot is silent; closing sends the rating buttons, and pressing
one stores the rating. Rasa is replaced by rules (tests/bot/conftest.py `FakeRasa`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Dict, List

import httpx
import pytest
import pytest_asyncio

from bot.chat import ChatService
from bot.handoff.rasa_pause import RasaPause
from bot.handoff.service import HandoffService
from bot.telegram.app import TelegramFrontEnd, build_telegram
from common.db import create_all, make_engine, make_session_factory
from common.i18n import t
from knowledge.service import KnowledgeBase
from tests.bot.conftest import PNG, FakeCases, FakeRasa, TelegramBot, telegram_settings
from tests.telegram.emulator import BotApiEmulator

pytestmark = pytest.mark.asyncio


class PausableRasa(FakeRasa):
    def __init__(self) -> None:
        super().__init__()
        self.posted: List[Dict[str, Any]] = []

    async def events(self, sender_id: str) -> List[Dict[str, Any]]:
        return []

    async def append_event(self, sender_id: str, event: Dict[str, Any]) -> bool:
        self.posted.append(event)
        return True


@pytest_asyncio.fixture()
async def bot_with_handoffs(
    tmp_path: Any, emulator: BotApiEmulator, kb: KnowledgeBase
) -> AsyncIterator[tuple[TelegramBot, HandoffService]]:
    settings = telegram_settings(tmp_path, emulator)
    engine = make_engine(settings.database_url)
    create_all(engine)
    sessions = make_session_factory(engine)
    rasa = PausableRasa()
    handoffs = HandoffService(sessions)
    handoffs.add_listener(RasaPause(rasa))  # type: ignore[arg-type]
    chat = ChatService(settings, rasa, sessions, handoffs)  # type: ignore[arg-type]

    def image(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=PNG) if request.url.path == "/_test/meter.png" else httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(image)) as http:
        application = build_telegram(settings, chat, sessions, kb, FakeCases(), http=http)  # type: ignore[arg-type]
        front = TelegramFrontEnd(application, settings)
        handoffs.set_on_enqueued(front.wake_delivery)
        await front.start()
        deadline = time.monotonic() + 10
        while not (application.updater and application.updater.running) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        try:
            yield TelegramBot(emulator, front, rasa, sessions, chat), handoffs
        finally:
            await front.stop()
            emulator.reset_failures()
            engine.dispose()


async def test_telegram_resident_handoff(bot_with_handoffs: tuple[TelegramBot, HandoffService]) -> None:
    bot, handoffs = bot_with_handoffs
    emu, chat_id = bot.emulator, 880_001
    emu.send_command(chat_id, "human")
    queued = await bot.wait_for(chat_id, lambda m: "排在第1位" in m.text)
    assert any(b["callback_data"].startswith("p:") for b in queued.buttons)  # the "leave the queue" button
    handoff = (await handoffs.queue())[0]
    assert handoff.channel == "telegram" and handoff.sender_id == f"tg:{chat_id}"
    await handoffs.idle()
    assert bot.rasa.received == [] and bot.rasa.posted == [{"event": "pause"}]  # type: ignore[attr-defined]

    await handoffs.claim(handoff.id, "alice")
    since = time.time()
    await handoffs.staff_message(handoff.id, "alice", "您好，请发一张电表照片", photo_url="http://x/_test/meter.png")
    await handoffs.staff_message(handoff.id, "alice", "内部：疑似窃电", internal=True)
    await bot.wait_for(chat_id, lambda m: "电表照片" in m.text, since=since - 1)
    assert emu.calls_of("sendPhoto"), "the staff photo is sent as a photo"

    emu.send_text(chat_id, "好的，马上拍")
    await bot.settle(0.5)
    assert bot.rasa.received == []  # the bot stays silent while staff own the chat
    assert all("疑似窃电" not in m.text for m in emu.sent(chat_id))
    transcript = [(msg.role, msg.text) for msg in await handoffs.transcript(handoff.id)]
    assert ("resident", "好的，马上拍") in transcript

    await handoffs.close(handoff.id, "alice")
    ask = await bot.wait_for(chat_id, lambda m: t("handoff.rate.ask", "zh_Hans") in m.text)
    await handoffs.idle()
    assert len(ask.buttons) == 5 and bot.rasa.posted[-1] == {"event": "resume"}  # type: ignore[attr-defined]
    emu.press_button(ask, "4")
    await bot.wait_for(chat_id, lambda m: t("handoff.rate.comment", "zh_Hans") in m.text)
    summary = await handoffs.ratings()
    assert summary["count"] == 1 and summary["distribution"]["4"] == 1
