"""Pure helpers that turn the assistant's Messages into what Telegram accepts.

Telegram limits a message to 4096 characters (counted in UTF-16 code units after entity
parsing) and a caption to 1024; replies use the HTML parse mode, so every text is escaped.
Long answers are cut on sentence boundaries so no sentence is split across two messages
unless a single sentence is itself longer than the limit.
"""

from __future__ import annotations

import html
import re
from typing import List, Optional

from common.scripts import EN, ZH_HANS, ZH_HANT

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
# An `image_url` that is a Telegram file id (a photo staff posted in the staff group): sent by
# id, as Telegram lets a bot resend its files to any chat, instead of downloaded.
TG_FILE_PREFIX = "tg-file:"
# Where a long text may be cut: after Chinese or ASCII sentence ends, or at a line break.
# A '.' counts only before whitespace, so "0.5" and "95598." inside sentences stay whole.
_BREAK_RE = re.compile(r"[。！？!?]+[」』”’）)]*|\.(?=\s)|\n")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


def escape(text: str) -> str:
    """Text safe for parse_mode HTML: <, >, & and quotes escaped."""
    return html.escape(text, quote=True)


def _cut_at(text: str, limit: int) -> int:
    """The index of the last character that fits `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MAX_TEXT) -> List[str]:
    """Splits `text` into chunks of at most `limit` units, at sentence ends when possible."""
    chunks: List[str] = []
    rest = text
    while utf16_len(rest) > limit:
        window_end = _cut_at(rest, limit)
        window = rest[:window_end]
        cut = 0
        for match in _BREAK_RE.finditer(window):
            cut = match.end()
        if cut == 0:  # one sentence longer than the limit: cut it at the limit
            cut = window_end
        chunk, rest = rest[:cut].rstrip(), rest[cut:].lstrip("\n ")
        if chunk:
            chunks.append(chunk)
    if rest.strip() or not chunks:
        chunks.append(rest)
    return chunks


def locale_of_language_code(code: Optional[str]) -> Optional[str]:
    """Telegram's IETF language tag of the user's app, as one of our locales."""
    if not code:
        return None
    code = code.lower().replace("_", "-")
    if code.startswith("zh"):
        if any(part in code for part in ("hant", "tw", "hk", "mo")):
            return ZH_HANT
        return ZH_HANS
    if code.startswith("en"):
        return EN
    return None


def sender_of(chat_id: int) -> str:
    """The ChatService sender id of a Telegram chat."""
    return f"tg:{chat_id}"


def chat_of(sender_id: str) -> Optional[int]:
    """The Telegram chat of a sender id, or None when the sender is not a Telegram chat."""
    if not sender_id.startswith("tg:"):
        return None
    try:
        return int(sender_id[3:])
    except ValueError:
        return None
