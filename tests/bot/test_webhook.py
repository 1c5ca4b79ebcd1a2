"""`POST /telegram/webhook`: the secret header is checked; bad bodies are 400, never 500."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from telegram import Bot

from bot.telegram.processor import PerChatUpdateProcessor
from bot.telegram.webhook import SECRET_HEADER, router
from common.settings import Settings

UPDATE = {"update_id": 77, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
                                       "from": {"id": 5, "is_bot": False, "first_name": "x"}, "text": "hi"}}


@pytest.fixture()
def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    handled: list = []

    async def process_update(update) -> None:  # noqa: ANN001
        handled.append(update)

    application = SimpleNamespace(bot=Bot("1:x"), running=True, handled=handled, process_update=process_update,
                                  update_processor=PerChatUpdateProcessor())
    app.state.telegram = SimpleNamespace(
        webhook_mode=True, settings=Settings(telegram_webhook_secret="s3cret"), application=application
    )
    return TestClient(app)


def test_right_secret_handles_the_update_before_answering(client: TestClient) -> None:
    response = client.post("/telegram/webhook", json=UPDATE, headers={SECRET_HEADER: "s3cret"})
    assert response.status_code == 200  # Telegram's acknowledgement: sent once the update is handled
    [handled] = client.app.state.telegram.application.handled
    assert handled.update_id == 77 and handled.effective_chat.id == 5


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: ""}])
def test_missing_or_wrong_secret_is_403(client: TestClient, headers: dict) -> None:
    assert client.post("/telegram/webhook", json=UPDATE, headers=headers).status_code == 403


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"update_id": "x"}', b'{"update_id": 1, "message": 5}',
                                  b"\xff\xfe", b'{"update_id": 1, "message": {"chat": []}}'])
def test_malformed_update_is_400(client: TestClient, body: bytes) -> None:
    response = client.post("/telegram/webhook", content=body, headers={SECRET_HEADER: "s3cret"})
    assert response.status_code == 400


def test_webhook_is_404_when_not_in_webhook_mode() -> None:
    app = FastAPI()
    app.include_router(router)
    app.state.telegram = None
    assert TestClient(app).post("/telegram/webhook", json=UPDATE).status_code == 404
