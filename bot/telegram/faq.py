"""/faq: browse the knowledge base with inline keyboards, categories → questions → answer.

One message is edited in place as the resident moves through the menu (every press is
answered, so the client stops its spinner). The answer itself comes from the assistant, by
sending the entry's payload `/faq_<id>` through the ChatService, so it is exactly the answer
the web chat gives (same region handling, same source line).
"""

from __future__ import annotations

import logging
from typing import List, Optional

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.telegram.context import Context, Services, services
from bot.telegram.render import escape, sender_of, split_text
from bot.telegram.replies import inline_keyboard, send_messages, send_text
from common.i18n import t

logger = logging.getLogger(__name__)
CHANNEL = "telegram"


def categories_keyboard(svc: Services, locale: str) -> InlineKeyboardMarkup:
    rows = [
        [InlineKeyboardButton(t(f"category.{key}", locale), callback_data=f"faq:c:{key}")]
        for key in svc.knowledge.categories()
    ]
    return InlineKeyboardMarkup(rows)


def questions_keyboard(svc: Services, category: str, locale: str) -> Optional[InlineKeyboardMarkup]:
    entries = svc.knowledge.categories().get(category)
    if not entries:
        return None
    rows: List[List[InlineKeyboardButton]] = [
        [InlineKeyboardButton(entry.title.get(locale), callback_data=f"faq:q:{entry.id}")] for entry in entries
    ]
    rows.append([InlineKeyboardButton(t("tg.faq.back", locale), callback_data="faq:home")])
    return InlineKeyboardMarkup(rows)


async def faq(update: Update, context: Context) -> None:
    """Shows the FAQ categories."""
    svc = services(context)
    locale = svc.locale(update)
    await send_text(context.bot, update.effective_chat.id, t("tg.faq.categories", locale),
                    categories_keyboard(svc, locale))


async def _edit(update: Update, text: str, markup: Optional[InlineKeyboardMarkup]) -> None:
    try:
        await update.callback_query.edit_message_text(escape(text), parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():  # a double press changes nothing: fine
            raise


async def faq_button(update: Update, context: Context) -> None:
    """Moves the FAQ menu to the chosen category or question, editing the message in place."""
    query = update.callback_query
    svc = services(context)
    locale = svc.locale(update)
    parts = (query.data or "").split(":", 2)
    await query.answer()
    if parts[1:2] == ["home"]:
        await _edit(update, t("tg.faq.categories", locale), categories_keyboard(svc, locale))
        return
    if parts[1] == "c":
        markup = questions_keyboard(svc, parts[2], locale)
        if markup is None:
            await _edit(update, t("tg.faq.gone", locale), categories_keyboard(svc, locale))
            return
        category = t(f"category.{parts[2]}", locale)
        await _edit(update, t("tg.faq.questions", locale, category=category), markup)
        return
    entry = next((e for e in svc.knowledge.entries if e.id == parts[2]), None)
    if entry is None:
        await _edit(update, t("tg.faq.gone", locale), categories_keyboard(svc, locale))
        return
    chat_id = update.effective_chat.id
    turn = await svc.chat.handle(sender_of(chat_id), f"/{entry.intent}", CHANNEL, locale)
    logger.info("telegram faq chat=%s entry=%s", chat_id, entry.id)
    first, rest = (turn.messages[0], turn.messages[1:]) if turn.messages else ({"text": "", "buttons": []}, [])
    back = [[InlineKeyboardButton(t("tg.faq.back", locale), callback_data=f"faq:c:{entry.category}")]]
    chunks = split_text(first.get("text") or t("tg.faq.gone", locale))
    # The answer replaces the menu; what does not fit in one message follows as new ones.
    head_markup = inline_keyboard(first.get("buttons") or [], svc, back) if len(chunks) == 1 else None
    await _edit(update, chunks[0], head_markup)
    if len(chunks) > 1:
        tail = {"text": "\n".join(chunks[1:]), "buttons": first.get("buttons") or []}
        rest = [tail, *rest]
    if rest:
        await send_messages(context.bot, chat_id, rest, turn.locale, svc)
