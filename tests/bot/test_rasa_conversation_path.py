"""Rasa's HTTP API (Sanic) does not unquote path parameters: a Telegram sender `tg:42` must be
sent as `tg:42`, or the gateway reads, pauses and resumes another, empty conversation."""

from __future__ import annotations

from typing import List

import httpx
import pytest

from bot.rasa_client import RasaClient

pytestmark = pytest.mark.asyncio


async def test_sender_ids_reach_rasa_unescaped() -> None:
    paths: List[bytes] = []

    def answer(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.split(b"?")[0])
        return httpx.Response(200, json={"events": [], "slots": {}})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        rasa = RasaClient("http://rasa", http, token="tok")
        await rasa.tracker("tg:42")
        await rasa.events("tg:42")
        await rasa.append_event("web@x.y_1-2", {"event": "pause"})
        await rasa.tracker("a/b")
    assert paths == [b"/conversations/tg:42/tracker", b"/conversations/tg:42/tracker",
                     b"/conversations/web@x.y_1-2/tracker/events", b"/conversations/a%2Fb/tracker"]
