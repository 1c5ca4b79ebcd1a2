"""Issue 9: a Telegram chat that floods the bot is told 请稍后再试 once and its flood is dropped;
other chats are served as usual (the real bot against the Bot API emulator).

Before: nothing limited a chat: every update of a flood reached the assistant."""

from __future__ import annotations

import pytest

from bot.rate_limit import KeyedBuckets
from bot.telegram.limits import BUCKETS_KEY
from common.i18n import t
from tests.bot.conftest import TelegramBot, emulator, telegram_bot  # noqa: F401  (the bot tests' fixtures)

pytestmark = pytest.mark.asyncio


async def test_a_flooding_chat_is_told_once_and_others_are_served(telegram_bot: TelegramBot) -> None:  # noqa: F811
    application = telegram_bot.front.application
    application.bot_data[BUCKETS_KEY] = KeyedBuckets(per_minute=6)  # burst of 3, then one every 10 s
    emu, flooder, other = telegram_bot.emulator, 91001, 91002
    for n in range(6):
        emu.send_text(flooder, f"消息{n}")
    await telegram_bot.wait_for(flooder, lambda m: m.text == t("input.rate_limited", "zh_Hans"))
    emu.send_text(other, "你好")
    await telegram_bot.wait_for(other, lambda m: m.text.startswith("ECHO"))
    await telegram_bot.settle(0.5)
    texts = [m.text for m in emu.sent(flooder)]
    assert sum(text.startswith("ECHO") for text in texts) == 3
    assert texts.count(t("input.rate_limited", "zh_Hans")) == 1
    assert [r["text"] for r in telegram_bot.rasa.received if r["sender_id"] == f"tg:{flooder}"] == [
        "消息0", "消息1", "消息2"]
