"""The knowledge base as the running assistant uses it: loaded once at start-up.

`KnowledgeBase.load` syncs the files into the database and builds the search index from
what the database holds; the action server and the gateway each call it from their start-up
hook, never on import.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from common import migrate
from common.db import make_engine, make_session_factory, session_scope
from knowledge import loader
from knowledge.regions import Gazetteer
from knowledge.retrieval import LexicalIndex
from knowledge.schema import CATEGORIES, Entry, TariffBook

logger = logging.getLogger(__name__)


@dataclass
class KnowledgeBase:
    entries: List[Entry]
    gazetteer: Gazetteer
    tariffs: TariffBook
    index: LexicalIndex = field(init=False)
    by_id: Dict[str, Entry] = field(init=False)

    def __post_init__(self) -> None:
        loader.check_regions(self.entries, self.gazetteer)
        self.by_id = {e.id: e for e in self.entries}
        self.index = LexicalIndex(self.entries, preprocess=self.gazetteer.strip)

    @classmethod
    def from_files(cls, knowledge_dir: Path) -> KnowledgeBase:
        """Builds the knowledge base straight from the files (tests, tools)."""
        return cls(
            entries=loader.load_entries(knowledge_dir),
            gazetteer=Gazetteer.from_file(knowledge_dir / "regions.yml"),
            tariffs=loader.load_tariffs(knowledge_dir),
        )

    @classmethod
    def load(cls, knowledge_dir: Path, database_url: str) -> KnowledgeBase:
        """Loads the files into the database and builds the knowledge base from it."""
        migrate.upgrade(database_url)
        engine = make_engine(database_url)
        factory = make_session_factory(engine)
        # Several instances start at once in the scaled profile: one loads the files at a time.
        with migrate.database_lock(database_url, "knowledge-sync"), session_scope(factory) as session:
            entries = loader.sync(knowledge_dir, session=session)
        engine.dispose()
        logger.info("knowledge base ready: %d entries", len(entries))
        return cls(
            entries=entries,
            gazetteer=Gazetteer.from_file(knowledge_dir / "regions.yml"),
            tariffs=loader.load_tariffs(knowledge_dir),
        )

    def entry_for_intent(self, intent: Optional[str]) -> Optional[Entry]:
        if intent and intent.startswith("faq_"):
            return self.by_id.get(intent[4:])
        return None

    def categories(self) -> Dict[str, List[Entry]]:
        """Entries grouped by category, categories in their defined order (for FAQ browsing)."""
        grouped: Dict[str, List[Entry]] = {key: [] for key in CATEGORIES}
        for entry in self.entries:
            grouped[entry.category].append(entry)
        return {key: entries for key, entries in grouped.items() if entries}
