"""The Telegram staff group over real HTTP: the real python-telegram-bot Application and the
real hand-off service (SQLite) against the Bot API emulator; only Rasa is replaced.

Each test gets its own staff supergroup (the emulator's limits are per group) and its own bot.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import time
from typing import Any, AsyncIterator, Dict, List

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from bot.chat import ChatService
from bot.handoff import models as m
from bot.handoff.canned import CannedAnswers
from bot.handoff.service import HandoffService
from bot.rate_limit import KeyedBuckets
from bot.telegram import staff_store
from bot.telegram.app import TelegramFrontEnd, build_telegram
from bot.telegram.group_pacer import GroupPacer
from bot.telegram.limits import BUCKETS_KEY
from bot.telegram.staff_handlers import STAFF_GROUP_KEY
from common.case_presentation import deadline_text
from common.db import create_all, make_engine, make_session_factory, session_scope
from common.i18n import t
from common.outbox import OutboxMessage
from knowledge.service import KnowledgeBase
from tests.bot.conftest import FakeCases, FakeRasa, telegram_settings
from tests.telegram.emulator import BotApiEmulator, Sent

pytestmark = pytest.mark.asyncio
_groups = itertools.count(-1009000)
_residents = itertools.count(8100)
WANG, LI = 9101, 9102
ID_NUMBER = "440106199001011234"
CASE = {"case_id": "GZ-20261124-0001", "stage": "survey", "status": "open", "deadline": "2026-12-04",
        "stages": [{"key": "survey", "names": {"zh_Hans": "现场勘查"}}]}


@dataclasses.dataclass
class Staffed:
    emulator: BotApiEmulator
    chat_id: int
    handoffs: HandoffService
    sessions: sessionmaker
    front: TelegramFrontEnd

    @property
    def group(self) -> Any:
        return self.front.application.bot_data[STAFF_GROUP_KEY]

    async def wait_for(self, chat_id: int, predicate: Any, since: float = 0.0, thread: Any = None,
                       timeout: float = 10.0) -> Sent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.emulator.sent(chat_id, since, thread=thread):
                if predicate(message):
                    return message
            await asyncio.sleep(0.02)
        got = [(s.message_thread_id, s.text[:50]) for s in self.emulator.sent(chat_id)]
        raise AssertionError(f"nothing matching in {chat_id}/{thread}: {got}")

    async def answers(self, *presses: Dict[str, Any], timeout: float = 15.0) -> List[Dict[str, Any]]:
        """The bot's answers to these button presses, waiting for them (a clear failure when one never comes)."""
        ids = [p["callback_query"]["id"] for p in presses]
        deadline = time.monotonic() + timeout
        while not all(i in self.emulator.callback_answers for i in ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        missing = [i for i in ids if i not in self.emulator.callback_answers]
        assert not missing, (f"presses {missing} never answered; answerCallbackQuery calls: "
                             f"{[c.params for c in self.emulator.calls_of('answerCallbackQuery')][-5:]}; "
                             f"updates waiting: {self.emulator.pending_updates()}")
        return [self.emulator.callback_answers[i] for i in ids]

    async def settle(self) -> None:
        await asyncio.sleep(0.3)
        await self.group.drain()

    def outbox(self, sender: str) -> List[Dict[str, Any]]:
        with session_scope(self.sessions) as session:
            rows = session.execute(select(OutboxMessage).where(OutboxMessage.sender_id == sender)
                                   .order_by(OutboxMessage.seq)).scalars()
            return [json.loads(r.payload) for r in rows]

    def thread_of(self, handoff_id: int) -> int:
        with session_scope(self.sessions) as session:
            topic = staff_store.topic_of(handoff_id, session=session)
            assert topic is not None
            return topic.thread_id

    async def open(self, resident: int, **kwargs: Any) -> m.Handoff:
        history = kwargs.pop("history", [("resident", f"我的身份证是 {ID_NUMBER}"), ("bot", "请稍候")])
        params = {"reason": "asked", "priority": "normal", **kwargs}
        handoff = await self.handoffs.request(f"tg:{resident}", "telegram", "zh_Hans", history=history, **params)
        await self.wait_for(self.chat_id, lambda s: bool(s.buttons) and handoff.ticket in s.text)
        return handoff


async def _cases(channel: str, sender_id: str) -> List[Dict[str, Any]]:
    return [CASE]


@pytest_asyncio.fixture()
async def staffed(tmp_path: Any, emulator: BotApiEmulator, kb: KnowledgeBase) -> AsyncIterator[Staffed]:
    chat_id = next(_groups)
    emulator.add_group(chat_id, title="客服组")
    emulator.add_member(chat_id, WANG, "小王")
    emulator.add_member(chat_id, LI, "小李")
    settings = telegram_settings(tmp_path, emulator, telegram_staff_chat_id=chat_id)
    engine = make_engine(settings.database_url)
    create_all(engine)
    sessions = make_session_factory(engine)
    handoffs = HandoffService(sessions, cases=_cases, canned_text=CannedAnswers(kb))
    chat = ChatService(settings, FakeRasa(), sessions, handoffs)  # type: ignore[arg-type]
    async with httpx.AsyncClient() as http:
        application = build_telegram(settings, chat, sessions, kb, FakeCases(), http=http,  # type: ignore[arg-type]
                                     handoffs=handoffs)
        front = TelegramFrontEnd(application, settings)
        handoffs.set_on_enqueued(front.wake_delivery)
        await front.start()
        deadline = time.monotonic() + 10
        while application.bot_data[STAFF_GROUP_KEY].ready is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        try:
            yield Staffed(emulator, chat_id, handoffs, sessions, front)
        finally:
            await front.stop()
            emulator.reset_failures()
            engine.dispose()


async def test_a_hand_off_opens_a_topic_with_its_card_and_a_claim_button(staffed: Staffed) -> None:
    resident = next(_residents)
    handoff = await staffed.open(resident)
    thread = staffed.thread_of(handoff.id)
    topic = staffed.emulator.topic(staffed.chat_id, thread)
    assert topic is not None and topic["name"] == f"{handoff.ticket} · {t('tg.staff.reason.asked', 'zh_Hans')}"
    card = staffed.emulator.sent(staffed.chat_id, thread=thread)[0]
    assert card.message_thread_id == thread
    assert ID_NUMBER not in card.text and "4401**********1234" in card.text  # masked
    assert "GZ-20261124-0001" in card.text and "现场勘查" in card.text
    assert deadline_text(CASE, "zh_Hans") in card.text  # as every other place dates a deadline
    assert card.buttons[0]["callback_data"] == f"ho:claim:{handoff.id}"
    with session_scope(staffed.sessions) as session:
        assert session.get(m.Handoff, handoff.id).staff_thread_id == thread


async def test_first_claim_wins_and_the_other_is_told_who_has_it(staffed: Staffed) -> None:
    emu, handoff = staffed.emulator, await staffed.open(next(_residents))
    card = emu.sent(staffed.chat_id, thread=staffed.thread_of(handoff.id))[0]
    first = emu.press(staffed.chat_id, card.message_id, card.buttons[0]["callback_data"], user_id=WANG)
    second = emu.press(staffed.chat_id, card.message_id, card.buttons[0]["callback_data"], user_id=LI)
    await staffed.wait_for(staffed.chat_id, lambda s: s.message_id == card.message_id and not s.buttons)
    won, lost = await staffed.answers(first, second)
    assert won["text"] == t("tg.staff.claimed_you", "zh_Hans")
    assert "小王" in lost["text"] and lost["show_alert"] in (True, "true")
    assert (await staffed.handoffs.get(handoff.id)).assignee.startswith("小王 (tg:9101)")
    assert "小王" in emu.sent(staffed.chat_id, thread=staffed.thread_of(handoff.id))[0].text


async def test_each_staff_member_has_a_budget_of_their_own_and_a_refused_press_is_answered(
        staffed: Staffed) -> None:
    """A shared budget for the whole group let one busy shift drop everyone's claims, and a
    refused press was never answered (the staff member's button spun until Telegram gave up)."""
    emu = staffed.emulator
    staffed.front.application.bot_data[BUCKETS_KEY] = KeyedBuckets(per_minute=6)  # burst of 3
    handoff = await staffed.open(next(_residents))
    card = emu.sent(staffed.chat_id, thread=staffed.thread_of(handoff.id))[0]
    since = time.time()
    for _ in range(3):
        emu.staff_text(staffed.chat_id, WANG, "/queue")
    flooded = emu.press(staffed.chat_id, card.message_id, card.buttons[0]["callback_data"], user_id=WANG)
    again = emu.press(staffed.chat_id, card.message_id, card.buttons[0]["callback_data"], user_id=WANG)
    claim = emu.press(staffed.chat_id, card.message_id, card.buttons[0]["callback_data"], user_id=LI)
    told, quiet, won = await staffed.answers(flooded, again, claim)
    assert told["text"] == t("input.rate_limited", "zh_Hans")
    assert not quiet.get("text")
    assert won["text"] == t("tg.staff.claimed_you", "zh_Hans")
    assert (await staffed.handoffs.get(handoff.id)).assignee.startswith("小李")
    await staffed.settle()
    assert not any(s.text == t("input.rate_limited", "zh_Hans") for s in emu.sent(staffed.chat_id, since=since))


async def test_staff_text_and_photo_reach_the_resident_and_notes_do_not(staffed: Staffed) -> None:
    emu, resident = staffed.emulator, next(_residents)
    handoff = await staffed.open(resident)
    thread = staffed.thread_of(handoff.id)
    since = time.time()
    emu.staff_text(staffed.chat_id, WANG, "您好，我是客服小王", thread=thread)
    reply = await staffed.wait_for(resident, lambda s: "我是客服小王" in s.text, since=since)
    assert reply.message_thread_id is None
    assert all("message_thread_id" not in c.params for c in emu.calls_of("sendMessage", resident))
    emu.staff_text(staffed.chat_id, WANG, "/note 居民情绪激动，注意安抚", thread=thread)
    emu.staff_photo(staffed.chat_id, WANG, thread, caption="表箱位置", file_id="ph-box")
    photo = await staffed.wait_for(resident, lambda s: s.method == "sendPhoto", since=since)
    assert photo.photo == b"ph-box" and "表箱位置" in photo.text
    await staffed.settle()
    assert not any("情绪激动" in s.text for s in emu.sent(resident))
    roles = [(x.role, x.text) for x in await staffed.handoffs.transcript(handoff.id)]
    assert ("note", "居民情绪激动，注意安抚") in roles
    assert not any("客服小王" in s.text for s in emu.sent(staffed.chat_id, since=since))  # not echoed back


async def test_resident_messages_appear_in_the_topic(staffed: Staffed) -> None:
    resident = next(_residents)
    handoff = await staffed.open(resident)
    await staffed.handoffs.resident_message(f"tg:{resident}", "电表箱冒火花，电话13812345678")
    relayed = await staffed.wait_for(staffed.chat_id, lambda s: "冒火花" in s.text,
                                     thread=staffed.thread_of(handoff.id))
    assert "13812345678" not in relayed.text and relayed.text.startswith("👤")


async def test_close_closes_the_topic_and_asks_the_resident_to_rate(staffed: Staffed) -> None:
    emu, resident = staffed.emulator, next(_residents)
    handoff = await staffed.open(resident)
    thread = staffed.thread_of(handoff.id)
    emu.staff_text(staffed.chat_id, WANG, "已为您登记", thread=thread)
    emu.staff_text(staffed.chat_id, WANG, "/close", thread=thread)
    rate = await staffed.wait_for(resident, lambda s: len(s.buttons) == 5)
    assert [b["callback_data"] for b in rate.buttons] == [f"p:/handoff_rate_{n}" for n in range(1, 6)]
    await staffed.settle()
    assert (await staffed.handoffs.get(handoff.id)).state == m.STATE_CLOSED
    assert emu.topic(staffed.chat_id, thread)["closed"] is True
    assert any(handoff.ticket in s.text and "小王" in s.text for s in emu.sent(staffed.chat_id, thread=thread))


async def test_nothing_from_general_another_chat_or_a_foreign_topic_reaches_a_resident(staffed: Staffed) -> None:
    emu, resident = staffed.emulator, next(_residents)
    handoff = await staffed.open(resident)
    thread = staffed.thread_of(handoff.id)
    before = staffed.outbox(f"tg:{resident}")
    emu.staff_text(staffed.chat_id, WANG, "General 里的话")
    general = emu.staff_text(staffed.chat_id, WANG, "General 里的回复", reply_to=thread)
    assert general["message"]["message_thread_id"] == thread and "is_topic_message" not in general["message"]
    other = next(_groups)
    emu.add_group(other)
    emu.staff_create_topic(other, WANG, "别的群")
    emu.staff_text(other, WANG, "别的群的话", thread=emu.staff_create_topic(other, WANG, "x"))
    foreign = emu.staff_create_topic(staffed.chat_id, WANG, "员工自建话题")
    emu.staff_text(staffed.chat_id, WANG, "自建话题的话", thread=foreign)
    emu.staff_text(staffed.chat_id, WANG, "/close")  # in General: no hand-off there
    emu.send_text(resident + 1, "/note 私聊里的命令")  # a resident's private chat is not the staff chat
    await staffed.wait_for(staffed.chat_id, lambda s: s.text == t("tg.staff.not_here", "zh_Hans"))
    await staffed.settle()
    assert staffed.outbox(f"tg:{resident}") == before
    assert (await staffed.handoffs.get(handoff.id)).state == m.STATE_WAITING


async def test_a_deleted_topic_is_recreated_and_the_post_retried(staffed: Staffed) -> None:
    emu, resident = staffed.emulator, next(_residents)
    handoff = await staffed.open(resident)
    old = staffed.thread_of(handoff.id)
    emu.staff_delete_topic(staffed.chat_id, old)  # Telegram tells the bot nothing
    await staffed.handoffs.resident_message(f"tg:{resident}", "还在吗？")
    relayed = await staffed.wait_for(staffed.chat_id, lambda s: "还在吗" in s.text)
    new = staffed.thread_of(handoff.id)
    assert new != old and relayed.message_thread_id == new
    card = emu.sent(staffed.chat_id, thread=new)[0]
    assert t("tg.staff.recreated", "zh_Hans") in card.text and card.buttons
    failed = [c for c in emu.calls_of("sendMessage", staffed.chat_id) if c.error == 400]
    assert failed and str(failed[-1].params["message_thread_id"]) == str(old)


async def test_a_closed_topic_is_reopened_for_an_open_hand_off(staffed: Staffed) -> None:
    emu, resident = staffed.emulator, next(_residents)
    handoff = await staffed.open(resident)
    thread = staffed.thread_of(handoff.id)
    await staffed.front.application.bot.close_forum_topic(staffed.chat_id, thread)  # no update for this
    await staffed.handoffs.resident_message(f"tg:{resident}", "请回复")
    await staffed.wait_for(staffed.chat_id, lambda s: "请回复" in s.text, thread=thread)
    assert emu.topic(staffed.chat_id, thread)["closed"] is False
    assert any(c.error == 400 for c in emu.calls_of("sendMessage", staffed.chat_id))  # TOPIC_CLOSED first


async def test_topic_service_messages_keep_the_hand_off_in_step(staffed: Staffed) -> None:
    emu, resident = staffed.emulator, next(_residents)
    handoff = await staffed.open(resident)
    thread = staffed.thread_of(handoff.id)
    await staffed.handoffs.claim(handoff.id, "小王 (tg:9101)")
    emu.staff_close_topic(staffed.chat_id, LI, thread)  # not the holder: reopened, and told why
    await staffed.wait_for(staffed.chat_id, lambda s: "小王" in s.text and "处理" in s.text, thread=thread)
    assert (await staffed.handoffs.get(handoff.id)).state == m.STATE_ACTIVE
    assert emu.topic(staffed.chat_id, thread)["closed"] is False
    emu.staff_close_topic(staffed.chat_id, WANG, thread)  # the holder closes the topic by hand
    await staffed.wait_for(resident, lambda s: len(s.buttons) == 5)
    assert (await staffed.handoffs.get(handoff.id)).state == m.STATE_CLOSED
    emu.staff_reopen_topic(staffed.chat_id, WANG, thread)  # a closed hand-off's topic stays closed
    await staffed.wait_for(staffed.chat_id, lambda s: s.text == t("tg.staff.reopen_closed", "zh_Hans"))
    await staffed.settle()
    assert emu.topic(staffed.chat_id, thread)["closed"] is True


async def test_queue_lists_waiting_hand_offs_emergencies_first(staffed: Staffed) -> None:
    emu = staffed.emulator
    normal = await staffed.open(next(_residents))
    urgent = await staffed.open(next(_residents), reason="emergency", emergency=True)
    alert = await staffed.wait_for(staffed.chat_id, lambda s: urgent.ticket in s.text and s.message_thread_id is None)
    assert alert.text.startswith("🚨")
    assert emu.topic(staffed.chat_id, staffed.thread_of(urgent.id))["name"].startswith("🚨")
    since = time.time()
    emu.staff_text(staffed.chat_id, WANG, "/queue")
    listing = await staffed.wait_for(staffed.chat_id, lambda s: "1." in s.text, since=since)
    assert listing.message_thread_id is None
    assert listing.text.index(urgent.ticket) < listing.text.index(normal.ticket)
    assert "分钟" in listing.text


async def test_canned_answers_and_unknown_keys(staffed: Staffed, kb: KnowledgeBase) -> None:
    emu, resident = staffed.emulator, next(_residents)
    handoff = await staffed.open(resident)
    thread = staffed.thread_of(handoff.id)
    entry = next(iter(kb.by_id))
    since = time.time()
    emu.staff_text(staffed.chat_id, WANG, f"/canned {entry}", thread=thread)
    emu.staff_text(staffed.chat_id, WANG, "/canned no_such_entry", thread=thread)
    await staffed.wait_for(staffed.chat_id, lambda s: "no_such_entry" in s.text, thread=thread)
    answer = await CannedAnswers(kb)(entry, "zh_Hans", f"tg:{resident}")
    assert answer
    await staffed.wait_for(resident, lambda s: answer.splitlines()[0][:20] in s.text, since=since)


async def test_staff_posts_stay_under_the_group_limit_and_merge(staffed: Staffed) -> None:
    emu, resident = staffed.emulator, next(_residents)
    staffed.group.pacer = GroupPacer(limit=3, window_s=1.5)
    handoff = await staffed.open(resident)
    for index in range(8):
        await staffed.handoffs.resident_message(f"tg:{resident}", f"第{index}条")
    await staffed.wait_for(staffed.chat_id, lambda s: "第7条" in s.text, thread=staffed.thread_of(handoff.id),
                           timeout=15)
    relayed = [s for s in emu.sent(staffed.chat_id, thread=staffed.thread_of(handoff.id)) if "第" in s.text]
    assert len(relayed) < 8 and "".join(s.text for s in relayed).count("第") == 8
    assert not [c for c in emu.calls_of("sendMessage", staffed.chat_id) if c.error == 429]


async def test_start_up_says_clearly_when_the_bot_cannot_manage_topics(
    tmp_path: Any, emulator: BotApiEmulator, kb: KnowledgeBase, caplog: pytest.LogCaptureFixture,
) -> None:
    chat_id = next(_groups)
    emulator.add_group(chat_id, can_manage_topics=False)
    settings = telegram_settings(tmp_path, emulator, telegram_staff_chat_id=chat_id)
    engine = make_engine(settings.database_url)
    create_all(engine)
    sessions = make_session_factory(engine)
    handoffs = HandoffService(sessions)
    chat = ChatService(settings, FakeRasa(), sessions, handoffs)  # type: ignore[arg-type]
    application = build_telegram(settings, chat, sessions, kb, FakeCases(), handoffs=handoffs)  # type: ignore[arg-type]
    front = TelegramFrontEnd(application, settings)
    caplog.set_level(logging.ERROR, logger="bot.telegram.staff_group")
    await front.start()
    try:
        notice = None
        deadline = time.monotonic() + 10
        while notice is None and time.monotonic() < deadline:
            notice = next((s for s in emulator.sent(chat_id) if "can_manage_topics" in s.text), None)
            await asyncio.sleep(0.05)
        assert notice is not None and notice.message_thread_id is None
        assert application.bot_data[STAFF_GROUP_KEY].ready is False
        assert any("can_manage_topics" in r.getMessage() for r in caplog.records)
        handoff = await handoffs.request("tg:77", "telegram", "zh_Hans", "asked")
        await handoffs.idle()  # the service runs its listeners' hooks in the background
        await application.bot_data[STAFF_GROUP_KEY].drain()
        assert (await handoffs.get(handoff.id)).state == m.STATE_WAITING  # it waits in the queue
        assert any("not enough rights to create a topic" in r.getMessage().lower() for r in caplog.records)
    finally:
        await front.stop()
        engine.dispose()
