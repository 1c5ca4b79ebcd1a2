"""The gateway built in-process as an attacker meets it: the real app, database and routes,
with Rasa replaced by the rule-based `FakeRasa` of the bot tests (fast; the whole stack with
Rasa is exercised through tests/e2e)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Dict, Iterator

import pytest
from fastapi.testclient import TestClient

from bot.app import build_app
from bot.chat import ChatService
from common.settings import Settings
from tests.bot.conftest import FakeRasa


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
