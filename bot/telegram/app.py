"""Builds the Telegram bot: every handler wired in one place, so the whole flow reads here.

`build_telegram(...)` returns a python-telegram-bot `Application` pointed at
`TELEGRAM_BASE_URL` (Telegram, a self-hosted Bot API server, or the test emulator), with the
rate limiter on (flood waits are retried, not dropped), per-chat ordering, duplicate updates
dropped, and the handlers below. `TelegramFrontEnd` runs it inside the gateway: long polling
by default, or a webhook at `POST /telegram/webhook` when `TELEGRAM_WEBHOOK_URL` is set, plus
the worker that delivers queued status updates.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Optional

import httpx
from sqlalchemy.orm import sessionmaker
from telegram import BotCommand, Update
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.casework import telegram as casework_telegram
from bot.chat import ChatService
from bot.handoff.service import HandoffService
from bot.rate_limit import Buckets
from bot.telegram import conversation, faq, lang, start
from bot.telegram.context import SERVICES_KEY, Context, Services, services
from bot.telegram.delivery import DeliveryWorker
from bot.telegram.limits import BUCKETS_KEY, throttle
from bot.telegram.processor import PerChatUpdateProcessor, chat_key, drop_duplicate, recorder
from bot.telegram.replies import send_text
from bot.telegram.staff_group import StaffGroup
from bot.telegram.staff_handlers import STAFF_GROUP_KEY, add_staff_handlers, start_staff_group
from common.case_client import CaseClient
from common.i18n import t
from common.scripts import EN, ZH_HANS
from common.settings import Settings, SettingsError
from knowledge.service import KnowledgeBase

logger = logging.getLogger(__name__)

COMMANDS = ("start", "faq", "apply", "status", "human", "cancel", "lang", "help")
# Flood waits (429 retry_after) are waited out and retried this many times before a send fails.
RATE_LIMIT_RETRIES = 5
MAX_CONCURRENT_UPDATES = 64
START_RETRY_MAX_S = 60.0
POLL_TIMEOUT_S = 10  # long-polling wait of getUpdates
MEDIA = (
    filters.Sticker.ALL | filters.PHOTO | filters.VOICE | filters.AUDIO | filters.Document.ALL | filters.VIDEO
    | filters.VIDEO_NOTE | filters.ANIMATION | filters.LOCATION | filters.VENUE | filters.POLL | filters.Dice.ALL
)


def file_url(base_url: str) -> str:
    """The file endpoint beside a Bot API base URL (`…/bot` → `…/file/bot`)."""
    return base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else base_url


async def error(update: object, context: Context) -> None:
    """Logs a handler's failure (type and chat only) and tells the resident to try again."""
    chat_id = chat_key(update)
    logger.error("telegram handler failed for chat=%s: %s", chat_id, type(context.error).__name__,
                 exc_info=context.error)
    # The apology is for residents (private chats), not for the staff group.
    if chat_id is not None and isinstance(update, Update) and update.effective_chat.type == "private":
        try:
            await send_text(context.bot, chat_id, t("tg.error", services(context).locale(update)))
        except TelegramError:
            pass


def build_telegram(
    settings: Settings,
    chat_service: ChatService,
    sessions: sessionmaker,
    knowledge: KnowledgeBase,
    case_client: CaseClient,
    *,
    http: Optional[httpx.AsyncClient] = None,
    handoffs: Optional[HandoffService] = None,
    limits: Optional[Buckets] = None,
) -> Application:
    """The bot's Application with all its handlers; not started. With `handoffs` and
    `TELEGRAM_STAFF_CHAT_ID`, the staff group's topics follow the hand-offs (staff_group.py);
    `limits` are the per-chat buckets (the gateway's `ChatLimits.telegram`; else in memory)."""
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token)
        .base_url(settings.telegram_base_url)
        .base_file_url(file_url(settings.telegram_base_url))
        .rate_limiter(AIORateLimiter(max_retries=RATE_LIMIT_RETRIES))
        .concurrent_updates(PerChatUpdateProcessor(MAX_CONCURRENT_UPDATES))
        .job_queue(None)  # scheduling is done with asyncio (see bot/notifier.py)
    )
    # No PTB Updater: webhook updates arrive at POST /telegram/webhook, and polling is done by
    # TelegramFrontEnd._poll, which confirms updates only after handling them.
    builder = builder.updater(None)
    application = builder.build()
    application.update_processor.on_handled = recorder(sessions)  # type: ignore[attr-defined]
    application.bot_data[SERVICES_KEY] = Services(
        settings=settings, chat=chat_service, sessions=sessions, knowledge=knowledge, cases=case_client,
        http=http or httpx.AsyncClient(),
    )
    if limits is not None:
        application.bot_data[BUCKETS_KEY] = limits

    private = filters.ChatType.PRIVATE
    application.add_handler(TypeHandler(Update, drop_duplicate), group=-2)
    application.add_handler(TypeHandler(Update, throttle), group=-1)
    if handoffs is not None and settings.telegram_staff_chat_id:
        staff = StaffGroup(application.bot, handoffs, sessions, settings.telegram_staff_chat_id,
                           settings.default_locale)
        add_staff_handlers(application, staff)
        handoffs.add_listener(staff)
    application.add_handler(CommandHandler("start", start.start, filters=private))
    application.add_handler(CommandHandler("faq", faq.faq, filters=private))
    application.add_handler(CommandHandler(list(conversation.PAYLOADS), conversation.shortcut, filters=private))
    application.add_handler(CommandHandler("lang", lang.lang, filters=private))
    application.add_handler(CommandHandler("help", conversation.help_command, filters=private))
    application.add_handler(CallbackQueryHandler(faq.faq_button, pattern=r"^faq:"))
    application.add_handler(CallbackQueryHandler(lang.lang_button, pattern=r"^lang:"))
    application.add_handler(CallbackQueryHandler(conversation.button, pattern=r"^[pt]:"))
    application.add_handler(CallbackQueryHandler(casework_telegram.ack_button, pattern=r"^warn:ack:"))
    application.add_handler(MessageHandler(private & filters.CONTACT, conversation.contact))
    application.add_handler(MessageHandler(private & filters.COMMAND, conversation.unknown_command))
    application.add_handler(MessageHandler(private & filters.TEXT, conversation.text_message))
    application.add_handler(MessageHandler(private & MEDIA, conversation.unsupported))
    application.add_error_handler(error)
    return application


def bot_commands(locale: str) -> list[BotCommand]:
    return [BotCommand(name, t(f"tg.cmd.{name}", locale)) for name in COMMANDS]


async def register_commands(application: Application) -> None:
    """setMyCommands for Chinese (also the default) and English clients."""
    bot = application.bot
    await bot.set_my_commands(bot_commands(ZH_HANS))
    await bot.set_my_commands(bot_commands(ZH_HANS), language_code="zh")
    await bot.set_my_commands(bot_commands(EN), language_code="en")


class TelegramFrontEnd:
    """Starts and stops the bot inside the gateway's lifespan; Telegram being unreachable at
    start-up delays the bot (retried with back-off) but never the gateway."""

    def __init__(self, application: Application, settings: Settings):
        self.application = application
        self.settings = settings
        self.webhook_mode = bool(settings.telegram_webhook_url)
        if self.webhook_mode and not settings.telegram_webhook_secret:
            # Without it anyone who finds the URL can post updates as any Telegram user.
            raise SettingsError("TELEGRAM_WEBHOOK_SECRET must be set when TELEGRAM_WEBHOOK_URL is (webhook mode)")
        self.delivery = DeliveryWorker(application.bot, application.bot_data[SERVICES_KEY],
                                       poll_s=max(0.2, settings.notifier_poll_s))
        self._task: Optional[asyncio.Task] = None
        self._delivery_task: Optional[asyncio.Task] = None
        self.polling = False  # the first getUpdates answered (tests wait for it)

    def wake_delivery(self) -> None:
        self.delivery.wake()

    async def start(self) -> None:
        """Starts the bot in the background."""
        self._task = asyncio.create_task(self._start_when_reachable(), name="telegram-start")

    async def _start_when_reachable(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.application.initialize()
                break
            except TelegramError as exc:
                logger.warning("Telegram not reachable (%s); retrying in %.0fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(START_RETRY_MAX_S, delay * 2)
        await self.application.start()
        try:
            await register_commands(self.application)
        except TelegramError as exc:
            logger.warning("setMyCommands failed: %s", type(exc).__name__)
        staff = self.application.bot_data.get(STAFF_GROUP_KEY)
        if staff is not None:
            await start_staff_group(staff, staff.handoffs)
        if self.webhook_mode:
            await self.application.bot.set_webhook(
                self.settings.telegram_webhook_url,
                secret_token=self.settings.telegram_webhook_secret or None,
                allowed_updates=Update.ALL_TYPES,
            )
            logger.info("telegram bot started (webhook)")
        else:
            await self.application.bot.delete_webhook()
            logger.info("telegram bot started (long polling)")
            self._delivery_task = asyncio.create_task(self.delivery.run(), name="telegram-delivery")
            await self._poll()
            return
        self._delivery_task = asyncio.create_task(self.delivery.run(), name="telegram-delivery")

    async def _poll(self) -> None:
        """Long polling that acknowledges updates only once they are handled.

        PTB's Updater confirms a batch (the next getUpdates' offset) as soon as it is queued, so
        updates fetched but not yet handled when the gateway stops are lost. Here a batch is
        handled first (chats concurrently, each chat in order, through the update processor)
        and only then confirmed: a stop mid-batch gets it again on restart (at-least-once),
        and the duplicate guard drops what had already been handled.
        """
        app, offset, delay = self.application, None, 1.0
        while True:
            try:
                # The first call answers at once (what is waiting, or nothing): the bot is
                # polling from then on; later calls wait for updates as long polling does.
                updates = await app.bot.get_updates(offset=offset, timeout=POLL_TIMEOUT_S if self.polling else 0,
                                                    allowed_updates=Update.ALL_TYPES)
            except TelegramError as exc:
                logger.warning("getUpdates failed (%s); retrying in %.0fs", type(exc).__name__, delay)
                await asyncio.sleep(delay)
                delay = min(START_RETRY_MAX_S, delay * 2)
                continue
            self.polling, delay = True, 1.0
            if updates:
                await asyncio.gather(*(app.update_processor.process_update(u, app.process_update(u)) for u in updates))
                offset = updates[-1].update_id + 1

    async def stop(self) -> None:
        staff = self.application.bot_data.get(STAFF_GROUP_KEY)
        if staff is not None:
            await staff.stop()
        for task in (self._delivery_task, self._task):
            if task is not None and not task.done():
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        app = self.application
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        except Exception as exc:  # shutting down: report, do not raise
            logger.warning("telegram shutdown: %s", type(exc).__name__)
