"""Triage and the hand-off gate in the real ChatService (real SQLite, Rasa replaced by rules).

The full stack with the real Rasa and action server is tested in tests/e2e/test_handoff.py.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Dict, List, Optional

import pytest
from sqlalchemy import select

from bot.chat import ChatService
from bot.handoff.hours import StaffHours, StaffHoursError
from bot.handoff.service import HandoffService
from bot.handoff.triage import COMPLAINT, EMERGENCY, OUTAGE, REQUEST, triage
from common.chat_contract import HUMAN_PAYLOAD, LEAVE_QUEUE_PAYLOAD, RATE_SKIP_PAYLOAD
from common.db import create_all, make_engine, make_session_factory, session_scope
from common.i18n import t
from common.outbox import OutboxMessage
from common.settings import ROOT, Settings

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("text, kind", [
    ("我家有人触电了", EMERGENCY), ("電線掉落喺街度", EMERGENCY), ("配电箱冒烟了怎么办", EMERGENCY),
    ("楼下电线断了", EMERGENCY), ("插座漏电", EMERGENCY), ("the meter is on fire", EMERGENCY),
    ("a power line is down outside my house", EMERGENCY), ("My neighbour got an electric shock", EMERGENCY),
    ("停电很久了还没来电", OUTAGE), ("整栋楼停电了", OUTAGE), ("整棟樓都停電", OUTAGE),
    ("转人工", REQUEST), ("我要找客服", REQUEST), ("人工服務", REQUEST), ("can I talk to a person", REQUEST),
    ("/human", REQUEST), (HUMAN_PAYLOAD, REQUEST),
    ("我要投诉", COMPLAINT), ("服务太差了，不满意", COMPLAINT), ("I want to complain", COMPLAINT),
])
async def test_triage_finds(text: str, kind: str) -> None:
    found = triage(text)
    assert found is not None and found.kind == kind


@pytest.mark.parametrize("text", [
    "漏电保护器老是跳闸怎么办", "燃气灶打不着火怎么修", "一年停电多久算正常", "停电了打什么电话",
    "电费怎么交", "smoke detector wiring", "/apply_connection", "how do I apply for electricity",
    "煤氣爐點唔著火點算？", "你是真人吗", "国家电网人工客服电话", "am I talking to a real person",
])
async def test_triage_leaves_ordinary_questions_to_the_model(text: str) -> None:
    assert triage(text) is None


class RuleRasa:
    """Rasa replaced by rules; records what reached it and the tracker events posted."""

    def __init__(self) -> None:
        self.received: List[str] = []
        self.posted: List[Dict[str, Any]] = []

    async def send(self, sender_id: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        self.received.append(metadata["text"])
        if "whatever" in text or "乱七八糟" in text:
            meta = {"intent": "nlu_fallback", "fallback": True}
            return [{"text": "sorry", "buttons": []}, {"custom": {"meta": meta}}]
        if "真人跟我说" in text:
            return [{"text": "hotline"}, {"custom": {"meta": {"intent": "human_handoff",
                                                               "handoff_request": {"reason": "asked"}}}}]
        if "高压申请" in text:
            return [{"text": "receipt"}, {"custom": {"meta": {"intent": "affirm", "case_id": "ZJ-1",
                                                               "handoff_request": {"reason": "hv_lead"}}}}]
        return [{"text": f"ANSWER {metadata['text']}"}, {"custom": {"meta": {"intent": "faq_x"}}}]

    async def tracker(self, sender_id: str) -> Optional[Dict[str, Any]]:
        return None

    async def events(self, sender_id: str) -> List[Dict[str, Any]]:
        return [{"event": "user", "text": "电费", "metadata": {"text": "我的电话13812345678"}},
                {"event": "bot", "text": "ANSWER"}]

    async def append_event(self, sender_id: str, event: Dict[str, Any]) -> bool:
        self.posted.append({"sender": sender_id, **event})
        return True


@pytest.fixture
def parts(tmp_path):  # type: ignore[no-untyped-def]
    def build(**overrides: Any) -> tuple[ChatService, HandoffService, RuleRasa]:
        settings = Settings(app_env="test", var_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'app.db'}",
                            **overrides)
        engine = make_engine(settings.database_url)
        create_all(engine)
        sessions = make_session_factory(engine)
        rasa = RuleRasa()
        from bot.handoff.rasa_pause import RasaPause

        service = HandoffService(sessions)
        service.add_listener(RasaPause(rasa))  # type: ignore[arg-type]
        return ChatService(settings, rasa, sessions, service), service, rasa  # type: ignore[arg-type]

    return build


def outbox_texts(service: HandoffService, sender: str) -> List[str]:
    with session_scope(service._sessions) as session:  # noqa: SLF001
        rows = session.execute(select(OutboxMessage).where(OutboxMessage.sender_id == sender)).scalars()
        return [json.loads(r.payload)["text"] for r in rows]


async def test_ask_relay_close_rate_and_rasa_paused(parts) -> None:  # type: ignore[no-untyped-def]
    chat, service, rasa = parts()
    turn = await chat.handle("web-1", "转人工", "web")
    assert turn.meta.handoff and "排在第1位" in turn.messages[0]["text"]
    assert turn.messages[0]["buttons"][0]["payload"] == LEAVE_QUEUE_PAYLOAD
    await service.idle()  # the pause is posted in the background
    assert rasa.received == [] and rasa.posted == [{"sender": "web-1", "event": "pause"}]
    waiting = await chat.handle("web-1", "还要等多久", "web")
    assert waiting.meta.handoff and "排在第1位" in waiting.messages[0]["text"]
    handoff = (await service.queue())[0]
    await service.claim(handoff.id, "alice")
    silent = await chat.handle("web-1", "我的电表坏了，电话13812345678", "web")
    assert silent.meta.handoff and silent.messages == [] and rasa.received == []
    await service.staff_message(handoff.id, "alice", "马上安排")
    await service.close(handoff.id, "alice")
    await service.idle()
    assert rasa.posted[-1] == {"sender": "web-1", "event": "resume"}
    assert outbox_texts(service, "web-1")[-3:] == [
        t("handoff.staff_says", "zh_Hans", text="马上安排"), t("handoff.closed", "zh_Hans"),
        t("handoff.rate.ask", "zh_Hans"),
    ]
    rated = await chat.handle("web-1", "/handoff_rate_4", "web")
    assert not rated.meta.handoff and rated.messages[0]["text"] == t("handoff.rate.comment", "zh_Hans")
    thanks = await chat.handle("web-1", "客服很耐心", "web")
    assert thanks.messages[0]["text"] == t("handoff.rate.thanks", "zh_Hans") and rasa.received == []
    back = await chat.handle("web-1", "电费怎么交", "web")
    assert rasa.received == ["电费怎么交"] and not back.meta.handoff
    transcript = [(msg.role, msg.text) for msg in await service.transcript(handoff.id)]
    assert ("resident", "我的电话138****5678") in transcript  # history from Rasa, masked
    assert ("resident", "转人工") in transcript  # the words that asked, which never reached Rasa
    assert ("resident", "我的电表坏了，电话138****5678") in transcript
    summary = await service.ratings()
    assert summary["count"] == 1 and summary["distribution"]["4"] == 1


async def test_emergency_jumps_the_queue_before_rasa(parts) -> None:  # type: ignore[no-untyped-def]
    chat, service, rasa = parts()
    await chat.handle("web-a", "转人工", "web")
    await chat.handle("web-b", "整栋楼停电了", "web")
    turn = await chat.handle("web-c", "家里插座冒烟了", "web")
    assert turn.meta.handoff and turn.messages[0]["text"].startswith("⚠️") and "119" in turn.messages[0]["text"]
    assert rasa.received == []
    queue = await service.queue()
    assert [h.sender_id for h in queue] == ["web-c", "web-b", "web-a"]
    assert [h.priority for h in queue] == ["urgent", "high", "normal"]
    await service.close(queue[0].id, "bob")
    assert await service.rating_step("web-c") is None  # no rating request after an emergency


async def test_leave_the_queue(parts) -> None:  # type: ignore[no-untyped-def]
    chat, service, rasa = parts()
    await chat.handle("tg:7", "/human", "telegram")
    left = await chat.handle("tg:7", "/cancel_form", "telegram")
    assert left.messages[0]["text"] == t("handoff.left", "zh_Hans") and not left.meta.handoff
    await service.idle()
    assert await service.queue() == [] and rasa.posted[-1]["event"] == "resume"
    assert (await chat.handle("tg:7", "电费怎么交", "telegram")).messages[0]["text"].startswith("ANSWER")


async def test_offers_after_two_fallbacks_and_on_complaint(parts) -> None:  # type: ignore[no-untyped-def]
    chat, service, _rasa = parts()
    first = await chat.handle("web-f", "whatever one", "web")
    assert len(first.messages) == 1
    second = await chat.handle("web-f", "whatever two", "web")
    assert second.messages[-1]["text"] == t("handoff.offer", second.locale)
    assert second.messages[-1]["buttons"][0]["payload"] == HUMAN_PAYLOAD
    complaint = await chat.handle("web-g", "我要投诉抄表员", "web")
    assert complaint.messages[-1]["text"] == t("handoff.offer", "zh_Hans")
    assert await service.queue() == []  # offered, not opened


async def test_action_request_and_high_voltage_lead(parts) -> None:  # type: ignore[no-untyped-def]
    chat, service, _rasa = parts()
    asked = await chat.handle("web-h", "能让真人跟我说话吗", "web")
    assert asked.meta.handoff and "H0000" in asked.messages[0]["text"]
    assert all(m["text"] != "hotline" for m in asked.messages)
    lead = await chat.handle("web-l", "确认高压申请", "web")
    assert not lead.meta.handoff and lead.messages[0]["text"] == "receipt"
    assert lead.messages[-1]["text"].startswith(t("handoff.lead", "zh_Hans", ticket="")[:6])
    opened = await service.open_for("web-l")
    assert opened is not None and opened.lead and opened.deferred and opened.reason == "hv_lead"
    # The bot keeps answering while the lead waits.
    assert (await chat.handle("web-l", "电费怎么交", "web")).messages[0]["text"].startswith("ANSWER")


async def test_outside_staff_hours_the_bot_keeps_helping(parts) -> None:  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    start = (now + dt.timedelta(hours=2)).strftime("%H:%M") if now.hour < 21 else "00:00"
    end = "23:59" if now.hour < 21 else "00:01"
    chat, service, rasa = parts(staff_hours=f"{start}-{end}")
    turn = await chat.handle("web-o", "转人工", "web")
    assert not turn.meta.handoff and "H0000" in turn.messages[0]["text"]
    await service.idle()
    assert rasa.posted == []  # not paused: the bot keeps helping
    assert (await chat.handle("web-o", "电费怎么交", "web")).messages[0]["text"].startswith("ANSWER")
    queued = await service.queue()
    assert len(queued) == 1 and queued[0].deferred
    skip = await chat.handle("web-o", RATE_SKIP_PAYLOAD, "web")  # a stray rating button: thanked, nothing stored
    assert skip.messages[0]["text"] == t("handoff.rate.thanks", "zh_Hans")


async def test_staff_hours_parse_and_calendar() -> None:
    always = StaffHours.parse("")
    assert always.round_the_clock and always.is_open(dt.datetime(2026, 10, 1, 3, tzinfo=dt.timezone.utc))
    hours = StaffHours.parse("workdays 08:30-17:30", ROOT / "cases" / "holidays.yml")
    china = dt.timezone(dt.timedelta(hours=8))
    assert hours.is_open(dt.datetime(2026, 12, 1, 9, 0, tzinfo=china))  # a Tuesday
    assert not hours.is_open(dt.datetime(2026, 12, 1, 18, 0, tzinfo=china))
    # National Day week: closed, and the next opening is the first working day after it.
    nxt = hours.next_open(dt.datetime(2026, 10, 2, 10, 0, tzinfo=china))
    assert nxt.date() > dt.date(2026, 10, 2) and nxt.hour == 8 and nxt.minute == 30
    for bad in ("9-5", "18:00-08:00", "25:00-26:00"):
        with pytest.raises(StaffHoursError):
            StaffHours.parse(bad)
