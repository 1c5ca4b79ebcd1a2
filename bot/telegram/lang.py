"""/lang: the resident picks 简体, 繁體 or English.

The choice is stored as the sender's locale (table `chat_senders`) and passed as the
requested locale on later turns, so the bot's own phrases and the assistant's answers follow it.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode

from bot.telegram.context import Context, services
from bot.telegram.render import escape, sender_of
from bot.telegram.replies import send_text
from common.i18n import t
from common.scripts import LOCALES, normalize_locale

logger = logging.getLogger(__name__)
CHANNEL = "telegram"
LANGUAGE_NAMES = {"zh_Hans": "简体中文", "zh_Hant": "繁體中文", "en": "English"}


def languages_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(LANGUAGE_NAMES[loc], callback_data=f"lang:{loc}") for loc in LOCALES]]
    )


async def lang(update: Update, context: Context) -> None:
    """Offers the three languages."""
    locale = services(context).locale(update)
    await send_text(context.bot, update.effective_chat.id, t("tg.lang.choose", locale), languages_keyboard())


async def lang_button(update: Update, context: Context) -> None:
    """Stores the chosen language and confirms it in that language."""
    query = update.callback_query
    svc = services(context)
    choice = (query.data or "").split(":", 1)[1]
    await query.answer()
    if choice == "menu":
        await send_text(context.bot, update.effective_chat.id, t("tg.lang.choose", svc.locale(update)),
                        languages_keyboard())
        return
    locale = normalize_locale(choice)
    if locale is None:
        return
    chat_id = update.effective_chat.id
    svc.chat.remember(sender_of(chat_id), CHANNEL, locale)
    logger.info("telegram chat=%s language=%s", chat_id, locale)
    await query.edit_message_text(escape(t("tg.lang.set", locale)), parse_mode=ParseMode.HTML)
