"""Issue 9: Telegram updates are confirmed only after they are handled, and webhook mode does
not start without its secret (the real bot against the Bot API emulator).

Before: PTB's Updater confirmed each batch as soon as it was queued, and the duplicate guard
recorded an update when it arrived, so one cut short by a stop was lost for good; webhook mode
started with an empty secret and logged an error."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Dict, List

import pytest

from bot.chat import ChatService
from bot.telegram.app import TelegramFrontEnd, build_telegram
from common.db import create_all, make_engine, make_session_factory
from common.settings import SettingsError
from tests.bot.conftest import FakeCases, FakeRasa, emulator, telegram_settings  # noqa: F401

pytestmark = pytest.mark.asyncio


class StuckRasa(FakeRasa):
    """Never answers `stuck` messages: the turn is still running when the bot stops."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()

    async def send(self, sender_id: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        if text.startswith("stuck"):
            self.started.set()
            await asyncio.Event().wait()
        return await super().send(sender_id, text, metadata)


async def _wait(predicate, timeout: float = 15.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_an_update_cut_short_by_a_stop_is_handled_after_the_restart(tmp_path, emulator, kb) -> None:  # noqa: ANN001, F811
    settings = telegram_settings(tmp_path, emulator)
    engine = make_engine(settings.database_url)
    create_all(engine)
    sessions = make_session_factory(engine)
    chat = 93001
    try:
        stuck = StuckRasa()
        first = TelegramFrontEnd(build_telegram(settings, ChatService(settings, stuck, sessions), sessions, kb,  # type: ignore[arg-type]
                                                FakeCases()), settings)  # type: ignore[arg-type]
        await first.start()
        emulator.send_text(chat, "stuck 这条消息")
        await asyncio.wait_for(stuck.started.wait(), 15)
        await first.stop()  # the gateway stops while the turn runs
        assert emulator.sent(chat) == []

        fine = FakeRasa()
        second = TelegramFrontEnd(build_telegram(settings, ChatService(settings, fine, sessions), sessions, kb,  # type: ignore[arg-type]
                                                 FakeCases()), settings)  # type: ignore[arg-type]
        await second.start()
        try:
            await _wait(lambda: any(m.text == "ECHO stuck 这条消息" for m in emulator.sent(chat)))
            emulator.send_text(chat, "下一条")
            await _wait(lambda: any(m.text == "ECHO 下一条" for m in emulator.sent(chat)))
            await asyncio.sleep(0.5)
            # handled once after the restart, and the confirmed update is not handled again
            assert [m.text for m in emulator.sent(chat)] == ["ECHO stuck 这条消息", "ECHO 下一条"]
            assert [r["text"] for r in fine.received] == ["stuck 这条消息", "下一条"]
        finally:
            await second.stop()
    finally:
        engine.dispose()


async def test_webhook_mode_refuses_to_start_without_a_secret(tmp_path, emulator, kb) -> None:  # noqa: ANN001, F811
    settings = telegram_settings(tmp_path, emulator, telegram_webhook_url="https://example.org/telegram/webhook")
    engine = make_engine(settings.database_url)
    create_all(engine)
    sessions = make_session_factory(engine)
    application = build_telegram(settings, ChatService(settings, FakeRasa(), sessions), sessions, kb,  # type: ignore[arg-type]
                                 FakeCases())  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET"):
        TelegramFrontEnd(application, settings)
    engine.dispose()
