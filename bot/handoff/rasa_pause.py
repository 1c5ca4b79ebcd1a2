"""Keeps Rasa out of a conversation while staff own it: pause on hand-off, resume on close.

A listener of `HandoffService`. The gateway stops sending the resident's text to Rasa anyway;
the `pause` event (Rasa's `ConversationPaused`) makes the tracker itself refuse to run
actions, and the `resume` event posted to the tracker events API when staff close (or the
resident leaves the queue) hands the conversation back cleanly (RasaHQ/rasa#8119).
"""

from __future__ import annotations

import logging

from bot.handoff.models import STATE_ACTIVE, Handoff
from bot.rasa_client import RasaClient

logger = logging.getLogger(__name__)


class RasaPause:
    def __init__(self, rasa: RasaClient):
        self._rasa = rasa

    async def on_opened(self, handoff: Handoff) -> None:
        if not handoff.deferred:
            await self._set(handoff, "pause")

    async def on_claimed(self, handoff: Handoff) -> None:
        if handoff.state == STATE_ACTIVE:
            await self._set(handoff, "pause")

    async def on_closed(self, handoff: Handoff) -> None:
        await self._set(handoff, "resume")

    async def _set(self, handoff: Handoff, event: str) -> None:
        if not await self._rasa.append_event(handoff.sender_id, {"event": event}):
            logger.warning("rasa %s of hand-off %s failed", event, handoff.ticket)
