"""Update ordering and duplicates: one chat's messages in order, chats concurrently, repeats ignored.

python-telegram-bot either handles updates one at a time (slow for many chats) or all
concurrently (a resident's quick second message could overtake the first). This processor
runs updates of different chats concurrently but those of one chat one after another, in the
order they arrived. An update counts as handled once its handlers have finished (then its id is
recorded); a repeated delivery of a handled update (same `update_id`) is dropped by the first
handler group before any other handler sees it. Updates are confirmed to Telegram only after
they are handled (`TelegramFrontEnd._poll`, the webhook's answer), so one whose handling was
cut short comes again: at-least-once delivery, once for the resident.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any, Awaitable, Callable, Dict, Optional

from sqlalchemy.orm import sessionmaker
from telegram import Update
from telegram.ext import ApplicationHandlerStop, BaseUpdateProcessor

from bot.telegram import store
from bot.telegram.context import Context, services
from common.db import session_scope

logger = logging.getLogger(__name__)


def chat_key(update: object) -> Optional[int]:
    """The chat an update belongs to (None for updates without one)."""
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across chats, sequential (arrival order) within a chat."""

    def __init__(self, max_concurrent_updates: int = 64):
        super().__init__(max_concurrent_updates)
        self._locks: Dict[int, asyncio.Lock] = {}
        self._users: Counter[int] = Counter()
        # Records an update as handled (set by build_telegram: it needs the database).
        self.on_handled: Optional[Callable[[object], None]] = None

    def _handled(self, update: object) -> None:
        if self.on_handled is not None and isinstance(update, Update):
            self.on_handled(update)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        if key is None:
            await coroutine
            self._handled(update)
            return
        # Tasks reach this point in the order the updates were fetched, and asyncio.Lock
        # wakes its waiters first come, first served: the chat's order is kept.
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                await coroutine
                self._handled(update)  # inside the lock: the chat's next copy sees it
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key]
                self._locks.pop(key, None)

    async def initialize(self) -> None:
        """Nothing to allocate."""

    async def shutdown(self) -> None:
        """Nothing to free."""


def recorder(sessions: sessionmaker) -> Callable[[object], None]:
    """The processor's `on_handled`: records the update's id once its handlers finished."""

    def record(update: object) -> None:
        with session_scope(sessions) as session:
            store.first_sighting(update.update_id, session=session)  # type: ignore[attr-defined]

    return record


async def drop_duplicate(update: Update, context: Context) -> None:
    """Stops an update whose id was already handled (first group, before every other handler)."""
    with session_scope(services(context).sessions) as session:
        repeated = store.was_handled(update.update_id, session=session)
    if repeated:
        logger.info("duplicate update %s ignored (chat=%s)", update.update_id, chat_key(update))
        raise ApplicationHandlerStop
