"""schemathesis against the case API's own OpenAPI schema (issue 9): generated requests, valid
and invalid, within bounded examples; no 5xx, and every answer as the schema documents it.

The app runs with its lifespan (database, registry, dispatcher) inside a TestClient; the
generated calls go to the same app in process. Requests carry the staff key (every route
open to it); without a key every route's 401 is tested in test_case_api_keys.py.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from cases.app import build_app
from tests.cases.conftest import STAFF, Clock, make_settings, staff_client

VAR = Path(tempfile.mkdtemp(prefix="case-api-schema-"))
APP: FastAPI = build_app(make_settings(VAR), clock=Clock())
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def running() -> Iterator[None]:
    """Runs the app's lifespan (its database under a fresh directory) for the whole module."""
    with staff_client(APP):
        yield
    shutil.rmtree(VAR, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_case_api_keeps_its_schema(case: schemathesis.Case) -> None:
    # Schema-valid is not always acceptable: the business checks (GB 11643 ID, mobile, address
    # in the service area, consent given) answer a documented 422 with their reasons.
    case.call_and_validate(headers=STAFF, excluded_checks=[positive_data_acceptance])
