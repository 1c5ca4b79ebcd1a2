"""What the Telegram handlers share: the gateway's services, kept in `bot_data`.

python-telegram-bot passes every handler an `update` and a `context`; the chat service,
database sessions, knowledge base and case client are put in `context.bot_data` once, by
`build_telegram`, and read back with `services(context)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Set

import httpx
from sqlalchemy.orm import sessionmaker
from telegram import Update
from telegram.ext import CallbackContext, ContextTypes

from bot.chat import ChatService
from bot.telegram.render import locale_of_language_code, sender_of
from common.case_client import CaseClient
from common.settings import Settings
from knowledge.service import KnowledgeBase

SERVICES_KEY = "services"


@dataclass
class Services:
    settings: Settings
    chat: ChatService
    sessions: sessionmaker
    knowledge: KnowledgeBase
    cases: CaseClient
    http: httpx.AsyncClient
    # Chats currently showing the "share my contact" reply keyboard (removed on the next reply).
    contact_keyboard: Set[int] = field(default_factory=set)

    def locale(self, update: Update) -> str:
        """The locale to speak to this chat in: its stored choice, its app's language, the default."""
        chat = update.effective_chat
        stored = self.chat.stored_locale(sender_of(chat.id)) if chat else None
        if stored:
            return stored
        user = update.effective_user
        return locale_of_language_code(user.language_code if user else None) or self.settings.default_locale


def services(context: CallbackContext) -> Services:
    return context.bot_data[SERVICES_KEY]


Context = ContextTypes.DEFAULT_TYPE
