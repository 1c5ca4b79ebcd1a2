"""Fixtures for the gateway's Telegram and notifier tests.

`telegram_bot` runs the real python-telegram-bot Application, with the real ChatService,
over real HTTP against the Bot API emulator; only Rasa is replaced (`FakeRasa` answers by
rule), so these tests take seconds. The full stack with Rasa is in tests/e2e.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any, AsyncIterator, Callable, Dict, Iterator, List, Optional

import httpx
import pytest
import pytest_asyncio
from sqlalchemy.orm import sessionmaker

from bot.chat import ChatService
from bot.telegram.app import TelegramFrontEnd, build_telegram
from common.db import create_all, make_engine, make_session_factory
from common.settings import Settings
from knowledge.service import KnowledgeBase
from tests.telegram.emulator import BotApiEmulator, Sent

LONG_PAYLOAD = '/inform{"region": "湛江市霞山区", "note": "' + "x" * 60 + '"}'
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class FakeRasa:
    """Answers like the assistant would, by simple rules, and records what it was sent."""

    def __init__(self) -> None:
        self.received: List[Dict[str, Any]] = []

    async def send(self, sender_id: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        self.received.append({"sender_id": sender_id, "text": text, **metadata})
        meta: Dict[str, Any] = {"intent": "chitchat", "confidence": 0.9}
        if text.startswith("/faq_"):
            entry = text[len("/faq_"):]
            meta = {"intent": text[1:], "confidence": 1.0, "answer_id": entry}
            replies: List[Dict[str, Any]] = [{"text": f"ANSWER {entry} <b>&"}]
        elif text == "/apply_connection" or text.startswith("电话"):
            meta["requested_slot"] = "phone"
            replies = [{"text": "请输入手机号"}]
        elif text.startswith("buttons"):
            replies = [{"text": "choose", "buttons": [
                {"title": "Short", "payload": "/choose_short"}, {"title": "Long", "payload": LONG_PAYLOAD},
            ]}]
        elif text.startswith("qr"):
            replies = [{"text": "receipt", "image": "/_test/qr.png"}]
        elif text.startswith("long"):
            sentence = "这是一句很长的回答。"
            replies = [{"text": sentence * 500}]
        else:
            replies = [{"text": f"ECHO {text}"}]
        return [*replies, {"custom": {"meta": meta}}]

    async def tracker(self, sender_id: str) -> Optional[Dict[str, Any]]:
        return None

    async def healthy(self) -> bool:
        return True


class FakeCases:
    """The case API's one-time codes and get_case, in memory (the real ones: tests/cases)."""

    def __init__(self) -> None:
        self.cases = {"GZ-20261124-0001"}
        self.code = "402719"
        self.sent: list[tuple[str, str]] = []  # (case_id, requester) a code was texted for

    async def request_code(self, case_id: str, requester: str) -> None:
        if case_id in self.cases:
            self.sent.append((case_id, requester))

    async def verify(self, case_id: str, code: str, requester: str) -> bool:
        return (case_id, requester) in self.sent and code == self.code

    async def get_case(self, case_id: str) -> Optional[Dict[str, Any]]:
        return {"case_id": case_id, "stage": "application", "status": "open", "deadline": "2026-12-04",
                "stages": [{"key": "application", "names": {"zh_Hans": "用电申请"}, "waits_on": "utility"}]}


@dataclasses.dataclass
class TelegramBot:
    emulator: BotApiEmulator
    front: TelegramFrontEnd
    rasa: FakeRasa
    sessions: sessionmaker
    chat: ChatService

    async def wait_for(
        self, chat_id: int, predicate: Callable[[Sent], bool] = lambda _m: True, since: float = 0.0,
        timeout: float = 10.0,
    ) -> Sent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.emulator.sent(chat_id, since):
                if predicate(message):
                    return message
            await asyncio.sleep(0.02)
        raise AssertionError(f"nothing matching to {chat_id}: {[m.text[:60] for m in self.emulator.sent(chat_id)]}")

    async def settle(self, seconds: float = 0.5) -> None:
        await asyncio.sleep(seconds)


@pytest.fixture(scope="session")
def emulator() -> Iterator[BotApiEmulator]:
    with BotApiEmulator() as running:
        yield running


def telegram_settings(tmp_path: Any, emulator: BotApiEmulator, **overrides: Any) -> Settings:
    return Settings(
        app_env="test", var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'app.db'}",
        telegram_bot_token=emulator.token, telegram_base_url=emulator.base_url, notifier_poll_s=0.2,
        **overrides,
    )


@pytest_asyncio.fixture()
async def telegram_bot(tmp_path: Any, emulator: BotApiEmulator, kb: KnowledgeBase) -> AsyncIterator[TelegramBot]:
    settings = telegram_settings(tmp_path, emulator)
    engine = make_engine(settings.database_url)
    create_all(engine)
    sessions = make_session_factory(engine)
    rasa = FakeRasa()
    chat = ChatService(settings, rasa, sessions)  # type: ignore[arg-type]

    def image(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=PNG) if request.url.path == "/_test/qr.png" else httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(image)) as http:
        application = build_telegram(settings, chat, sessions, kb, FakeCases(), http=http)  # type: ignore[arg-type]
        front = TelegramFrontEnd(application, settings)
        await front.start()
        deadline = time.monotonic() + 10
        while not front.polling and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        try:
            yield TelegramBot(emulator, front, rasa, sessions, chat)
        finally:
            await front.stop()
            emulator.reset_failures()
            engine.dispose()
