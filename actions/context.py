"""What every action needs to know about the turn: the locale, the knowledge base, the text."""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, List, Optional

import httpx
from rasa_sdk import Tracker
from sqlalchemy.orm import sessionmaker

from common import migrate, pii_vault
from common.case_client import CaseClient
from common.crypto import DecryptionError, FieldCipher, assistant_cipher
from common.db import make_engine, make_session_factory, session_scope
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


# --- Settings, personal-data sealing and the case API, one of each per process ---

_settings: Optional[Settings] = None
_cipher: Optional[FieldCipher] = None
_case_client: Optional[CaseClient] = None


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings.from_env()
    return _settings


def cipher() -> FieldCipher:
    """Encrypts ID numbers and phones held in slots, so the tracker store never has them plain."""
    global _cipher
    if _cipher is None:
        _cipher = assistant_cipher(settings())
    return _cipher


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
    global _case_client
    if _case_client is None:
        s = settings()
        http = httpx.AsyncClient(limits=httpx.Limits(max_connections=50))
        _case_client = CaseClient(s.case_api_url, s.secret("CASE_API_ACTIONS_KEY"), http, s.case_api_timeout_s)
    return _case_client


def install_case_client(client: CaseClient) -> None:
    """Replaces the case API client (tests)."""
    global _case_client
    _case_client = client


def raw_text_of(tracker: Tracker) -> str:
    """What the resident typed, before the gateway's NLU normalisation (names keep their script),
    with the gateway's tokens for ID numbers and phones turned back into what was typed
    (`common.pii_vault`: Rasa only ever sees the tokens)."""
    metadata = tracker.latest_message.get("metadata") or {}
    raw = metadata.get("text")
    text = raw if isinstance(raw, str) and raw else text_of(tracker)
    if not pii_vault.has_tokens(text):
        return text
    with session_scope(sessions()) as session:
        return pii_vault.resolve(text, tracker.sender_id, cipher(), session=session)


def channel_of(tracker: Tracker) -> str:
    metadata = tracker.latest_message.get("metadata") or {}
    channel = metadata.get("channel")
    return channel if isinstance(channel, str) and channel else "web"


def intent_of(tracker: Tracker) -> tuple[Optional[str], float]:
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name"), float(intent.get("confidence") or 0.0)


_sessions: Optional[sessionmaker] = None


def sessions() -> sessionmaker:
    """Sessions of the application database (queued applications, the outbox)."""
    global _sessions
    if _sessions is None:
        migrate.upgrade(settings().database_url)
        engine = make_engine(settings().database_url)
        _sessions = make_session_factory(engine)
    return _sessions
