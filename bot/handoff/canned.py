"""Canned answers: a knowledge-base entry's answer as the resident would get it from the bot.

Staff pick an entry id; the resident gets its answer in their script and, when Rasa's tracker
remembers the region they named, for that region (else the national or general rule).
"""

from __future__ import annotations

from typing import Optional

from actions.replies import answer_text
from bot.rasa_client import RasaClient
from common.chat_contract import SLOT_REGION
from knowledge.regions import resolve
from knowledge.service import KnowledgeBase


class CannedAnswers:
    """`await canned(entry_id, locale, sender_id)` → the answer text, or None for no such entry."""

    def __init__(self, knowledge: KnowledgeBase, rasa: Optional[RasaClient] = None):
        self._kb = knowledge
        self._rasa = rasa

    async def __call__(self, entry_id: str, locale: str, sender_id: str) -> Optional[str]:
        entry = self._kb.by_id.get(entry_id)
        if entry is None:
            return None
        region = None
        if self._rasa is not None:
            tracker = await self._rasa.tracker(sender_id)
            name = ((tracker or {}).get("slots") or {}).get(SLOT_REGION)
            region = self._kb.gazetteer.get(name) if isinstance(name, str) else None
        resolution = resolve(entry, region)
        answer = resolution.answer or entry.general
        if answer is None:
            return None
        return answer_text(answer, locale)
