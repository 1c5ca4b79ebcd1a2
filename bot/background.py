"""The gateway's background work, started and stopped with its lifespan.

- the notifier (always): case events → outbox; it tolerates the case API being down;
- the Telegram front end and its delivery worker (when `TELEGRAM_BOT_TOKEN` is set);
- once, the replies of submitting turns a previous run died in (`bot.turn_journal`);
- the time-limit warning job (`bot/casework/warnings.py`; digests to the staff group with Telegram).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import AsyncIterator

import httpx
from fastapi import FastAPI

from bot import turn_journal
from bot.casework.warnings import WarningJob, telegram_sender
from bot.notifier import Notifier
from bot.telegram.app import TelegramFrontEnd, build_telegram
from common.settings import Settings

logger = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def background(app: FastAPI, settings: Settings, http: httpx.AsyncClient) -> AsyncIterator[None]:
    """Runs the notifier and (when configured) the Telegram bot while the gateway serves."""
    state = app.state
    state.telegram = None
    if settings.telegram_bot_token:
        # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        limits = getattr(state, "limits", None)
        application = build_telegram(
            settings, state.chat, state.sessions, state.knowledge, state.case_client, http=http,
            handoffs=getattr(state, "handoffs", None), limits=limits.telegram if limits else None,
        )
        state.telegram = TelegramFrontEnd(application, settings)
        await state.telegram.start()
    notifier = Notifier(
        state.case_client, state.sessions, settings.notifier_poll_s,
        on_enqueued=state.telegram.wake_delivery if state.telegram else None,
        default_locale=settings.default_locale,
    )
    state.notifier = notifier
    task = asyncio.create_task(notifier.run(), name="notifier")
    recovery = asyncio.create_task(
        turn_journal.recover(state.rasa, state.sessions, settings.rasa_timeout_s), name="turn-recovery"
    )
    sender = telegram_sender(state.telegram.application.bot) if state.telegram else None
    state.warnings = WarningJob(state.case_client, state.sessions, settings, send=sender)
    warnings_task = asyncio.create_task(state.warnings.run(), name="warnings")
    try:
        yield
    finally:
        for job in (task, recovery, warnings_task):
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job
        if state.telegram is not None:
            await state.telegram.stop()
