"""The action server's services, one object built at the server's start.

Settings, the knowledge base, the FAQ gate, the cipher that seals personal data in slots,
the application database's sessions and the case API client used to be module globals each
created on first use (and the gate at import time). They are now fields of one
`ActionServices`, built by the server's start-up hook (`actions/server.py`) and installed
with `install()`; `current()` builds one from the environment when nothing was installed
(tests, tools), so every action reads the same objects.

The case API client is made on first use, inside the server's event loop (its HTTP pool
belongs to that loop).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Optional

import httpx
from sqlalchemy.orm import sessionmaker

from common.case_client import CaseClient
from common.crypto import FieldCipher
from common.db import create_all, make_engine, make_session_factory
from common.settings import Settings
from knowledge.retrieval import Gate
from knowledge.service import KnowledgeBase

logger = logging.getLogger(__name__)


@dataclass
class ActionServices:
    settings: Settings
    gate: Gate
    cipher: FieldCipher
    _knowledge: Optional[KnowledgeBase] = None
    _sessions: Optional[sessionmaker] = None
    _case_client: Optional[CaseClient] = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def build(cls, settings: Settings, knowledge: Optional[KnowledgeBase] = None) -> ActionServices:
        return cls(
            settings=settings,
            gate=Gate.from_settings(settings),
            cipher=FieldCipher(settings.secret("DATA_ENCRYPTION_KEY")),
            _knowledge=knowledge,
        )

    @property
    def knowledge(self) -> KnowledgeBase:
        """The knowledge base; loaded on first use if start-up did not load it."""
        if self._knowledge is None:
            with self._lock:
                if self._knowledge is None:
                    logger.warning("knowledge base was not loaded at start-up; loading now")
                    self._knowledge = KnowledgeBase.load(self.settings.knowledge_dir, self.settings.database_url)
        return self._knowledge

    @knowledge.setter
    def knowledge(self, kb: KnowledgeBase) -> None:
        self._knowledge = kb

    @property
    def sessions(self) -> sessionmaker:
        """Sessions of the application database (queued applications, the outbox)."""
        if self._sessions is None:
            with self._lock:
                if self._sessions is None:
                    engine = make_engine(self.settings.database_url)
                    create_all(engine)
                    self._sessions = make_session_factory(engine)
        return self._sessions

    @property
    def case_client(self) -> CaseClient:
        if self._case_client is None:
            s = self.settings
            http = httpx.AsyncClient(limits=httpx.Limits(max_connections=50))
            self._case_client = CaseClient(s.case_api_url, s.secret("CASE_API_KEY"), http, s.case_api_timeout_s)
        return self._case_client

    @case_client.setter
    def case_client(self, client: CaseClient) -> None:
        self._case_client = client


_current: Optional[ActionServices] = None
_install_lock = threading.Lock()


def install(services: ActionServices) -> ActionServices:
    """Makes `services` the action server's services (the start-up hook; tests)."""
    global _current
    _current = services
    return services


def current() -> ActionServices:
    """The installed services; built from the environment when none were installed."""
    global _current
    if _current is None:
        with _install_lock:
            if _current is None:
                _current = ActionServices.build(Settings.from_env())
    return _current
