"""Shared fixtures: the knowledge base built from the repository's files; test databases on
SQLite and PostgreSQL (tests/databases.py)."""

from __future__ import annotations

import os
from typing import Iterator

import pytest
from sqlalchemy.orm import sessionmaker

from common import migrate
from common.db import make_engine, make_session_factory
from common.settings import ROOT
from knowledge.service import KnowledgeBase
from tests.databases import new_schema, postgres_missing, scratch_database, sqlite_url

# Production is the default environment (common/settings.py); the test session is a test one.
# The stack it starts still runs on the real secrets of `.env` (tools/secrets_env.py).
os.environ.setdefault("APP_ENV", "test")


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return KnowledgeBase.from_files(ROOT / "knowledge")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A scratch PostgreSQL database for this test run (dropped at the end), or a skip."""
    reason = postgres_missing()
    if reason:
        pytest.skip(reason)
    with scratch_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # noqa: ANN001
    """An empty application database on each engine: a SQLite file, a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "app.db")
    return new_schema(request.getfixturevalue("postgres_database"))


@pytest.fixture()
def app_sessions(database_url: str) -> Iterator[sessionmaker]:
    """Sessions of an application database with every table, on each engine in turn."""
    metadata = migrate.APP.metadata()  # every module with a table imported
    engine = make_engine(database_url)
    metadata.create_all(engine)
    yield make_session_factory(engine)
    engine.dispose()
