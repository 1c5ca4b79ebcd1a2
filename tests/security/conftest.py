"""The case API fixtures of tests/cases (a real app on a temporary SQLite file) for these tests."""

from tests.cases.conftest import client, clock, create, receivers, settings  # noqa: F401
