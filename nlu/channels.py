"""Rasa's REST channel, accepting only callers that carry the shared service secret.

Rasa's stock `rest` channel takes a message for any `sender` from anyone who can reach it:
whoever reaches port 5005 could speak as any resident (and read the replies). This subclass
keeps the channel (same URL, `/webhooks/rest/webhook`, same payloads) and refuses a request
without `X-Service-Secret: <SERVICE_CALL_SECRET>` with 401; the gateway sends it
(`bot/rasa_client.py`). Registered in `credentials.yml`.

A turn, once received, runs to its end even when the caller goes away. Sanic cancels a
request's handler when its connection drops (`connection_lost` → `task.cancel()`), so a
gateway killed mid-turn would cancel Rasa's turn half-way: after the action server created a
case but before the tracker was saved, losing the receipt that the gateway's turn journal
(`bot/turn_journal.py`) reads back from the tracker at its restart. The turn is therefore run
shielded, as its own task, and only the wait for it is cancelled.
"""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable, Dict, Optional, Set

from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from common.service_secret import SECRET_HEADER, SECRET_NAME, secret_matches
from common.settings import Settings

_finishing: Set[asyncio.Task[None]] = set()  # turns whose caller left, kept referenced


OnNewMessage = Callable[[UserMessage], Awaitable[None]]


def run_to_the_end(on_new_message: OnNewMessage) -> OnNewMessage:
    """`on_new_message` whose turn is not cancelled with the request that brought it."""

    async def handle(message: UserMessage) -> None:
        task = asyncio.ensure_future(on_new_message(message))
        _finishing.add(task)
        task.add_done_callback(_finishing.discard)
        await asyncio.shield(task)

    return handle


class SecretRestInput(RestInput):
    """The REST channel behind the shared header secret."""

    def __init__(self, secret: Optional[str] = None):
        self._secret = secret or Settings.from_env().secret(SECRET_NAME)

    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[None]]) -> Blueprint:
        webhook = super().blueprint(run_to_the_end(on_new_message))

        @webhook.middleware("request")
        async def require_secret(request: Request) -> Optional[HTTPResponse]:
            if request.method == "POST" and not secret_matches(request.headers.get(SECRET_HEADER), self._secret):
                return response.json({"error": f"{SECRET_HEADER} required"}, status=401)
            return None

        return webhook
