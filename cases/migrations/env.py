"""Alembic environment; the shared body is `common.migrate.run_env` (one per database)."""

from alembic import context

from common.migrate import run_env

run_env(context)
