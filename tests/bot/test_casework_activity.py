"""Reminders (催办) stop once the resident acts or the case moves; fallback turns are kept
masked for the reports. Real notifier and chat service on a real SQLite database."""

from __future__ import annotations

import datetime as dt
from typing import Any, Dict, List

import pytest
from sqlalchemy import select

from bot import subscriptions as subs
from bot.casework.activity import acted_since, note_activity
from bot.casework.models import FallbackQuestion, ResidentActivity
from bot.chat import ChatService
from bot.notifier import LOCAL_TZ, Notifier
from common.db import create_all, make_engine, make_session_factory, session_scope
from common.settings import Settings
from tests.bot.conftest import FakeRasa
from tests.bot.test_notifier import CASE, FakeFeed, event, rows

pytestmark = pytest.mark.asyncio


@pytest.fixture()
def sessions(tmp_path):  # noqa: ANN001, ANN201
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()


async def _waiting_since_yesterday(notifier: Notifier, feed: FakeFeed, sessions) -> dt.datetime:  # noqa: ANN001
    feed.feed += [event(1, "case.created", "acceptance"), event(2, "case.stage_changed", "completion_inspection")]
    await notifier.poll_once()
    with session_scope(sessions) as session:
        case = session.get(subs.FollowedCase, CASE)
        case.stage_since = case.stage_since - dt.timedelta(days=1)
        return case.stage_since


async def test_reminders_stop_once_the_resident_writes(sessions) -> None:  # noqa: ANN001
    feed = FakeFeed()
    notifier = Notifier(feed, sessions, 0.1)  # type: ignore[arg-type]
    since = await _waiting_since_yesterday(notifier, feed, sessions)
    today = dt.datetime.now(LOCAL_TZ).replace(hour=10)
    assert await notifier.remind(today) == 1
    # Activity before the stage began waiting does not count.
    with session_scope(sessions) as session:
        session.add(ResidentActivity(sender_id="tg:11", last_turn_at=since - dt.timedelta(hours=1)))
    assert await notifier.remind(today + dt.timedelta(days=1)) == 1
    chat = ChatService(Settings(app_env="test"), FakeRasa(), sessions)  # type: ignore[arg-type]
    await chat.handle("tg:11", "我家的内部工程已经完工了", "telegram")
    with session_scope(sessions) as session:
        assert acted_since("tg:11", since, session=session)
    assert await notifier.remind(today + dt.timedelta(days=2)) == 0
    assert await notifier.remind(today + dt.timedelta(days=3)) == 0
    assert [r.kind for r in rows(sessions)].count("reminder") == 2


async def test_reminders_stop_once_the_case_moves_and_activity_is_noted_only_while_awaited(sessions) -> None:  # noqa: ANN001
    feed = FakeFeed()
    notifier = Notifier(feed, sessions, 0.1)  # type: ignore[arg-type]
    await _waiting_since_yesterday(notifier, feed, sessions)
    today = dt.datetime.now(LOCAL_TZ).replace(hour=10)
    assert await notifier.remind(today) == 1
    feed.feed.append(event(3, "case.stage_changed", "connection"))
    await notifier.poll_once()
    assert await notifier.remind(today + dt.timedelta(days=1)) == 0
    with session_scope(sessions) as session:
        note_activity("tg:11", session=session)  # nothing waits on the resident any more
        note_activity("web-unknown", session=session)
    with session_scope(sessions) as session:
        assert session.execute(select(ResidentActivity)).scalars().all() == []


class FallbackRasa(FakeRasa):
    async def send(self, sender_id: str, text: str, metadata: Dict[str, Any]) -> List[Dict[str, Any]]:
        if text.startswith("/"):
            return [{"text": "ok"}, {"custom": {"meta": {"intent": "chitchat", "fallback": True}}}]
        if "电" in text:
            return [{"text": "answer"}, {"custom": {"meta": {"intent": "faq_fees", "fallback": False}}}]
        return [{"text": "抱歉"}, {"custom": {"meta": {"intent": "out_of_scope", "fallback": True}}}]


async def test_fallback_questions_are_kept_masked(sessions) -> None:  # noqa: ANN001
    chat = ChatService(Settings(app_env="test"), FallbackRasa(), sessions)  # type: ignore[arg-type]
    await chat.handle("web-1", "我的身份证440802198003120310和手机13800138000能查违章吗", "web")
    await chat.handle("web-1", "电费怎么交", "web")  # answered: not kept
    await chat.handle("web-1", "/choose_short", "web")  # a button payload: not a question
    with session_scope(sessions) as session:
        kept = session.execute(select(FallbackQuestion)).scalars().all()
        assert [(q.text, q.channel, q.intent) for q in kept] == [
            ("我的身份证4408**********0310和手机138****8000能查违章吗", "web", "out_of_scope"),
        ]
