"""The schema of both databases, by Alembic migrations, applied at start-up under a lock.

Two databases, two migration environments (`alembic.ini`): the application database
(`common.db.Base`: the tables of `bot/`, `common/`, `actions/`, `knowledge/`; revisions in
`migrations/app/`) and the case API's own (`cases.models.Base`; `cases/migrations/`). Each
service calls `upgrade()` for its database before it touches a table, so a fresh clone's
`make run` and `make test` need no extra step; several instances starting at once queue on
a lock (a PostgreSQL advisory lock, an `flock` file beside a SQLite file) and the later ones
find the schema at head. A database made by `create_all` before migrations existed (its
tables, no version table) is stamped at the initial revision, which is that schema exactly,
then upgraded: nothing is copied or dropped.

Each environment has its own version table and sees only its own tables, so both, and Rasa's
tracker store, may share one PostgreSQL database or schema without touching each other.
A new model: add its module to `APP_TABLE_MODULES` (or `CASE_TABLE_MODULES`), then
`alembic revision --autogenerate -m "..."` (`alembic -n cases ...` for the case API).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import importlib
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, List, Tuple

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from common.db import make_engine
from common.settings import ROOT, Settings

logger = logging.getLogger(__name__)

# Every module that defines a table on `common.db.Base` (a test checks none is missing).
APP_TABLE_MODULES = (
    "actions.submissions",
    "bot.casework.models",
    "bot.handoff.models",
    "bot.staff.models",
    "bot.store",
    "bot.subscriptions",
    "bot.telegram.staff_store",
    "bot.telegram.store",
    "bot.turn_journal",
    "bot.web_sessions",
    "common.claims",
    "common.outbox",
    "common.pii_vault",
    "knowledge.store",
)
# Every module that defines a table on `cases.models.Base`.
CASE_TABLE_MODULES = ("cases.clocks", "cases.codes", "cases.models")


@dataclass(frozen=True)
class Schema:
    """One migration environment: its section of `alembic.ini` and what it owns."""

    name: str
    ini_section: str
    version_table: str
    base_module: str  # the module holding the declarative `Base`
    table_modules: Tuple[str, ...]
    baseline: str  # the initial revision: the schema `create_all` made before migrations
    marker_table: str  # a table every database made by that `create_all` has

    def metadata(self) -> MetaData:
        """The declarative metadata with every table of this database registered."""
        for module in self.table_modules:
            importlib.import_module(module)
        return importlib.import_module(self.base_module).Base.metadata

    def url(self, settings: Settings) -> str:
        return settings.database_url if self.name == "app" else settings.case_database_url


APP = Schema(
    name="app", ini_section="alembic", version_table="alembic_version_app", base_module="common.db",
    table_modules=APP_TABLE_MODULES, baseline="a1f0c0de0001", marker_table="outbox",
)
CASES = Schema(
    name="cases", ini_section="cases", version_table="alembic_version_cases", base_module="cases.models",
    table_modules=CASE_TABLE_MODULES, baseline="c1f0c0de0001", marker_table="cases",
)
SCHEMAS = {schema.name: schema for schema in (APP, CASES)}


def config(schema: Schema, url: str) -> Config:
    """Alembic's configuration of `schema`'s environment, pointed at `url`."""
    cfg = Config(str(ROOT / "alembic.ini"), ini_section=schema.ini_section)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["schema"] = schema
    return cfg


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for `pg_advisory_lock`."""
    digest = hashlib.sha256(f"power-assistant:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextlib.contextmanager
def database_lock(url: str, name: str) -> Iterator[None]:
    """A lock named `name` shared by every process using `url`'s database: a PostgreSQL
    advisory lock, or an `flock` file beside a SQLite file. Start-up steps that write shared
    rows (migrations, loading the knowledge files) run under one, so instances take turns."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        engine = create_engine(url, future=True, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key(name)})
                try:
                    yield
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(name)})
        finally:
            engine.dispose()
        return
    database = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    lock_path = Path(f"{database}.{name}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_upgraded: set[Tuple[str, str]] = set()
MAX_WAIT_STEP_S = 30.0


def wait_for_database(url: str, what: str) -> None:
    """Returns once `url`'s server accepts a connection; until then logs and retries with
    back-off (0.5 s doubling to 30 s), so a service started before its database comes up,
    or while it is down, waits instead of exiting into a restart loop."""
    failures = 0
    while True:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            if failures:
                logger.info("%s database reachable again", what)
            return
        except OperationalError as exc:
            failures += 1
            delay = min(MAX_WAIT_STEP_S, 0.5 * 2 ** min(failures - 1, 10))
            logger.warning("%s database unreachable (%s: %s); retrying in %.1fs", what, type(exc).__name__,
                           str(exc.orig).strip().splitlines()[0][:160] if exc.orig else "", delay)
            time.sleep(delay)
        finally:
            engine.dispose()


def upgrade(url: str, schema: Schema = APP) -> None:
    """Brings `url`'s database to the head revision of `schema` (stamping a pre-migration one).

    Once per process and database: the gateway and the knowledge loader both ask."""
    if (schema.name, url) in _upgraded:
        return
    wait_for_database(url, schema.name)
    cfg = config(schema, url)
    with database_lock(url, f"migrate-{schema.name}"):
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names())
        finally:
            engine.dispose()
        if schema.version_table not in tables and schema.marker_table in tables:
            # Made by `create_all`: of today's models (tests, tools) it is the head already; of
            # the models before migrations, the baseline.
            current = set(schema.metadata().tables)
            at = "head" if current <= tables else schema.baseline
            logger.info("%s database made before migrations: stamped at %s", schema.name, at)
            command.stamp(cfg, at)
        command.upgrade(cfg, "head")
    _upgraded.add((schema.name, url))


def differences(engine: Engine, schema: Schema = APP) -> List[Any]:
    """What separates `engine`'s tables from the models (empty when the migrations match)."""
    metadata = schema.metadata()
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": only_tables_of(metadata), "compare_type": True}
        )
        return list(compare_metadata(context, metadata))


def only_tables_of(metadata: MetaData) -> Any:
    """An `include_name` hook that keeps other owners' tables (Rasa's, the other Base's) out."""

    def include_name(name: str, type_: str, _parents: Any) -> bool:
        return type_ != "table" or name in metadata.tables

    return include_name


def run_env(context: Any) -> None:
    """The body of both `env.py` files: runs the migrations online against one database."""
    cfg = context.config
    schema = cfg.attributes.get("schema") or next(
        s for s in SCHEMAS.values() if s.ini_section == cfg.config_ini_section
    )
    url = cfg.get_main_option("sqlalchemy.url") or schema.url(Settings.from_env())
    metadata = schema.metadata()
    options = {
        "target_metadata": metadata,
        "version_table": schema.version_table,
        "include_name": only_tables_of(metadata),
        "compare_type": True,
        "render_as_batch": True,  # SQLite alters a table by copying it; batch mode does that
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, **options)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


def main(argv: List[str] | None = None) -> int:
    """`python -m common.migrate [app|cases|all]`: upgrades the configured databases."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("which", nargs="?", default="all", choices=["app", "cases", "all"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    for schema in SCHEMAS.values():
        if args.which in (schema.name, "all"):
            upgrade(schema.url(settings), schema)
            print(f"{schema.name}: at head")
    return 0


if __name__ == "__main__":
    sys.exit(main())
