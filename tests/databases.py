"""Test databases on both engines: a SQLite file, or a scratch PostgreSQL database.

The PostgreSQL server is the one `POSTGRES_URL` names (default: the local server, database
`test`, trust auth). A test run creates one scratch database there (`power_test_<hex>`),
gives each test its own schema in it (so tests never see each other's rows), and drops the
database at the end. Without a server only the PostgreSQL variants are skipped, saying so.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
from typing import Iterator, Optional

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

DEFAULT_POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
_schemas = itertools.count()


def postgres_url() -> str:
    return os.environ.get("POSTGRES_URL") or DEFAULT_POSTGRES_URL


def postgres_missing(url: Optional[str] = None) -> Optional[str]:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    url = url or postgres_url()
    try:
        engine = create_engine(url, future=True, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except (SQLAlchemyError, ImportError) as exc:
        return f"no PostgreSQL at {make_url(url).render_as_string(hide_password=True)}: {type(exc).__name__}"
    return None


@contextlib.contextmanager
def scratch_database(prefix: str = "power_test") -> Iterator[str]:
    """Creates a database on the server of `POSTGRES_URL`, yields its URL, drops it."""
    admin_url = make_url(postgres_url())
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, future=True, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def with_schema(url: str, schema: str) -> str:
    """`url` with every connection's search_path set to `schema` (libpq `options`)."""
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


def new_schema(database_url: str) -> str:
    """Creates a fresh schema in the scratch database; returns a URL that uses it."""
    schema = f"t{next(_schemas)}_{secrets.token_hex(3)}"
    engine = create_engine(database_url, future=True, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return with_schema(database_url, schema)


def sqlite_url(path: os.PathLike[str] | str) -> str:
    return f"sqlite:///{path}"
