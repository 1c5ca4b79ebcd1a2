"""What every action needs to know about the turn: the locale, the knowledge base, the text."""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker

from common.scripts import ZH_HANS, normalize_locale
from common.settings import Settings
from knowledge.service import KnowledgeBase

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_knowledge: Optional[KnowledgeBase] = None


def install_knowledge(kb: KnowledgeBase) -> None:
    """Makes `kb` the knowledge base of this process (called at server start-up and by tests)."""
    global _knowledge
    _knowledge = kb


def knowledge() -> KnowledgeBase:
    """The process's knowledge base; loaded on first use if start-up did not load it."""
    global _knowledge
    if _knowledge is None:
        with _lock:
            if _knowledge is None:
                settings = Settings.from_env()
                logger.warning("knowledge base was not loaded at start-up; loading now")
                _knowledge = KnowledgeBase.load(settings.knowledge_dir, settings.database_url)
    return _knowledge


def locale_of(tracker: Tracker) -> str:
    """The locale the gateway detected for this turn (message metadata), else zh_Hans."""
    metadata = tracker.latest_message.get("metadata") or {}
    return normalize_locale(metadata.get("locale")) or ZH_HANS


def text_of(tracker: Tracker) -> str:
    return tracker.latest_message.get("text") or ""


def intent_ranking(tracker: Tracker) -> List[Dict[str, Any]]:
    return tracker.latest_message.get("intent_ranking") or []


def entity_value(tracker: Tracker, entity: str) -> Optional[str]:
    for item in tracker.latest_message.get("entities") or []:
        if item.get("entity") == entity and item.get("value"):
            return str(item["value"])
    return None
