"""Per-chat rate limit of the Telegram bot: a chat that floods the bot is told 请稍后再试 once,
and its further updates are dropped until its bucket refills (`RATE_SENDER_PER_MIN`, the same
budget as a web conversation). Runs as a handler group of its own, after the duplicate guard.

In a group (the staff group) each member has a budget of their own: a shared one would let
a busy shift (ten staff answering twenty residents) exhaust it, and then drop everyone's
replies and claims. A refused button press is still answered (the notice the first time,
an empty answer after), so the client stops its spinner instead of waiting for Telegram to
time out.

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
    key = bucket_key(update)
    if not await buckets.take(key):
        warned.discard(key)
        return
    query = update.callback_query
    if key not in warned:
        warned.add(key)
        logger.info("telegram %s over its rate limit", key)
        text = t("input.rate_limited", svc.locale(update))
        if query is not None:
            await query.answer(text)
        else:
            await send_text(context.bot, chat.id, text)
    elif query is not None:
        await query.answer()
    raise ApplicationHandlerStop


def bucket_key(update: Update) -> str:
    """A private chat's id; in a group, the chat's and the member's (one budget per member)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is not None and chat.type != "private" and user is not None:
        return f"{chat.id}:{user.id}"
    return str(chat.id if chat is not None else "-")
