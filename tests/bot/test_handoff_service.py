"""The hand-off service over a real SQLite database: queue order, atomic claim, relay, close, rating."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Dict, List

import pytest
from sqlalchemy import select

from bot.handoff import models as m
from bot.handoff.service import AlreadyClaimed, HandoffClosed, HandoffService, UnknownCanned
from common.chat_contract import RATE_PAYLOAD_PREFIX
from common.db import create_all, make_engine, make_session_factory, session_scope
from common.outbox import OutboxMessage

pytestmark = pytest.mark.asyncio


class Recorder:
    def __init__(self) -> None:
        self.events: List[tuple[str, int]] = []

    async def on_opened(self, handoff: m.Handoff) -> None:
        self.events.append(("opened", handoff.id))

    async def on_resident_message(self, handoff: m.Handoff, text: str) -> None:
        self.events.append(("resident", handoff.id))

    async def on_staff_message(self, handoff: m.Handoff, message: m.HandoffMessage) -> None:
        self.events.append((message.role, handoff.id))

    async def on_claimed(self, handoff: m.Handoff) -> None:
        self.events.append(("claimed", handoff.id))

    async def on_closed(self, handoff: m.Handoff) -> None:
        self.events.append(("closed", handoff.id))


class Broken:
    async def on_opened(self, handoff: m.Handoff) -> None:
        raise RuntimeError("listener down")


@pytest.fixture
def sessions(tmp_path):  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


def outbox_of(sessions: Any, sender: str) -> List[Dict[str, Any]]:
    with session_scope(sessions) as session:
        rows = session.execute(select(OutboxMessage).where(OutboxMessage.sender_id == sender)
                               .order_by(OutboxMessage.seq)).scalars()
        return [{"kind": r.kind, "channel": r.channel, **json.loads(r.payload)} for r in rows]


async def test_queue_order_emergency_priority_deadline_then_waiting(sessions) -> None:  # type: ignore[no-untyped-def]
    deadlines = {"s-deadline": [{"status": "in_progress", "deadline": "2026-12-03"}],
                 "s-later": [{"status": "in_progress", "deadline": "2027-01-20"},
                             {"status": "completed", "deadline": "2026-12-02"}]}

    async def cases(channel: str, sender: str) -> List[Dict[str, Any]]:
        if sender == "s-down":
            raise ConnectionError("case API down")
        return deadlines.get(sender, [])

    service = HandoffService(sessions, cases=cases)
    first = await service.request("s-first", "web", "zh_Hans", "asked", "normal")
    later = await service.request("s-later", "web", "zh_Hans", "asked", "normal")
    deadline = await service.request("s-deadline", "web", "zh_Hans", "asked", "normal")
    down = await service.request("s-down", "web", "zh_Hans", "asked", "normal")
    high = await service.request("s-high", "telegram", "en", "outage", "high")
    urgent = await service.request("s-urgent", "web", "zh_Hant", "emergency", "normal", emergency=True)
    order = [h.id for h in await service.queue()]
    assert order == [urgent.id, high.id, deadline.id, later.id, first.id, down.id]
    assert (await service.get(urgent.id)).priority == "urgent"  # type: ignore[union-attr]
    place = await service.position(first)
    assert place.place == 5 and place.minutes >= 1


async def test_one_open_handoff_per_conversation_and_escalation(sessions) -> None:  # type: ignore[no-untyped-def]
    service = HandoffService(sessions)
    history = [("resident", "我的电话13812345678")]
    first = await service.request("s1", "web", "zh_Hans", "asked", "normal", history=history)
    again = await service.request("s1", "web", "zh_Hans", "emergency", "normal", emergency=True)
    assert again.id == first.id and again.emergency and again.priority == "urgent"
    texts = [msg.text for msg in await service.transcript(first.id)]
    assert "我的电话138****5678" in texts  # masked before it is stored
    assert await service.is_active("s1") and not await service.is_active("nobody")


async def test_claim_is_atomic_first_wins(sessions) -> None:  # type: ignore[no-untyped-def]
    service = HandoffService(sessions)
    recorder = Recorder()
    service.add_listener(recorder)
    handoff = await service.request("s1", "web", "zh_Hans", "asked", "normal")
    results = await asyncio.gather(*(service.claim(handoff.id, f"agent{i}") for i in range(5)),
                                   return_exceptions=True)
    winners = [r for r in results if isinstance(r, m.Handoff)]
    losers = [r for r in results if isinstance(r, AlreadyClaimed)]
    assert len(winners) == 1 and len(losers) == 4
    holder = winners[0].assignee
    assert all(loser.holder == holder for loser in losers)
    assert (await service.claim(handoff.id, holder)).assignee == holder  # the holder again: no error
    await service.idle()  # listeners run in the background, in order per conversation
    assert recorder.events.count(("claimed", handoff.id)) == 1
    with pytest.raises(AlreadyClaimed):
        await service.staff_message(handoff.id, "intruder", "hello")
    with pytest.raises(AlreadyClaimed):
        await service.close(handoff.id, "intruder")


async def test_relay_note_close_and_rating(sessions) -> None:  # type: ignore[no-untyped-def]
    woken: List[int] = []
    service = HandoffService(sessions, on_enqueued=lambda: woken.append(1))
    recorder = Recorder()
    service.add_listener(Broken())  # a failing listener changes nothing
    service.add_listener(recorder)
    handoff = await service.request("tg:42", "telegram", "en", "asked", "normal")
    await service.resident_message("tg:42", "my id is 440802199001010027")
    reply = await service.staff_message(handoff.id, "alice", "Hello, I can help", photo_url="http://x/p.png")
    note = await service.staff_message(handoff.id, "alice", "internal: check meter", internal=True)
    assert reply.role == "staff" and note.role == "note"
    sent = outbox_of(sessions, "tg:42")
    assert [s["text"] for s in sent] == ["An agent has joined; please tell them what you need.",
                                         "Agent: Hello, I can help"]
    assert sent[1]["image_url"] == "http://x/p.png" and all(s["channel"] == "telegram" for s in sent)
    assert woken
    closed = await service.close(handoff.id, "alice")
    assert closed.state == "closed" and not await service.is_active("tg:42")
    with pytest.raises(HandoffClosed):
        await service.staff_message(handoff.id, "alice", "late")
    rate = outbox_of(sessions, "tg:42")[-1]
    assert [b["payload"] for b in rate["buttons"]] == [f"{RATE_PAYLOAD_PREFIX}{n}" for n in range(1, 6)]
    assert await service.rating_step("tg:42") == "score"
    rating = await service.rate("tg:42", score=2)
    assert rating is not None and rating.flagged and rating.assignee == "alice"
    again = await service.rate("tg:42", score=5)  # one rating per hand-off: the first score stands
    assert again is not None and again.score == 2
    await service.rate("tg:42", solved=False)
    await service.rate("tg:42", comment="called 13812345678, nobody came")
    assert await service.rating_step("tg:42") is None
    summary = await service.ratings()
    assert summary["count"] == 1 and summary["distribution"]["2"] == 1 and summary["flagged"] == 1
    assert summary["by_staff"]["alice"]["average"] == 2
    transcript = [(msg.role, msg.text) for msg in await service.transcript(handoff.id)]
    assert ("resident", "my id is 4408**********0027") in transcript
    await service.idle()
    assert [e[0] for e in recorder.events] == ["opened", "resident", "claimed", "staff", "note", "closed"]


async def test_emergency_gets_no_rating_and_cancel(sessions) -> None:  # type: ignore[no-untyped-def]
    service = HandoffService(sessions)
    urgent = await service.request("s1", "web", "zh_Hans", "emergency", "urgent", emergency=True)
    await service.close(urgent.id, "bob")
    assert await service.rating_step("s1") is None
    assert await service.rate("s1", score=5) is None
    await service.request("s2", "web", "zh_Hans", "asked", "normal")
    cancelled = await service.cancel("s2")
    assert cancelled is not None and cancelled.state == "closed" and cancelled.closed_by == "resident"
    assert await service.cancel("s2") is None
    with pytest.raises(UnknownCanned):
        await service.canned(urgent.id, "bob", "no_such_entry")
