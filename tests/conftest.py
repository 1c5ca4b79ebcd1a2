"""Shared fixtures: the knowledge base built from the repository's files."""

from __future__ import annotations

import pytest

from common.settings import ROOT
from knowledge.service import KnowledgeBase


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase.from_files(ROOT / "knowledge")
