"""The notifier: case events → subscriptions and one outbox message per subscriber, once."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, Dict, List, Optional

import pytest
from sqlalchemy import select

from bot import store as senders
from bot import subscriptions as subs
from bot.notifier import LOCAL_TZ, Notifier, render_event
from common.case_client import CaseApiUnavailable
from common.db import session_scope
from common.i18n import format_day, t
from common.outbox import OutboxMessage

pytestmark = pytest.mark.asyncio

STAGES = [
    {"key": "acceptance", "names": {"zh_Hans": "申请受理", "zh_Hant": "申請受理", "en": "Application accepted"},
     "waits_on": "utility"},
    {"key": "supply_plan", "names": {"zh_Hans": "供电方案答复", "zh_Hant": "供電方案答覆", "en": "Supply plan reply"},
     "waits_on": "utility"},
    {"key": "completion_inspection",
     "names": {"zh_Hans": "竣工检验", "zh_Hant": "竣工檢驗", "en": "Completion inspection"}, "waits_on": "customer"},
    {"key": "connection", "names": {"zh_Hans": "装表接电", "zh_Hant": "裝表接電", "en": "Metering and connection"},
     "waits_on": "utility"},
]
CASE = "330700-20261124-0001"


def event(id_: int, type_: str, stage: str, **extra: Any) -> Dict[str, Any]:
    waits = next(s["waits_on"] for s in STAGES if s["key"] == stage)
    return {"id": id_, "type": type_, "case_id": CASE, "at": "2026-11-24T02:00:00+00:00", "stage": stage,
            "previous_stage": None, "status": "open", "channel": "telegram", "sender_id": "tg:11", "locale": "zh_Hans",
            "deadline": "2026-12-04", "waits_on": waits, "note": None, "item": None, **extra}


class FakeFeed:
    def __init__(self) -> None:
        self.feed: List[Dict[str, Any]] = []
        self.down = False
        self.case_reads = 0

    async def events(self, after: int, limit: int = 100) -> Dict[str, Any]:
        if self.down:
            raise CaseApiUnavailable("down")
        page = [e for e in self.feed if e["id"] > after][:limit]
        return {"events": page, "next_cursor": page[-1]["id"] if page else after}

    async def get_case(self, case_id: str) -> Optional[Dict[str, Any]]:
        if self.down:
            raise CaseApiUnavailable("down")
        self.case_reads += 1
        return {"case_id": case_id, "stages": STAGES}


@pytest.fixture()
def sessions(app_sessions):  # noqa: ANN001, ANN201
    """The application database, on SQLite and on PostgreSQL (tests/conftest.py)."""
    return app_sessions


def rows(sessions) -> List[OutboxMessage]:  # noqa: ANN001
    with session_scope(sessions) as session:
        return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.seq)).scalars())


async def test_creation_subscribes_the_applicant_silently_and_changes_are_sent_once(sessions) -> None:  # noqa: ANN001
    feed = FakeFeed()
    woken: List[int] = []
    notifier = Notifier(feed, sessions, 0.1, on_enqueued=lambda: woken.append(1))  # type: ignore[arg-type]
    feed.feed.append(event(1, "case.created", "acceptance"))
    assert await notifier.poll_once() == 1
    assert rows(sessions) == [] and woken == []
    with session_scope(sessions) as session:
        assert [(s.sender_id, s.channel) for s in subs.subscribers(CASE, session=session)] == [("tg:11", "telegram")]
        subs.subscribe(CASE, "web-7", "web", session=session)
        senders.remember_sender("web-7", "web", "en", session=session)
    feed.feed.append(event(2, "case.stage_changed", "supply_plan", previous_stage="acceptance", note="已派员勘查"))
    assert await notifier.poll_once() == 1
    queued = rows(sessions)
    assert [(r.sender_id, r.channel, r.kind, r.dedupe_key) for r in queued] == [
        ("tg:11", "telegram", "status", "event:2:tg:11"), ("web-7", "web", "status", "event:2:web-7"),
    ]
    zh, en = (__import__("json").loads(r.payload)["text"] for r in queued)
    assert t("notify.stage_changed", "zh_Hans", case_id=CASE, stage="供电方案答复") in zh
    assert t("notify.next", "zh_Hans", stage="竣工检验") in zh
    assert format_day(dt.date(2026, 12, 4), "zh_Hans", "full") in zh and "星期五" in zh
    assert "已派员勘查" in zh
    assert t("notify.stage_changed", "en", case_id=CASE, stage="Supply plan reply") in en and "Friday" in en
    assert woken == [1]
    # The feed read again from the start (a crash before the cursor was saved) adds nothing.
    with session_scope(sessions) as session:
        subs.set_cursor(0, session=session)
    await notifier.poll_once()
    assert len(rows(sessions)) == 2
    assert feed.case_reads == 1  # stage names are cached per case


async def test_events_of_unfollowed_cases_are_skipped(sessions) -> None:  # noqa: ANN001
    feed = FakeFeed()
    feed.feed.append(event(5, "case.stage_changed", "supply_plan"))
    notifier = Notifier(feed, sessions, 0.1)  # type: ignore[arg-type]
    assert await notifier.poll_once() == 1
    assert rows(sessions) == [] and feed.case_reads == 0
    with session_scope(sessions) as session:
        assert subs.get_cursor(session=session) == 5


def test_rendering_completion_waiting_and_items() -> None:
    done = render_event(event(3, "case.stage_changed", "connection", status="completed", waits_on=None), STAGES, "en")
    assert done is not None and done["text"].startswith(t("notify.completed", "en", case_id=CASE))
    waiting = render_event(event(3, "case.stage_changed", "completion_inspection"), STAGES, "zh_Hant")
    assert waiting is not None and t("notify.waits_on_customer", "zh_Hant") in waiting["text"]
    assert "竣工檢驗" in waiting["text"] and "裝表接電" in waiting["text"]
    assert waiting["buttons"][0]["payload"] == "/ask_status"
    item = render_event(event(4, "item.updated", "supply_plan", item={"id": 1, "kind": "water", "status": "done",
                                                                        "note": None}), STAGES, "en")
    assert item is not None and "Water connection (done)" in item["text"]
    assert render_event(event(1, "case.created", "acceptance"), STAGES, "en") is None


async def test_reminders_once_a_day_while_the_resident_is_awaited(sessions) -> None:  # noqa: ANN001
    feed = FakeFeed()
    notifier = Notifier(feed, sessions, 0.1)  # type: ignore[arg-type]
    feed.feed += [event(1, "case.created", "acceptance"), event(2, "case.stage_changed", "completion_inspection")]
    await notifier.poll_once()
    assert len(rows(sessions)) == 1
    today_10 = dt.datetime.now(LOCAL_TZ).replace(hour=10)
    assert await notifier.remind(today_10) == 0  # the stage began today: its message just went out
    with session_scope(sessions) as session:
        case = session.get(subs.FollowedCase, CASE)
        case.stage_since = case.stage_since - dt.timedelta(days=1)
    tomorrow = today_10  # relative to the (moved) start of the stage
    assert await notifier.remind(tomorrow.replace(hour=8)) == 0  # not before 9:00
    assert await notifier.remind(tomorrow) == 1
    assert await notifier.remind(tomorrow.replace(hour=18)) == 0  # once a day
    assert await notifier.remind(tomorrow + dt.timedelta(days=1)) == 1
    keys = [r.dedupe_key for r in rows(sessions) if r.kind == "reminder"]
    assert keys[0] == f"reminder:{CASE}:tg:11:{tomorrow.date().isoformat()}"
    # The resident acts: the stage moves on, reminders stop.
    feed.feed.append(event(3, "case.stage_changed", "connection"))
    await notifier.poll_once()
    assert await notifier.remind(tomorrow + dt.timedelta(days=2)) == 0


async def test_case_api_outage_slows_the_notifier_but_never_stops_it(sessions, caplog) -> None:  # noqa: ANN001
    feed = FakeFeed()
    feed.down = True
    notifier = Notifier(feed, sessions, 0.05)  # type: ignore[arg-type]
    task = asyncio.create_task(notifier.run())
    await asyncio.sleep(0.3)
    assert not task.done()
    assert "case API unavailable for the notifier" in caplog.text
    feed.down = False
    feed.feed += [event(1, "case.created", "acceptance"), event(2, "case.stage_changed", "supply_plan")]
    for _ in range(100):
        await asyncio.sleep(0.05)
        if rows(sessions):
            break
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(rows(sessions)) == 1


async def test_one_gateways_notifier_reads_the_feed_and_another_takes_over_when_it_stops(sessions) -> None:  # noqa: ANN001
    from sqlalchemy import update

    from bot.notifier import FEED_CLAIM
    from common import claims

    feed = FakeFeed()
    first, second = Notifier(feed, sessions, 0.1), Notifier(feed, sessions, 0.1)  # type: ignore[arg-type]
    feed.feed += [event(1, "case.created", "acceptance"),
                  event(2, "case.stage_changed", "supply_plan", previous_stage="acceptance")]
    assert await first.poll_once() == 2
    feed.feed.append(event(3, "case.stage_changed", "completion_inspection", previous_stage="supply_plan"))
    assert await second.poll_once() == 0  # the first holds the feed
    with session_scope(sessions) as session:  # the first gateway was killed: its lease lapses
        session.execute(update(claims.WorkClaim).where(claims.WorkClaim.name == FEED_CLAIM).values(
            expires_at=claims.utcnow() - dt.timedelta(seconds=1)))
    assert await second.poll_once() == 1
    assert await first.poll_once() == 0  # now the second's
    assert [r.dedupe_key for r in rows(sessions)] == ["event:2:tg:11", "event:3:tg:11"]
    task = asyncio.ensure_future(second.run())  # a stopping notifier releases the feed at once
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    feed.feed.append(event(4, "case.stage_changed", "connection", previous_stage="completion_inspection"))
    assert await first.poll_once() == 1
    assert len(rows(sessions)) == 3
