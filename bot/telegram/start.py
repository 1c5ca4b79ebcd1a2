"""/start: the welcome with the main menu, and deep links that follow a case from this chat.

`/start case_<number>` (the link a receipt or status page offers) asks for the last four
characters of the applicant's ID number and checks them with the case API before this chat
is subscribed to the case's updates. A wrong answer, or a case that does not exist, gets the
same reply, so a guessed case number reveals nothing.
"""

from __future__ import annotations

import logging
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import subscriptions
from bot.notifier import follow_case
from bot.telegram import store
from bot.telegram.context import Context, services
from bot.telegram.render import sender_of
from bot.telegram.replies import send_text
from common.case_client import CaseApiRejected, CaseApiUnavailable
from common.chat_contract import HUMAN_PAYLOAD
from common.db import session_scope
from common.i18n import t

logger = logging.getLogger(__name__)
DEEP_LINK_RE = re.compile(r"case_([A-Za-z0-9-]{1,60})")
LAST4_RE = re.compile(r"[0-9Xx]{4}")


def main_menu(locale: str) -> InlineKeyboardMarkup:
    """FAQ, apply, status, a person, language: the bot's front door."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t("tg.menu.faq", locale), callback_data="faq:home")],
            [InlineKeyboardButton(t("tg.menu.apply", locale), callback_data="p:/apply_connection")],
            [InlineKeyboardButton(t("tg.menu.status", locale), callback_data="p:/ask_status")],
            [InlineKeyboardButton(t("tg.menu.human", locale), callback_data=f"p:{HUMAN_PAYLOAD}")],
            [InlineKeyboardButton(t("tg.menu.lang", locale), callback_data="lang:menu")],
        ]
    )


async def start(update: Update, context: Context) -> None:
    """Greets the resident with the main menu, or asks for the ID check of a deep-linked case."""
    svc = services(context)
    chat_id = update.effective_chat.id
    locale = svc.locale(update)
    match = DEEP_LINK_RE.fullmatch(context.args[0]) if context.args else None
    if match:
        case_id = match.group(1)
        with session_scope(svc.sessions) as session:
            store.start_link(chat_id, case_id, session=session)
        logger.info("telegram chat=%s asked to follow case=%s", chat_id, case_id)
        await send_text(context.bot, chat_id, t("tg.link.ask_last4", locale, case_id=case_id))
        return
    await send_text(context.bot, chat_id, t("tg.welcome", locale), main_menu(locale))


async def check_link(update: Update, context: Context) -> bool:
    """Checks the last four ID characters of a pending deep link; False when none is pending."""
    svc = services(context)
    chat_id = update.effective_chat.id
    with session_scope(svc.sessions) as session:
        pending = store.pending_link(chat_id, session=session)
        case_id = pending.case_id if pending else None
    if case_id is None:
        return False
    answer = (update.effective_message.text or "").strip()
    if not LAST4_RE.fullmatch(answer):  # not an answer: the resident moved on
        with session_scope(svc.sessions) as session:
            store.end_link(chat_id, session=session)
        return False
    locale = svc.locale(update)
    try:
        verified = await svc.cases.verify(case_id, answer.upper())
    except CaseApiUnavailable:
        await send_text(context.bot, chat_id, t("tg.link.unavailable", locale))
        return True
    except CaseApiRejected as exc:
        verified = False
        if exc.status == 429:
            with session_scope(svc.sessions) as session:
                store.end_link(chat_id, session=session)
            await send_text(context.bot, chat_id, t("tg.link.too_many", locale))
            return True
    case = None
    if verified:
        try:
            case = await svc.cases.get_case(case_id)
        except CaseApiUnavailable:
            case = None
    with session_scope(svc.sessions) as session:
        store.end_link(chat_id, session=session)
        if verified:
            subscriptions.subscribe(case_id, sender_of(chat_id), "telegram", session=session)
            if case is not None:
                follow_case(case, session=session)
    logger.info("telegram chat=%s link to case=%s %s", chat_id, case_id, "verified" if verified else "refused")
    key = "tg.link.done" if verified else "tg.link.failed"
    await send_text(context.bot, chat_id, t(key, locale, case_id=case_id))
    return True
