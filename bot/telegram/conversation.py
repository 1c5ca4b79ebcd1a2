"""The conversation itself: free text, button presses, shared contacts and command shortcuts.

Everything the resident says goes to the assistant through the same `ChatService` as the
web chat (`sender_id` `tg:<chat id>`, channel `telegram`), so answers, forms and hand-off
behave the same on both channels; this module only translates between Telegram and the
web chat contract. Logs carry chat ids, never texts or names.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest

from bot.telegram import store
from bot.telegram.context import Context, services
from bot.telegram.render import sender_of
from bot.telegram.replies import send_messages, send_text
from bot.telegram.start import check_link
from common.chat_contract import TELEGRAM_COMMAND_PAYLOADS
from common.db import session_scope
from common.i18n import t

logger = logging.getLogger(__name__)
CHANNEL = "telegram"

# Commands that are shortcuts for an assistant payload, as on the web page's buttons.
PAYLOADS = TELEGRAM_COMMAND_PAYLOADS


async def converse(update: Update, context: Context, text: str) -> None:
    """Runs one assistant turn for this chat with `text` and sends the replies."""
    svc = services(context)
    chat_id = update.effective_chat.id
    sender = sender_of(chat_id)
    turn = await svc.chat.handle(sender, text, CHANNEL, svc.chat.stored_locale(sender))
    logger.info("telegram turn chat=%s intent=%s slot=%s", chat_id, turn.meta.intent, turn.meta.requested_slot)
    await send_messages(
        context.bot, chat_id, turn.messages, turn.locale, svc, ask_contact=turn.meta.requested_slot == "phone"
    )


async def text_message(update: Update, context: Context) -> None:
    """Sends what the resident typed to the assistant (or to a pending case link's ID check)."""
    if await check_link(update, context):
        return
    await converse(update, context, update.effective_message.text or "")


async def shortcut(update: Update, context: Context) -> None:
    """Sends the assistant the payload a command stands for (/apply, /status, /human, /cancel)."""
    command = (update.effective_message.text or "").split()[0].lstrip("/").split("@")[0].lower()
    if command == "cancel":
        with session_scope(services(context).sessions) as session:
            store.end_link(update.effective_chat.id, session=session)
    await converse(update, context, PAYLOADS[command])


async def button(update: Update, context: Context) -> None:
    """Answers a press on an assistant button and posts its payload back as the resident's choice."""
    query = update.callback_query
    svc = services(context)
    with session_scope(svc.sessions) as session:
        payload = store.payload_of(query.data or "", session=session)
    if payload is None:
        await query.answer(t("tg.button.expired", svc.locale(update)), show_alert=False)
        return
    await query.answer()
    try:  # the choice is made: take the keyboard away so it cannot be pressed twice
        await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest:
        pass  # already removed (a double press) or too old to edit
    await converse(update, context, payload)


async def contact(update: Update, context: Context) -> None:
    """Takes a shared contact as the phone answer, if it is the sender's own."""
    shared = update.effective_message.contact
    user = update.effective_user
    if shared is None or user is None or shared.user_id != user.id:
        logger.info("telegram chat=%s shared someone else's contact: refused", update.effective_chat.id)
        locale = services(context).locale(update)
        await send_text(context.bot, update.effective_chat.id, t("tg.contact.not_yours", locale))
        return
    await converse(update, context, shared.phone_number)


async def unsupported(update: Update, context: Context) -> None:
    """Explains politely which kinds of message the bot can read."""
    await send_text(context.bot, update.effective_chat.id, t("tg.media.unsupported", services(context).locale(update)))


async def help_command(update: Update, context: Context) -> None:
    """Lists the commands."""
    await send_text(context.bot, update.effective_chat.id, t("tg.help", services(context).locale(update)))


async def unknown_command(update: Update, context: Context) -> None:
    """Says the command is unknown and lists the ones there are."""
    locale = services(context).locale(update)
    await send_text(context.bot, update.effective_chat.id, f"{t('tg.unknown_command', locale)}\n{t('tg.help', locale)}")
