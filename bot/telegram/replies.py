"""Sends the assistant's Messages to a Telegram chat.

Shared by the handlers (a turn's replies) and the delivery worker (queued status updates):
buttons become inline keyboards whose callback_data is the payload (or a stored token when
the payload is too long), an `image_url` (the QR receipt) is downloaded and sent as a photo,
texts are escaped for the HTML parse mode and split at 4096 characters, and the phone step
gets a reply keyboard with Telegram's "share my contact" button.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence, Union
from urllib.parse import urljoin

import httpx
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.constants import ParseMode

from bot.telegram import store
from bot.telegram.context import Services
from bot.telegram.render import MAX_CAPTION, TG_FILE_PREFIX, escape, split_text, utf16_len
from common.db import session_scope
from common.i18n import t

logger = logging.getLogger(__name__)
MAX_IMAGE_BYTES = 10 * 1024 * 1024
Markup = Union[InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove]


def inline_keyboard(
    buttons: Sequence[Dict[str, str]], services: Services, extra_rows: Sequence[Sequence[InlineKeyboardButton]] = ()
) -> Optional[InlineKeyboardMarkup]:
    """One row per assistant button (titles are often long), plus `extra_rows`."""
    rows: List[List[InlineKeyboardButton]] = []
    if buttons:
        with session_scope(services.sessions) as session:
            for button in buttons:
                data = store.callback_data(button.get("payload") or button.get("title", ""), session=session)
                rows.append([InlineKeyboardButton(button.get("title") or "…", callback_data=data)])
    rows.extend(list(row) for row in extra_rows)
    return InlineKeyboardMarkup(rows) if rows else None


def contact_keyboard(locale: str) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(t("tg.contact.button", locale), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def local_url(url: str, services: Services) -> str:
    """Where the gateway itself fetches an image: relative and public URLs point back to it."""
    settings = services.settings
    local = f"http://{settings.gateway_host}:{settings.gateway_port}"
    if url.startswith("/"):
        return urljoin(local + "/", url.lstrip("/"))
    if settings.public_base_url and url.startswith(settings.public_base_url + "/"):
        return local + url[len(settings.public_base_url):]
    return url


async def fetch_image(url: str, services: Services) -> Optional[bytes]:
    """The image's bytes, or None when it cannot be fetched (the text is sent without it)."""
    try:
        response = await services.http.get(local_url(url, services), timeout=10.0)
    except httpx.HTTPError as exc:
        logger.warning("image fetch failed: %s", type(exc).__name__)
        return None
    if response.status_code != 200 or len(response.content) > MAX_IMAGE_BYTES:
        logger.warning("image fetch failed: HTTP %s", response.status_code)
        return None
    return response.content


async def send_text(bot: Bot, chat_id: int, text: str, markup: Optional[Markup] = None) -> List[Message]:
    """Sends `text` escaped, in as many messages as needed; the markup goes on the last one."""
    chunks = split_text(text)
    sent = []
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        markup_here = markup if last else None
        sent.append(await bot.send_message(chat_id, escape(chunk), parse_mode=ParseMode.HTML, reply_markup=markup_here))
    return sent


async def send_one(
    bot: Bot, chat_id: int, message: Dict[str, Any], locale: str, services: Services,
    keyboard: Optional[Markup] = None,
) -> List[Message]:
    """Sends one Message (text, buttons, image); `keyboard` is a reply keyboard for a button-less one."""
    text = message.get("text") or ""
    markup: Optional[Markup] = inline_keyboard(message.get("buttons") or [], services) or keyboard
    image_url = message.get("image_url")
    sent: List[Message] = []
    if image_url:
        photo = str(image_url)
        data: Optional[Union[bytes, str]] = (
            photo[len(TG_FILE_PREFIX):] if photo.startswith(TG_FILE_PREFIX) else await fetch_image(photo, services)
        )
        if data is not None:
            fits = utf16_len(text) <= MAX_CAPTION
            sent.append(await bot.send_photo(
                chat_id, photo=data, caption=escape(text) if (fits and text) else None,
                parse_mode=ParseMode.HTML, reply_markup=markup if fits else None,
            ))
            if fits:
                return sent
        else:
            text = f"{text}\n{t('tg.photo.unavailable', locale)}".strip()
    if not text.strip():
        if markup is None:
            return sent
        text = t("tg.choose", locale)
    sent.extend(await send_text(bot, chat_id, text, markup))
    return sent


async def send_messages(
    bot: Bot, chat_id: int, messages: Sequence[Dict[str, Any]], locale: str, services: Services,
    ask_contact: bool = False,
) -> List[Message]:
    """Sends a turn's Messages in order; with `ask_contact`, offers the share-contact button."""
    keyboard: Optional[Markup] = None
    if ask_contact:
        keyboard = contact_keyboard(locale)
    elif chat_id in services.contact_keyboard:
        keyboard = ReplyKeyboardRemove()
    # The reply keyboard goes on the last message without inline buttons (a message has one markup).
    plain = [i for i, m in enumerate(messages) if not m.get("buttons")]
    target = plain[-1] if plain else None
    sent: List[Message] = []
    for index, message in enumerate(messages):
        sent.extend(await send_one(bot, chat_id, message, locale, services, keyboard if index == target else None))
    if ask_contact and target is None:
        sent.extend(await send_text(bot, chat_id, t("tg.contact.hint", locale), keyboard))
        target = len(messages)
    if ask_contact:
        services.contact_keyboard.add(chat_id)
    elif keyboard is not None and target is not None:
        services.contact_keyboard.discard(chat_id)
    return sent
