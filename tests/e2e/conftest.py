"""Starts the real services for the end-to-end tests: once per test session, on free ports.

The model is trained from the repository (or reused when its inputs are unchanged), then the
action server, the Rasa server and the gateway run as separate processes talking HTTP, with
their SQLite files in a temporary directory. The gateway's Telegram bot talks to a Bot API
emulator on loopback (tests/telegram/emulator.py), started once per session too.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Optional

import httpx
import pytest

from tests.telegram.emulator import BotApiEmulator
from tools.services import Ports, Stack
from tools.train import ensure_model
from tools.web_chat import BENCH_ENV

# The staff supergroup (forum) of the stack's Telegram bot: hand-offs open topics there.
TELEGRAM_STAFF_CHAT_ID = -1001000000001


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
        "TELEGRAM_STAFF_CHAT_ID": str(TELEGRAM_STAFF_CHAT_ID),
        # Every test conversation comes from 127.0.0.1: the per-address buckets (tested in
        # tests/security) would throttle the suite itself; the per-conversation one stays.
        **BENCH_ENV,
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


class Chat:
    """One web conversation: opened through `POST /api/chat/sessions`, then every turn and
    every read of its updates carries the conversation's bearer token (the only place the
    e2e tests talk to the web chat API)."""

    def __init__(self, client: httpx.Client):
        self.client = client
        response = client.post("/api/chat/sessions")
        assert response.status_code == 201, response.text
        session = response.json()
        self.sender_id: str = session["sender_id"]
        self.token: str = session["token"]

    @classmethod
    def through(cls, client: httpx.Client, chat: Chat) -> Chat:
        """The same conversation (id and token) spoken through another gateway `client`."""
        other = cls.__new__(cls)
        other.client, other.sender_id, other.token = client, chat.sender_id, chat.token
        return other

    @property
    def headers(self) -> Dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def post(self, text: str, locale: Optional[str] = None) -> httpx.Response:
        """One turn, the raw response (for tests of refusals)."""
        body: Dict[str, Any] = {"sender_id": self.sender_id, "text": text}
        if locale:
            body["locale"] = locale
        return self.client.post("/api/chat", json=body, headers=self.headers)

    def say(self, text: str, locale: Optional[str] = None) -> Dict[str, Any]:
        response = self.post(text, locale)
        assert response.status_code == 200, response.text
        return response.json()

    def updates(self, after: int = 0, **params: Any) -> httpx.Response:
        """`GET /api/chat/{sender_id}/updates` with this conversation's token."""
        return self.client.get(
            f"/api/chat/{self.sender_id}/updates", params={"after": after, **params}, headers=self.headers
        )


@pytest.fixture()
def chat(client: httpx.Client) -> Chat:
    """A new conversation for each test."""
    return Chat(client)


def texts(reply: Dict[str, Any]) -> str:
    return "\n".join(m["text"] for m in reply["messages"])
