"""The acknowledge button (`warn:ack:<id>`) of warning digests in the Telegram staff group.

Only a press inside the staff (or supervisor) chat counts; the staff member is recorded as
`tg:<user id>` until staff accounts link Telegram users to console logins.
"""

from __future__ import annotations

import html

from telegram import Update

from bot.casework.models import utcnow
from bot.casework.warnings import ACK_PREFIX, acknowledge, chat_id
from bot.telegram.context import Context, services
from common.db import session_scope
from common.i18n import t


async def ack_button(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None or query.data is None:
        return
    svc = services(context)
    settings, locale = svc.settings, svc.settings.default_locale
    chat = update.effective_chat
    allowed = {chat_id(settings.telegram_staff_chat_id), chat_id(settings.telegram_supervisor_chat_id)} - {""}
    if chat is None or str(chat.id) not in allowed:
        await query.answer(t("casework.ack.not_here", locale), show_alert=True)
        return
    raw = query.data.removeprefix(ACK_PREFIX)
    if not raw.isdigit():
        await query.answer(t("casework.ack.unknown", locale))
        return
    by = f"tg:{query.from_user.id}" if query.from_user else "tg:unknown"
    with session_scope(svc.sessions) as session:
        warning = acknowledge(int(raw), by, utcnow(), session=session)
        answer = (
            t("casework.ack.unknown", locale) if warning is None
            else t("casework.ack.done", locale, case=warning.case_id) if warning.acked_by == by
            else t("casework.ack.already", locale, case=warning.case_id, by=html.escape(warning.acked_by or ""))
        )
    await query.answer(answer)
