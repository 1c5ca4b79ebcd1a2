"""Hand-off to staff on Telegram, end to end: the resident in a private chat, staff in the
forum supergroup, the gateway's real python-telegram-bot Application between them, Rasa, the
actions and the case API running, all against the Bot API emulator over real HTTP.

resident asks for a person → a topic with the transcript and a claim button → claim → the
staff reply reaches the resident → `/note` does not → the resident's next message reaches the
topic and the bot stays silent → `/close` → rating buttons → the rating is stored; an
emergency gets safety advice and jumps the queue; nothing from another chat or the General
topic reaches a resident.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Callable, Optional

import httpx
import pytest
from sqlalchemy import create_engine, text

from common.i18n import t
from common.rasa_auth import rasa_api_headers
from tests.e2e.conftest import TELEGRAM_STAFF_CHAT_ID as STAFF
from tests.telegram.emulator import BotApiEmulator, Sent

_chats = itertools.count(730_000)
TIMEOUT = 60.0
# Topic posts are paced under Telegram's group limit, shared with every other e2e test.
STAFF_TIMEOUT = 90.0
WANG, LI = 7_300_001, 7_300_002
TICKET = re.compile(r"H\d{6}")


@pytest.fixture()
def tg(telegram_emulator: BotApiEmulator, stack) -> BotApiEmulator:  # noqa: ANN001 - the stack must be up
    telegram_emulator.wait_calls("getUpdates", 1, timeout=TIMEOUT)
    telegram_emulator.add_member(STAFF, WANG, "小王")
    telegram_emulator.add_member(STAFF, LI, "小李")
    return telegram_emulator


def resident_says(tg: BotApiEmulator, chat: int, words: str, expect: Callable[[Sent], bool]) -> Sent:
    since = time.time()
    tg.send_text(chat, words)
    return tg.wait_for(chat, expect, since=since, timeout=TIMEOUT)


def staff_card(tg: BotApiEmulator, ticket: str) -> Sent:
    return tg.wait_for(STAFF, lambda s: ticket in s.text and bool(s.buttons) and s.message_thread_id is not None,
                       timeout=STAFF_TIMEOUT)


def ask_for_a_person(tg: BotApiEmulator, chat: int) -> tuple[str, Sent]:
    queued = resident_says(tg, chat, "转人工", lambda s: TICKET.search(s.text) is not None)
    ticket = TICKET.search(queued.text).group(0)  # type: ignore[union-attr]
    return ticket, staff_card(tg, ticket)


def quiet_since(tg: BotApiEmulator, chat: int, since: float, seconds: float = 3.0) -> list[Sent]:
    time.sleep(seconds)
    return tg.sent(chat, since)


def rating_of(stack, ticket: str) -> Optional[int]:  # noqa: ANN001
    engine = create_engine(stack.env()["DATABASE_URL"])
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT score FROM handoff_ratings WHERE handoff_id = :id"),
                                {"id": int(ticket[1:])}).scalar()
    finally:
        engine.dispose()


def test_resident_to_staff_and_back_with_a_rating(tg: BotApiEmulator, stack) -> None:  # noqa: ANN001
    chat = next(_chats)
    resident_says(tg, chat, "三零服务是什么", lambda s: bool(s.text))
    ticket, card = ask_for_a_person(tg, chat)
    thread = card.message_thread_id
    topic = tg.topic(STAFF, thread)
    assert topic is not None and topic["name"].startswith(ticket) and str(chat) not in topic["name"]
    assert "三零服务是什么" in card.text  # the transcript opens the topic
    paused = httpx.get(f"{stack.rasa_url}/conversations/tg:{chat}/tracker",
                       params={"include_events": "NONE"}, headers=rasa_api_headers(stack.rasa_token), timeout=30).json()
    assert paused["paused"] is True  # Rasa's own conversation for this chat, not an escaped twin
    assert card.buttons[0]["callback_data"].startswith("ho:claim:")

    since = time.time()
    tg.press(STAFF, card.message_id, card.buttons[0]["callback_data"], user_id=WANG)
    tg.wait_for(chat, lambda s: s.text == t("handoff.claimed", "zh_Hans"), since=since, timeout=TIMEOUT)
    tg.press(STAFF, card.message_id, card.buttons[0]["callback_data"], user_id=LI)  # too late
    tg.staff_text(STAFF, WANG, "您好，我是客服小王，请问有什么可以帮您？", thread=thread)
    reply = tg.wait_for(chat, lambda s: "我是客服小王" in s.text, since=since, timeout=TIMEOUT)
    assert reply.message_thread_id is None
    assert all("message_thread_id" not in c.params for c in tg.calls_of("sendMessage", chat))

    tg.staff_text(STAFF, WANG, "/note 居民已来电两次", thread=thread)
    since = time.time()
    tg.send_text(chat, "我想问问我家的电表换了没有")
    relayed = tg.wait_for(STAFF, lambda s: "电表换了没有" in s.text, since=since, thread=thread,
                          timeout=STAFF_TIMEOUT)
    assert relayed.text.startswith("👤")
    assert quiet_since(tg, chat, since) == []  # staff own the conversation: the bot stays silent
    assert not any("来电两次" in s.text for s in tg.sent(chat))

    since = time.time()
    tg.staff_text(STAFF, WANG, "/close", thread=thread)
    rate = tg.wait_for(chat, lambda s: len(s.buttons) == 5, since=since, timeout=TIMEOUT)
    assert [b["callback_data"] for b in rate.buttons] == [f"p:/handoff_rate_{n}" for n in range(1, 6)]
    since = time.time()
    tg.press(chat, rate.message_id, "p:/handoff_rate_4")
    tg.wait_for(chat, lambda s: t("handoff.rate.comment", "zh_Hans") in s.text, since=since, timeout=TIMEOUT)
    assert rating_of(stack, ticket) == 4
    deadline = time.monotonic() + STAFF_TIMEOUT
    while not tg.topic(STAFF, thread)["closed"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert tg.topic(STAFF, thread)["closed"] is True


def test_an_emergency_gets_safety_advice_and_jumps_the_queue(tg: BotApiEmulator) -> None:
    waiting_ticket, _card = ask_for_a_person(tg, next(_chats))
    urgent = next(_chats)
    advice = resident_says(tg, urgent, "楼下电线断了还在冒烟", lambda s: TICKET.search(s.text) is not None)
    ticket = TICKET.search(advice.text).group(0)  # type: ignore[union-attr]
    assert advice.text == t("handoff.emergency", "zh_Hans", ticket=ticket)
    card = staff_card(tg, ticket)
    assert tg.topic(STAFF, card.message_thread_id)["name"].startswith("🚨")
    tg.wait_for(STAFF, lambda s: ticket in s.text and s.text.startswith("🚨") and s.message_thread_id is None,
                timeout=STAFF_TIMEOUT)
    since = time.time()
    tg.staff_text(STAFF, LI, "/queue")
    listing = tg.wait_for(STAFF, lambda s: "1." in s.text and s.message_thread_id is None, since=since,
                          timeout=STAFF_TIMEOUT)
    assert listing.text.index(ticket) < listing.text.index(waiting_ticket)


def test_nothing_from_another_chat_or_the_general_topic_reaches_a_resident(tg: BotApiEmulator) -> None:
    chat = next(_chats)
    _ticket, card = ask_for_a_person(tg, chat)
    thread = card.message_thread_id
    since = time.time()
    tg.press(STAFF, card.message_id, card.buttons[0]["callback_data"], user_id=WANG)
    tg.wait_for(chat, lambda s: s.text == t("handoff.claimed", "zh_Hans"), since=since, timeout=TIMEOUT)
    since = time.time()
    general = tg.staff_text(STAFF, WANG, "General 里说的话")["message"]
    tg.staff_text(STAFF, WANG, "在 General 里回复", reply_to=general["message_id"])
    other = -1001000000777
    tg.add_group(other, title="别的群")
    tg.staff_text(other, WANG, "别的群里说的话", thread=tg.staff_create_topic(other, WANG, "别的话题"))
    tg.staff_text(other, WANG, "/close")
    tg.send_text(next(_chats), "/note 私聊里的命令")
    # The same words in the hand-off's own topic do arrive: the filters, not luck, kept the rest out.
    tg.staff_text(STAFF, WANG, "话题里说的话", thread=thread)
    tg.wait_for(chat, lambda s: "话题里说的话" in s.text, since=since, timeout=TIMEOUT)
    time.sleep(2.0)
    assert [s.text for s in tg.sent(chat, since) if "话题里说的话" not in s.text] == []
