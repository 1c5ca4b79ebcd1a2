"""Delivery of outbox rows to Telegram: once, in order per chat, retried with back-off."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from typing import Dict, List

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from telegram import Bot

from bot.telegram.context import Services
from bot.telegram.delivery import MAX_ATTEMPTS, DeliveryWorker, backoff
from common import outbox
from common.db import session_scope
from common.outbox import OutboxMessage
from tests.bot.conftest import telegram_settings
from tests.telegram.emulator import BotApiEmulator

pytestmark = pytest.mark.asyncio
LATER = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)


def test_backoff_doubles_up_to_an_hour() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff(30) == 3600


@pytest.fixture()
def sessions(app_sessions):  # noqa: ANN001, ANN201
    """The application database, on SQLite and on PostgreSQL (tests/conftest.py)."""
    return app_sessions


@pytest.fixture()
def since() -> float:
    """This test's start: the session's emulator also holds earlier tests' messages to these chats."""
    return time.time()


@pytest_asyncio.fixture()
async def worker(tmp_path, sessions, emulator: BotApiEmulator, kb):  # noqa: ANN001, ANN201
    settings = telegram_settings(tmp_path, emulator)
    async with Bot(emulator.token, base_url=emulator.base_url) as bot, httpx.AsyncClient() as http:
        services = Services(settings=settings, chat=None, sessions=sessions, knowledge=kb, cases=None,  # type: ignore
                            http=http)
        yield DeliveryWorker(bot, services, poll_s=0.05)
    emulator.reset_failures()


def push(sessions, sender: str, text: str, channel: str = "telegram") -> int:  # noqa: ANN001
    with session_scope(sessions) as session:
        return outbox.enqueue(sender, channel, "status", {"text": text, "buttons": []}, f"k:{sender}:{text}",
                              session=session)


def stored(sessions) -> List[OutboxMessage]:  # noqa: ANN001
    with session_scope(sessions) as session:
        return list(session.execute(select(OutboxMessage).order_by(OutboxMessage.seq)).scalars())


async def test_sends_each_row_once_and_marks_it(worker: DeliveryWorker, sessions, emulator, since) -> None:  # noqa: ANN001
    push(sessions, "tg:9001", "一")
    push(sessions, "tg:9001", "二 <b>")
    push(sessions, "web-1", "web only", channel="web")
    assert await worker.deliver_due() == 2
    assert await worker.deliver_due() == 0
    assert [m.text for m in emulator.sent(9001, since=since)] == ["一", "二 <b>"]
    rows = stored(sessions)
    assert all(r.delivered_at is not None for r in rows if r.channel == "telegram")
    assert next(r for r in rows if r.channel == "web").delivered_at is None


async def test_a_failure_backs_off_and_holds_the_chats_later_rows(worker, sessions, emulator, since) -> None:  # noqa: ANN001
    push(sessions, "tg:9002", "first")
    push(sessions, "tg:9002", "second")
    push(sessions, "tg:9003", "other chat")
    emulator.fail_next(1, error_code=502, methods={"sendMessage"})
    sent = await worker.deliver_due()
    first = stored(sessions)[0]
    assert first.attempts == 1 and first.last_error.startswith("NetworkError") and first.delivered_at is None
    assert first.next_attempt_at is not None
    assert sent == 1 and emulator.sent(9002, since=since) == []  # 'second' waits for 'first'
    assert [m.text for m in emulator.sent(9003, since=since)] == ["other chat"]
    assert await worker.deliver_due() == 0  # still backing off
    assert await worker.deliver_due(now=LATER) == 2
    assert [m.text for m in emulator.sent(9002, since=since)] == ["first", "second"]


async def test_flood_wait_waits_what_telegram_asked(worker, sessions, emulator, since) -> None:  # noqa: ANN001
    push(sessions, "tg:9004", "flood")
    emulator.fail_next(1, error_code=429, retry_after=7, methods={"sendMessage"})
    await worker.deliver_due()
    row = stored(sessions)[0]
    wait = (row.next_attempt_at.replace(tzinfo=dt.timezone.utc) - dt.datetime.now(dt.timezone.utc)).total_seconds()
    assert 5 < wait <= 7 and row.last_error.startswith("RetryAfter")
    assert await worker.deliver_due(now=LATER) == 1


async def test_blocked_bot_is_given_up_without_blocking_later_rows(worker, sessions, emulator, since) -> None:  # noqa: ANN001
    push(sessions, "tg:9005", "blocked")
    push(sessions, "tg:9005", "after")
    emulator.fail_next(1, error_code=403, methods={"sendMessage"})
    await worker.deliver_due()
    await worker.deliver_due()
    rows = stored(sessions)
    assert rows[0].attempts == MAX_ATTEMPTS and rows[0].last_error.startswith("gave up: Forbidden")
    assert rows[1].delivered_at is not None



def test_two_workers_at_once_send_every_row_once_and_in_order(  # noqa: ANN001
    tmp_path, sessions, emulator, kb, since
) -> None:
    """Two gateways' workers, each in its own thread and event loop, on one database."""
    chats = list(range(9100, 9112))
    for chat in chats:
        for n in range(3):
            push(sessions, f"tg:{chat}", f"{chat}-{n}")
    settings = telegram_settings(tmp_path, emulator)
    sent_by: Dict[str, int] = {}

    async def drain(name: str) -> None:
        async with Bot(emulator.token, base_url=emulator.base_url) as bot, httpx.AsyncClient() as http:
            services = Services(settings=settings, chat=None, sessions=sessions, knowledge=kb,  # type: ignore
                                cases=None, http=http)
            worker = DeliveryWorker(bot, services, poll_s=0.05)
            total, idle = 0, 0
            while idle < 5:
                sent = await worker.deliver_due()
                total, idle = total + sent, 0 if sent else idle + 1
                await asyncio.sleep(0.01)
            sent_by[name] = total

    threads = [threading.Thread(target=asyncio.run, args=(drain(f"w{n}"),)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(sent_by.values()) == len(chats) * 3 and len(sent_by) == 2
    for chat in chats:
        assert [m.text for m in emulator.sent(chat, since=since)] == [f"{chat}-{n}" for n in range(3)]
    assert all(r.delivered_at is not None for r in stored(sessions))
