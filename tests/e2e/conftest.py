"""Starts the real services for the end-to-end tests: once per test session, on free ports.

The model is trained from the repository (or reused when its inputs are unchanged), then the
action server, the Rasa server and the gateway run as separate processes talking HTTP, with
their SQLite files in a temporary directory. The gateway's Telegram bot talks to a Bot API
emulator on loopback (tests/telegram/emulator.py), started once per session too.
"""

from __future__ import annotations

import itertools
from typing import Any, Dict, Iterator, Optional

import httpx
import pytest

from tests.telegram.emulator import BotApiEmulator
from tools.services import Ports, Stack
from tools.train import ensure_model

_senders = itertools.count()


@pytest.fixture(scope="session")
def telegram_emulator() -> Iterator[BotApiEmulator]:
    """The Bot API emulator the stack's gateway runs its Telegram bot against."""
    with BotApiEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, telegram_emulator: BotApiEmulator) -> Iterator[Stack]:
    model = ensure_model()
    telegram = {
        "TELEGRAM_BOT_TOKEN": telegram_emulator.token,
        "TELEGRAM_BASE_URL": telegram_emulator.base_url,
        "NOTIFIER_POLL_S": "0.2",
    }
    running = Stack(model=model, ports=Ports.free(), var_dir=tmp_path_factory.mktemp("var"), extra_env=telegram)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30.0) as http:
        yield http


@pytest.fixture()
def sender() -> str:
    """A new conversation id for each test."""
    return f"test-{next(_senders)}"


class Chat:
    """Posts turns of one conversation and keeps the last response."""

    def __init__(self, client: httpx.Client, sender_id: str):
        self.client = client
        self.sender_id = sender_id

    def say(self, text: str, locale: Optional[str] = None) -> Dict[str, Any]:
        body: Dict[str, Any] = {"sender_id": self.sender_id, "text": text}
        if locale:
            body["locale"] = locale
        response = self.client.post("/api/chat", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def updates(self, after: int = 0) -> Dict[str, Any]:
        """Messages pushed to this conversation after seq `after` (status updates, staff replies)."""
        response = self.client.get(f"/api/chat/{self.sender_id}/updates", params={"after": after})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture()
def chat(client: httpx.Client, sender: str) -> Chat:
    return Chat(client, sender)


def texts(reply: Dict[str, Any]) -> str:
    return "\n".join(m["text"] for m in reply["messages"])
