"""Fixtures of tests/cases (the case API on a temporary SQLite file) and tests/bot (the Bot API
emulator, an outbox database and its Telegram delivery worker) for these tests."""

from tests.bot.conftest import emulator  # noqa: F401
from tests.bot.test_delivery import sessions, worker  # noqa: F401
from tests.cases.conftest import client, clock, create, receivers, settings  # noqa: F401
