"""The gateway built in-process as an attacker meets it: the real app, database and routes,
with Rasa replaced by the rule-based `FakeRasa` of the bot tests (fast; the whole stack with
Rasa is exercised through tests/e2e); and the case API fixtures of tests/cases (a real app on a
temporary SQLite file)."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest
import uvicorn
from fastapi.testclient import TestClient

from bot.app import build_app
from bot.chat import ChatService
from common.settings import Settings
from tests.bot import conftest as bot_fixtures
from tests.bot import test_delivery as delivery_fixtures
from tests.bot.conftest import FakeRasa
from tests.cases import conftest as case_api_fixtures
from tools.services import free_port


def gateway_settings(tmp_path: Path, **overrides: object) -> Settings:
    settings = Settings(
        var_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'app.db'}",
        case_api_url="http://127.0.0.1:9",  # nothing listens: the notifier tolerates it
        rasa_url="http://127.0.0.1:9",
        notifier_poll_s=60.0,
    )
    return dataclasses.replace(settings, **overrides)


def open_gateway(settings: Settings) -> Iterator[TestClient]:
    app = build_app(settings)
    with TestClient(app) as client:
        fake = FakeRasa()
        app.state.rasa = fake
        app.state.chat = ChatService(settings, fake, app.state.sessions)  # type: ignore[arg-type]
        yield client


@pytest.fixture()
def gateway(tmp_path: Path) -> Iterator[TestClient]:
    yield from open_gateway(gateway_settings(tmp_path))


def open_session(client: TestClient) -> Dict[str, str]:
    response = client.post("/api/chat/sessions")
    assert response.status_code == 201, response.text
    return response.json()


def bearer(session: Dict[str, str]) -> Dict[str, str]:
    return {"Authorization": f"Bearer {session['token']}"}


@contextlib.contextmanager
def serve(app: object) -> Iterator[str]:
    """Runs `app` under a real uvicorn server on a free loopback port (HTTP parsing included)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# The case API fixtures of tests/cases, for the case API's attacker tests.
client = case_api_fixtures.client
clock = case_api_fixtures.clock
create = case_api_fixtures.create
receivers = case_api_fixtures.receivers
settings = case_api_fixtures.settings
# The Bot API emulator, an outbox database and its Telegram delivery worker, of tests/bot.
emulator = bot_fixtures.emulator
sessions = delivery_fixtures.sessions
worker = delivery_fixtures.worker
since = delivery_fixtures.since
