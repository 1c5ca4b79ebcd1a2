"""Telegram delivery (issue 9): rows waiting out a back-off never starve new ones, however
many there are (the worker used to take the oldest rows whether due or not)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.telegram import delivery
from bot.telegram.delivery import DeliveryWorker
from common import outbox
from common.db import session_scope
from common.outbox import OutboxMessage
from tests.bot.test_delivery import LATER, push

pytestmark = pytest.mark.asyncio


async def test_rows_waiting_out_a_back_off_do_not_starve_new_ones(  # noqa: ANN001
    worker: DeliveryWorker, sessions, emulator, since
) -> None:
    # More chats in back-off than one batch holds, all queued before the new message.
    with session_scope(sessions) as session:
        for n in range(delivery.BATCH + 20):
            outbox.enqueue(f"tg:{900000 + n}", "telegram", "status", {"text": "x", "buttons": []}, f"w:{n}",
                           session=session)
        session.flush()
        session.execute(update(OutboxMessage).values(attempts=3, next_attempt_at=LATER))
    push(sessions, "tg:4242", "new update")
    assert await worker.deliver_due() == 1
    assert [m.text for m in emulator.sent(4242, since=since)] == ["new update"]
