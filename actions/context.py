"""What every action needs to know about the turn: the locale, the knowledge base, the text.

The process's services (settings, knowledge base, FAQ gate, cipher, sessions, case API
client) are one object built at the server's start (`actions/services.py`); the accessors
here read it.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from sqlalchemy.orm import sessionmaker

from actions.services import current
from common.case_client import CaseClient
from common.crypto import DecryptionError, FieldCipher
from common.scripts import ZH_HANS, normalize_locale
from common.settings import Settings
from knowledge.retrieval import Gate
from knowledge.service import KnowledgeBase

logger = logging.getLogger(__name__)


def install_knowledge(kb: KnowledgeBase) -> None:
    """Makes `kb` the knowledge base of this process (tests; the server builds its services with it)."""
    current().knowledge = kb


def knowledge() -> KnowledgeBase:
    """The process's knowledge base; loaded on first use if start-up did not load it."""
    return current().knowledge


def gate() -> Gate:
    """The FAQ gate's thresholds, from the settings (`Gate.from_settings`)."""
    return current().gate


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


# --- Settings, personal-data sealing and the case API, one of each per process ---


def settings() -> Settings:
    return current().settings


def cipher() -> FieldCipher:
    """Encrypts ID numbers and phones held in slots, so the tracker store never has them plain."""
    return current().cipher


def seal(value: Optional[str]) -> Optional[str]:
    return None if value is None else cipher().encrypt(value)


def unseal(token: Optional[str]) -> Optional[str]:
    """The plain value of a sealed slot; None when absent or not made with this key."""
    if not token:
        return None
    try:
        return cipher().decrypt(token)
    except DecryptionError:
        logger.warning("a sealed slot cannot be decrypted with the current key")
        return None


def case_client() -> CaseClient:
    """The process's case API client (created on first use, inside the server's event loop)."""
    return current().case_client


def install_case_client(client: CaseClient) -> None:
    """Replaces the case API client (tests)."""
    current().case_client = client


def raw_text_of(tracker: Tracker) -> str:
    """What the resident typed, before the gateway's NLU normalisation (names keep their script)."""
    metadata = tracker.latest_message.get("metadata") or {}
    raw = metadata.get("text")
    return raw if isinstance(raw, str) and raw else text_of(tracker)


def channel_of(tracker: Tracker) -> str:
    metadata = tracker.latest_message.get("metadata") or {}
    channel = metadata.get("channel")
    return channel if isinstance(channel, str) and channel else "web"


def intent_of(tracker: Tracker) -> tuple[Optional[str], float]:
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


def sessions() -> sessionmaker:
    """Sessions of the application database (queued applications, the outbox)."""
    return current().sessions
