"""The Telegram staff group: one forum topic per hand-off, kept in step with the hand-off service.

A listener of `HandoffService` (`on_opened`, `on_resident_message`, `on_staff_message`,
`on_claimed`, `on_closed`). Each hand-off opens a topic named with its ticket and reason,
starting with a card (transcript, the resident's cases) and a claim button; what the resident
writes is mirrored into the topic; replies from the web console are mirrored too; a closed
hand-off closes its topic. The staff side (messages, commands, presses, topic service
messages) is in `staff_handlers.py`.

Telegram's pitfalls, handled here:
- `message_thread_id` goes on every post into a topic (the bot never sends to a resident here:
  staff replies reach residents through the outbox and the delivery worker, without it);
- a topic deleted by hand sends no update: the next post fails with "message thread not found",
  the map entry is dropped, the topic recreated (card again) and the post retried;
- a closed topic answers `TOPIC_CLOSED`: reopened while its hand-off is open, else left alone;
- about 20 messages a minute per group: `GroupPacer` keeps under it, and the resident's
  messages that pile up meanwhile go out as one post;
- the bot needs to be an administrator with `can_manage_topics`: `check()` at start-up says
  clearly (log, and a message in the group when it can post) when it is not;
- a group upgraded to a supergroup changes id (`ChatMigrated`): the new id is used and logged.

Work for Telegram runs in background tasks (in order per hand-off), so a resident's turn or a
staff member's press never waits on Telegram's limits.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import inspect
import logging
from typing import Any, Awaitable, Dict, List, Optional, Set

from sqlalchemy import update
from sqlalchemy.orm import sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, ChatMigrated, RetryAfter, TelegramError

from bot.handoff.models import STATE_ACTIVE, STATE_CLOSED, STATE_WAITING, Handoff, HandoffMessage
from bot.handoff.service import HandoffService
from bot.telegram import staff_store as store
from bot.telegram.group_pacer import GroupPacer
from bot.telegram.render import escape, split_text
from bot.telegram.staff_render import card_text, icon_color, queue_text, topic_name
from common.db import session_scope
from common.i18n import t

logger = logging.getLogger(__name__)

CLAIM_PREFIX = "ho:claim:"
# Set while a staff member's topic message is handed to the service, so the service's
# on_staff_message does not echo it back into the topic it came from.
from_topic: contextvars.ContextVar[bool] = contextvars.ContextVar("staff_from_topic", default=False)
TOPIC_GONE_MARKERS = ("message thread not found", "topic_id_invalid", "topic_deleted")
TOPIC_CLOSED_MARKER = "topic_closed"
MAX_RECREATIONS = 2


def topic_gone(error: TelegramError) -> bool:
    text = str(error.message).lower()
    return any(marker in text for marker in TOPIC_GONE_MARKERS)


def topic_closed(error: TelegramError) -> bool:
    return TOPIC_CLOSED_MARKER in str(error.message).lower()


def claim_keyboard(handoff_id: int, locale: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t("tg.staff.claim_button", locale),
                                                       callback_data=f"{CLAIM_PREFIX}{handoff_id}")]])


class StaffGroup:
    """The staff supergroup `chat_id`; build once per bot, register with `handoffs.add_listener`."""

    def __init__(
        self, bot: Bot, handoffs: HandoffService, sessions: sessionmaker, chat_id: int, locale: str,
        pacer: Optional[GroupPacer] = None,
    ):
        self.bot = bot
        self.handoffs = handoffs
        self.sessions = sessions
        self.chat_id = chat_id
        self.locale = locale
        self.pacer = pacer or GroupPacer()
        self.ready: Optional[bool] = None  # None until check() ran
        self.chat_ids: Set[int] = {chat_id}  # the current id and any it migrated from
        self.chat_filter: Optional[Any] = None  # the handlers' filters.Chat (ids added on migration)
        self._locks: Dict[int, asyncio.Lock] = {}
        self._tasks: Set[asyncio.Task] = set()
        self._works: Dict[asyncio.Task, Awaitable[Any]] = {}
        self._pending: Dict[int, List[str]] = {}

    # ---- start-up ---------------------------------------------------------------------------

    async def check(self) -> bool:
        """Whether the group is a forum and the bot an administrator with `can_manage_topics`;
        says clearly what is missing otherwise (hand-offs still wait in the queue and console)."""
        try:
            chat = await self.bot.get_chat(self.chat_id)
            member = await self.bot.get_chat_member(self.chat_id, self.bot.id)
        except ChatMigrated as exc:
            self._migrated(exc)
            return await self.check()
        except TelegramError as exc:
            logger.error("TELEGRAM_STAFF_CHAT_ID=%s: the bot cannot read this chat (%s: %s); add the bot to the "
                         "staff supergroup as an administrator with the right to manage topics",
                         self.chat_id, type(exc).__name__, exc.message)
            self.ready = False
            return False
        problems = []
        if chat.type != ChatType.SUPERGROUP or not chat.is_forum:
            problems.append("topics are off (turn on Topics in the group's settings; a supergroup is needed)")
        if member.status != ChatMemberStatus.ADMINISTRATOR or not getattr(member, "can_manage_topics", False):
            problems.append("the bot is not an administrator with the right to manage topics (can_manage_topics)")
        self.ready = not problems
        if problems:
            logger.error("Telegram staff group %s cannot take hand-offs: %s. Hand-offs wait in the queue and the web "
                         "console until this is fixed.", self.chat_id, "; ".join(problems))
            if member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER):
                try:
                    await self._send(None, t("tg.staff.needs_rights", self.locale))
                except TelegramError:
                    pass
        else:
            logger.info("Telegram staff group %s ready (forum, bot may manage topics)", self.chat_id)
        return bool(self.ready)

    async def sync(self) -> None:
        """Opens topics for hand-offs that were opened while the bot was not running."""
        for state in (STATE_WAITING, STATE_ACTIVE):
            for handoff in await self.handoffs.list(state):
                with session_scope(self.sessions) as session:
                    known = store.topic_of(handoff.id, session=session) is not None
                if not known:
                    self._spawn(handoff.id, self._open(handoff.id))

    # ---- listener hooks (return at once; Telegram work runs in the background) ----------------

    async def on_opened(self, handoff: Handoff) -> None:
        self._spawn(handoff.id, self._open(handoff.id))

    async def on_resident_message(self, handoff: Handoff, text: str) -> None:
        self._pending.setdefault(handoff.id, []).append(text)
        self._spawn(handoff.id, self._flush(handoff.id))

    async def on_staff_message(self, handoff: Handoff, message: HandoffMessage) -> None:
        if from_topic.get():
            return  # written in the topic itself
        key = "tg.staff.web_note" if message.role == "note" else "tg.staff.web_staff"
        text = t(key, self.locale, staff=message.author or "-", text=message.text)
        if message.photo_url:
            text += "\n" + t("tg.staff.photo_sent", self.locale)
        self._spawn(handoff.id, self.post(handoff.id, text))

    async def on_claimed(self, handoff: Handoff) -> None:
        self._spawn(handoff.id, self._claimed(handoff.id))

    async def on_closed(self, handoff: Handoff) -> None:
        self._spawn(handoff.id, self._closed(handoff.id))

    # ---- background work ----------------------------------------------------------------------

    def _spawn(self, key: int, work: Awaitable[Any]) -> None:
        """Runs `work` in the background, after earlier work of the same hand-off (`key`)."""
        lock = self._locks.setdefault(key, asyncio.Lock())

        async def run() -> None:
            async with lock:
                try:
                    await work
                except Exception:  # Telegram down, rights missing: logged, the hand-off goes on
                    logger.exception("staff group: work for hand-off %s failed", key)

        task = asyncio.create_task(run(), name=f"staff-group-{key}")
        self._tasks.add(task)
        self._works[task] = work
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        work = self._works.pop(task, None)
        if inspect.iscoroutine(work) and inspect.getcoroutinestate(work) == inspect.CORO_CREATED:
            work.close()  # cancelled before it started (shutdown)

    def spawn(self, key: int, work: Awaitable[Any]) -> None:
        """For the handlers: replies in the group go through the same ordered background work."""
        self._spawn(key, work)

    async def drain(self, timeout: float = 30.0) -> None:
        """Waits until the background work is done (tests, shutdown)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._tasks and asyncio.get_running_loop().time() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - asyncio.get_running_loop().time()))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _open(self, handoff_id: int) -> None:
        handoff = await self.handoffs.get(handoff_id)
        if handoff is None or handoff.state == STATE_CLOSED:
            return
        with session_scope(self.sessions) as session:
            if store.topic_of(handoff_id, session=session) is not None:
                return
        await self._create_topic(handoff)
        if handoff.emergency:
            await self._send(None, t("tg.staff.emergency_alert", self.locale, ticket=handoff.ticket))

    async def _create_topic(self, handoff: Handoff, recreated: bool = False) -> int:
        """Creates the hand-off's topic with its card; returns the topic's thread id."""
        await self.pacer.acquire()  # the "topic created" service message is a post too
        try:
            topic = await self.bot.create_forum_topic(self.chat_id, topic_name(handoff, self.locale),
                                                      icon_color=icon_color(handoff))
        except ChatMigrated as exc:
            self._migrated(exc)
            topic = await self.bot.create_forum_topic(self.chat_id, topic_name(handoff, self.locale),
                                                      icon_color=icon_color(handoff))
        except BadRequest as exc:
            if "not enough rights" in str(exc.message).lower() or "not a forum" in str(exc.message).lower():
                logger.error("staff group %s: cannot open a topic for %s (%s): the bot must be an administrator "
                             "with can_manage_topics in a supergroup with topics on", self.chat_id, handoff.ticket,
                             exc.message)
            raise
        thread = topic.message_thread_id
        with session_scope(self.sessions) as session:
            store.set_topic(handoff.id, self.chat_id, thread, session=session)
            session.execute(update(Handoff).where(Handoff.id == handoff.id).values(staff_thread_id=thread))
        logger.info("staff group: topic %s for hand-off %s%s", thread, handoff.ticket,
                    " (recreated)" if recreated else "")
        card = await self._card(handoff, recreated=recreated)
        markup = claim_keyboard(handoff.id, self.locale) if handoff.state == STATE_WAITING else None
        sent = await self._send(thread, card, markup)
        with session_scope(self.sessions) as session:
            for message in sent:
                store.remember_message(self.chat_id, message.message_id, handoff.id, session=session)
            store.set_card(handoff.id, sent[-1].message_id, session=session)
        return thread

    async def _card(self, handoff: Handoff, recreated: bool = False) -> str:
        messages = await self.handoffs.transcript(handoff.id)
        cases = await self.handoffs.cases_of(handoff)
        claimed_by = handoff.assignee if handoff.state == STATE_ACTIVE else None
        return card_text(handoff, messages, cases, self.locale, claimed_by=claimed_by, recreated=recreated)

    async def _flush(self, handoff_id: int) -> None:
        """Mirrors the resident's waiting messages into the topic, as one post."""
        await self.pacer.wait_free()
        texts = self._pending.pop(handoff_id, [])
        if texts:
            await self.post(handoff_id, "\n".join(t("tg.staff.resident_says", self.locale, text=x) for x in texts))

    async def _claimed(self, handoff_id: int) -> None:
        """Takes the claim button off the card and says who has the hand-off (an edit: no post)."""
        handoff = await self.handoffs.get(handoff_id)
        with session_scope(self.sessions) as session:
            topic = store.topic_of(handoff_id, session=session)
            card = topic.card_message_id if topic else None
        if handoff is None or card is None:
            return
        text = await self._card(handoff)
        try:
            await self.bot.edit_message_text(escape(split_text(text)[0]), chat_id=self.chat_id, message_id=card,
                                             parse_mode=ParseMode.HTML, reply_markup=None)
        except BadRequest as exc:  # too long for one message, deleted with its topic, unchanged
            logger.info("staff group: card of %s not edited (%s)", handoff.ticket, exc.message)
            await self.post(handoff_id, t("tg.staff.claimed_by", self.locale, staff=handoff.assignee or "-"))

    async def _closed(self, handoff_id: int) -> None:
        """Says who closed the hand-off and closes its topic (a deleted one is not recreated)."""
        handoff = await self.handoffs.get(handoff_id)
        with session_scope(self.sessions) as session:
            topic = store.topic_of(handoff_id, session=session)
            thread, state = (topic.thread_id, topic.state) if topic else (None, None)
        if handoff is None or thread is None:
            return
        by = handoff.closed_by or "-"
        key = "tg.staff.cancelled" if by == "resident" else "tg.staff.closed"
        await self.post(handoff_id, t(key, self.locale, ticket=handoff.ticket, staff=by), recreate=False)
        if state == "closed":
            return
        await self._set_topic(handoff_id, thread, "closed")

    # ---- posting --------------------------------------------------------------------------------

    def _migrated(self, exc: ChatMigrated) -> None:
        logger.error("staff group %s became supergroup %s: set TELEGRAM_STAFF_CHAT_ID=%s", self.chat_id,
                     exc.new_chat_id, exc.new_chat_id)
        self.chat_id = int(exc.new_chat_id)
        self.chat_ids.add(self.chat_id)
        if self.chat_filter is not None:
            self.chat_filter.add_chat_ids(self.chat_id)

    async def _send(
        self, thread: Optional[int], text: str, markup: Optional[InlineKeyboardMarkup] = None,
        photo: Optional[str] = None,
    ) -> List[Message]:
        """Posts into topic `thread` (None: the General topic), paced; the markup on the last part."""
        sent: List[Message] = []
        chunks = split_text(text) if text else [""]
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            for attempt in range(3):
                await self.pacer.acquire()
                try:
                    if photo is not None and index == 0:
                        sent.append(await self.bot.send_photo(
                            self.chat_id, photo, caption=escape(chunk)[:1024] or None, parse_mode=ParseMode.HTML,
                            message_thread_id=thread, reply_markup=markup if last else None))
                    else:
                        sent.append(await self.bot.send_message(
                            self.chat_id, escape(chunk), parse_mode=ParseMode.HTML, message_thread_id=thread,
                            reply_markup=markup if last else None))
                    break
                except ChatMigrated as exc:
                    self._migrated(exc)
                except RetryAfter as exc:  # the rate limiter's own retries ran out
                    wait = exc.retry_after
                    self.pacer.backoff(wait.total_seconds() if isinstance(wait, dt.timedelta) else float(wait))
                    if attempt == 2:
                        raise
        return sent

    def _forget(self, handoff_id: int) -> None:
        with session_scope(self.sessions) as session:
            store.forget_topic(handoff_id, session=session)

    async def post(
        self, handoff_id: int, text: str, photo: Optional[str] = None, recreate: bool = True,
    ) -> List[Message]:
        """Posts into the hand-off's topic: a deleted topic is recreated (while the hand-off is
        open, or `recreate`) and the post retried; a closed one is reopened while it is open."""
        for _attempt in range(MAX_RECREATIONS + 1):
            handoff = await self.handoffs.get(handoff_id)
            if handoff is None:
                return []
            with session_scope(self.sessions) as session:
                topic = store.topic_of(handoff_id, session=session)
                thread = topic.thread_id if topic else None
            if thread is None:
                if not (recreate and handoff.is_open):
                    return []
                thread = await self._create_topic(handoff, recreated=True)
            try:
                sent = await self._send(thread, text, photo=photo)
            except BadRequest as exc:
                if topic_gone(exc):
                    logger.warning("staff group: topic %s of %s is gone; recreating it", thread, handoff.ticket)
                    self._forget(handoff_id)
                    continue
                if topic_closed(exc) and handoff.is_open:
                    await self._reopen(handoff_id, thread)
                    continue
                if topic_closed(exc):
                    return []
                raise
            with session_scope(self.sessions) as session:
                for message in sent:
                    store.remember_message(self.chat_id, message.message_id, handoff_id, session=session)
            return sent
        logger.error("staff group: could not post for hand-off %s after recreating its topic", handoff_id)
        return []

    async def _reopen(self, handoff_id: int, thread: int) -> None:
        await self._set_topic(handoff_id, thread, "open")

    async def _set_topic(self, handoff_id: int, thread: int, state: str) -> None:
        """Closes or reopens the topic and records it; a topic already so is fine, a deleted one
        is forgotten (the next post recreates it)."""
        change = self.bot.close_forum_topic if state == "closed" else self.bot.reopen_forum_topic
        try:
            await change(self.chat_id, thread)
        except BadRequest as exc:
            if topic_gone(exc):
                self._forget(handoff_id)
                return
            if "topic_not_modified" not in str(exc.message).lower():
                raise
        with session_scope(self.sessions) as session:
            store.set_state(handoff_id, state, session=session)

    async def say(self, thread: Optional[int], text: str) -> None:
        """A reply to staff (a command's answer) in topic `thread` or General."""
        try:
            await self._send(thread, text)
        except BadRequest as exc:
            logger.info("staff group: reply not posted (%s)", exc.message)

    async def post_queue(self, thread: Optional[int]) -> None:
        await self.say(thread, queue_text(await self.handoffs.queue(), self.locale))
