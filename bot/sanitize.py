"""Checks and cleans the text residents send, before anything else sees it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Control characters except tab and newline; zero-width and bidi marks used to hide text.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_WORDLIKE = re.compile(r"[0-9A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


@dataclass(frozen=True)
class CleanText:
    text: str
    truncated: bool
    has_words: bool


def clean(text: str, limit: int) -> CleanText:
    """Drops control characters, collapses blank runs and cuts the text at `limit` characters."""
    text = _CONTROL_RE.sub("", unicodedata.normalize("NFC", text))
    text = re.sub(r"[ \t\u3000]+", " ", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    truncated = len(text) > limit
    if truncated:
        text = text[:limit]
    return CleanText(text=text, truncated=truncated, has_words=bool(_WORDLIKE.search(text)))
