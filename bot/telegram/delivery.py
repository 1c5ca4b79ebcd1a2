"""Sends the outbox's Telegram messages (status updates, reminders, later staff replies).

The notifier and others write to the one outbox (`common.outbox`) in the same transaction
as what caused the message; this worker sends the rows of channel `telegram` that are not
delivered yet, oldest first, and marks each delivered as soon as Telegram accepted it. A
failure is retried with exponential back-off (flood waits after the rate limiter's own
retries wait what Telegram asked); a chat's later messages wait for its earlier ones, so a
chat sees its updates in order. Messages Telegram will never accept (the resident blocked
the bot, the chat is gone) are given up with the reason in `last_error`.

Exactly once, from the resident's point of view: a row is sent only while undelivered and
marked right after Telegram's answer. The one gap is a crash between Telegram accepting a
message and the mark being committed (milliseconds); the message is then sent again after
the restart. Telegram offers no idempotency key that could close it.

Any number of gateways may run this worker on one database: each claims the chats it sends
to (`common.claims`, name `outbox:telegram:<sender>`) and re-reads their rows after
claiming, so a row is sent by one worker only and a chat's messages stay in order; a
crashed worker's chats are taken over when its claim lapses (`CLAIM_TTL_S`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import OrderedDict
from typing import Dict, List, Optional

from sqlalchemy import or_, select, update
from telegram import Bot
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import store as sender_store
from bot.telegram.context import Services
from bot.telegram.render import chat_of
from bot.telegram.replies import send_one
from common import claims
from common.db import session_scope
from common.outbox import OutboxMessage, message_of

logger = logging.getLogger(__name__)
CHANNEL = "telegram"
MAX_ATTEMPTS = 12
BASE_DELAY_S = 1.0
MAX_DELAY_S = 3600.0
BATCH = 200
CONCURRENT_CHATS = 16
CLAIM_TTL_S = 120.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: Optional[dt.datetime]) -> Optional[dt.datetime]:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def backoff(attempts: int, base: float = BASE_DELAY_S, cap: float = MAX_DELAY_S) -> float:
    """Seconds to wait after the `attempts`-th failure: 1, 2, 4, … capped at an hour."""
    return min(cap, base * 2 ** max(0, attempts - 1))


class DeliveryWorker:
    """Sends undelivered Telegram rows of the outbox; `run()` until cancelled, `wake()` to hurry it."""

    def __init__(self, bot: Bot, services: Services, poll_s: float = 1.0):
        self._bot = bot
        self._services = services
        self._poll_s = poll_s
        self._wakeup = asyncio.Event()
        self._holder = claims.new_holder()

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                sent = await self.deliver_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a database hiccup (disk full) must not end delivery
                failures += 1
                logger.error("telegram delivery step failed: %s", type(exc).__name__, exc_info=failures == 1)
                await asyncio.sleep(min(30.0, self._poll_s * 2 ** min(failures, 10)))  # back off
                continue
            failures = 0
            if sent:
                continue
            try:
                await asyncio.wait_for(self._wakeup.wait(), self._poll_s)
            except asyncio.TimeoutError:
                pass
            self._wakeup.clear()

    def _pending(
        self, now: Optional[dt.datetime] = None, senders: Optional[List[str]] = None
    ) -> Dict[str, List[OutboxMessage]]:
        """Undelivered rows per sender (of `senders`), oldest first (given-up rows excluded).

        Chats with a row waiting out its back-off are left out of the batch altogether (their
        later rows must wait anyway), so any number of waiting rows never starves new ones.
        """
        undelivered = [
            OutboxMessage.channel == CHANNEL,
            OutboxMessage.delivered_at.is_(None),
            or_(OutboxMessage.attempts.is_(None), OutboxMessage.attempts < MAX_ATTEMPTS),
        ]
        if senders is not None:
            undelivered.append(OutboxMessage.sender_id.in_(senders))
        waiting = select(OutboxMessage.sender_id).where(*undelivered, OutboxMessage.next_attempt_at > (now or _now()))
        with session_scope(self._services.sessions) as session:
            rows = session.execute(
                select(OutboxMessage)
                .where(*undelivered, OutboxMessage.sender_id.not_in(waiting))
                .order_by(OutboxMessage.seq)
                .limit(BATCH)
            ).scalars().all()
        grouped: Dict[str, List[OutboxMessage]] = OrderedDict()
        for row in rows:
            grouped.setdefault(row.sender_id, []).append(row)
        return grouped

    async def deliver_due(self, now: Optional[dt.datetime] = None) -> int:
        """Sends what is due now, chats concurrently, each chat in order; returns how many were sent."""
        pending = self._pending(now)
        if not pending:
            return 0
        names = {f"outbox:{CHANNEL}:{sender}": sender for sender in pending}
        mine = claims.claim_now(self._services.sessions, list(names), self._holder, CLAIM_TTL_S)
        if not mine:
            return 0  # other workers hold these chats
        try:
            return await self._deliver_claimed([names[name] for name in mine], now)
        finally:
            claims.release_now(self._services.sessions, mine, self._holder)

    async def _deliver_claimed(self, senders: List[str], now: Optional[dt.datetime]) -> int:
        pending = self._pending(now, senders)  # re-read: another worker may have sent them meanwhile
        limit = asyncio.Semaphore(CONCURRENT_CHATS)

        async def one_chat(rows: List[OutboxMessage]) -> int:
            async with limit:
                sent = 0
                for row in rows:
                    due = _aware(row.next_attempt_at)
                    if due is not None and due > (now or _now()):
                        break  # back-off of an earlier message holds the later ones
                    if not await self._send(row):
                        break
                    sent += 1
                return sent

        results = await asyncio.gather(*(one_chat(rows) for rows in pending.values()))
        return sum(results)

    async def _send(self, row: OutboxMessage) -> bool:
        chat_id = chat_of(row.sender_id)
        if chat_id is None:
            self._give_up(row, "not a telegram sender")
            return False
        with session_scope(self._services.sessions) as session:
            locale = sender_store.get_locale(row.sender_id, session=session) or self._services.settings.default_locale
        try:
            await send_one(self._bot, chat_id, message_of(row), locale, self._services)
        except RetryAfter as exc:
            wait = exc.retry_after.total_seconds() if isinstance(exc.retry_after, dt.timedelta) else exc.retry_after
            self._retry(row, f"RetryAfter {wait}", float(wait))
            return False
        except (Forbidden, BadRequest) as exc:
            self._give_up(row, f"{type(exc).__name__}: {exc.message[:120]}")
            return False
        except TelegramError as exc:
            self._retry(row, f"{type(exc).__name__}: {exc.message[:120]}")
            return False
        with session_scope(self._services.sessions) as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.seq == row.seq).values(
                    delivered_at=_now(), attempts=(row.attempts or 0) + 1, last_error=None
                )
            )
        logger.info("outbox %s delivered to telegram chat=%s (%s)", row.seq, chat_id, row.kind)
        return True

    def _retry(self, row: OutboxMessage, error: str, wait: Optional[float] = None) -> None:
        attempts = (row.attempts or 0) + 1
        delay = max(wait or 0.0, backoff(attempts))
        with session_scope(self._services.sessions) as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.seq == row.seq).values(
                    attempts=attempts, last_error=error[:200], next_attempt_at=_now() + dt.timedelta(seconds=delay)
                )
            )
        row.attempts = attempts
        logger.warning("outbox %s to telegram failed (%s); attempt %d, retry in %.0fs",
                       row.seq, error.split(":")[0], attempts, delay)

    def _give_up(self, row: OutboxMessage, error: str) -> None:
        with session_scope(self._services.sessions) as session:
            session.execute(
                update(OutboxMessage).where(OutboxMessage.seq == row.seq).values(
                    attempts=MAX_ATTEMPTS, last_error=f"gave up: {error}"[:200]
                )
            )
        logger.warning("outbox %s to telegram given up (%s)", row.seq, error.split(":")[0])
