"""Webhook mode end to end: the emulator posts updates to `POST /telegram/webhook` with the
secret given to setWebhook, and the bot answers over the Bot API as in polling mode."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from bot.chat import ChatService
from bot.telegram.app import TelegramFrontEnd, build_telegram
from bot.telegram.webhook import SECRET_HEADER, router
from common.db import create_all, make_engine, make_session_factory
from tests.bot.conftest import FakeCases, FakeRasa, telegram_settings
from tools.services import free_port

pytestmark = pytest.mark.asyncio


async def test_webhook_mode(tmp_path, emulator, kb) -> None:  # noqa: ANN001
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    settings = telegram_settings(tmp_path, emulator, telegram_webhook_url=url, telegram_webhook_secret="s3cret-1")
    engine = make_engine(settings.database_url)
    create_all(engine)
    sessions = make_session_factory(engine)
    chat_service = ChatService(settings, FakeRasa(), sessions)  # type: ignore[arg-type]
    application = build_telegram(settings, chat_service, sessions, kb, FakeCases())  # type: ignore[arg-type]
    assert application.updater is None
    app = FastAPI()
    app.include_router(router)
    app.state.telegram = front = TelegramFrontEnd(application, settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    await front.start()
    try:
        for _ in range(200):
            if emulator.webhook.get("url") == url and application.running:
                break
            await asyncio.sleep(0.05)
        assert emulator.webhook == {"url": url, "secret_token": "s3cret-1"}
        emulator.send_text(4242, "经由webhook")
        for _ in range(200):
            if any(m.text == "ECHO 经由webhook" for m in emulator.sent(4242)):
                break
            await asyncio.sleep(0.05)
        assert [m.text for m in emulator.sent(4242)] == ["ECHO 经由webhook"]
        async with httpx.AsyncClient() as http:
            assert (await http.post(url, json={"update_id": 1})).status_code == 403
            bad = await http.post(url, content=b"{", headers={SECRET_HEADER: "s3cret-1"})
            assert bad.status_code == 400
    finally:
        await front.stop()
        emulator.webhook.clear()  # other tests poll
        server.should_exit = True
        await serving
        engine.dispose()
