"""Per-chat rate limit of the Telegram bot: a chat that floods the bot is told 请稍后再试 once,
and its further updates are dropped until its bucket refills (`RATE_SENDER_PER_MIN`, the same
budget as a web conversation). Runs as a handler group of its own, after the duplicate guard.
The buckets are the gateway's (`ChatLimits.telegram`, in Redis when several gateways share
one bot token's chats), put in `bot_data` by `build_telegram`; in memory when none were given.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.rate_limit import Buckets, KeyedBuckets
from bot.telegram.context import Context, services
from bot.telegram.replies import send_text
from common.i18n import t

logger = logging.getLogger(__name__)
BUCKETS_KEY = "chat_rate_limit"
WARNED_KEY = "chat_rate_limit_warned"


async def throttle(update: Update, context: Context) -> None:
    """Stops an update of a chat over its budget; the first one of a flood gets a polite reply."""
    chat = update.effective_chat
    if chat is None:
        return
    svc = services(context)
    buckets: Buckets = context.bot_data.get(BUCKETS_KEY) or context.bot_data.setdefault(
        BUCKETS_KEY, KeyedBuckets(svc.settings.rate_sender_per_min))
    warned: set = context.bot_data.setdefault(WARNED_KEY, set())
    if not await buckets.take(str(chat.id)):
        warned.discard(chat.id)
        return
    if chat.id not in warned:
        warned.add(chat.id)
        logger.info("telegram chat=%s over its rate limit", chat.id)
        text = t("input.rate_limited", svc.locale(update))
        if update.callback_query is not None:
            await update.callback_query.answer(text)
        else:
            await send_text(context.bot, chat.id, text)
    raise ApplicationHandlerStop
