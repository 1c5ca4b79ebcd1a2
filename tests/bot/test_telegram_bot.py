"""The real Telegram Application over HTTP against the emulator, with Rasa replaced."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.bot.conftest import TelegramBot

pytestmark = pytest.mark.asyncio
_chats = itertools.count(5000)


def new_chat() -> int:
    return next(_chats)


async def test_start_shows_the_menu(telegram_bot: TelegramBot) -> None:
    chat = new_chat()
    telegram_bot.emulator.send_command(chat, "start")
    menu = await telegram_bot.wait_for(chat, lambda m: bool(m.buttons))
    assert {b["callback_data"] for b in menu.buttons} >= {"faq:home", "p:/apply_connection", "lang:menu"}
    commands = telegram_bot.emulator.commands
    assert {("default", ""), ("default", "zh"), ("default", "en")} <= set(commands)
    assert [c["command"] for c in commands[("default", "en")]][:3] == ["start", "faq", "apply"]


async def test_faq_by_keyboard_edits_one_message_and_answers_every_press(telegram_bot: TelegramBot, kb) -> None:
    emu, chat = telegram_bot.emulator, new_chat()
    emu.send_command(chat, "faq")
    menu = await telegram_bot.wait_for(chat, lambda m: any(b["callback_data"].startswith("faq:c:") for b in m.buttons))
    category, entries = next(iter(kb.categories().items()))
    emu.press(chat, menu.message_id, f"faq:c:{category}")
    questions = await telegram_bot.wait_for(
        chat,
        lambda m: m.message_id == menu.message_id and any(b["callback_data"].startswith("faq:q:") for b in m.buttons),
    )
    assert [b["callback_data"] for b in questions.buttons][: len(entries)] == [f"faq:q:{e.id}" for e in entries]
    emu.press(chat, menu.message_id, f"faq:q:{entries[0].id}")
    answer = await telegram_bot.wait_for(chat, lambda m: m.message_id == menu.message_id and "ANSWER" in m.text)
    assert answer.text == f"ANSWER {entries[0].id} <b>&"  # escaped on the wire, shown as typed
    assert [b["callback_data"] for b in answer.buttons] == [f"faq:c:{category}"]
    assert len(emu.sent(chat)) == 1  # everything happened in the one message
    assert telegram_bot.rasa.received[-1]["text"] == f"/faq_{entries[0].id}"
    assert telegram_bot.rasa.received[-1]["channel"] == "telegram"
    queries = {c.params["callback_query_id"] for c in emu.calls_of("answerCallbackQuery")}
    assert len(emu.callback_answers) >= 2 and queries <= set(emu.callback_answers)


async def test_free_text_goes_to_the_assistant(telegram_bot: TelegramBot) -> None:
    emu, chat = telegram_bot.emulator, new_chat()
    emu.send_text(chat, "电费 <怎么> 算 & 交")
    reply = await telegram_bot.wait_for(chat, lambda m: m.text.startswith("ECHO"))
    assert "<怎么>" in reply.text and "&" in reply.text
    assert telegram_bot.rasa.received[-1]["sender_id"] == f"tg:{chat}"


async def test_long_answers_are_split_at_sentence_ends(telegram_bot: TelegramBot) -> None:
    emu, chat = telegram_bot.emulator, new_chat()
    emu.send_text(chat, "long")
    await telegram_bot.wait_for(chat, lambda m: True)
    await telegram_bot.settle(0.3)
    parts = emu.sent(chat)
    assert len(parts) == 2
    assert all(len(p.text) <= 4096 and p.text.endswith("。") for p in parts)
    assert "".join(p.text for p in parts) == "这是一句很长的回答。" * 500


async def test_buttons_become_inline_keyboards_with_tokens_for_long_payloads(telegram_bot: TelegramBot) -> None:
    from tests.bot.conftest import LONG_PAYLOAD

    emu, chat = telegram_bot.emulator, new_chat()
    emu.send_text(chat, "buttons")
    choice = await telegram_bot.wait_for(chat, lambda m: len(m.buttons) == 2)
    short, long_ = choice.buttons
    assert short["callback_data"] == "p:/choose_short"
    assert long_["callback_data"].startswith("t:") and len(long_["callback_data"].encode()) <= 64
    emu.press(chat, choice.message_id, long_["callback_data"])
    await telegram_bot.wait_for(chat, lambda m: m.text.startswith("ECHO /inform"))
    assert telegram_bot.rasa.received[-1]["text"] == LONG_PAYLOAD
    assert emu.sent(chat)[0].buttons == []  # the keyboard is taken away once chosen


async def test_receipt_image_is_sent_as_a_photo(telegram_bot: TelegramBot) -> None:
    emu, chat = telegram_bot.emulator, new_chat()
    emu.send_text(chat, "qr please")
    photo = await telegram_bot.wait_for(chat, lambda m: m.method == "sendPhoto")
    assert photo.photo and photo.photo.startswith(b"\x89PNG") and photo.text == "receipt"


async def test_phone_step_offers_contact_sharing_and_accepts_only_own_contact(telegram_bot: TelegramBot) -> None:
    emu, chat = telegram_bot.emulator, new_chat()
    emu.send_command(chat, "apply")
    ask = await telegram_bot.wait_for(chat, lambda m: bool(m.keyboard))
    assert ask.keyboard[0].get("request_contact") is True
    since = time.time()
    emu.send_contact(chat, "+8613800138000", contact_user_id=chat + 1)
    refused = await telegram_bot.wait_for(chat, since=since)
    assert "ECHO" not in refused.text
    assert not any(r["text"] == "+8613800138000" for r in telegram_bot.rasa.received)
    emu.send_contact(chat, "+8613800138000", contact_user_id=chat)
    # The assistant (Rasa) gets a token for the number; the actions resolve it (common/pii_vault.py).
    echo = await telegram_bot.wait_for(chat, lambda m: m.text.startswith("ECHO piiph"))
    from common import pii_vault
    from common.db import session_scope

    with session_scope(telegram_bot.sessions) as session:
        token = echo.text.removeprefix("ECHO ")
        assert pii_vault.resolve(token, f"tg:{chat}", telegram_bot.chat._cipher, session=session) == "+8613800138000"


@pytest.mark.parametrize("kind", ["sticker", "photo", "location", "voice", "document"])
async def test_media_gets_a_polite_explanation(telegram_bot: TelegramBot, kind: str) -> None:
    from common.i18n import t

    emu, chat = telegram_bot.emulator, new_chat()
    getattr(emu, f"send_{kind}")(chat)
    reply = await telegram_bot.wait_for(chat)
    assert reply.text == t("tg.media.unsupported", "zh_Hans")
    assert telegram_bot.rasa.received == [] or all(r["sender_id"] != f"tg:{chat}" for r in telegram_bot.rasa.received)


async def test_duplicate_update_is_ignored(telegram_bot: TelegramBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="bot.telegram.processor")
    emu, chat = telegram_bot.emulator, new_chat()
    update = emu.send_text(chat, "只问一次")
    await telegram_bot.wait_for(chat, lambda m: "只问一次" in m.text)
    emu.resend(update)
    emu.send_text(chat, "第二句")
    await telegram_bot.wait_for(chat, lambda m: "第二句" in m.text)
    assert [m.text for m in emu.sent(chat)] == ["ECHO 只问一次", "ECHO 第二句"]
    assert f"duplicate update {update['update_id']} ignored" in caplog.text  # it did reach the bot


async def test_flood_wait_is_retried_not_dropped(telegram_bot: TelegramBot) -> None:
    emu, chat = telegram_bot.emulator, new_chat()
    emu.fail_next(2, error_code=429, retry_after=1, methods={"sendMessage"})
    emu.send_text(chat, "限流")
    reply = await telegram_bot.wait_for(chat, lambda m: "限流" in m.text, timeout=15)
    failed = [c for c in emu.calls_of("sendMessage", chat) if c.error == 429]
    assert len(failed) == 2 and reply.at - failed[0].at >= 1.0


async def test_messages_of_one_chat_are_handled_in_order(telegram_bot: TelegramBot) -> None:
    emu, chat = telegram_bot.emulator, new_chat()
    for n in range(6):
        emu.send_text(chat, f"第{n}句")
    await telegram_bot.wait_for(chat, lambda m: "第5句" in m.text)
    assert [m.text for m in emu.sent(chat)] == [f"ECHO 第{n}句" for n in range(6)]


async def test_lang_choice_is_stored_and_used(telegram_bot: TelegramBot) -> None:
    from common.i18n import t

    emu, chat = telegram_bot.emulator, new_chat()
    emu.send_command(chat, "lang")
    menu = await telegram_bot.wait_for(chat, lambda m: bool(m.buttons))
    emu.press(chat, menu.message_id, "lang:en")
    await telegram_bot.wait_for(chat, lambda m: m.text == t("tg.lang.set", "en"))
    assert telegram_bot.chat.stored_locale(f"tg:{chat}") == "en"
    emu.send_command(chat, "help")
    await telegram_bot.wait_for(chat, lambda m: m.text == t("tg.help", "en"))
    emu.send_text(chat, "/status")
    await telegram_bot.wait_for(chat, lambda m: m.text == "ECHO /ask_status")
    assert telegram_bot.rasa.received[-1]["locale"] == "en"


async def test_deep_link_subscribes_after_the_code_check(telegram_bot: TelegramBot) -> None:
    from bot import subscriptions
    from common.db import session_scope
    from common.i18n import t

    emu, chat = telegram_bot.emulator, new_chat()
    emu.send_command(chat, "start", "case_GZ-20261124-0001")
    await telegram_bot.wait_for(chat, lambda m: "GZ-20261124-0001" in m.text)
    emu.send_text(chat, "000000")
    await telegram_bot.wait_for(chat, lambda m: m.text == t("tg.link.failed", "zh_Hans"))
    with session_scope(telegram_bot.sessions) as session:
        assert subscriptions.subscribers("GZ-20261124-0001", session=session) == []
    emu.send_command(chat, "start", "case_GZ-20261124-0001")
    await telegram_bot.wait_for(chat, lambda m: m.text == t("tg.link.ask_code", "zh_Hans", case_id="GZ-20261124-0001"),
                                since=0.0)
    emu.send_text(chat, "402 719")
    await telegram_bot.wait_for(chat, lambda m: m.text == t("tg.link.done", "zh_Hans", case_id="GZ-20261124-0001"))
    with session_scope(telegram_bot.sessions) as session:
        assert [s.sender_id for s in subscriptions.subscribers("GZ-20261124-0001", session=session)] == [f"tg:{chat}"]
    # A case that does not exist gets the same answer as a wrong check.
    emu.send_command(chat, "start", "case_NOPE-1")
    emu.send_text(chat, "402719")
    await telegram_bot.wait_for(chat, lambda m: m.text == t("tg.link.failed", "zh_Hans") and "NOPE" not in m.text)
