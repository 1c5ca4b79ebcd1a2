"""The migrations build exactly the models' schema, from nothing and over a pre-migration
database, on SQLite and PostgreSQL; several processes may upgrade at once.

`test_models_and_migrations_agree` fails when a model changed without a revision: run
`alembic revision --autogenerate -m "..."` (`alembic -n cases ...` for the case API).
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text

from bot import store as senders
from cases.models import RegistryPerson
from common import migrate, outbox
from common.db import make_engine, make_session_factory, session_scope
from common.outbox import OutboxMessage
from common.settings import ROOT

HERE = Path(__file__).parent
SCHEMAS = [migrate.APP, migrate.CASES]


def _head(schema: migrate.Schema) -> str:
    return ScriptDirectory.from_config(migrate.config(schema, "sqlite://")).get_current_head() or ""


def _version(url: str, schema: migrate.Schema) -> str:
    engine = make_engine(url)
    with engine.connect() as conn:
        version = conn.execute(text(f"SELECT version_num FROM {schema.version_table}")).scalar_one()
    engine.dispose()
    return str(version)


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.name)
def test_models_and_migrations_agree(database_url: str, schema: migrate.Schema) -> None:
    migrate._upgraded.clear()
    migrate.upgrade(database_url, schema)
    engine = make_engine(database_url)
    try:
        assert migrate.differences(engine, schema) == [], (
            f"the {schema.name} models differ from the migrations: add a revision "
            f"(alembic{' -n cases' if schema is migrate.CASES else ''} revision --autogenerate -m ...)"
        )
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(schema.metadata().tables) <= tables
    assert _version(database_url, schema) == _head(schema)


def test_both_databases_and_foreign_tables_share_one_database(database_url: str) -> None:
    """The app's and the case API's migrations (and Rasa's own `events`) in one database."""
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE rasa_like (id INTEGER PRIMARY KEY)"))
    migrate._upgraded.clear()
    for schema in SCHEMAS:
        migrate.upgrade(database_url, schema)
    try:
        for schema in SCHEMAS:
            assert migrate.differences(engine, schema) == []
        assert "rasa_like" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def _legacy_database(path: Path, name: str) -> str:
    """A SQLite file with the schema `create_all` made before migrations existed."""
    with sqlite3.connect(path) as conn:
        conn.executescript((HERE / f"legacy_{name}_schema.sql").read_text())
    return f"sqlite:///{path}"


def test_upgrade_over_a_create_all_database_keeps_every_row(tmp_path: Path) -> None:
    url = _legacy_database(tmp_path / "app.db", "app")
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with session_scope(sessions) as session:
        seq = outbox.enqueue("web-1", "web", "status", {"text": "已受理", "buttons": []}, "k1", session=session)
        senders.remember_sender("web-1", "web", "zh_Hant", session=session)
    engine.dispose()

    migrate._upgraded.clear()
    migrate.upgrade(url)

    engine = make_engine(url)
    try:
        assert migrate.differences(engine) == []
        with session_scope(make_session_factory(engine)) as session:
            row = session.execute(select(OutboxMessage)).scalar_one()
            assert (row.seq, row.dedupe_key, outbox.message_of(row)["text"]) == (seq, "k1", "已受理")
            assert senders.get_locale("web-1", session=session) == "zh_Hant"
    finally:
        engine.dispose()
    assert _version(url, migrate.APP) == _head(migrate.APP)


def test_upgrade_over_a_create_all_case_database_keeps_every_row(tmp_path: Path) -> None:
    url = _legacy_database(tmp_path / "cases.db", "cases")
    engine = make_engine(url)
    with session_scope(make_session_factory(engine)) as session:
        session.add(RegistryPerson(id_fingerprint="f" * 64, name_enc="sealed"))
    engine.dispose()

    migrate._upgraded.clear()
    migrate.upgrade(url, migrate.CASES)

    engine = make_engine(url)
    try:
        assert migrate.differences(engine, migrate.CASES) == []
        with session_scope(make_session_factory(engine)) as session:
            assert session.execute(select(RegistryPerson.name_enc)).scalars().all() == ["sealed"]
    finally:
        engine.dispose()


def test_several_processes_upgrading_at_once_do_not_race(database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "CASE_DATABASE_URL": database_url}
    runs = [
        subprocess.Popen([sys.executable, "-m", "common.migrate", "all"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    for schema in SCHEMAS:
        assert _version(database_url, schema) == _head(schema)


def test_every_module_with_a_table_is_registered() -> None:
    """A new model's module must be listed, or autogenerate and the check above miss it."""
    found: dict[str, set[str]] = {"app": set(), "cases": set()}
    for package in ("actions", "bot", "common", "knowledge", "cases"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or not re.search(r"^\s+__tablename__\s*=", path.read_text(), re.M):
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found["cases" if package == "cases" else "app"].add(module)
    assert found["app"] <= set(migrate.APP_TABLE_MODULES), "add the module to common.migrate.APP_TABLE_MODULES"
    assert found["cases"] <= set(migrate.CASE_TABLE_MODULES), "add the module to common.migrate.CASE_TABLE_MODULES"
