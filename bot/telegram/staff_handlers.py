"""What staff do in the staff group, and the only way anything said there reaches a resident.

Every handler here is filtered on the staff chat (`TELEGRAM_STAFF_CHAT_ID`), and only messages
inside a hand-off's topic (`is_topic_message`, a thread the bot opened, found in its own map)
are relayed: a message from any other chat, from the General topic, or from a topic the bot
did not open never reaches a resident.

- a message or photo in a topic → the resident (claiming the hand-off if nobody has it; if
  someone else has it, the writer is told who and nothing is relayed);
- `/note …` → an internal note; `/canned KEY` → the knowledge answer; `/close` → closes;
- `/queue` (General or a topic) → the waiting hand-offs with their waiting times;
- the card's claim button → the first press wins, the others are told who has it;
- a topic closed by hand closes its hand-off; one reopened by hand after its hand-off closed
  is closed again with a word why (Telegram's service messages keep the state in step).
"""

from __future__ import annotations

import logging
from typing import Optional

from telegram import Message, Update, User
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.handoff.service import AlreadyClaimed, HandoffClosed, HandoffError, HandoffService, UnknownCanned
from bot.telegram import staff_store as store
from bot.telegram.context import Context
from bot.telegram.render import TG_FILE_PREFIX
from bot.telegram.staff_group import CLAIM_PREFIX, StaffGroup, from_topic
from common.db import session_scope
from common.i18n import t

logger = logging.getLogger(__name__)
STAFF_GROUP_KEY = "staff_group"
GENERAL = 0  # background-work key of replies in the General topic


def staff_name(user: Optional[User]) -> str:
    """Who a Telegram staff member is in the hand-off (assignee, transcript): name and id."""
    if user is None:
        return "tg:unknown"
    suffix = f" (tg:{user.id})"
    return (user.full_name or user.username or "staff")[: 64 - len(suffix)] + suffix


def group_of(context: Context) -> StaffGroup:
    return context.bot_data[STAFF_GROUP_KEY]


def _thread(message: Message) -> Optional[int]:
    """The topic a message was written in; None in General (a reply there has a thread id too)."""
    return message.message_thread_id if message.is_topic_message else None


def _handoff_of(group: StaffGroup, message: Message) -> Optional[int]:
    thread = _thread(message)
    if thread is None:
        return None
    with session_scope(group.sessions) as session:
        return store.handoff_of_thread(message.chat_id, thread, session=session)


async def _relay(group: StaffGroup, handoff_id: int, thread: int, staff: str, text: str, internal: bool = False,
                 photo_url: Optional[str] = None, canned: Optional[str] = None) -> None:
    """Hands a staff message to the service; tells the writer when it cannot go."""
    token = from_topic.set(True)
    try:
        if canned is not None:
            await group.handoffs.canned(handoff_id, staff, canned)
        else:
            await group.handoffs.staff_message(handoff_id, staff, text, internal=internal, photo_url=photo_url)
    except AlreadyClaimed as exc:
        group.spawn(handoff_id, group.say(thread, t("tg.staff.held_by", group.locale, staff=exc.holder or "-")))
    except HandoffClosed:
        group.spawn(handoff_id, group.say(thread, t("tg.staff.already_closed", group.locale)))
    except UnknownCanned:
        group.spawn(handoff_id, group.say(thread, t("tg.staff.canned_unknown", group.locale, entry=canned)))
    except ValueError:  # nothing to send (an empty caption-less message)
        pass
    finally:
        from_topic.reset(token)


async def topic_message(update: Update, context: Context) -> None:
    """Text or a photo in a topic: to the resident of that topic's hand-off."""
    group, message = group_of(context), update.effective_message
    handoff_id = _handoff_of(group, message)
    if handoff_id is None or message.from_user is None or message.from_user.is_bot:
        return
    thread = _thread(message)
    assert thread is not None
    staff = staff_name(message.from_user)
    if message.photo:
        handoff = await group.handoffs.get(handoff_id)
        if handoff is not None and handoff.channel != "telegram":
            group.spawn(handoff_id, group.say(thread, t("tg.staff.photo_web", group.locale)))
            if not message.caption:
                return
            await _relay(group, handoff_id, thread, staff, message.caption)
            return
        photo = f"{TG_FILE_PREFIX}{message.photo[-1].file_id}"
        await _relay(group, handoff_id, thread, staff, message.caption or "", photo_url=photo)
        return
    await _relay(group, handoff_id, thread, staff, message.text or "")


def _argument(message: Message) -> str:
    parts = (message.text or "").split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


async def _in_topic(update: Update, context: Context, usage_key: Optional[str] = None) -> Optional[int]:
    """The hand-off of the topic a command was given in; tells staff when it is not one."""
    group, message = group_of(context), update.effective_message
    handoff_id = _handoff_of(group, message)
    if handoff_id is None:
        group.spawn(GENERAL, group.say(_thread(message), t("tg.staff.not_here", group.locale)))
        return None
    if usage_key and not _argument(message):
        group.spawn(handoff_id, group.say(_thread(message), t(usage_key, group.locale)))
        return None
    return handoff_id


async def note(update: Update, context: Context) -> None:
    """`/note …`: an internal note, kept in the transcript, never relayed."""
    handoff_id = await _in_topic(update, context, "tg.staff.note_usage")
    if handoff_id is not None:
        message = update.effective_message
        await _relay(group_of(context), handoff_id, _thread(message) or 0, staff_name(message.from_user),
                     _argument(message), internal=True)


async def canned(update: Update, context: Context) -> None:
    """`/canned KEY`: the knowledge base's answer for entry KEY, in the resident's script."""
    handoff_id = await _in_topic(update, context, "tg.staff.canned_usage")
    if handoff_id is not None:
        message = update.effective_message
        key = _argument(message).split()[0]
        await _relay(group_of(context), handoff_id, _thread(message) or 0, staff_name(message.from_user), "",
                     canned=key)


async def close(update: Update, context: Context) -> None:
    """`/close`: back to the bot; the resident is asked for a rating."""
    handoff_id = await _in_topic(update, context)
    if handoff_id is None:
        return
    group, message = group_of(context), update.effective_message
    try:
        await group.handoffs.close(handoff_id, staff_name(message.from_user))
    except AlreadyClaimed as exc:
        group.spawn(handoff_id, group.say(_thread(message), t("tg.staff.held_by", group.locale, staff=exc.holder)))
    except HandoffClosed:
        group.spawn(handoff_id, group.say(_thread(message), t("tg.staff.already_closed", group.locale)))


async def queue(update: Update, context: Context) -> None:
    """`/queue`: waiting hand-offs in queue order, with how long each has waited."""
    group = group_of(context)
    group.spawn(GENERAL, group.post_queue(_thread(update.effective_message)))


async def claim_button(update: Update, context: Context) -> None:
    """The card's claim button: the first press wins; the others learn who has it."""
    group, query = group_of(context), update.callback_query
    if query.message is None or query.message.chat.id not in group.chat_ids:
        await query.answer(t("tg.staff.not_allowed", group.locale), show_alert=True)
        return
    try:
        handoff_id = int((query.data or "").removeprefix(CLAIM_PREFIX))
    except ValueError:
        await query.answer()
        return
    try:
        await group.handoffs.claim(handoff_id, staff_name(query.from_user))
    except AlreadyClaimed as exc:
        await query.answer(t("tg.staff.held_by", group.locale, staff=exc.holder or "-"), show_alert=True)
        return
    except HandoffError:
        await query.answer(t("tg.staff.already_closed", group.locale), show_alert=True)
        return
    await query.answer(t("tg.staff.claimed_you", group.locale))


async def topic_closed(update: Update, context: Context) -> None:
    """A staff member closed a hand-off's topic by hand: the hand-off closes too."""
    group, message = group_of(context), update.effective_message
    handoff_id = _handoff_of(group, message)
    if handoff_id is None:
        return
    with session_scope(group.sessions) as session:
        store.set_state(handoff_id, "closed", session=session)
    handoff = await group.handoffs.get(handoff_id)
    if handoff is None or not handoff.is_open:
        return
    try:
        await group.handoffs.close(handoff_id, staff_name(message.from_user))
    except AlreadyClaimed as exc:  # only the holder closes: the topic goes back open
        group.spawn(handoff_id, _undo_close(group, handoff_id, _thread(message), exc.holder))
    except HandoffClosed:
        pass


async def _undo_close(group: StaffGroup, handoff_id: int, thread: Optional[int], holder: Optional[str]) -> None:
    if thread is None:
        return
    await group.bot.reopen_forum_topic(group.chat_id, thread)
    with session_scope(group.sessions) as session:
        store.set_state(handoff_id, "open", session=session)
    await group.say(thread, t("tg.staff.held_by", group.locale, staff=holder or "-"))


async def topic_reopened(update: Update, context: Context) -> None:
    """A topic reopened by hand: fine while its hand-off is open; closed again (and why) after."""
    group, message = group_of(context), update.effective_message
    handoff_id = _handoff_of(group, message)
    if handoff_id is None:
        return
    handoff = await group.handoffs.get(handoff_id)
    with session_scope(group.sessions) as session:
        store.set_state(handoff_id, "open", session=session)
    if handoff is not None and not handoff.is_open:
        group.spawn(handoff_id, _reclose(group, handoff_id, _thread(message)))


async def _reclose(group: StaffGroup, handoff_id: int, thread: Optional[int]) -> None:
    if thread is None:
        return
    await group.say(thread, t("tg.staff.reopen_closed", group.locale))
    await group.bot.close_forum_topic(group.chat_id, thread)
    with session_scope(group.sessions) as session:
        store.set_state(handoff_id, "closed", session=session)


def add_staff_handlers(application: Application, group: StaffGroup) -> None:
    """Registers the staff group's handlers (before the residents' private-chat handlers)."""
    application.bot_data[STAFF_GROUP_KEY] = group
    staff_chat = filters.Chat(chat_id=list(group.chat_ids))
    group.chat_filter = staff_chat
    in_topic = staff_chat & filters.IS_TOPIC_MESSAGE
    application.add_handler(CommandHandler("note", note, filters=staff_chat))
    application.add_handler(CommandHandler("canned", canned, filters=staff_chat))
    application.add_handler(CommandHandler("close", close, filters=staff_chat))
    application.add_handler(CommandHandler("queue", queue, filters=staff_chat))
    application.add_handler(CallbackQueryHandler(claim_button, pattern=f"^{CLAIM_PREFIX}"))
    application.add_handler(MessageHandler(staff_chat & filters.StatusUpdate.FORUM_TOPIC_CLOSED, topic_closed))
    application.add_handler(MessageHandler(staff_chat & filters.StatusUpdate.FORUM_TOPIC_REOPENED, topic_reopened))
    application.add_handler(MessageHandler(in_topic & ~filters.COMMAND & (filters.TEXT | filters.PHOTO),
                                           topic_message))


async def start_staff_group(group: Optional[StaffGroup], handoffs: Optional[HandoffService]) -> None:
    """At the bot's start: checks the group's set-up and opens topics for hand-offs missed meanwhile."""
    if group is None or handoffs is None:
        return
    await group.check()
    await group.sync()
