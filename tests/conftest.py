"""Shared fixtures: the knowledge base built from the repository's files."""

from __future__ import annotations

import os

import pytest

from common.settings import ROOT
from knowledge.service import KnowledgeBase

# Production is the default environment (common/settings.py); the test session is a test one.
# The stack it starts still runs on the real secrets of `.env` (tools/secrets_env.py).
os.environ.setdefault("APP_ENV", "test")


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase.from_files(ROOT / "knowledge")
